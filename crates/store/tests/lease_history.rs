//! The lease history the daily audit reads: every lease created since a time, whatever its
//! state, with its timestamps, oldest first.

use arkbridge_store::{LeaseState, NewLease, RunRecord, RunStatus, SqliteStore, Store};

fn run(id: &str) -> RunRecord {
    RunRecord {
        id: id.into(),
        page_id: "42".into(),
        page_version: 1,
        block: "restart".into(),
        user_email: "alice@example.com".into(),
        mode: "write".into(),
        status: RunStatus::Running,
        exit_code: None,
        started_micros: 0,
        finished_micros: None,
        comment_id: None,
    }
}

fn lease(run_id: &str, object: &str, created_micros: i64) -> NewLease {
    NewLease {
        run_id: run_id.into(),
        safe: "Prod-DB".into(),
        object: object.into(),
        account_id: None,
        rotation: "after-run".into(),
        created_micros,
    }
}

#[tokio::test]
async fn leases_created_since_a_time_come_back_in_every_state_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("s.db")).await.unwrap();
    store.insert_run(&run("r1")).await.unwrap();
    let old = store.insert_lease(&lease("r1", "old", 100)).await.unwrap();
    let second = store.insert_lease(&lease("r1", "b", 300)).await.unwrap();
    let first = store.insert_lease(&lease("r1", "a", 200)).await.unwrap();
    store
        .update_lease(first, LeaseState::Rotated, Some("12_3"), None)
        .await
        .unwrap();
    store
        .update_lease(second, LeaseState::RotationFailed, None, Some("CPM failed"))
        .await
        .unwrap();

    let since = store.leases_created_since(200).await.unwrap();
    let ids: Vec<i64> = since.iter().map(|t| t.lease.id).collect();
    assert_eq!(ids, [first, second]);
    assert!(!ids.contains(&old));
    assert_eq!(since[0].created_micros, 200);
    assert_eq!(since[0].lease.state, LeaseState::Rotated);
    assert_eq!(since[0].lease.account_id.as_deref(), Some("12_3"));
    assert!(since[0].updated_micros > 200, "the rotation's time");
    assert_eq!(since[1].lease.state, LeaseState::RotationFailed);
    assert_eq!(since[1].lease.error.as_deref(), Some("CPM failed"));
    assert!(store.leases_created_since(301).await.unwrap().is_empty());
    let json = serde_json::to_value(&since[0]).unwrap();
    assert_eq!(json["state"], "rotated");
    assert_eq!(json["created_micros"], 200);
}
