//! Group commit for PostgreSQL audit appends: concurrent callers of one store share one
//! transaction, and so one WAL flush, as with SQLite (`group_commit.rs`).
//!
//! The queue and its writer loop are `commit_queue.rs`'s; here each batch is appended in one call
//! of `arkbridge_audit_append` on a connection of its own (opened at first use with the pool's
//! options). Other replicas have their own writers: the advisory lock inside the append
//! serialises them.

use std::sync::Arc;

use arkbridge_core::audit::{AuditEvent, AuditRecord};
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnection, PgPool};

use crate::audit_append::EdgeCache;
use crate::commit_queue::{Batch, CommitQueue};
use crate::pg_append::append_on;
use crate::{Result, StoreError};

#[derive(Default)]
pub(crate) struct PgGroupCommit {
    queue: CommitQueue,
    /// The writing connection (opened at first use), held by the writer task.
    conn: Arc<tokio::sync::Mutex<Option<PgConnection>>>,
    /// The store's tree edge, shared with its other append paths.
    pub(crate) edge: Arc<EdgeCache>,
}

impl PgGroupCommit {
    /// Appends `event`, possibly together with other callers' events.
    pub(crate) async fn append(
        self: &Arc<Self>,
        pool: &PgPool,
        event: AuditEvent,
    ) -> Result<AuditRecord> {
        self.queue
            .append(event, || {
                tokio::spawn(writer(self.clone(), pool.clone()));
            })
            .await
    }

    /// Closes the writing connection, waiting for a batch in flight.
    pub(crate) async fn close(&self) {
        if let Some(conn) = self.conn.lock().await.take() {
            let _ = sqlx::Connection::close(conn).await;
        }
    }
}

async fn writer(commit: Arc<PgGroupCommit>, pool: PgPool) {
    let mut conn = commit.conn.lock().await;
    let mut batches = commit.queue.drainer();
    while let Some(batch) = batches.next().await {
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

async fn write(slot: &mut Option<PgConnection>, pool: &PgPool, edge: &EdgeCache, mut batch: Batch) {
    let events = std::mem::take(&mut batch.events);
    let written = match connection(slot, pool).await {
        Ok(conn) => append_on(conn, events, edge).await,
        Err(e) => Err(e),
    };
    if written.is_err() {
        // A connection that failed mid-transaction is not trusted again.
        *slot = None;
    }
    batch.answer(written);
}
