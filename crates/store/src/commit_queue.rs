//! The queue both group commits share (`group_commit.rs` for SQLite, `pg_group_commit.rs` for
//! PostgreSQL): concurrent callers queue their audit events and wait; one writer task at a time
//! takes everything queued (up to [`MAX_BATCH`]), writes it as one transaction, answers every
//! caller in it, and goes on with what was queued meanwhile until the queue is empty.
//!
//! The write runs in its own task so that a caller being cancelled never abandons the others'
//! records halfway; an event whose caller went away before its batch started is not written.
//! Callers only queue and wait for their answer, so a batch costs one wake-up per caller and
//! nothing else: no lock is passed from caller to caller.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use arkbridge_core::audit::{AuditEvent, AuditRecord};
use tokio::sync::oneshot;

use crate::{Result, StoreError};

/// The most events one transaction carries.
pub(crate) const MAX_BATCH: usize = 1024;

/// The most times the writer yields to let the callers it just answered queue their next
/// events before it takes a batch.
const GATHER_YIELDS: usize = 8;

struct Pending {
    event: AuditEvent,
    done: oneshot::Sender<Result<AuditRecord>>,
}

/// The events waiting for a writer, and whether one is running.
#[derive(Default)]
pub(crate) struct CommitQueue {
    queue: Mutex<Vec<Pending>>,
    /// Whether a writer task is running (it exits once it finds the queue empty).
    writing: AtomicBool,
}

/// A batch taken by the writer: the events of the callers still waiting, and their answers.
pub(crate) struct Batch {
    pub(crate) events: Vec<AuditEvent>,
    waiters: Vec<oneshot::Sender<Result<AuditRecord>>>,
}

impl Batch {
    /// Answers every caller of the batch: its record, or the write's failure (none of the
    /// batch's records was stored then).
    pub(crate) fn answer(self, written: Result<Vec<AuditRecord>>) {
        match written {
            Ok(records) => {
                for (waiter, record) in self.waiters.into_iter().zip(records) {
                    let _ = waiter.send(Ok(record));
                }
            }
            Err(e) => {
                let message = arkbridge_core::error_chain(&e);
                for waiter in self.waiters {
                    let _ = waiter.send(Err(StoreError::AppendFailed(message.clone())));
                }
            }
        }
    }
}

impl CommitQueue {
    fn queued(&self) -> usize {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn take_batch(&self) -> Vec<Pending> {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let n = queue.len().min(MAX_BATCH);
        queue.drain(..n).collect()
    }

    /// Queues `event`; `start` spawns the writer when none is running. Returns the event's
    /// record once its batch is written.
    pub(crate) async fn append(
        &self,
        event: AuditEvent,
        start: impl FnOnce(),
    ) -> Result<AuditRecord> {
        let (done, result) = oneshot::channel();
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Pending { event, done });
        // The event is queued before the flag is read, so a writer that is running either takes
        // it or, finding the queue empty too early, sees it when it checks again on its way out.
        if !self.writing.swap(true, Ordering::SeqCst) {
            start();
        }
        // A dropped sender means the writer died before answering.
        result.await.unwrap_or(Err(StoreError::Interrupted))
    }

    /// The writer's side: [`Drainer::next`] hands out batches until the queue is empty.
    pub(crate) fn drainer(&self) -> Drainer<'_> {
        Drainer {
            queue: self,
            last: 0,
            exited: false,
        }
    }
}

/// The writer's view of the queue. Dropping it before the queue was found empty (a panic, or
/// the runtime shutting down) clears the writing flag, so that the next append starts a writer.
pub(crate) struct Drainer<'a> {
    queue: &'a CommitQueue,
    /// The size of the last batch taken.
    last: usize,
    exited: bool,
}

impl Drainer<'_> {
    /// The next batch (each must be [`Batch::answer`]ed), or `None` once the queue is empty and
    /// this writer has stopped.
    pub(crate) async fn next(&mut self) -> Option<Batch> {
        let q = self.queue;
        loop {
            // The callers answered by the last batch usually append again at once: giving them
            // a moment to queue keeps batches as large as the concurrency, where taking the
            // queue at once would split it into a full batch and many small ones.
            let mut yields = 0;
            while self.last > 1 && q.queued() < self.last && yields < GATHER_YIELDS {
                tokio::task::yield_now().await;
                yields += 1;
            }
            let taken = q.take_batch();
            if taken.is_empty() {
                q.writing.store(false, Ordering::SeqCst);
                // An event queued after the take whose caller saw the flag still set would be
                // left behind: take it on, unless a new writer already did.
                if q.queued() > 0 && !q.writing.swap(true, Ordering::SeqCst) {
                    self.last = 0;
                    continue;
                }
                self.exited = true;
                return None;
            }
            self.last = taken.len();
            let (events, waiters): (Vec<_>, Vec<_>) = taken
                .into_iter()
                .filter(|p| !p.done.is_closed())
                .map(|p| (p.event, p.done))
                .unzip();
            if !events.is_empty() {
                return Some(Batch { events, waiters });
            }
        }
    }
}

impl Drop for Drainer<'_> {
    fn drop(&mut self) {
        if !self.exited {
            self.queue.writing.store(false, Ordering::SeqCst);
        }
    }
}
