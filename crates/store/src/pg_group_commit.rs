//! Group commit for PostgreSQL audit appends: concurrent callers of one store share one
//! transaction, and so one WAL flush, as with SQLite (`group_commit.rs`).
//!
//! A caller queues its event, starts a writer task if none is running, and waits for its answer.
//! The writer takes everything queued (up to [`MAX_BATCH`]), appends it in one call of
//! `arkbridge_audit_append` on a connection of its own (opened at first use with the pool's
//! options), answers every caller in it, and goes on until the queue is empty. The write runs in
//! its own task so that a cancelled caller never abandons the others' records halfway; an event
//! whose caller went away before its batch started is not written. Other replicas have their own
//! writers: the advisory lock inside the append serialises them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use arkbridge_core::audit::{AuditEvent, AuditRecord};
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnection, PgPool};
use tokio::sync::oneshot;

use crate::audit_append::EdgeCache;
use crate::group_commit::MAX_BATCH;
use crate::pg_append::append_on;
use crate::{Result, StoreError};

struct Pending {
    event: AuditEvent,
    done: oneshot::Sender<Result<AuditRecord>>,
}

#[derive(Default)]
pub(crate) struct PgGroupCommit {
    queue: Mutex<Vec<Pending>>,
    /// Whether a writer task is running (it exits once it finds the queue empty).
    writing: AtomicBool,
    /// The writing connection (opened at first use), held by the writer task.
    conn: Arc<tokio::sync::Mutex<Option<PgConnection>>>,
    /// The store's tree edge, shared with its other append paths.
    pub(crate) edge: Arc<EdgeCache>,
}

impl PgGroupCommit {
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
        pool: &PgPool,
        event: AuditEvent,
    ) -> Result<AuditRecord> {
        let (done, result) = oneshot::channel();
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Pending { event, done });
        // The event is queued before the flag is read, so a running writer either takes it or
        // sees it when it checks the queue again on its way out.
        if !self.writing.swap(true, Ordering::SeqCst) {
            tokio::spawn(writer(self.clone(), pool.clone()));
        }
        // A dropped sender means the writer died before answering.
        result.await.unwrap_or(Err(StoreError::Interrupted))
    }

    /// Closes the writing connection, waiting for a batch in flight.
    pub(crate) async fn close(&self) {
        if let Some(conn) = self.conn.lock().await.take() {
            let _ = sqlx::Connection::close(conn).await;
        }
    }
}

/// Clears the writing flag if the writer task ends any other way than by finding the queue
/// empty (a panic, or its runtime shutting down), so that the next append starts a new one.
struct Running<'a> {
    commit: &'a PgGroupCommit,
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

async fn writer(commit: Arc<PgGroupCommit>, pool: PgPool) {
    let mut running = Running {
        commit: &commit,
        exited: false,
    };
    let mut conn = commit.conn.lock().await;
    let mut last = 0;
    loop {
        // Callers answered by the last batch usually append again at once: a moment for them to
        // queue keeps batches as large as the concurrency.
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
    }
}

async fn connection<'c>(
    slot: &'c mut Option<PgConnection>,
    pool: &PgPool,
) -> Result<&'c mut PgConnection> {
    if slot.is_none() {
        let conn = pool
            .connect_options()
            .connect()
            .await
            .map_err(|source| StoreError::Query {
                what: "open the audit writer's connection",
                source,
            })?;
        *slot = Some(conn);
    }
    slot.as_mut().ok_or(StoreError::Interrupted)
}

async fn write(
    slot: &mut Option<PgConnection>,
    pool: &PgPool,
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
            // A connection that failed mid-transaction is not trusted again.
            *slot = None;
            let message = arkbridge_core::error_chain(&e);
            for waiter in waiters {
                let _ = waiter.send(Err(StoreError::AppendFailed(message.clone())));
            }
        }
    }
}
