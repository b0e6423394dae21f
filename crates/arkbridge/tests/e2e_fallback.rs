//! The read-only fallback through the real binary, with the simulator's fault injection.
//!
//! * The Vault goes down (CCP `APPAP007E`, PVWA 500): the bridge's own credentials and the read
//!   block's fallback come from a second CCP (a second simulator serving the same accounts);
//!   the run is `read-only` in its environment, report, comment and audit; a write block without
//!   fallbacks is refused and no script starts.
//! * Only the PVWA is down: the fallback comes from the first CCP (`primary-ccp`).
//! * A refusal (404 `APPAP004E`) never falls back.
//! * Inline secrets are refused at start unless `--allow-inline-secrets` is given (a warning per
//!   field then); with the Vault down and an empty read-only cache, the refusal says why.
//!
//! The cache serving a value needs one long-lived bridge (it is process memory only): that path
//! runs through `arkbridge serve` in `e2e_fallback_cache.rs`. After every test, the planted
//! secrets are on no file under the data folder, the temp folders or the logs.

mod fallback_support;
mod support;

use std::path::{Path, PathBuf};

use arkbridge_core::config::FallbackCacheConfig;
use fallback_support::*;
use support::*;

#[test]
fn vault_down_read_block_runs_read_only_from_the_second_ccp_and_write_block_is_refused() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &seed());
    let dr_root = r.join("dr");
    std::fs::create_dir_all(dr_root.join("logs")).unwrap();
    let dr = start_sim(&dr_root, &seed());
    let mut config = sim.config.clone();
    config.cyberark.fallback_ccp = Some(dr.config.cyberark.ccp.clone());
    // Rule 4 stays on: the outage takes the PVWA down with the Vault, so it decides on the safe
    // members as the PVWA last listed them (kept when alice's access was explained below).
    let config_path = write_config(r, &config);
    let health = page_id_by_title(&sim, "Payments DB health");
    let restart = page_id_by_title(&sim, "Restart payments API");
    let out = arkbridge(
        r,
        "explain-health",
        &[
            "policy",
            "explain",
            "--config",
            &config_path,
            "--page",
            &health,
            "--block",
            "health",
            "--user",
            "alice@example.com",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let out = arkbridge(
        r,
        "approve",
        &[
            "approve",
            &restart,
            "--block",
            "restart",
            "--config",
            &config_path,
            "--as",
            "carol@example.com",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    set_vault_down(&sim, true);
    let out = run(r, "health", &config_path, &health, "health", &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["mode"].as_str(), report["fallback_used"].as_bool()),
        (Some("read-only"), Some(true))
    );
    assert_eq!(
        report["output"],
        "checking payments DB as read-only with password *****\n"
    );
    let comments = rt()
        .block_on(confluence(&sim).footer_comments(&health))
        .unwrap();
    let comment = &comments.last().expect("a comment was posted").body_storage;
    assert!(
        comment.contains("Mode: read-only (CyberArk was unavailable"),
        "{comment}"
    );
    assert!(!comment.contains(READ_ONLY), "{comment}");

    let data = &sim.config.data_dir;
    let fallbacks = details(data, "credential.fallback");
    assert_eq!(fallbacks.len(), 2, "{fallbacks:?}");
    assert_eq!(fallbacks[0]["mode"], "read-only");
    // Rule 4's PVWA calls meet the outage first and may have opened the circuit already.
    assert!(
        matches!(
            fallbacks[0]["cause_kind"].as_str(),
            Some("server-error" | "circuit-open")
        ),
        "{fallbacks:?}"
    );
    assert_eq!(
        (
            fallbacks[1]["source"].as_str(),
            fallbacks[1]["reference"].as_str()
        ),
        (
            Some("fallback-ccp"),
            Some("cyberark://Prod-DB-RO/payments-db-ro")
        )
    );
    let bootstrap: Vec<_> = details(data, "credential.issued")
        .into_iter()
        .filter(|d| d.get("field").is_some() && d["via"] == "fallback-ccp")
        .collect();
    assert_eq!(
        bootstrap.len(),
        2,
        "the Confluence token and the PVWA password came from the second CCP"
    );
    // Rule 4 said which member lists it decided on.
    let decided = details(data, "policy.decided");
    assert!(
        decided
            .iter()
            .any(|d| d.to_string().contains("safe members as it listed them")),
        "{decided:?}"
    );
    let finished = details(data, "run.finished");
    assert!(
        finished.iter().any(|d| d["mode"] == "read-only"),
        "{finished:?}"
    );

    // The write block names no fallback: refused, and its script never starts.
    let out = run(r, "restart", &config_path, &restart, "restart", &[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the write block `restart` names no read-only fallback for DB_PASSWORD")
            && stderr.contains("no script was started"),
        "{stderr}"
    );
    assert!(!text(&out.stdout).contains("Restarting"));
    let started = details(data, "run.requested")
        .into_iter()
        .filter(|d| d.get("interpreter").is_some())
        .count();
    assert_eq!(started, 1, "only the read block's script started");

    assert_no_secret_on_disk(
        r,
        &[
            data.clone(),
            sim.dir.clone(),
            dr.dir.clone(),
            r.join("tmp"),
            r.join("logs"),
            dr_root.join("logs"),
        ],
    );
}

#[test]
fn with_only_the_pvwa_down_the_first_ccp_serves_the_fallback() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &seed());
    let mut config = sim.config.clone();
    // A port nothing listens on: every PVWA call is a transport failure.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    config.cyberark.pvwa.url = format!("https://127.0.0.1:{port}");
    config.policy.require_safe_membership = false;
    let config_path = write_config(r, &config);
    let health = page_id_by_title(&sim, "Payments DB health");
    let out = run(r, "health", &config_path, &health, "health", &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["mode"], "read-only");
    let fallbacks = details(&sim.config.data_dir, "credential.fallback");
    assert_eq!(fallbacks[0]["cause_kind"], "transport");
    assert_eq!(fallbacks[1]["source"], "primary-ccp");
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

#[test]
fn a_refusal_never_falls_back() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &seed());
    let config = sim.config_path.to_str().unwrap();
    let page = page_id_by_title(&sim, "Vendor DB check");
    let out = run(r, "vendor", config, &page, "vendor", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("refused the request (HTTP 404 APPAP004E)"),
        "{stderr}"
    );
    assert!(!text(&out.stdout).contains("vendor check ran"));
    let data = &sim.config.data_dir;
    assert!(details(data, "credential.fallback").is_empty());
    let ro_issued = details(data, "credential.issued")
        .into_iter()
        .filter(|d| d.get("lease").is_some())
        .count();
    assert_eq!(ro_issued, 0, "no credential was handed to the run");
    assert_no_secret_on_disk(
        r,
        &[data.clone(), sim.dir.clone(), r.join("tmp"), r.join("logs")],
    );
}

