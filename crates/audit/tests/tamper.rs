//! Tamper tests on the SQLite store: each change an attacker with the database file could make is
//! found by `verify_log`, which names the first record (or checkpoint) that fails.

mod common;

use arkbridge_audit::{VerifyFailure, VerifyOptions, verify_log};
use arkbridge_core::audit::tree::Frontier;
use arkbridge_core::audit::{decode, encode};
use arkbridge_store::Store;
use common::{TestLog, key};

/// 20 records with checkpoints at 10 and 20.
async fn log() -> TestLog {
    let log = TestLog::new().await;
    log.append(0, 10).await;
    log.checkpoint().await;
    log.append(10, 10).await;
    log.checkpoint().await;
    log
}

fn with_key(log: &TestLog) -> VerifyOptions {
    VerifyOptions {
        keys: Some(vec![log.public.clone()]),
        trusted: Vec::new(),
    }
}

async fn failure(log: &TestLog, options: &VerifyOptions) -> VerifyFailure {
    verify_log(&log.store, options)
        .await
        .unwrap()
        .expect_err("the tampering was not found")
}

fn record_seq(f: &VerifyFailure) -> i64 {
    match f {
        VerifyFailure::Record { seq, .. } => *seq,
        other => panic!("expected a record to be named, got: {other}"),
    }
}

#[tokio::test]
async fn an_intact_log_verifies_with_its_checkpoints() {
    let log = log().await;
    let report = verify_log(&log.store, &with_key(&log))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.records, 20);
    assert_eq!(report.checkpoints, 2);
    assert!(report.signatures_checked);
    assert_eq!(report.latest_checkpoint_size, 20);
}

#[tokio::test]
async fn one_changed_byte_names_that_record() {
    let log = log().await;
    let n = log
        .sql("UPDATE audit SET record = replace(record, '\"i\":7', '\"i\":8') WHERE seq = 8")
        .await;
    assert_eq!(n, 1);
    let f = failure(&log, &with_key(&log)).await;
    assert_eq!(record_seq(&f), 8, "{f}");
    assert!(f.to_string().contains("was changed"), "{f}");
}

#[tokio::test]
async fn a_change_with_its_leaf_hash_rewritten_is_found_by_the_stored_nodes() {
    let log = log().await;
    // The attacker also rewrites the leaf hash of record 7 (leaf 6), which completes no node;
    // record 8 stores the node over records 7 and 8.
    let stored = log.store.audit_records(6, 1).await.unwrap().remove(0);
    let mut event = stored.event.clone();
    event.actor.subject = "mallory@example.com".into();
    let forged = encode(7, event);
    log.sql(&format!(
        "UPDATE audit SET record = '{}', leaf_hash = x'{}' WHERE seq = 7",
        forged.canonical.replace('\'', "''"),
        hex::encode(forged.leaf_hash())
    ))
    .await;
    let f = failure(&log, &with_key(&log)).await;
    assert_eq!(record_seq(&f), 7, "{f}");
    assert!(f.to_string().contains("records 7..=8"), "{f}");
}

#[tokio::test]
async fn a_deleted_record_is_named() {
    let log = log().await;
    assert_eq!(log.sql("DELETE FROM audit WHERE seq = 12").await, 1);
    let f = failure(&log, &with_key(&log)).await;
    assert_eq!(record_seq(&f), 12, "{f}");
    assert!(f.to_string().contains("missing"), "{f}");
}

#[tokio::test]
async fn two_swapped_records_are_named() {
    let log = log().await;
    // Whole rows swapped: record text, leaf hash and nodes.
    for column in ["record", "leaf_hash", "nodes"] {
        log.sql(&format!(
            "UPDATE audit SET {column} = CASE seq \
               WHEN 5 THEN (SELECT {column} FROM audit WHERE seq = 6) \
               ELSE (SELECT {column} FROM audit WHERE seq = 5) END \
             WHERE seq IN (5, 6)"
        ))
        .await;
    }
    let f = failure(&log, &with_key(&log)).await;
    assert_eq!(record_seq(&f), 5, "{f}");
    assert!(f.to_string().contains("holds record 6"), "{f}");
}

#[tokio::test]
async fn swapped_records_renumbered_to_fit_are_found_by_their_hashes() {
    let log = log().await;
    // The attacker swaps two events and renumbers each to its new place, keeping the hashes.
    let a = log.store.audit_records(2, 1).await.unwrap().remove(0);
    let b = log.store.audit_records(3, 1).await.unwrap().remove(0);
    let a_at_4 = encode(4, a.event.clone());
    let b_at_3 = encode(3, b.event.clone());
    for (seq, r) in [(3, &b_at_3), (4, &a_at_4)] {
        log.sql(&format!(
            "UPDATE audit SET record = '{}' WHERE seq = {seq}",
            r.canonical.replace('\'', "''")
        ))
        .await;
    }
    let f = failure(&log, &with_key(&log)).await;
    assert_eq!(record_seq(&f), 3, "{f}");
}

