//! Group commit for audit appends: concurrent callers share one transaction, and so one fsync.
//!
//! A caller queues its event, starts a writer task if none is running, and waits for its
//! answer. The writer takes everything queued (up to [`MAX_BATCH`]), writes it in one
//! `BEGIN IMMEDIATE` transaction, answers every caller in it, and goes on with what was queued
//! meanwhile until the queue is empty. The write runs in its own task so that a caller being
//! cancelled never abandons the others' records halfway; an event whose caller went away before
//! its batch started is not written.
//!
//! The writer uses a SQLite connection of the group commit's own, opened at the first append
//! with the pool's options: a batch never waits for a pooled connection nor pays the pool's
//! health check, and its statements stay prepared on it. With the tree's edge cached, a batch is
//! one round trip to that connection (`audit_append::append_on`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arkbridge_core::audit::{AuditEvent, AuditRecord};
use sqlx::{ConnectOptions, SqliteConnection, SqlitePool};
use tokio::sync::oneshot;

use crate::audit_append::{EdgeCache, append_on};
use crate::{Result, StoreError};

/// The most events one transaction carries.
pub(crate) const MAX_BATCH: usize = 1024;

struct Pending {
    event: AuditEvent,
    done: oneshot::Sender<Result<AuditRecord>>,
}

#[derive(Default)]
pub(crate) struct GroupCommit {
    queue: Mutex<Vec<Pending>>,
    /// Whether a writer task is running (it exits once it finds the queue empty).
    writing: AtomicBool,
    /// Whether a WAL checkpoint started by the writer is running.
    checkpointing: Arc<AtomicBool>,
    /// WAL pages written (an estimate) since the writer last started a WAL checkpoint.
    wal_pages: AtomicUsize,
    /// The writing connection (opened at first use), held by the writer task.
    conn: Arc<tokio::sync::Mutex<Option<SqliteConnection>>>,
    /// The store's tree edge, shared with its other append paths.
    pub(crate) edge: Arc<EdgeCache>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    fn queued(&self) -> usize {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn take_batch(&self) -> Vec<Pending> {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let n = queue.len().min(MAX_BATCH);
        queue.drain(..n).collect()
    }

    /// Appends `event`, possibly together with other callers' events.
    pub(crate) async fn append(
        self: &Arc<Self>,
        pool: &SqlitePool,
        event: AuditEvent,
    ) -> Result<AuditRecord> {
        let (done, result) = oneshot::channel();
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Pending { event, done });
        // The event is queued before the flag is read, so a writer that is running either takes
        // it or, finding the queue empty too early, sees it when it checks again on its way out.
        if !self.writing.swap(true, Ordering::SeqCst) {
            tokio::spawn(writer(self.clone(), pool.clone()));
        }
        // A dropped sender means the writer died before answering.
        result.await.unwrap_or(Err(StoreError::Interrupted))
    }
}

/// WAL pages between two checkpoints: SQLite's own default threshold (4 MB of 4 KiB pages).
const CHECKPOINT_PAGES: usize = 1000;
/// The WAL pages a commit writes, estimated as a fixed part (the table's and the five search
/// indexes' pages that any commit touches) plus a part per event: `strace` counted 36 pages per
/// 16-event commit of the benchmark.
const WAL_PAGES_PER_COMMIT: usize = 5;
const WAL_PAGES_PER_EVENT: usize = 2;

impl GroupCommit {
    /// Starts a passive WAL checkpoint on a pooled connection unless one is running. It copies
    /// committed pages into the database file while appends go on (it takes no write lock), so
    /// no batch waits for it; durability does not depend on it, since every commit has already
    /// synced the WAL (`synchronous = FULL`).
    fn checkpoint_wal(&self, pool: &SqlitePool) {
        if self.checkpointing.swap(true, Ordering::SeqCst) {
            return;
        }
        let (pool, flag) = (pool.clone(), self.checkpointing.clone());
        tokio::spawn(async move {
            if let Err(e) = sqlx::raw_sql("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await
            {
                tracing::warn!(error = %e, "audit log: WAL checkpoint failed; the next one retries");
            }
            flag.store(false, Ordering::SeqCst);
        });
    }
}

/// Clears the writing flag if the writer task ends any other way than by finding the queue
/// empty (a panic, or its runtime shutting down), so that the next append starts a new one.
struct Running<'a> {
    commit: &'a GroupCommit,
    exited: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !self.exited {
            self.commit.writing.store(false, Ordering::SeqCst);
        }
    }
}

