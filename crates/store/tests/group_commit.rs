//! Group commit under load: many concurrent appenders (past the writer's WAL checkpoint
//! threshold), a caller that gives up, and a second store appending to the same file, all end
//! in one gap-free tree whose stored nodes are the ones its records give.

use std::time::Duration;

use arkbridge_core::audit::tree::Frontier;
use arkbridge_core::audit::{Action, AuditEvent};
use arkbridge_store::{SqliteStore, Store};

fn event(i: i64) -> AuditEvent {
    AuditEvent::new(Action::ApiCall)
        .at(1_764_504_000_000_000 + i)
        .details(serde_json::json!({ "i": i }))
}

/// Checks that seqs are 1..=n without gaps and that the stored edge folds to the root of the
/// records' leaves.
async fn check_tree(store: &SqliteStore, n: u64) {
    let records = store.audit_records(0, n as i64 + 10).await.unwrap();
    assert_eq!(records.len() as u64, n);
    let mut f = Frontier::new();
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.seq, i as i64 + 1);
        f.push(r.leaf_hash());
    }
    let edge = store.audit_nodes(&Frontier::positions(n)).await.unwrap();
    assert_eq!(Frontier::from_roots(n, edge).unwrap().root(), f.root());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_writers_past_the_checkpoint_threshold_build_one_gap_free_tree() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..80 {
                let r = store.append_audit(event(w * 1000 + i)).await.unwrap();
                assert_eq!(r.event.details["i"], w * 1000 + i);
                seqs.push(r.seq);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let seqs = t.await.unwrap();
        // Each writer's records are in the order it appended them.
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
        all.extend(seqs);
    }
    all.sort();
    assert_eq!(all, (1..=1280).collect::<Vec<i64>>());
    check_tree(&store, 1280).await;
    // Everything is in the file after a clean close.
    store.close().await;
    let again = SqliteStore::open(&path).await.unwrap();
    check_tree(&again, 1280).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_gives_up_and_a_second_store_leave_the_tree_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let a = SqliteStore::open(&path).await.unwrap();
    let b = SqliteStore::open(&path).await.unwrap();
    a.append_audit(event(0)).await.unwrap();
    // A caller cancelled at once: its record is written or not, never half.
    let _ = tokio::time::timeout(Duration::ZERO, a.append_audit(event(1))).await;
    // Both stores append concurrently; each one's cached edge goes stale in turn.
    let (x, y) = tokio::join!(
        async {
            for i in 0..20 {
                a.append_audit(event(100 + i)).await.unwrap();
            }
        },
        async {
            for i in 0..20 {
                b.append_audit(event(200 + i)).await.unwrap();
            }
        }
    );
    let ((), ()) = (x, y);
    let n = a.audit_size().await.unwrap();
    assert!(n == 41 || n == 42, "{n}");
    check_tree(&a, n).await;
    check_tree(&b, n).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_caller_at_a_time_still_gets_the_wal_checkpointed_into_the_database() {
    // The writer's own connection never checkpoints; the passive checkpoints it starts must
    // come even when every writer task writes a single event, or the WAL would grow forever.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let size = || std::fs::metadata(&path).unwrap().len();
    let initial = size();
    let mut appended = 0;
    while size() == initial {
        assert!(
            appended < 3_000,
            "no checkpoint reached the database file after {appended} appends"
        );
        store.append_audit(event(appended)).await.unwrap();
        appended += 1;
    }
    // The first checkpoint is due after about 1,000 WAL pages, some 140 single-event commits.
    assert!(appended > 100, "{appended}");
    check_tree(&store, appended as u64).await;
}
