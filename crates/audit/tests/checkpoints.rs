//! Checkpoints over a real SQLite store: the chain they form, what they refuse to sign, two
//! writers at once, and the periodic task on tokio's paused clock.

mod common;

use arkbridge_audit::{
    AuditError, CheckpointInterval, Checkpointer, SignedCheckpoint, checkpoint::note_hash,
    spawn_checkpoints,
};
use arkbridge_store::Store;
use common::TestLog;

#[tokio::test]
async fn checkpoints_form_a_chain_over_the_growing_log() {
    let log = TestLog::new().await;
    let first = log.checkpoint().await;
    assert_eq!((first.id, first.tree_size), (1, 0));
    log.append(0, 5).await;
    let second = log.checkpoint().await;
    let keys = [log.public.clone()];
    let a = SignedCheckpoint::verify(&first.note, &keys).unwrap();
    let b = SignedCheckpoint::verify(&second.note, &keys).unwrap();
    assert_eq!(a.checkpoint.prev, None);
    assert_eq!(b.checkpoint.prev, Some(note_hash(&first.note)));
    assert_eq!(b.checkpoint.tree_size, 5);
    assert_eq!(b.checkpoint.origin, common::ORIGIN);
    assert!(b.checkpoint.time_us >= a.checkpoint.time_us);
    assert_eq!(
        b.checkpoint.root,
        arkbridge_audit::proof::root_at(&log.store, 5)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn no_checkpoint_is_signed_over_a_changed_or_truncated_log() {
    let log = TestLog::new().await;
    log.append(0, 10).await;
    log.checkpoint().await;
    log.append(10, 5).await;
    // A record added since the last checkpoint was changed.
    log.sql("UPDATE audit SET record = replace(record, 'alice', 'mallo') WHERE seq = 13")
        .await;
    let err = Checkpointer::new(log.store.clone(), log.key.clone())
        .checkpoint()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AuditError::Tampered(m) if m.contains("audit record 13")),
        "{err}"
    );
    // The tail the last checkpoint covered was cut off.
    log.sql("DELETE FROM audit WHERE seq > 8").await;
    let err = Checkpointer::new(log.store.clone(), log.key.clone())
        .checkpoint()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AuditError::Tampered(m) if m.contains("covers 10 records")),
        "{err}"
    );
    assert_eq!(log.store.audit_checkpoints().await.unwrap().len(), 1);
}

#[tokio::test]
async fn two_writers_at_once_keep_one_chain() {
    let log = TestLog::new().await;
    log.append(0, 3).await;
    let a = Checkpointer::new(log.store.clone(), log.key.clone());
    let b = Checkpointer::new(log.store.clone(), log.key.clone());
    let (x, y) = tokio::join!(a.checkpoint(), b.checkpoint());
    x.unwrap();
    y.unwrap();
    let stored = log.store.audit_checkpoints().await.unwrap();
    assert_eq!(stored.len(), 2);
    let second = SignedCheckpoint::parse(&stored[1].note).unwrap();
    assert_eq!(second.checkpoint.prev, Some(note_hash(&stored[0].note)));
    let report = arkbridge_audit::verify_log(
        &log.store,
        &arkbridge_audit::VerifyOptions {
            keys: Some(vec![log.public.clone()]),
            trusted: vec![],
        },
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(report.checkpoints, 2);
}

#[tokio::test]
async fn the_task_writes_a_last_checkpoint_at_shutdown() {
    let log = TestLog::new().await;
    log.append(0, 3).await;
    let task = spawn_checkpoints(
        Checkpointer::new(log.store.clone(), log.key.clone()),
        CheckpointInterval::HOURLY,
    );
    let last = task.shutdown().await.unwrap();
    assert_eq!((last.id, last.tree_size), (1, 3));
}
