//! `[store] url = "postgres://..."` through the real binary: `approve` and `run` against
//! `arkbridge sim` keep everything in PostgreSQL (the password fetched through the simulated CCP,
//! its retrieval audited there), no SQLite file is created, and the log verifies, also through
//! `audit verify`.

mod support;
#[path = "../../store/tests/support_pg/mod.rs"]
mod support_pg;

use arkbridge_audit::{VerifyOptions, verify_log};
use arkbridge_store::{AuditFilter, PgOptions, PgStore, PgTls, Store};
use support::*;
use support_pg::PgCluster;

#[test]
fn a_run_with_a_postgres_store_keeps_its_records_there_and_no_sqlite_file() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &seed_with("Planted-Secret-Pg-1", ""));
    let rt = rt();
    let cluster = PgCluster::start();
    let url = rt.block_on(cluster.database("bridge"));
    // The simulator writes the default section (SQLite); it becomes PostgreSQL's.
    let text = with_postgres_store(
        &std::fs::read_to_string(&sim.config_path).unwrap(),
        &url,
        "",
    );
    std::fs::write(&sim.config_path, text).unwrap();
    let page = page_id_by_title(&sim, "Restart payments API");
    approve(r, &sim, &page, "restart");
    let config = sim.config_path.to_str().unwrap();
    let out = arkbridge(
        r,
        "run-pg",
        &[
            "run",
            &page,
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
    let run_id = report["run_id"].as_str().unwrap().to_string();
    assert!(!sim.config.data_dir.join("arkbridge.db").exists());
    // `audit verify` reads the same PostgreSQL store.
    let verify = arkbridge(r, "verify-pg", &["audit", "verify", "--config", config]);
    let said = String::from_utf8_lossy(&verify.stdout).to_string();
    assert_eq!(verify.status.code(), Some(0), "{said}");
    assert!(said.contains("audit log OK"), "{said}");

    rt.block_on(async {
        let store = PgStore::connect(&PgOptions::new(url).tls(PgTls::Disable))
            .await
            .unwrap();
        let run = store.get_run(&run_id).await.unwrap().unwrap();
        assert_eq!(run.status.as_str(), "succeeded");
        assert_eq!(store.approvals(&page, "restart").await.unwrap().len(), 1);
        let issued = AuditFilter {
            action: Some("credential.issued".into()),
            ..AuditFilter::default()
        };
        let records = store.audit_query(&issued, 0, 1000).await.unwrap();
        let store_password = records
            .iter()
            .filter(|r| r.event.details["field"] == "store.password")
            .count();
        // One audited retrieval per command: approve, run and audit verify.
        assert_eq!(store_password, 3);
        let verified = verify_log(&store, &VerifyOptions::default())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(verified.records, store.audit_size().await.unwrap());
        store.close().await;
    });
}
