//! Group commit for audit appends: concurrent callers share one transaction, and so one fsync.
//!
//! The queue and its writer loop are `commit_queue.rs`'s; here each batch is written in one
//! `BEGIN IMMEDIATE` transaction, and a passive WAL checkpoint is started on the side.
//!
//! The writer uses a SQLite connection of the group commit's own, opened at the first append
//! with the pool's options: a batch never waits for a pooled connection nor pays the pool's
//! health check, and its statements stay prepared on it. With the tree's edge cached, a batch is
//! one round trip to that connection (`audit_append::append_on`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use arkbridge_core::audit::{AuditEvent, AuditRecord};
use sqlx::{ConnectOptions, SqliteConnection, SqlitePool};

use crate::audit_append::{EdgeCache, append_on};
use crate::commit_queue::{Batch, CommitQueue};
use crate::{Result, StoreError};

#[derive(Default)]
pub(crate) struct GroupCommit {
    queue: CommitQueue,
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
    /// Appends `event`, possibly together with other callers' events.
    pub(crate) async fn append(
        self: &Arc<Self>,
        pool: &SqlitePool,
        event: AuditEvent,
    ) -> Result<AuditRecord> {
        self.queue
            .append(event, || {
                tokio::spawn(writer(self.clone(), pool.clone()));
            })
            .await
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

/// Writes batches until the queue is empty, starting a passive WAL checkpoint on the side
/// whenever enough pages were written.
async fn writer(commit: Arc<GroupCommit>, pool: SqlitePool) {
    let mut conn = commit.conn.lock().await;
    let mut batches = commit.queue.drainer();
    while let Some(batch) = batches.next().await {
        let events = batch.events.len();
        write(&mut conn, &pool, &commit.edge, batch).await;
        // Counted across writer tasks: with one caller at a time, each task writes one event.
        let pages = WAL_PAGES_PER_COMMIT + WAL_PAGES_PER_EVENT * events;
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
    mut batch: Batch,
) {
    let events = std::mem::take(&mut batch.events);
    let written = match connection(slot, pool).await {
        Ok(conn) => append_on(conn, events, edge).await,
        Err(e) => Err(e),
    };
    if written.is_err() {
        // A connection that failed mid-transaction is not trusted again: the next batch opens a
        // fresh one.
        *slot = None;
    }
    batch.answer(written);
}
