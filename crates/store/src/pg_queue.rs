//! The API run queue on PostgreSQL (tables `api_runs` and `api_run_output`, migration
//! `0010_cluster`). A run started on any replica is queued here; each replica claims queued runs
//! with `FOR UPDATE SKIP LOCKED`, so exactly one replica executes each; its masked output is
//! appended here in batches, so that any replica can stream it. Queueing sends
//! `NOTIFY arkbridge_runs`, which wakes the other replicas' claimers at once; polling covers
//! a lost notification.

use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::Result;
use crate::pg_cluster::Cluster;
use crate::pg_rows::q;

/// One API run as the queue holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRun {
    pub id: String,
    pub owner: String,
    pub page_id: String,
    pub block: String,
    /// The run request (JSON, no secret: the page, the block and the verified user).
    pub request: String,
    /// `queued`, `running` or `finished`.
    pub state: String,
    /// What the API reports: `queued`, `running`, then the run's end (`succeeded`, `failed`,
    /// `denied`, `error`, ...).
    pub status: String,
    pub replica_id: Option<String>,
    pub created_micros: i64,
    pub finished_micros: Option<i64>,
    /// The last output sequence number written.
    pub last_seq: i64,
    /// Chunks dropped from the front to keep the run's output bounded.
    pub dropped: i64,
    /// The run's final record (JSON), once it finished.
    pub record: Option<String>,
}

/// One stored chunk of masked output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChunk {
    pub seq: i64,
    pub stream: String,
    pub text: String,
}

const COLUMNS: &str = "id, owner, page_id, block, request, state, status, replica_id, \
    created_micros, finished_micros, last_seq, dropped, record";

fn queued(r: &PgRow) -> QueuedRun {
    QueuedRun {
        id: r.get("id"),
        owner: r.get("owner"),
        page_id: r.get("page_id"),
        block: r.get("block"),
        request: r.get("request"),
        state: r.get("state"),
        status: r.get("status"),
        replica_id: r.get("replica_id"),
        created_micros: r.get("created_micros"),
        finished_micros: r.get("finished_micros"),
        last_seq: r.get("last_seq"),
        dropped: r.get("dropped"),
        record: r.get("record"),
    }
}

/// Notifications of newly queued runs (`LISTEN arkbridge_runs`), on a connection of its own.
pub struct QueueListener(sqlx::postgres::PgListener);

impl std::fmt::Debug for QueueListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueListener").finish_non_exhaustive()
    }
}

impl QueueListener {
    /// Waits for the next queued run anywhere (the listener reconnects by itself after a
    /// broken connection; notifications sent meanwhile are lost, which polling covers).
    pub async fn next(&mut self) -> Result<()> {
        self.0
            .recv()
            .await
            .map(|_| ())
            .map_err(q("wait for queued runs"))
    }
}

