//! Group commit for audit appends: concurrent callers share one transaction, and so one fsync.
//!
//! A caller queues its event and then waits for either its result or the commit lock. Whoever
//! gets the lock takes everything queued (up to [`MAX_BATCH`]) and hands it to a spawned task
//! that writes the batch in one `BEGIN IMMEDIATE` transaction, answers every caller in it, and only
//! then releases the lock. Callers arriving meanwhile queue up for the next batch. The write runs
//! in its own task so that a caller being cancelled never abandons the others' records halfway;
//! an event whose caller went away before its batch started is not written.

use std::sync::{Arc, Mutex};

use arkbridge_core::audit::{AuditEvent, AuditRecord};
use sqlx::SqlitePool;
use tokio::sync::oneshot;

use crate::sqlite_audit::{EdgeCache, append_batch};
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
    lock: Arc<tokio::sync::Mutex<()>>,
    /// The store's tree edge, shared with its other append paths.
    pub(crate) edge: Arc<EdgeCache>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    fn take_batch(&self) -> Vec<Pending> {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let n = queue.len().min(MAX_BATCH);
        queue.drain(..n).collect()
    }

    /// Appends `event`, possibly together with other callers' events.
    pub(crate) async fn append(&self, pool: &SqlitePool, event: AuditEvent) -> Result<AuditRecord> {
        let (done, mut result) = oneshot::channel();
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Pending { event, done });
        loop {
            tokio::select! {
                biased;
                answer = &mut result => {
                    // A dropped sender means the batch's task died before answering.
                    return answer.unwrap_or(Err(StoreError::Interrupted));
                }
                guard = self.lock.clone().lock_owned() => {
                    let batch = self.take_batch();
                    if batch.is_empty() {
                        // An earlier batch took this caller's event; its answer is on the way.
                        continue;
                    }
                    let (pool, edge) = (pool.clone(), self.edge.clone());
                    tokio::spawn(async move {
                        write(&pool, &edge, batch).await;
                        drop(guard);
                    });
                }
            }
        }
    }
}

async fn write(pool: &SqlitePool, edge: &EdgeCache, batch: Vec<Pending>) {
    let (events, waiters): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .filter(|p| !p.done.is_closed())
        .map(|p| (p.event, p.done))
        .unzip();
    if events.is_empty() {
        return;
    }
    match append_batch(pool, events, edge).await {
        Ok(records) => {
            for (waiter, record) in waiters.into_iter().zip(records) {
                let _ = waiter.send(Ok(record));
            }
        }
        Err(e) => {
            // Every caller in the batch gets the failure; none of their records was stored.
            let message = arkbridge_core::error_chain(&e);
            for waiter in waiters {
                let _ = waiter.send(Err(StoreError::AppendFailed(message.clone())));
            }
        }
    }
}
