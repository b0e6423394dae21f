//! The read-only cache through the real binary: one long-lived `arkbridge serve` (the cache is
//! process memory only, so a command-line `run` always starts with it empty). A healthy run of
//! the health check caches its declared fallback; the Vault then goes down (CCP `APPAP007E`,
//! PVWA 500) with no second CCP, and the next run goes on read-only with the cached value:
//! `read-only` in the script's environment and the run's report, `credential.fallback` with
//! `source = cache` in the audit, and the planted secrets on no file under the data folder, the
//! temp folders or the logs. The caller is alice, with a Forge Invocation Token the simulator
//! mints, as the Confluence macro would send.

mod fallback_support;
mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use arkbridge_core::config::{FallbackCacheConfig, ForgeSection};
use fallback_support::*;
use support::*;

/// `arkbridge serve`, stopped (SIGTERM, then waited for) when dropped.
struct Serve {
    child: Child,
    url: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

fn start_serve(root: &Path, config: &str) -> Serve {
    let mut child = Command::new(BIN)
        .args(["serve", "--config", config, "--listen", "127.0.0.1:0"])
        .env("TMPDIR", root.join("tmp"))
        .env("ARKBRIDGE_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(root.join("logs").join("serve.log")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        match lines.next() {
            Some(Ok(l)) => {
                if let Some(url) = l.strip_prefix("Listening on ") {
                    break url.trim().to_string();
                }
            }
            other => panic!(
                "arkbridge serve stopped before listening: {other:?}; see {}",
                root.join("logs/serve.log").display()
            ),
        }
    };
    Serve { child, url }
}

/// A fresh Forge Invocation Token for alice on `page` (each token is accepted once).
async fn token(client: &reqwest::Client, sim: &Sim, page: &str) -> String {
    let url = sim.info["identity"]["forge_fit_url"].as_str().unwrap();
    let answer: serde_json::Value = client
        .post(url)
        .basic_auth("Administrator", Some(ADMIN_PASSWORD))
        .json(&serde_json::json!({ "email": "alice@example.com", "contentId": page }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["token"]
        .as_str()
        .expect("a minted token")
        .to_string()
}

/// Starts the health check through the API and returns the finished run's view.
async fn run_health(
    client: &reqwest::Client,
    sim: &Sim,
    serve: &Serve,
    page: &str,
) -> serde_json::Value {
    let started = client
        .post(format!("{}/api/v1/runs", serve.url))
        .bearer_auth(token(client, sim, page).await)
        .json(&serde_json::json!({ "page_id": page, "block": "health" }))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status().as_u16(), 202);
    let started: serde_json::Value = started.json().await.unwrap();
    let id = started["run_id"].as_str().unwrap().to_string();
    // The event stream ends with the run, so reading it whole waits for the end.
    let events = client
        .get(format!("{}/api/v1/runs/{id}/events", serve.url))
        .bearer_auth(token(client, sim, page).await)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(events.contains("event: done"), "{events}");
    client
        .get(format!("{}/api/v1/runs/{id}", serve.url))
        .bearer_auth(token(client, sim, page).await)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[test]
fn a_long_running_bridge_bridges_a_vault_outage_with_its_read_only_cache() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &seed());
    let ident = &sim.info["identity"];
    let mut config = sim.config.clone();
    config.cyberark.fallback_cache = Some(FallbackCacheConfig::default());
    // Rule 4 reads safe members through the PVWA, which the outage takes down with the Vault.
    config.policy.require_safe_membership = false;
    config.server.forge = Some(ForgeSection {
        app_id: ident["forge_app_id"].as_str().unwrap().into(),
        jwks_url: Some(ident["forge_jwks_url"].as_str().unwrap().into()),
        allowed_cloud_ids: vec![ident["forge_cloud_id"].as_str().unwrap().into()],
        ca_cert: sim.config.cyberark.ccp.ca_cert.clone(),
    });
    let config_path = write_config(r, &config);
    let page = page_id_by_title(&sim, "Payments DB health");
    let serve = start_serve(r, &config_path);
    let ca = std::fs::read(sim.config.cyberark.ccp.ca_cert.as_ref().unwrap()).unwrap();
    let rt = rt();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .build()
        .unwrap();

    let healthy = rt.block_on(run_health(&client, &sim, &serve, &page));
    assert_eq!(healthy["status"], "succeeded", "{healthy}");
    assert_eq!(
        (healthy["mode"].as_str(), healthy["output"].as_str()),
        (
            Some("read"),
            Some("checking payments DB as read with password *****\n")
        )
    );

    set_vault_down(&sim, true);
    let outage = rt.block_on(run_health(&client, &sim, &serve, &page));
    assert_eq!(outage["status"], "succeeded", "{outage}");
    // The engine's report fields are at the top of the run record.
    let report = &outage;
    assert_eq!(
        (
            report["mode"].as_str(),
            report["fallback_used"].as_bool(),
            report["output"].as_str()
        ),
        (
            Some("read-only"),
            Some(true),
            Some("checking payments DB as read-only with password *****\n")
        )
    );
    drop(serve);

    let fallbacks = details(&sim.config.data_dir, "credential.fallback");
    let sources: Vec<&str> = fallbacks
        .iter()
        .filter_map(|d| d["source"].as_str())
        .collect();
    assert_eq!(sources, ["cache"], "{fallbacks:?}");
    assert!(fallbacks.iter().any(|d| d["age_secs"].is_u64()));
    assert_no_secret_on_disk(
        r,
        &[
            sim.config.data_dir.clone(),
            sim.dir.clone(),
            r.join("tmp"),
            r.join("logs"),
        ],
    );
}
