//! What several replicas on one PostgreSQL database share (migration `0010_cluster`): the
//! replica registry with heartbeats, dedicated lock sessions for advisory locks, and the
//! scheduler's leader epoch with its once-per-occurrence job slots. The API run queue is in
//! `pg_queue.rs`.
//!
//! Advisory locks are taken on a connection of their own ([`LockSession`]), never on a pooled
//! one: a pooled connection goes back to the pool still holding its locks. Dropping the session
//! closes its socket, and PostgreSQL releases every lock of a session whose client went away, so
//! a replica killed with SIGKILL frees its locks as soon as the kernel closes its sockets.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool};
use sqlx::{ConnectOptions, Row};

use crate::Result;
use crate::pg_rows::q;

/// The cluster side of a PostgreSQL store; clones share the pool.
#[derive(Clone)]
pub struct Cluster {
    pub(crate) pool: PgPool,
    connect: Arc<PgConnectOptions>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").finish_non_exhaustive()
    }
}

/// A replica as the registry knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaRow {
    pub id: String,
    pub host: String,
    pub pid: i32,
    pub heartbeat_micros: i64,
    pub stopped_micros: Option<i64>,
    pub dead_micros: Option<i64>,
}

/// Who executes an engine run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOwner {
    pub replica_id: String,
    pub host: String,
}

/// The database's clock in Unix microseconds.
pub(crate) const DB_NOW: &str = "(extract(epoch from clock_timestamp()) * 1000000)::bigint";

/// The `application_name` of a replica's lock sessions.
fn session_name(replica_id: &str) -> String {
    format!("arkbridge:{replica_id}")
}

