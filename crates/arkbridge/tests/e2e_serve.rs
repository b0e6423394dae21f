//! `arkbridge serve` through the real binary against `arkbridge sim`: it prints its address,
//! answers `/healthz`, runs a block for a Forge Invocation Token minted by the simulator, and on
//! SIGTERM waits for the running run before it exits 0. Its stderr is JSON lines, and the
//! planted secret is in no log, no answer and no file.

mod support;

use std::process::Command;

use serde_json::{Value, json};
use support::{
    BIN, FitMinter, files_containing, page_id_by_title, rt, seed_with, start_serve, start_sim,
    test_root,
};

const PLANTED: &str = "Serve-E2E-Secret-3!";
const ADMIN_PASSWORD: &str = "admin-serve-e2e-1";

#[test]
fn serve_runs_a_block_for_a_forge_token_and_stops_gracefully_on_sigterm() {
    let root = test_root();
    let seed = seed_with(PLANTED, "").replacen(
        "  - username: Administrator\n",
        &format!("  - username: Administrator\n    password: {ADMIN_PASSWORD}\n"),
        1,
    );
    let sim = start_sim(root.path(), &seed);
    let identity = &sim.info["identity"];
    // The simulator writes `[server]` with its defaults; the Forge app is added to it.
    let config = format!(
        "{}\n[server.forge]\napp_id = {}\njwks_url = {}\nallowed_cloud_ids = [{}]\nca_cert = {}\n",
        std::fs::read_to_string(&sim.config_path).unwrap(),
        identity["forge_app_id"],
        identity["forge_jwks_url"],
        identity["forge_cloud_id"],
        sim.info["ca_cert"],
    );
    let config_path = root.path().join("serve.toml");
    std::fs::write(&config_path, config).unwrap();
    let page = page_id_by_title(&sim, "Payments DB health");
    let mut served = start_serve(root.path(), &config_path, "serve");
    let url = served.url.clone();

    let runtime = rt();
    let (run_id, output) = runtime.block_on(async {
        let http = reqwest::Client::new();
        let minter = FitMinter::new(&sim, ADMIN_PASSWORD);
        let fit = async || {
            minter
                .mint(json!({"email": "alice@example.com", "contentId": page}))
                .await
        };
        let health: Value = http
            .get(format!("{url}/healthz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["status"], "ok");
        let started = http
            .post(format!("{url}/api/v1/runs"))
            .bearer_auth(fit().await)
            .json(&json!({"page_id": page, "block": "health"}))
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), 202);
        let run_id = started.json::<Value>().await.unwrap()["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        // The event stream ends with the run, so reading it whole waits for the end.
        let events = http
            .get(format!("{url}/api/v1/runs/{run_id}/events"))
            .bearer_auth(fit().await)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(events.contains("event: done"), "{events}");
        (run_id, events)
    });
    assert!(
        output.contains("password *****"),
        "the output is not masked: {output}"
    );
    assert!(!output.contains(PLANTED));

    // A second run, then SIGTERM at once: serve waits for it and exits 0.
    let second = runtime.block_on(async {
        let token = FitMinter::new(&sim, ADMIN_PASSWORD)
            .mint(json!({"email": "alice@example.com"}))
            .await;
        let started = reqwest::Client::new()
            .post(format!("{url}/api/v1/runs"))
            .bearer_auth(token)
            .json(&json!({"page_id": page, "block": "health"}))
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), 202);
        started.json::<Value>().await.unwrap()["run_id"]
            .as_str()
            .unwrap()
            .to_string()
    });
    assert_ne!(second, run_id);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(served.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = served.child.wait().unwrap();
    assert!(status.success(), "serve exited with {status}");

    let log = std::fs::read_to_string(root.path().join("logs/serve.log")).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["ts"].is_string() && l["level"].is_string())
    );
    let shutdown = lines
        .iter()
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("shutting down"))
        })
        .expect("the shutdown is logged");
    assert_eq!(
        shutdown["running"], 1,
        "the second run was still going: {shutdown}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "arkbridge serve stopped"),
        "{log}"
    );
    // Both runs ended and were audited before serve exited.
    let shown = Command::new(BIN)
        .args([
            "audit",
            "show",
            "--action",
            "run.finished",
            "--json",
            "--config",
        ])
        .arg(&config_path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("\"outcome\":\"success\""))
            .count(),
        2,
        "{text}"
    );
    let leaked = files_containing(&[&root.path().join("logs"), &sim.dir], PLANTED.as_bytes());
    assert!(leaked.is_empty(), "the secret is in {leaked:?}");
}