#[tokio::test]
async fn a_truncated_tail_is_named() {
    let log = log().await;
    assert_eq!(log.sql("DELETE FROM audit WHERE seq > 17").await, 3);
    let f = failure(&log, &with_key(&log)).await;
    assert_eq!(record_seq(&f), 18, "{f}");
    assert!(f.to_string().contains("truncated"), "{f}");
}

#[tokio::test]
async fn records_appended_then_truncated_with_their_checkpoint_are_found_by_a_kept_checkpoint() {
    let log = log().await;
    log.append(20, 5).await;
    let kept = log.checkpoint().await; // The SIEM keeps a copy of this one.
    assert_eq!(kept.tree_size, 25);
    log.sql("DELETE FROM audit WHERE seq > 20").await;
    log.sql("DELETE FROM audit_checkpoints WHERE id = 3").await;
    // The store alone now looks intact...
    assert!(
        verify_log(&log.store, &with_key(&log))
            .await
            .unwrap()
            .is_ok()
    );
    // ...but not against the checkpoint kept outside it.
    let mut options = with_key(&log);
    options.trusted.push(kept.note);
    let f = failure(&log, &options).await;
    assert_eq!(record_seq(&f), 21, "{f}");
    assert!(f.to_string().contains("trusted checkpoint 1"), "{f}");
}

#[tokio::test]
async fn a_checkpoint_forged_with_a_wrong_key_is_named() {
    let log = log().await;
    // The attacker re-signs checkpoint 2 (same content) with a key of the same name.
    let (mallory, _) = key(common::ORIGIN);
    let stored = log.store.audit_checkpoints().await.unwrap().remove(1);
    let body = arkbridge_audit::SignedCheckpoint::parse(&stored.note)
        .unwrap()
        .checkpoint;
    let forged = arkbridge_audit::SignedCheckpoint::sign(body, &mallory);
    log.sql(&format!(
        "UPDATE audit_checkpoints SET note = '{}' WHERE id = 2",
        forged.note
    ))
    .await;
    let f = failure(&log, &with_key(&log)).await;
    assert!(
        matches!(&f, VerifyFailure::Checkpoint { id, .. } if id == "2"),
        "{f}"
    );
    // Without the trusted key the signature cannot be judged, and the chain still holds.
    let unsigned = verify_log(&log.store, &VerifyOptions::default())
        .await
        .unwrap()
        .unwrap();
    assert!(!unsigned.signatures_checked);
}

#[tokio::test]
async fn a_rewritten_log_with_every_hash_recomputed_fails_its_signed_checkpoint() {
    let log = log().await;
    // The attacker changes record 3 and recomputes every leaf hash and node after it.
    let rows = log.store.audit_leaves(0, 100).await.unwrap();
    let mut frontier = Frontier::new();
    for row in rows {
        let mut text = row.record.clone();
        if row.seq == 3 {
            let mut r = decode(&text).unwrap();
            r.event.actor.subject = "mallory@example.com".into();
            text = encode(3, r.event).canonical;
        }
        let leaf = arkbridge_core::merkle::leaf_hash(text.as_bytes());
        let nodes = frontier.push(leaf).concat();
        log.sql(&format!(
            "UPDATE audit SET record = '{}', leaf_hash = x'{}', nodes = x'{}' WHERE seq = {}",
            text.replace('\'', "''"),
            hex::encode(leaf),
            hex::encode(nodes),
            row.seq
        ))
        .await;
    }
    let f = failure(&log, &with_key(&log)).await;
    assert_eq!(record_seq(&f), 1, "{f}");
    assert!(
        f.to_string().contains("checkpoint 1 (tree size 10)") && f.to_string().contains("1..=10"),
        "{f}"
    );
}

#[tokio::test]
async fn a_removed_first_checkpoint_breaks_the_checkpoint_chain() {
    let log = log().await;
    log.sql("DELETE FROM audit_checkpoints WHERE id = 1").await;
    let f = failure(&log, &with_key(&log)).await;
    assert!(
        matches!(&f, VerifyFailure::Checkpoint { id, .. } if id == "1"),
        "{f}"
    );
}

#[tokio::test]
async fn columns_rewritten_with_another_type_are_named_not_a_crash() {
    let log = log().await;
    log.sql("UPDATE audit SET leaf_hash = 'not a hash' WHERE seq = 4")
        .await;
    let f = failure(&log, &with_key(&log)).await;
    assert_eq!(record_seq(&f), 4, "{f}");
    // The search columns are generated from the record by SQLite's JSON functions, so a record
    // that is not JSON cannot even be written.
    let refused = sqlx::SqlitePool::connect(&format!("sqlite://{}", log.path().display()))
        .await
        .unwrap();
    assert!(
        sqlx::query("UPDATE audit SET record = 'not json' WHERE seq = 9")
            .execute(&refused)
            .await
            .is_err()
    );
    refused.close().await;
    log.sql("UPDATE audit_checkpoints SET tree_size = 'big' WHERE id = 1")
        .await;
    assert!(
        log.store
            .audit_checkpoints()
            .await
            .unwrap_err()
            .to_string()
            .contains("checkpoint 1")
    );
}
