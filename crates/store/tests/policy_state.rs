//! Approvals and managed safe members in the SQLite store: approvals are recorded with their
//! audit event in one transaction, read back per block, and part of one gap-free audit log;
//! the members `policy apply` added are remembered ignoring case.

use arkbridge_core::audit::{Action, Actor, AuditEvent, AuthMethod, Target};
use arkbridge_store::{NewApproval, SqliteStore, Store};

fn approval(block: &str, hash: &str, approver: &str, version: i64) -> NewApproval {
    NewApproval {
        page_id: "1001".into(),
        block: block.into(),
        script_sha256: hash.into(),
        page_version: version,
        approver: approver.into(),
        approver_groups: vec!["change-approvers".into()],
        created_micros: 1_700_000_000_000_000 + version,
    }
}

fn event(approver: &str, block: &str) -> AuditEvent {
    AuditEvent::new(Action::ApprovalGranted)
        .at(1_700_000_000_000_000)
        .by(Actor::user("local-trusted", approver, AuthMethod::CliLocal))
        .target(Target::page("1001"))
        .details(serde_json::json!({ "block": block }))
}

#[tokio::test]
async fn approvals_are_recorded_with_their_audit_record_and_read_per_block() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("s.db")).await.unwrap();
    let (a1, r1) = store
        .record_approval(
            &approval("restart", "aa11", "carol@example.com", 7),
            event("carol@example.com", "restart"),
        )
        .await
        .unwrap();
    let (_, _) = store
        .record_approval(
            &approval("flush", "bb22", "carol@example.com", 7),
            event("carol@example.com", "flush"),
        )
        .await
        .unwrap();
    let (a3, r3) = store
        .record_approval(
            &approval("restart", "cc33", "dave@example.com", 9),
            event("dave@example.com", "restart"),
        )
        .await
        .unwrap();
    assert_eq!(a1.audit_seq, r1.seq);
    // The approver's groups at approval time are kept and read back.
    assert_eq!(
        a1.approver_groups.as_deref(),
        Some(&["change-approvers".to_string()][..])
    );
    assert_eq!(a3.audit_seq, r3.seq);
    assert_eq!(r1.event.action, Action::ApprovalGranted);

    let restart = store.approvals("1001", "restart").await.unwrap();
    assert_eq!(
        restart,
        vec![a1.clone(), a3.clone()],
        "oldest first, this block only"
    );
    assert!(store.approvals("1001", "other").await.unwrap().is_empty());
    assert!(store.approvals("2002", "restart").await.unwrap().is_empty());

    let records = store.audit_records(0, 100).await.unwrap();
    let seqs: Vec<i64> = records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [1, 2, 3]);
}

#[tokio::test]
async fn approvals_survive_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    {
        let store = SqliteStore::open(&path).await.unwrap();
        store
            .record_approval(
                &approval("restart", "aa11", "carol@example.com", 7),
                event("carol@example.com", "restart"),
            )
            .await
            .unwrap();
        store.close().await;
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let found = store.approvals("1001", "restart").await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].script_sha256, "aa11");
    assert_eq!(found[0].page_version, 7);
}

#[tokio::test]
async fn managed_members_are_remembered_ignoring_case_until_unmarked() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("s.db")).await.unwrap();
    store
        .mark_managed("Prod-DB", "ops-admins", 1)
        .await
        .unwrap();
    store
        .mark_managed("PROD-DB", "OPS-ADMINS", 2)
        .await
        .unwrap();
    store
        .mark_managed("Prod-DB-RO", "developers", 3)
        .await
        .unwrap();
    assert_eq!(
        store.managed_members().await.unwrap(),
        vec![
            ("Prod-DB".to_string(), "ops-admins".to_string()),
            ("Prod-DB-RO".to_string(), "developers".to_string())
        ]
    );
    store.unmark_managed("prod-db", "Ops-Admins").await.unwrap();
    assert_eq!(store.managed_members().await.unwrap().len(), 1);
}
