//! `arkbridge store migrate` through the real binary, against a throw-away PostgreSQL cluster:
//! a store with runs, leases, approvals, findings, audit records and a signed checkpoint moves
//! with the same audit root; a non-empty target and a tampered source are refused.

#[path = "../../store/tests/support_pg/mod.rs"]
mod support_pg;

use std::path::Path;
use std::process::{Command, Output};

use arkbridge_audit::keys::generate;
use arkbridge_audit::{SigningKey, VerifyOptions, verify_log, write_checkpoint};
use arkbridge_store::{NewApproval, NewFinding, PgOptions, PgStore, PgTls, SqliteStore, Store};
use support_pg::PgCluster;
use support_pg::behaviour::{event, lease, run};

const BIN: &str = env!("CARGO_BIN_EXE_arkbridge");

fn migrate(from: &Path, to: &str, extra: &[&str]) -> Output {
    Command::new(BIN)
        .args(["store", "migrate", "--from"])
        .arg(format!("sqlite://{}", from.display()))
        .args(["--to", to, "--to-tls", "disable"])
        .args(extra)
        .env("ARKBRIDGE_TEST_PG_PASSWORD", "unused-by-a-trust-cluster")
        .output()
        .expect("arkbridge runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// An SQLite store with a bit of everything; returns the audit root as `audit verify` sees it.
async fn filled_store(path: &Path) -> arkbridge_core::merkle::Hash {
    let s = SqliteStore::open(path).await.unwrap();
    s.insert_run(&run("r1")).await.unwrap();
    let a = s.insert_lease(&lease("r1", "payments-db")).await.unwrap();
    s.insert_lease(&lease("r1", "orders-db")).await.unwrap();
    let issued =
        arkbridge_core::audit::AuditEvent::new(arkbridge_core::audit::Action::CredentialIssued)
            .at(7)
            .run("r1");
    s.issue_credential(a, issued).await.unwrap();
    for i in 0..20 {
        s.append_audit(event(i)).await.unwrap();
    }
    let approval = NewApproval {
        page_id: "1".into(),
        block: "restart".into(),
        script_sha256: "ab".repeat(32),
        page_version: 4,
        approver: "carol@example.com".into(),
        approver_groups: vec!["approvers".into()],
        created_micros: 10,
    };
    let ev = arkbridge_core::audit::AuditEvent::new(arkbridge_core::audit::Action::ApprovalGranted)
        .at(10);
    s.record_approval(&approval, ev).await.unwrap();
    s.mark_managed("Prod-DB", "ops", 1).await.unwrap();
    s.record_finding(
        &NewFinding {
            fingerprint: "f1".into(),
            location_key: "page:1".into(),
            page_id: Some("1".into()),
            page_version: Some(1),
            title: None,
            author: None,
            space: Some("OPS".into()),
            file_path: None,
            element_path: "p[1]".into(),
            char_offset: 0,
            char_length: 4,
            detector: "aws-access-key".into(),
            category: "cloud".into(),
            severity: "high".into(),
            preview: "AK**".into(),
        },
        3,
    )
    .await
    .unwrap();
    s.save_daily_report(5, true, "{}").await.unwrap();
    s.save_safe_members("Prod-DB", "[]", 4).await.unwrap();
    let (pkcs8, _) = generate("arkbridge.test/audit").unwrap();
    let key = SigningKey::from_base64("arkbridge.test/audit", &pkcs8).unwrap();
    write_checkpoint(&s, &key).await.unwrap();
    s.set_audit_cursor("syslog", 5).await.unwrap();
    let root = verify_log(&s, &VerifyOptions::default())
        .await
        .unwrap()
        .unwrap()
        .root;
    s.close().await;
    root
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_migrate_moves_everything_with_the_same_audit_root_and_refuses_a_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("arkbridge.db");
    let root = filled_store(&db).await;
    let cluster = PgCluster::start();
    let url = cluster.database("moved").await;

    let out = migrate(
        &db,
        &url,
        &["--to-password-env", "ARKBRIDGE_TEST_PG_PASSWORD"],
    );
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("same root"), "{said}");
    assert!(
        said.contains("audit 22") && said.contains("leases 2"),
        "{said}"
    );
    assert!(!said.contains("unused-by-a-trust-cluster"), "{said}");

    let pg = PgStore::connect(&PgOptions::new(url.clone()).tls(PgTls::Disable))
        .await
        .unwrap();
    let report = verify_log(&pg, &VerifyOptions::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (report.records, report.root, report.checkpoints),
        (22, root, 1)
    );
    assert_eq!(pg.approvals("1", "restart").await.unwrap()[0].audit_seq, 22);
    assert_eq!(pg.managed_members().await.unwrap().len(), 1);
    assert_eq!(pg.findings(None).await.unwrap().len(), 1);
    assert_eq!(pg.audit_cursor("syslog").await.unwrap(), 5);
    assert_eq!(
        pg.safe_members_snapshot("prod-db").await.unwrap(),
        Some(("[]".to_string(), 4))
    );
    // The copied store goes on: new ids continue after the copied ones, the log after its head.
    let next = pg.insert_lease(&lease("r1", "new-db")).await.unwrap();
    assert_eq!(next, 3);
    assert_eq!(pg.append_audit(event(99)).await.unwrap().seq, 23);
    pg.close().await;

    let again = migrate(&db, &url, &[]);
    let said = text(&again);
    assert_eq!(again.status.code(), Some(1), "{said}");
    assert!(said.contains("not empty"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_migrate_refuses_a_tampered_source_and_copies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("arkbridge.db");
    filled_store(&db).await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE audit SET record = replace(record, '\"i\":3', '\"i\":4') WHERE seq = 5")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let cluster = PgCluster::start();
    let url = cluster.database("refused").await;

    let out = migrate(&db, &url, &[]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("source audit log BROKEN"), "{said}");
    assert!(said.contains("record 5"), "{said}");
    let pg = PgStore::connect(&PgOptions::new(url).tls(PgTls::Disable))
        .await
        .unwrap();
    assert!(pg.is_empty().await.unwrap());
    pg.close().await;
}

#[test]
fn store_migrate_rejects_bad_arguments_before_touching_anything() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.db");
    let out = migrate(&missing, "postgres://u@127.0.0.1:1/db", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no SQLite store"), "{}", text(&out));
    assert!(!missing.exists());
    let db = dir.path().join("a.db");
    std::fs::write(&db, b"").unwrap();
    let out = migrate(&db, "postgres://u:pw@127.0.0.1:1/db", &[]);
    assert!(
        text(&out).contains("must not hold a password"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains(":pw@"), "{}", text(&out));
}