/// The advisory-lock key of a name: the first 8 bytes of its SHA-256, so that different kinds of
/// lock (`run:`, `account:`, `leader:`) never collide in practice.
pub fn lock_key(name: &str) -> i64 {
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

impl Cluster {
    pub(crate) fn new(pool: PgPool) -> Cluster {
        let connect = pool.connect_options();
        Cluster { pool, connect }
    }

    /// Registers this process as a live replica. Every time in the registry is the database's
    /// clock, so that replicas on hosts whose clocks disagree judge each other fairly.
    pub async fn register_replica(&self, id: &str, host: &str, pid: i32) -> Result<()> {
        let sql = format!(
            "INSERT INTO replicas (id, host, pid, started_micros, heartbeat_micros) \
             VALUES ($1, $2, $3, {DB_NOW}, {DB_NOW})"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(host)
            .bind(pid)
            .execute(&self.pool)
            .await
            .map_err(q("register the replica"))?;
        Ok(())
    }

    /// Records a heartbeat. `false` means the replica was declared dead meanwhile (or never
    /// registered): it must stop its runs, another replica is recovering them.
    pub async fn heartbeat(&self, id: &str) -> Result<bool> {
        let sql = format!(
            "UPDATE replicas SET heartbeat_micros = {DB_NOW} WHERE id = $1 AND dead_micros IS NULL"
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(q("record a heartbeat"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks a clean stop: the replica's runs have ended and it holds no lease.
    pub async fn stop_replica(&self, id: &str) -> Result<()> {
        let sql = format!("UPDATE replicas SET stopped_micros = {DB_NOW} WHERE id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(q("record the replica's stop"))?;
        Ok(())
    }

    /// Declares `id` dead if it has not heartbeated for `silence_micros` (by the database's
    /// clock) or it stopped; returns whether it is dead now. A replica declared dead has its
    /// database sessions ended, so that the advisory locks of a host that vanished without
    /// closing its connections are freed now rather than when TCP gives up on them.
    pub async fn declare_dead_if_silent(&self, id: &str, silence_micros: i64) -> Result<bool> {
        let sql = format!(
            "UPDATE replicas SET dead_micros = {DB_NOW} WHERE id = $1 AND dead_micros IS NULL \
             AND (heartbeat_micros <= {DB_NOW} - $2 OR stopped_micros IS NOT NULL)"
        );
        let declared = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(silence_micros)
            .execute(&self.pool)
            .await
            .map_err(q("declare a replica dead"))?
            .rows_affected()
            == 1;
        if declared {
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = $1 AND pid <> pg_backend_pid()",
            )
            .bind(session_name(id))
            .execute(&self.pool)
            .await
            .map_err(q("end a dead replica's sessions"))?;
        }
        let dead: Option<Option<i64>> =
            sqlx::query_scalar("SELECT dead_micros FROM replicas WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(q("read a replica"))?;
        // A replica nobody registered cannot be running anything.
        Ok(dead.is_none_or(|d| d.is_some()))
    }

    /// Every replica, newest first.
    pub async fn replicas(&self) -> Result<Vec<ReplicaRow>> {
        let rows = sqlx::query(
            "SELECT id, host, pid, heartbeat_micros, stopped_micros, dead_micros FROM replicas \
             ORDER BY started_micros DESC",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(q("list replicas"))?;
        Ok(rows
            .into_iter()
            .map(|r| ReplicaRow {
                id: r.get("id"),
                host: r.get("host"),
                pid: r.get("pid"),
                heartbeat_micros: r.get("heartbeat_micros"),
                stopped_micros: r.get("stopped_micros"),
                dead_micros: r.get("dead_micros"),
            })
            .collect())
    }

    /// Records which replica executes an engine run.
    pub async fn set_run_owner(&self, run_id: &str, owner: &RunOwner, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO run_owners (run_id, replica_id, host, created_micros) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (run_id) DO NOTHING",
        )
        .bind(run_id)
        .bind(&owner.replica_id)
        .bind(&owner.host)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(q("record the run's replica"))?;
        Ok(())
    }

    pub async fn run_owner(&self, run_id: &str) -> Result<Option<RunOwner>> {
        let row = sqlx::query("SELECT replica_id, host FROM run_owners WHERE run_id = $1")
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("read the run's replica"))?;
        Ok(row.map(|r| RunOwner {
            replica_id: r.get("replica_id"),
            host: r.get("host"),
        }))
    }

    /// A connection of its own for advisory locks (see the module's documentation), named
    /// after `replica_id` so that declaring the replica dead can end it, and with TCP
    /// keepalives so that the server notices a vanished host within a minute.
    pub async fn session(&self, replica_id: &str) -> Result<LockSession> {
        let options = self
            .connect
            .as_ref()
            .clone()
            .application_name(&session_name(replica_id))
            .options([
                ("tcp_keepalives_idle", "20"),
                ("tcp_keepalives_interval", "5"),
                ("tcp_keepalives_count", "4"),
            ]);
        let conn = options.connect().await.map_err(q("open a lock session"))?;
        Ok(LockSession {
            conn: tokio::sync::Mutex::new(conn),
        })
    }

    /// Becomes the scheduler's leader under a new fencing epoch, which the caller must hold the
    /// `leader:scheduler` lock on `session` for. Returns the epoch.
    pub async fn take_leadership(&self, replica_id: &str) -> Result<i64> {
        let sql = format!(
            "UPDATE cluster_leader SET epoch = epoch + 1, replica_id = $1, \
             acquired_micros = {DB_NOW} WHERE name = 'scheduler' RETURNING epoch"
        );
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(replica_id)
            .fetch_one(&self.pool)
            .await
            .map_err(q("take the scheduler's leadership"))
    }

    /// Claims one occurrence (`slot`) of a scheduled job for `replica_id`, only if `epoch` is
    /// still the leader's (the fencing check), and nobody claimed it before, or a leader of an
    /// earlier epoch claimed it and did not complete it (it died or lost the lead meanwhile).
    /// `true`: run it, then [`Cluster::complete_slot`].
    pub async fn claim_slot(
        &self,
        job: &str,
        slot: &str,
        replica_id: &str,
        epoch: i64,
    ) -> Result<bool> {
        let sql = format!(
            "INSERT INTO scheduled_slots (job, slot, replica_id, epoch, claimed_micros) \
             SELECT $1, $2, $3, $4, {DB_NOW} WHERE EXISTS \
             (SELECT 1 FROM cluster_leader WHERE name = 'scheduler' AND epoch = $4) \
             ON CONFLICT (job, slot) DO UPDATE SET replica_id = excluded.replica_id, \
             epoch = excluded.epoch, claimed_micros = excluded.claimed_micros \
             WHERE scheduled_slots.done_micros IS NULL AND scheduled_slots.epoch < excluded.epoch"
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(job)
            .bind(slot)
            .bind(replica_id)
            .bind(epoch)
            .execute(&self.pool)
            .await
            .map_err(q("claim a scheduled job"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Records that a claimed occurrence ran to its end.
    pub async fn complete_slot(&self, job: &str, slot: &str) -> Result<()> {
        let sql = format!(
            "UPDATE scheduled_slots SET done_micros = {DB_NOW} WHERE job = $1 AND slot = $2"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(job)
            .bind(slot)
            .execute(&self.pool)
            .await
            .map_err(q("complete a scheduled job"))?;
        Ok(())
    }

    /// Forgets what is older than `before_micros` and no longer needed: finished API runs with
    /// their output, owners of runs, replicas long dead or stopped, completed job slots, and
    /// single-use token ids that expired.
    /// Returns the number of rows removed.
    pub async fn prune(&self, before_micros: i64) -> Result<u64> {
        let mut removed = 0;
        for sql in [
            "DELETE FROM api_runs WHERE state = 'finished' AND finished_micros < $1",
            "DELETE FROM run_owners WHERE created_micros < $1 AND NOT EXISTS \
             (SELECT 1 FROM leases l WHERE l.run_id = run_owners.run_id \
              AND l.state NOT IN ('rotated', 'released'))",
            "DELETE FROM replicas WHERE COALESCE(dead_micros, stopped_micros) < $1",
            "DELETE FROM scheduled_slots WHERE done_micros < $1",
            "DELETE FROM used_tokens WHERE until_seconds < $1 / 1000000",
        ] {
            removed += sqlx::query(sql)
                .bind(before_micros)
                .execute(&self.pool)
                .await
                .map_err(q("prune cluster state"))?
                .rows_affected();
        }
        Ok(removed)
    }

    /// The leader's current epoch.
    pub async fn leader_epoch(&self) -> Result<i64> {
        sqlx::query_scalar("SELECT epoch FROM cluster_leader WHERE name = 'scheduler'")
            .fetch_one(&self.pool)
            .await
            .map_err(q("read the scheduler's epoch"))
    }

    /// How many times `job` ran (its claimed slots), for checks and `doctor`.
    pub async fn slots_claimed(&self, job: &str) -> Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM scheduled_slots WHERE job = $1")
            .bind(job)
            .fetch_one(&self.pool)
            .await
            .map_err(q("count a job's runs"))
    }
}

impl Cluster {
    /// Records a single-use token's id (`key`: a digest of issuer and `jti`) until
    /// `until_seconds`; `false` if any replica accepted it before (a replay). An id whose time
    /// has passed may be recorded again (the verifier refuses the expired token anyway); the
    /// leader deletes such rows when it prunes, so this stays one statement per call.
    pub async fn use_token(&self, key: &str, until_seconds: i64, now_seconds: i64) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO used_tokens (key, until_seconds) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET until_seconds = excluded.until_seconds \
             WHERE used_tokens.until_seconds < $3",
        )
        .bind(key)
        .bind(until_seconds)
        .bind(now_seconds)
        .execute(&self.pool)
        .await
        .map_err(q("record a token id"))?;
        Ok(done.rows_affected() == 1)
    }
}

/// A dedicated connection holding advisory locks; dropping it releases them all.
#[derive(Debug)]
pub struct LockSession {
    conn: tokio::sync::Mutex<PgConnection>,
}

impl LockSession {
    /// Takes the lock named `name` if it is free (session-level, re-entrant for this session).
    pub async fn try_lock(&self, name: &str) -> Result<bool> {
        let mut conn = self.conn.lock().await;
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(lock_key(name))
            .fetch_one(&mut *conn)
            .await
            .map_err(q("take an advisory lock"))
    }

    /// Releases one hold of `name`.
    pub async fn unlock(&self, name: &str) -> Result<()> {
        let mut conn = self.conn.lock().await;
        let _: bool = sqlx::query_scalar("SELECT pg_advisory_unlock($1)")
            .bind(lock_key(name))
            .fetch_one(&mut *conn)
            .await
            .map_err(q("release an advisory lock"))?;
        Ok(())
    }

    /// Whether the session's connection still answers: a session whose connection broke has
    /// lost its locks.
    pub async fn alive(&self) -> bool {
        let mut conn = self.conn.lock().await;
        sqlx::query_scalar::<_, i32>("SELECT 1")
            .fetch_one(&mut *conn)
            .await
            .is_ok()
    }
}
