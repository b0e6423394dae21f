//! The checkpoint schedule: a checkpoint every interval (one minute to one hour) and one more at
//! shutdown, from a task driven by tokio time, each optionally handed to a publisher.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arkbridge_store::{Store, StoredCheckpoint};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::AuditError;
use crate::checkpoint::Checkpointer;

/// How often checkpoints are written: from one minute to one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointInterval(Duration);

impl CheckpointInterval {
    pub const HOURLY: CheckpointInterval = CheckpointInterval(Duration::from_secs(3600));

    pub fn from_minutes(minutes: u64) -> Result<CheckpointInterval, AuditError> {
        if !(1..=60).contains(&minutes) {
            return Err(AuditError::Invalid(format!(
                "the checkpoint interval must be 1 to 60 minutes, not {minutes}"
            )));
        }
        Ok(CheckpointInterval(Duration::from_secs(minutes * 60)))
    }

    pub fn duration(self) -> Duration {
        self.0
    }
}

/// Runs `action` every `period` (first one period from now; a late tick delays the next rather
/// than bunching), publishing each success, until `stop` fires or its sender is dropped; then
/// runs it once more and returns that last result.
pub(crate) async fn periodic<T, F, Fut>(
    period: Duration,
    mut stop: oneshot::Receiver<()>,
    published: watch::Sender<Option<T>>,
    mut action: F,
) -> Result<T, AuditError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AuditError>>,
{
    let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = ticker.tick() => match action().await {
                Ok(v) => {
                    published.send_replace(Some(v));
                }
                Err(e) => tracing::error!(error = %e, "scheduled audit checkpoint failed"),
            },
        }
    }
    action().await
}

/// The checkpoint task: stop it with [`CheckpointTask::shutdown`], which writes a last one.
#[derive(Debug)]
pub struct CheckpointTask {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<StoredCheckpoint, AuditError>>,
    latest: watch::Receiver<Option<StoredCheckpoint>>,
}

/// Starts writing a checkpoint every `interval`.
pub fn spawn_checkpoints<S: Store + Clone>(
    checkpointer: Checkpointer<S>,
    interval: CheckpointInterval,
) -> CheckpointTask {
    spawn_checkpoints_with(checkpointer, interval, |_| async {})
}

/// Starts writing a checkpoint every `interval`, handing each one (the shutdown checkpoint
/// included) to `publish` once it is stored: to the SIEM, a Confluence page, and so on. A
/// publication that fails is the publisher's to report; the checkpoint stays stored and the
/// schedule goes on.
pub fn spawn_checkpoints_with<S, P, Fut>(
    checkpointer: Checkpointer<S>,
    interval: CheckpointInterval,
    publish: P,
) -> CheckpointTask
where
    S: Store + Clone,
    P: Fn(StoredCheckpoint) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let checkpointer = Arc::new(checkpointer);
    let publish = Arc::new(publish);
    spawn_schedule(interval, move || {
        let (c, publish) = (checkpointer.clone(), publish.clone());
        async move {
            let stored = c.checkpoint().await?;
            publish(stored.clone()).await;
            Ok(stored)
        }
    })
}

/// Runs `write` every `interval` and once more at shutdown, as the checkpoint schedule does,
/// for callers that write (and publish) checkpoints their own way.
pub fn spawn_schedule<W, Fut>(interval: CheckpointInterval, write: W) -> CheckpointTask
where
    W: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<StoredCheckpoint, AuditError>> + Send + 'static,
{
    let (stop, stopped) = oneshot::channel();
    let (published, latest) = watch::channel(None);
    let task = tokio::spawn(periodic(interval.duration(), stopped, published, write));
    CheckpointTask { stop, task, latest }
}

impl CheckpointTask {
    /// The latest checkpoint the schedule wrote (changes on every tick that succeeds).
    pub fn latest(&self) -> watch::Receiver<Option<StoredCheckpoint>> {
        self.latest.clone()
    }

    /// Stops the schedule and writes the shutdown checkpoint.
    pub async fn shutdown(self) -> Result<StoredCheckpoint, AuditError> {
        let _ = self.stop.send(());
        self.task
            .await
            .map_err(|e| AuditError::Invalid(format!("the checkpoint task failed: {e}")))?
    }
}