#[test]
fn inline_secrets_need_the_flag_and_an_empty_cache_refuses_clearly() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &seed());
    let mut config = sim.config.clone();
    config.confluence.token = arkbridge_core::config::ConfigSecret::Inline(CONFLUENCE_TOKEN.into());
    config.cyberark.pvwa.password =
        arkbridge_core::config::ConfigSecret::Inline(PVWA_PASSWORD.into());
    config.cyberark.fallback_cache = Some(FallbackCacheConfig::default());
    config.policy.require_safe_membership = false;
    let config_path = write_config(r, &config);
    let health = page_id_by_title(&sim, "Payments DB health");

    let out = run(r, "refused", &config_path, &health, "health", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("config field `confluence.token` holds an inline secret")
            && stderr.contains("--allow-inline-secrets"),
        "{stderr}"
    );

    set_vault_down(&sim, true);
    let out = run(
        r,
        "allowed",
        &config_path,
        &health,
        "health",
        &["--allow-inline-secrets"],
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    for field in ["confluence.token", "cyberark.pvwa.password"] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains("inline secret") && l.contains(field)),
            "no warning for {field}: {stderr}"
        );
    }
    assert!(
        stderr.contains(
            "the read-only cache holds no value for cyberark://Prod-DB-RO/payments-db-ro"
        ) && stderr.contains("no script was started"),
        "{stderr}"
    );
    let dirs = [sim.config.data_dir.clone(), r.join("tmp"), r.join("logs")];
    assert_no_secret_on_disk(r, &dirs);
    let dirs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    for inline in [CONFLUENCE_TOKEN, PVWA_PASSWORD] {
        assert!(files_containing(&dirs, inline.as_bytes()).is_empty());
    }
}
