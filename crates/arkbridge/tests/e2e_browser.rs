//! The web UI in real headless Chromium: `arkbridge sim` and `arkbridge serve` with
//! `[server.web]` (the simulator's `arkbridge-web` client), then `tests/browser/web_ui.mjs`
//! through playwright-core with `/usr/bin/chromium` (or `$CHROMIUM`): carol approves the
//! `restart` block, alice runs it and sees its masked output arrive, bob sees the denial of
//! `health` with its reasons. Screenshots are kept under `target/browser-screenshots/`.
//!
//! Chromium and npm are required, not optional: without them the test fails and says how to
//! install them (`.ci/run` installs both).

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use support::{BIN, confluence, page_id_by_title, rt, seed_with, start_sim, test_root};

const PLANTED: &str = "Browser-E2E-Secret-5!";

/// Kills `arkbridge serve` when the test ends, however it ends.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port free a moment ago: the public URL must name the port before serve starts.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn start_serve(root: &Path, config: &Path, listen: &str) -> Serve {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", listen, "--config"])
        .arg(config)
        .env("ARKBRIDGE_LOG", "info")
        .env("TMPDIR", root.join("tmp"))
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(root.join("logs").join("serve.log")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    loop {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("Listening on ") => return Serve(child),
            Some(Ok(_)) => {}
            other => panic!(
                "serve stopped before listening: {other:?}; see {}",
                root.join("logs/serve.log").display()
            ),
        }
    }
}

/// The simulator's password for `email`.
fn password(info: &serde_json::Value, email: &str) -> String {
    info["identity"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == email)
        .and_then(|u| u["password"].as_str())
        .unwrap_or_else(|| panic!("sim.json has no password for {email}"))
        .to_string()
}

fn require_tool(path: &str, what: &str) {
    let found = Command::new(path)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{what} is missing ({path} --version failed): install it (`apt-get install chromium npm`; \
         .ci/run does) — this test is not skipped without it"
    );
}

#[test]
fn the_web_ui_in_headless_chromium_approves_runs_with_live_output_and_explains_a_denial() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    require_tool(&chromium, "Chromium");
    require_tool("npm", "npm");
    let root = test_root();
    let sim = start_sim(root.path(), &seed_with(PLANTED, ""));
    let client = sim.info["identity"]["oidc_clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == "arkbridge-web")
        .expect("the demo seed registers arkbridge-web")
        .clone();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    // The simulator's OIDC config, with the web UI; its client secret is inline, which only
    // this throw-away development config allows.
    let oidc = std::fs::read_to_string(sim.dir.join("arkbridge-oidc.toml")).unwrap();
    assert!(oidc.contains("allow_inline_secrets = false"));
    let config = format!(
        "{}\n[server.web]\nclient_id = \"arkbridge-web\"\nclient_secret = {}\npublic_url = \"{base}\"\n",
        oidc.replacen(
            "allow_inline_secrets = false",
            "allow_inline_secrets = true",
            1
        ),
        client["client_secret"],
    );
    let config_path = root.path().join("serve-web.toml");
    std::fs::write(&config_path, config).unwrap();
    let restart = page_id_by_title(&sim, "Restart payments API");
    let health = page_id_by_title(&sim, "Payments DB health");
    let _serve = start_serve(root.path(), &config_path, &format!("127.0.0.1:{port}"));

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let npm = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        npm.status.success(),
        "npm ci failed: {}",
        String::from_utf8_lossy(&npm.stderr)
    );
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let run = Command::new("node")
        .arg("web_ui.mjs")
        .current_dir(&dir)
        .env("CHROMIUM", &chromium)
        .env("BASE_URL", &base)
        .env("SHOTS_DIR", &shots)
        .env("PLANTED", PLANTED)
        .env("RESTART_PAGE", &restart)
        .env("HEALTH_PAGE", &health)
        .env("ALICE_PASSWORD", password(&sim.info, "alice@example.com"))
        .env("BOB_PASSWORD", password(&sim.info, "bob@example.com"))
        .env("CAROL_PASSWORD", password(&sim.info, "carol@example.com"))
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "the browser test failed:\n{}\n{}\n(serve log: {})",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
        root.path().join("logs/serve.log").display()
    );
    for name in [
        "1-carol-approval-pending",
        "2-carol-approved",
        "3-alice-run-output",
        "4-bob-denied",
    ] {
        let file = shots.join(format!("{name}.png"));
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(bytes.starts_with(b"\x89PNG"), "{} is a PNG", file.display());
    }
    // alice's run left its result as a comment on the page in the Confluence simulator.
    let comments = rt()
        .block_on(confluence(&sim).footer_comments(&restart))
        .unwrap();
    assert!(
        comments
            .iter()
            .any(|c| c.body_storage.contains("payments-api restarted")),
        "no result comment on the restart page: {comments:?}"
    );
    assert!(comments.iter().all(|c| !c.body_storage.contains(PLANTED)));
    let log = std::fs::read_to_string(root.path().join("logs/serve.log")).unwrap();
    assert!(!log.contains(PLANTED), "the secret is in serve's log");
}