impl Cluster {
    /// Listens for runs queued by any replica.
    pub async fn listen_queue(&self) -> Result<QueueListener> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool)
            .await
            .map_err(q("listen for queued runs"))?;
        listener
            .listen("arkbridge_runs")
            .await
            .map_err(q("listen for queued runs"))?;
        Ok(QueueListener(listener))
    }

    /// Queues a run; `NOTIFY arkbridge_runs` wakes the replicas' claimers at once.
    pub async fn enqueue_run(&self, run: &QueuedRun) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(q("queue a run"))?;
        sqlx::query(
            "INSERT INTO api_runs (id, owner, page_id, block, request, state, status, \
             created_micros) VALUES ($1, $2, $3, $4, $5, 'queued', 'queued', $6)",
        )
        .bind(&run.id)
        .bind(&run.owner)
        .bind(&run.page_id)
        .bind(&run.block)
        .bind(&run.request)
        .bind(run.created_micros)
        .execute(&mut *tx)
        .await
        .map_err(q("queue a run"))?;
        sqlx::query("NOTIFY arkbridge_runs")
            .execute(&mut *tx)
            .await
            .map_err(q("announce a queued run"))?;
        tx.commit().await.map_err(q("queue a run"))?;
        Ok(())
    }

    /// Claims up to `max` queued runs, oldest first, for `replica_id`. Rows another replica is
    /// claiming at this moment are skipped, not waited for; a replica declared dead claims
    /// nothing (it is fenced even before its next heartbeat tells it so).
    pub async fn claim_runs(&self, replica_id: &str, max: i64, now: i64) -> Result<Vec<QueuedRun>> {
        if max <= 0 {
            return Ok(Vec::new());
        }
        let sql = format!(
            "UPDATE api_runs SET state = 'running', status = 'running', replica_id = $1, \
             claimed_micros = $2 WHERE id IN (SELECT id FROM api_runs WHERE state = 'queued' \
             AND EXISTS (SELECT 1 FROM replicas r WHERE r.id = $1 AND r.dead_micros IS NULL) \
             ORDER BY created_micros LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING {COLUMNS}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(replica_id)
            .bind(now)
            .bind(max)
            .fetch_all(&self.pool)
            .await
            .map_err(q("claim queued runs"))?;
        let mut runs: Vec<QueuedRun> = rows.iter().map(queued).collect();
        runs.sort_by_key(|r| r.created_micros);
        Ok(runs)
    }

    /// Appends output chunks and moves the run's cursor; `drop_through` removes the chunks up to
    /// that sequence number (counted in `dropped`) to keep the stored output bounded.
    pub async fn append_output(
        &self,
        run_id: &str,
        chunks: &[StoredChunk],
        drop_through: Option<(i64, i64)>,
    ) -> Result<()> {
        if chunks.is_empty() && drop_through.is_none() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(q("store run output"))?;
        for c in chunks {
            sqlx::query(
                "INSERT INTO api_run_output (run_id, seq, stream, text) VALUES ($1, $2, $3, $4)",
            )
            .bind(run_id)
            .bind(c.seq)
            .bind(&c.stream)
            .bind(&c.text)
            .execute(&mut *tx)
            .await
            .map_err(q("store run output"))?;
        }
        if let Some((through, count)) = drop_through {
            sqlx::query("DELETE FROM api_run_output WHERE run_id = $1 AND seq <= $2")
                .bind(run_id)
                .bind(through)
                .execute(&mut *tx)
                .await
                .map_err(q("trim run output"))?;
            sqlx::query("UPDATE api_runs SET dropped = dropped + $2 WHERE id = $1")
                .bind(run_id)
                .bind(count)
                .execute(&mut *tx)
                .await
                .map_err(q("trim run output"))?;
        }
        if let Some(last) = chunks.last() {
            sqlx::query("UPDATE api_runs SET last_seq = $2 WHERE id = $1 AND last_seq < $2")
                .bind(run_id)
                .bind(last.seq)
                .execute(&mut *tx)
                .await
                .map_err(q("store run output"))?;
        }
        tx.commit().await.map_err(q("store run output"))?;
        Ok(())
    }

    /// Records a run's end, once: a run that already has a final state keeps it. Returns
    /// whether this call recorded it.
    pub async fn finish_api_run(
        &self,
        run_id: &str,
        status: &str,
        record: &str,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE api_runs SET state = 'finished', status = $2, record = $3, \
             finished_micros = $4 WHERE id = $1 AND state <> 'finished'",
        )
        .bind(run_id)
        .bind(status)
        .bind(record)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(q("record a run's end"))?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn api_run(&self, id: &str) -> Result<Option<QueuedRun>> {
        let sql = format!("SELECT {COLUMNS} FROM api_runs WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("read a run"))?;
        Ok(row.as_ref().map(queued))
    }

    /// Output chunks after `after`, at most `limit`.
    pub async fn output_after(&self, id: &str, after: i64, limit: i64) -> Result<Vec<StoredChunk>> {
        let rows = sqlx::query(
            "SELECT seq, stream, text FROM api_run_output WHERE run_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3",
        )
        .bind(id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(q("read run output"))?;
        Ok(rows
            .iter()
            .map(|r| StoredChunk {
                seq: r.get("seq"),
                stream: r.get("stream"),
                text: r.get("text"),
            })
            .collect())
    }

    /// Runs a replica claimed and has not finished, for recovery when that replica is dead.
    pub async fn running_runs_of(&self, replica_id: &str) -> Result<Vec<QueuedRun>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM api_runs WHERE state = 'running' AND replica_id = $1 \
             ORDER BY created_micros"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(replica_id)
            .fetch_all(&self.pool)
            .await
            .map_err(q("list a replica's runs"))?;
        Ok(rows.iter().map(queued).collect())
    }

    /// Replicas with runs still marked running.
    pub async fn replicas_with_running_runs(&self) -> Result<Vec<String>> {
        sqlx::query_scalar(
            "SELECT DISTINCT replica_id FROM api_runs WHERE state = 'running' \
             AND replica_id IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(q("list replicas with runs"))
    }

    /// Counts of API runs by state and status, for checks.
    pub async fn api_run_counts(&self) -> Result<Vec<(String, String, i64)>> {
        let rows = sqlx::query(
            "SELECT state, status, COUNT(*) AS n FROM api_runs GROUP BY state, status \
             ORDER BY state, status",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(q("count runs"))?;
        Ok(rows
            .iter()
            .map(|r| (r.get("state"), r.get("status"), r.get("n")))
            .collect())
    }
}
