//! `arkbridge audit daily` through the real binary against `arkbridge sim`: after an approved
//! run and a signed checkpoint the demo passes (quietly with `--quiet`, exit 0); a safe member
//! changed in CyberArk and the Legacy DB notes secret recorded as a finding (what a scan of
//! that page finds) fail exactly their checks (exit 1); the report posted to a page reads back
//! with its status macros and no secret; bad input exits 2.

mod support;

use std::process::Output;

use arkbridge_cyberark::{Permissions, PvwaClient};
use arkbridge_store::{NewFinding, SqliteStore, Store};
use secrecy::SecretString;
use serde_json::Value;
use support::*;

const PLANTED: &str = "Daily-Planted-Secret-31";
const ADMIN_PASSWORD: &str = "Adm1n-daily-e2e";
/// The password the demo's Legacy DB notes page holds in a table.
const LEGACY_PASSWORD: &str = "Winter2024!Payments";

fn seed() -> String {
    seed_with(PLANTED, "").replacen(
        "  - username: Administrator\n",
        &format!("  - username: Administrator\n    password: {ADMIN_PASSWORD}\n"),
        1,
    )
}

fn text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn statuses(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn status_of(report: &Value, id: &str) -> String {
    statuses(report)
        .into_iter()
        .find(|(c, _)| c == id)
        .unwrap_or_else(|| panic!("no check {id}"))
        .1
}

#[test]
fn the_demo_passes_and_drift_and_a_finding_fail_the_daily_audit() {
    let root = test_root();
    let r = root.path();
    let out_dir = r.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let sim = start_sim(r, &seed());
    let config = sim.config_path.to_str().unwrap();
    let rt = rt();
    let restart = page_id_by_title(&sim, "Restart payments API");
    approve(r, &sim, &restart, "restart");
    let out = arkbridge(
        r,
        "run",
        &[
            "run",
            &restart,
            "--config",
            config,
            "--block",
            "restart",
            "--as",
            "alice@example.com",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // The demo space has secrets pasted on its Legacy DB notes page: a scan finds them, and
    // they are triaged (accepted: kept there on purpose) so that the daily audit can pass.
    let out = arkbridge(
        r,
        "scan",
        &[
            "scan", "--config", config, "--space", "OPS", "--format", "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let scanned: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<String> = scanned["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].to_string())
        .collect();
    assert!(ids.len() >= 2, "{scanned}");
    let mut triage = vec!["findings", "triage"];
    triage.extend(ids.iter().map(String::as_str));
    triage.extend([
        "--config",
        config,
        "--state",
        "accepted",
        "--note",
        "legacy test database",
        "--as",
        "carol@example.com",
    ]);
    let out = arkbridge(r, "triage", &triage);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = arkbridge(
        r,
        "findings-new",
        &["findings", "list", "--config", config, "--state", "new"],
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("0 findings"),
        "{}",
        text(&out)
    );

    // A signing key (printed by keygen) and a signed checkpoint.
    let out = arkbridge(
        r,
        "keygen",
        &["audit", "keygen", "--origin", "e2e.test/audit"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let private = stdout.lines().find(|l| !l.starts_with('#')).unwrap();
    let key_file = r.join("seed").join("audit.key");
    std::fs::write(&key_file, private).unwrap();
    let out = arkbridge(
        r,
        "checkpoint",
        &[
            "audit",
            "checkpoint",
            "--config",
            config,
            "--key-file",
            key_file.to_str().unwrap(),
            "--origin",
            "e2e.test/audit",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Everything passes: --quiet prints nothing, exit 0.
    let out = arkbridge(
        r,
        "daily-quiet",
        &["audit", "daily", "--config", config, "--quiet"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));

    let json_path = out_dir.join("pass.json");
    let out = arkbridge(
        r,
        "daily-json",
        &[
            "audit",
            "daily",
            "--config",
            config,
            "--format",
            "json",
            "--output",
            json_path.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(report["passed"], true, "{:?}", statuses(&report));
    for id in [
        "runbook-bindings",
        "safe-members",
        "lease-rotation",
        "inline-secrets",
        "stale-approvals",
    ] {
        assert_eq!(status_of(&report, id), "pass", "{:?}", statuses(&report));
    }
    let rotation = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "lease-rotation")
        .unwrap();
    assert_eq!(rotation["counts"]["confirmed"], 1, "{rotation}");
    assert_eq!(report["checkpoint"]["id"], 1);
    assert_eq!(report["checkpoint"]["origin"], "e2e.test/audit");

    // Lapses: a CyberArk administrator narrows platform-admins on Prod-DB, and the Legacy DB
    // notes password is a new finding (recorded as a scan records it: masked, fingerprinted).
    let mut admin_cfg = sim.config.cyberark.pvwa.clone();
    admin_cfg.username = "Administrator".into();
    let legacy = page_id_by_title(&sim, "Legacy DB notes");
    rt.block_on(async {
        let admin = PvwaClient::logon(&admin_cfg, &SecretString::from(ADMIN_PASSWORD))
            .await
            .unwrap();
        admin
            .update_safe_member(
                "Prod-DB",
                "platform-admins",
                &Permissions::read_only(),
                None,
            )
            .await
            .unwrap();
        admin.logoff().await.unwrap();
        let store = SqliteStore::open(&sim.config.data_dir.join("arkbridge.db"))
            .await
            .unwrap();
        store
            .record_finding(
                &NewFinding {
                    fingerprint: "c0ffee".repeat(10),
                    location_key: format!("page:{legacy}"),
                    page_id: Some(legacy.clone()),
                    page_version: Some(1),
                    title: Some("Legacy DB notes".into()),
                    author: Some("bob@example.com".into()),
                    space: Some("OPS".into()),
                    file_path: None,
                    element_path: "table/tbody/tr[2]/td[3]/p".into(),
                    char_offset: 0,
                    char_length: LEGACY_PASSWORD.len() as i64,
                    detector: "confluence-table-password".into(),
                    category: "confluence-password".into(),
                    severity: "high".into(),
                    preview: "Wi…(19)".into(),
                },
                1,
            )
            .await
            .unwrap();
        store.close().await;
    });
    let page = rt
        .block_on(async {
            let c = confluence(&sim);
            let ops = c.space_by_key("OPS").await.unwrap().unwrap();
            c.create_page(&arkbridge_confluence::NewPage {
                space: &ops,
                title: "Daily compliance report",
                parent_id: None,
                storage: "<p>The report goes here.</p>",
            })
            .await
        })
        .unwrap();

    let html_path = out_dir.join("fail.html");
    let out = arkbridge(
        r,
        "daily-fail",
        &[
            "audit",
            "daily",
            "--config",
            config,
            "--quiet",
            "--post-to",
            &page.id,
            "--format",
            "html",
            "--output",
            html_path.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAIL: 2 of 8 checks failed: safe-members, secret-findings"),
        "{}",
        text(&out)
    );
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("Legacy DB notes") && html.contains("Wi…(19)"));
    assert!(
        html.contains("~ Prod-DB: platform-admins"),
        "the drift is named"
    );

    // The page now holds the report: tables, Red FAIL and Green PASS status macros.
    let posted = rt.block_on(confluence(&sim).get_page(&page.id)).unwrap();
    assert_eq!(posted.version, 2);
    let body = &posted.body_storage;
    assert!(!body.contains("The report goes here"));
    assert!(body.contains("<table>"));
    assert!(body.contains(
        "<ac:parameter ac:name=\"colour\">Red</ac:parameter><ac:parameter ac:name=\"title\">FAIL</ac:parameter>"
    ));
    assert!(body.contains(
        "<ac:parameter ac:name=\"colour\">Green</ac:parameter><ac:parameter ac:name=\"title\">PASS</ac:parameter>"
    ));
    assert!(body.contains("CC6.6") && body.contains("Legacy DB notes"));

    // No secret in any report, the page or the store.
    for secret in [PLANTED, LEGACY_PASSWORD] {
        assert!(!body.contains(secret));
        let hits = files_containing(&[&out_dir, &sim.config.data_dir], secret.as_bytes());
        assert!(hits.is_empty(), "{secret} found in {hits:?}");
    }

    // The reports are on the audit log.
    let out = arkbridge(
        r,
        "show",
        &[
            "audit",
            "show",
            "--config",
            config,
            "--action",
            "report.daily",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);

    // Errors exit 2: a config that does not exist, a page id that is not one.
    let out = arkbridge(
        r,
        "daily-noconfig",
        &["audit", "daily", "--config", "/nonexistent.toml"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = arkbridge(
        r,
        "daily-badpage",
        &["audit", "daily", "--config", config, "--post-to", "abc"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--post-to"));
}