/// The most times the writer yields to let the callers it just answered queue their next
/// events before it takes a batch.
const GATHER_YIELDS: usize = 8;

/// Writes batches until the queue is empty. Callers only queue and wait for their answer, so a
/// batch costs one wake-up per caller and nothing else: no lock is passed from caller to caller.
async fn writer(commit: Arc<GroupCommit>, pool: SqlitePool) {
    let mut running = Running {
        commit: &commit,
        exited: false,
    };
    let mut conn = commit.conn.lock().await;
    let mut last = 0;
    loop {
        // The callers answered by the last batch usually append again at once: giving them a
        // moment to queue keeps batches as large as the concurrency, where taking the queue
        // at once would split it into a full batch and many small ones.
        let mut yields = 0;
        while last > 1 && commit.queued() < last && yields < GATHER_YIELDS {
            tokio::task::yield_now().await;
            yields += 1;
        }
        let batch = commit.take_batch();
        if batch.is_empty() {
            commit.writing.store(false, Ordering::SeqCst);
            // An event queued after the take whose caller saw the flag still set would be left
            // behind: take it on, unless a new writer already did.
            if commit.queued() > 0 && !commit.writing.swap(true, Ordering::SeqCst) {
                last = 0;
                continue;
            }
            running.exited = true;
            return;
        }
        last = batch.len();
        write(&mut conn, &pool, &commit.edge, batch).await;
        // Counted across writer tasks: with one caller at a time, each task writes one event.
        let pages = WAL_PAGES_PER_COMMIT + WAL_PAGES_PER_EVENT * last;
        let written = commit.wal_pages.fetch_add(pages, Ordering::SeqCst) + pages;
        if written >= CHECKPOINT_PAGES {
            commit.wal_pages.store(0, Ordering::SeqCst);
            commit.checkpoint_wal(&pool);
        }
    }
}

impl GroupCommit {
    /// Closes the writing connection (waiting for a batch in flight), so that the store's file
    /// is left checkpointed when the pool closes too.
    pub(crate) async fn close(&self) {
        if let Some(conn) = self.conn.lock().await.take() {
            let _ = sqlx::Connection::close(conn).await;
        }
    }
}

/// The writing connection, opened with the pool's options at first use (and again after a
/// failure dropped it).
async fn connection<'c>(
    slot: &'c mut Option<SqliteConnection>,
    pool: &SqlitePool,
) -> Result<&'c mut SqliteConnection> {
    if slot.is_none() {
        let conn = pool
            .connect_options()
            .connect()
            .await
            .map_err(|source| StoreError::Query {
                what: "open the audit writer's connection",
                source,
            })?;
        let mut conn = conn;
        // This connection never checkpoints the WAL itself, which would stall the batch that
        // crosses the threshold; the writer starts a passive checkpoint on the side instead.
        sqlx::raw_sql("PRAGMA wal_autocheckpoint = 0")
            .execute(&mut conn)
            .await
            .map_err(|source| StoreError::Query {
                what: "configure the audit writer's connection",
                source,
            })?;
        *slot = Some(conn);
    }
    Ok(slot.as_mut().expect("opened above"))
}

async fn write(
    slot: &mut Option<SqliteConnection>,
    pool: &SqlitePool,
    edge: &EdgeCache,
    batch: Vec<Pending>,
) {
    let (events, waiters): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .filter(|p| !p.done.is_closed())
        .map(|p| (p.event, p.done))
        .unzip();
    if events.is_empty() {
        return;
    }
    let result = match connection(slot, pool).await {
        Ok(conn) => append_on(conn, events, edge).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(records) => {
            for (waiter, record) in waiters.into_iter().zip(records) {
                let _ = waiter.send(Ok(record));
            }
        }
        Err(e) => {
            // A connection that failed mid-transaction is not trusted again: the next batch
            // opens a fresh one.
            *slot = None;
            // Every caller in the batch gets the failure; none of their records was stored.
            let message = arkbridge_core::error_chain(&e);
            for waiter in waiters {
                let _ = waiter.send(Err(StoreError::AppendFailed(message.clone())));
            }
        }
    }
}
