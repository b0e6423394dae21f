//! Issue 2's end-to-end test: the real binary runs the demo runbook against `arkbridge sim`.
//!
//! It plants a known secret, runs `restart` as alice, and checks that the output is masked, the
//! secret is on no file the run touched, the secret was rotated, the comment was posted without
//! the secret, bob is denied without any retrieval, and `audit verify` passes, then fails after
//! one byte of an audit row is changed.

mod support;

use std::path::Path;

use arkbridge_cyberark::{CcpClient, CcpQuery};
use secrecy::ExposeSecret;
use support::*;

const PLANTED: &str = "Planted-Secret-7Qz!x9";

#[test]
fn restart_as_alice_end_to_end() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &seed_with(PLANTED, ""));
    let rt = rt();
    let confluence = confluence(&sim);
    let ccp = CcpClient::new(&sim.config.cyberark.ccp).unwrap();
    let page = rt
        .block_on(confluence.find_pages("Restart payments API", None))
        .unwrap()
        .remove(0);
    let config = sim.config_path.to_str().unwrap();

    // A write block that nobody approved does not run, and the denial says why.
    let out = arkbridge(
        r,
        "run-alice-unapproved",
        &[
            "run",
            &page.id,
            "--config",
            config,
            "--block",
            "restart",
            "--as",
            "alice@example.com",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no approval is recorded for this block"),
        "{stderr}"
    );
    approve(r, &sim, &page.id, "restart");

    // alice runs the block.
    let out = arkbridge(
        r,
        "run-alice",
        &[
            "run",
            &page.id,
            "--config",
            config,
            "--block",
            "restart",
            "--as",
            "alice@example.com",
            "--json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "succeeded");
    assert_eq!(report["exit_code"], 0);
    assert_eq!(
        report["output"],
        "Restarting payments-api with DB_PASSWORD=*****\npayments-api restarted\n"
    );
    assert_eq!(
        (report["page_id"].as_str(), report["page_version"].as_u64()),
        (Some(page.id.as_str()), Some(page.version))
    );
    assert_eq!(
        (
            report["block"].as_str(),
            report["user"].as_str(),
            report["mode"].as_str()
        ),
        (Some("restart"), Some("alice@example.com"), Some("write"))
    );
    assert_eq!(
        report["rotated"],
        serde_json::json!(["Prod-DB/payments-db"])
    );
    let comment_id = report["comment_id"]
        .as_str()
        .expect("a comment was posted")
        .to_string();
    assert!(report["audit_seq"].as_i64().unwrap() > 0);
    stderr_warns_about_local_trusted(&out.stderr);

    // The secret changed: CyberArk hands out a new one.
    let now = rt
        .block_on(ccp.get(&CcpQuery::for_account("Prod-DB", "payments-db")))
        .unwrap();
    assert_ne!(
        now.content().expose_secret(),
        PLANTED,
        "the secret was not rotated"
    );

    // The comment is on the page and holds no secret.
    let comments = rt.block_on(confluence.footer_comments(&page.id)).unwrap();
    let comment = comments
        .iter()
        .find(|c| c.id == comment_id)
        .expect("the comment is on the page");
    assert!(
        comment.body_storage.contains("SUCCEEDED")
            && comment.body_storage.contains("DB_PASSWORD=*****")
    );
    assert!(!comment.body_storage.contains(PLANTED));

    // bob is denied, and nothing is fetched for him.
    let retrieved_before = count_run_credentials(&sim.config.data_dir);
    let out = arkbridge(
        r,
        "run-bob",
        &[
            "run",
            &page.id,
            "--config",
            config,
            "--block",
            "restart",
            "--as",
            "bob@example.com",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    let denied: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(denied["status"], "denied");
    assert!(
        denied["error"]
            .as_str()
            .unwrap()
            .contains("no grant for this user binds space OPS to safe Prod-DB"),
        "{denied}"
    );
    assert_eq!(
        count_run_credentials(&sim.config.data_dir),
        retrieved_before
    );

    // An edit to the block voids carol's approval: alice is denied until it is approved again.
    rt.block_on(confluence.edit_page(&page.id, "tweak the restart", |body| {
        Ok::<_, std::convert::Infallible>(body.replacen(
            "payments-api restarted",
            "payments-api restarted (checked)",
            1,
        ))
    }))
    .unwrap();
    let out = arkbridge(
        r,
        "run-alice-after-edit",
        &[
            "run",
            &page.id,
            "--config",
            config,
            "--block",
            "restart",
            "--as",
            "alice@example.com",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the block changed since its last approval, which is therefore void"),
        "{stderr}"
    );
    assert_eq!(
        count_run_credentials(&sim.config.data_dir),
        retrieved_before
    );
    assert_eq!(
        count_outcomes(&sim.config.data_dir, "policy.decided", "denied"),
        3,
        "alice before the approval, bob, alice after the edit"
    );

    // The planted secret is on no file the runs touched: data folder, temp folders, logs, and
    // the simulator's folder; and no run directory is left behind.
    // Positive control: the search does find the secret where it is (the seed file).
    assert_eq!(
        files_containing(&[&r.join("seed")], PLANTED.as_bytes()).len(),
        1
    );
    let dirs = [
        sim.dir.as_path(),
        &r.join("tmp"),
        &r.join("logs"),
        &sim.config.data_dir,
    ];
    assert_eq!(
        files_containing(&dirs, PLANTED.as_bytes()),
        Vec::<std::path::PathBuf>::new()
    );
    assert_no_run_dirs_left();

    // The audit chain verifies, and breaks when one byte of a row changes.
    let out = arkbridge(r, "verify-1", &["audit", "verify", "--config", config]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    tamper_one_byte(&sim.config.data_dir, 3);
    let out = arkbridge(r, "verify-2", &["audit", "verify", "--config", config]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("audit record 3 is bad"), "{text}");
}

/// Denied for a user the identity provider does not know.
#[test]
fn unknown_user_is_refused() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &seed_with(PLANTED, ""));
    let config = sim.config_path.to_str().unwrap();
    let out = arkbridge(
        r,
        "run-mallory",
        &[
            "run",
            "1",
            "--config",
            config,
            "--as",
            "mallory@example.com",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("mallory@example.com is not a known user")
    );
}

fn stderr_warns_about_local_trusted(stderr: &[u8]) {
    let text = String::from_utf8_lossy(stderr);
    assert!(
        text.contains("local-trusted") && text.contains("development only"),
        "{text}"
    );
}

fn db(data_dir: &Path) -> (tokio::runtime::Runtime, sqlx::SqlitePool) {
    let rt = rt();
    let url = format!("sqlite://{}", data_dir.join("arkbridge.db").display());
    let pool = rt.block_on(sqlx::SqlitePool::connect(&url)).unwrap();
    (rt, pool)
}

pub fn count_actions(data_dir: &Path, action: &str) -> i64 {
    let (rt, pool) = db(data_dir);
    let n: (i64,) = rt
        .block_on(
            sqlx::query_as("SELECT count(*) FROM audit WHERE action = $1")
                .bind(action.to_string())
                .fetch_one(&pool),
        )
        .unwrap();
    rt.block_on(pool.close());
    n.0
}

/// Credentials issued to runs (not the bridge's own, fetched at every start).
pub fn count_run_credentials(data_dir: &Path) -> i64 {
    let (rt, pool) = db(data_dir);
    let n: (i64,) = rt
        .block_on(
            sqlx::query_as(
                "SELECT count(*) FROM audit WHERE action = 'credential.issued' \
                 AND run_id IS NOT NULL",
            )
            .fetch_one(&pool),
        )
        .unwrap();
    rt.block_on(pool.close());
    n.0
}

pub fn count_outcomes(data_dir: &Path, action: &str, outcome: &str) -> i64 {
    let (rt, pool) = db(data_dir);
    let n: (i64,) = rt
        .block_on(
            sqlx::query_as(
                "SELECT count(*) FROM audit WHERE action = $1 \
                 AND json_extract(record, '$.outcome') = $2",
            )
            .bind(action.to_string())
            .bind(outcome.to_string())
            .fetch_one(&pool),
        )
        .unwrap();
    rt.block_on(pool.close());
    n.0
}

/// Changes one byte of the actor (the first character of the subject) of audit record `seq`.
fn tamper_one_byte(data_dir: &Path, seq: i64) {
    let (rt, pool) = db(data_dir);
    let done = rt
        .block_on(
            sqlx::query(
                "UPDATE audit SET record = substr(record, 1, instr(record, '\"subject\":\"') + 10) \
                 || char(unicode(substr(record, instr(record, '\"subject\":\"') + 11, 1)) + 1) \
                 || substr(record, instr(record, '\"subject\":\"') + 12) WHERE seq = $1",
            )
            .bind(seq)
            .execute(&pool),
        )
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
    rt.block_on(pool.close());
}

fn assert_no_run_dirs_left() {
    for base in ["/dev/shm"] {
        if let Ok(entries) = std::fs::read_dir(base) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.starts_with("arkbridge-run-") {
                    // Another test may be running a script right now; only ours matter, and ours
                    // would hold the planted secret, which the search above already rules out.
                    let hits = files_containing(&[e.path().as_path()], PLANTED.as_bytes());
                    assert!(hits.is_empty(), "{hits:?}");
                }
            }
        }
    }
}
