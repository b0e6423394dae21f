//! The lease parts the watchdog, crash recovery and the alerting need: each run's guard (its
//! credentials' deadline and its script's process group) and the leases whose rotation failed.

use sqlx::Row;
use sqlx::sqlite::SqlitePool;

use crate::model::{GUARD_SQL, SET_GUARD_SQL};
use crate::q;
use crate::{Lease, LeaseState, Result, RunGuard, StoreError, TimedLease};

/// Writes or replaces the guard of `guard.run_id` (see [`SET_GUARD_SQL`]).
pub(crate) async fn set_guard(pool: &SqlitePool, guard: &RunGuard, now: i64) -> Result<()> {
    sqlx::query(SET_GUARD_SQL)
        .bind(&guard.run_id)
        .bind(guard.deadline_micros)
        .bind(guard.pgid)
        .bind(guard.process_start_column()?)
        .bind(now)
        .execute(pool)
        .await
        .map_err(q("set run guard"))?;
    Ok(())
}

pub(crate) async fn guard(pool: &SqlitePool, run_id: &str) -> Result<Option<RunGuard>> {
    let row = sqlx::query(GUARD_SQL)
        .bind(run_id)
        .fetch_optional(pool)
        .await
        .map_err(q("run guard"))?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(RunGuard {
        run_id: r.get("run_id"),
        deadline_micros: r.get("deadline_micros"),
        pgid: r.get("pgid"),
        process_start: RunGuard::process_start_from_column(r.get("process_start"))?,
    }))
}

/// Leases left in `rotation-failed` whose last change is at or after `since`, oldest first.
pub(crate) async fn rotation_failures_since(
    pool: &SqlitePool,
    since: i64,
) -> Result<Vec<TimedLease>> {
    let rows = sqlx::query(
        "SELECT id, run_id, safe, object, account_id, rotation, state, error, created_micros, \
         updated_micros FROM leases WHERE state = $1 AND updated_micros >= $2 \
         ORDER BY updated_micros, id",
    )
    .bind(LeaseState::RotationFailed.as_str())
    .bind(since)
    .fetch_all(pool)
    .await
    .map_err(q("rotation failures since"))?;
    rows.iter()
        .map(|r| {
            let state: String = r.get("state");
            let state = state
                .parse::<LeaseState>()
                .map_err(|value| StoreError::Corrupt {
                    what: "leases.state",
                    value,
                })?;
            Ok(TimedLease {
                lease: Lease {
                    id: r.get("id"),
                    run_id: r.get("run_id"),
                    safe: r.get("safe"),
                    object: r.get("object"),
                    account_id: r.get("account_id"),
                    rotation: r.get("rotation"),
                    state,
                    error: r.get("error"),
                },
                created_micros: r.get("created_micros"),
                updated_micros: r.get("updated_micros"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::{LeaseState, NewLease, RunGuard, RunRecord, RunStatus, SqliteStore, Store};

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        (dir, s)
    }

    async fn run(s: &SqliteStore, id: &str) {
        s.insert_run(&RunRecord {
            id: id.into(),
            page_id: "1".into(),
            page_version: 1,
            block: "b".into(),
            user_email: "a@example.com".into(),
            mode: "read".into(),
            status: RunStatus::Running,
            exit_code: None,
            started_micros: 1,
            finished_micros: None,
            comment_id: None,
        })
        .await
        .unwrap();
    }

    fn lease(run_id: &str, object: &str) -> NewLease {
        NewLease {
            run_id: run_id.into(),
            safe: "Prod-DB".into(),
            object: object.into(),
            account_id: Some("12_3".into()),
            rotation: "after-run".into(),
            created_micros: 5,
        }
    }

    #[tokio::test]
    async fn guard_keeps_the_process_group_when_the_deadline_moves() {
        let (_d, s) = store().await;
        assert_eq!(s.run_guard("r1").await.unwrap(), None);
        let mut g = RunGuard {
            run_id: "r1".into(),
            deadline_micros: 100,
            pgid: None,
            process_start: None,
        };
        s.set_run_guard(&g).await.unwrap();
        g.pgid = Some(4242);
        g.process_start = Some(987_654);
        s.set_run_guard(&g).await.unwrap();
        let later = RunGuard {
            deadline_micros: 200,
            pgid: None,
            process_start: None,
            ..g.clone()
        };
        s.set_run_guard(&later).await.unwrap();
        let got = s.run_guard("r1").await.unwrap().unwrap();
        assert_eq!(
            (got.deadline_micros, got.pgid, got.process_start),
            (200, Some(4242), Some(987_654))
        );
    }

    #[tokio::test]
    async fn lease_takes_its_runs_deadline_when_written() {
        let (_d, s) = store().await;
        run(&s, "r1").await;
        s.set_run_guard(&RunGuard {
            run_id: "r1".into(),
            deadline_micros: 777,
            pgid: None,
            process_start: None,
        })
        .await
        .unwrap();
        let id = s.insert_lease(&lease("r1", "payments-db")).await.unwrap();
        let deadline: Option<i64> =
            sqlx::query_scalar("SELECT deadline_micros FROM leases WHERE id = $1")
                .bind(id)
                .fetch_one(s.pool())
                .await
                .unwrap();
        assert_eq!(deadline, Some(777));
    }

    #[tokio::test]
    async fn rotation_failures_since_lists_only_failed_leases_changed_after_the_time() {
        let (_d, s) = store().await;
        run(&s, "r1").await;
        let failed = s.insert_lease(&lease("r1", "payments-db")).await.unwrap();
        let rotated = s.insert_lease(&lease("r1", "orders-db")).await.unwrap();
        let before = now();
        s.update_lease(failed, LeaseState::RotationFailed, None, Some("CPM failed"))
            .await
            .unwrap();
        s.update_lease(rotated, LeaseState::Rotated, None, None)
            .await
            .unwrap();
        let got = s.rotation_failures_since(before).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].lease.id, failed);
        assert_eq!(got[0].lease.error.as_deref(), Some("CPM failed"));
        assert!(got[0].updated_micros >= before);
        let future = got[0].updated_micros + 1;
        assert!(s.rotation_failures_since(future).await.unwrap().is_empty());
    }

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as i64
    }
}
