//! The scheduler inside `arkbridge serve`: the daily compliance audit once a day at
//! `[daily] run_at`, and a retry of failed rotations every few minutes. (Signed checkpoints are
//! started by `serve_cmd.rs` through `Bridge::start_background_audit`, not here.)
//!
//! Waiting is done with tokio's timer, so tests drive a schedule with a paused clock. The wall
//! clock is read through a [`WallClock`], which tests derive from tokio's paused time.
//!
//! **Time zone:** the workspace builds `jiff` without its time-zone database features, so
//! `run_at` is read as UTC (the "local time" of a server running in UTC, the usual container
//! setting). The log line at start says so.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::task::JoinHandle;

use crate::AppState;

/// How often failed rotations are retried.
pub const ROTATION_RETRY_PERIOD: Duration = Duration::from_secs(5 * 60);

/// Reads the current wall-clock time.
pub type WallClock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The system's wall clock.
pub fn system_clock() -> WallClock {
    Arc::new(Timestamp::now)
}

/// Seconds in a UTC day: Unix time has no leap seconds and UTC no daylight saving, so every
/// day is exactly this long.
const DAY_SECS: i64 = 24 * 3600;

/// The first time strictly after `now` at which the UTC wall clock shows `hour:minute`.
pub fn next_daily_run(now: Timestamp, hour: u8, minute: u8) -> Timestamp {
    let midnight = now.as_second().div_euclid(DAY_SECS) * DAY_SECS;
    let today = midnight + i64::from(hour) * 3600 + i64::from(minute) * 60;
    // `run_at` is validated to a real time of day, so both candidates are in jiff's range for
    // any wall clock of this era; `now` itself is the fallback only at the end of that range.
    let at = |secs: i64| Timestamp::from_second(secs).unwrap_or(now);
    let candidate = at(today);
    if candidate > now {
        candidate
    } else {
        at(today + DAY_SECS)
    }
}

/// The time from `now` to `then`, zero when `then` has passed.
fn until(now: Timestamp, then: Timestamp) -> Duration {
    Duration::try_from(then.duration_since(now)).unwrap_or(Duration::ZERO)
}

/// Runs `job` once a day at `hour:minute` (UTC) until the task is aborted.
pub fn spawn_daily<F, Fut>(clock: WallClock, hour: u8, minute: u8, mut job: F) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let mut after = clock();
        loop {
            let next = next_daily_run(after, hour, minute);
            tokio::time::sleep(until(clock(), next)).await;
            job().await;
            // Computing the next run from the later of the clock and this run's time means a
            // timer that wakes a little early, or a job that ends within the same minute,
            // never fires twice for one day.
            after = clock().max(next);
        }
    })
}

/// Runs `job` every `period`, the first time one period from now, until the task is aborted. A
/// run that overruns delays the next one instead of starting a burst to catch up.
pub fn spawn_every<F, Fut>(period: Duration, mut job: F) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let start = tokio::time::Instant::now() + period;
        let mut ticks = tokio::time::interval_at(start, period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            job().await;
        }
    })
}

/// The scheduled jobs of a running server; they stop when this is dropped or
/// [`Scheduler::stop`] is called.
#[derive(Debug)]
pub struct Scheduler {
    tasks: Vec<JoinHandle<()>>,
}

impl Scheduler {
    /// Starts the daily audit at `[daily] run_at` and the rotation retries over `state`'s
    /// bridge.
    pub fn start(state: &AppState) -> Scheduler {
        Scheduler::start_with_clock(state, system_clock())
    }

    /// As [`Scheduler::start`], reading the wall clock from `clock`.
    pub fn start_with_clock(state: &AppState, clock: WallClock) -> Scheduler {
        let (hour, minute) = state.bridge.config().daily.run_at_hm();
        tracing::info!(
            run_at = %format!("{hour:02}:{minute:02}"),
            time_zone = "UTC",
            retry_secs = ROTATION_RETRY_PERIOD.as_secs(),
            "scheduler started: daily audit and failed-rotation retries"
        );
        let daily_state = state.clone();
        let daily = spawn_daily(clock, hour, minute, move || {
            let state = daily_state.clone();
            on_own_thread("daily-audit", async move || run_daily_audit(&state).await)
        });
        let retry_state = state.clone();
        let retries = spawn_every(ROTATION_RETRY_PERIOD, move || {
            let state = retry_state.clone();
            on_own_thread("rotation-retry", async move || {
                retry_rotations(&state).await;
            })
        });
        Scheduler {
            tasks: vec![daily, retries],
        }
    }

    /// Stops every job; one in progress is dropped at its next await.
    pub fn stop(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs the future `job` makes on a thread of its own inside the current runtime, and waits
/// for it. The engine's futures are not provably `Send` (as for runs in `runs.rs`), so they
/// cannot be spawned as tasks; `Handle::block_on` never moves them between threads.
pub(crate) async fn on_own_thread<F>(name: &'static str, job: F)
where
    F: AsyncFnOnce() + Send + 'static,
{
    let handle = tokio::runtime::Handle::current();
    let (done, finished) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            handle.block_on(job());
            // The scheduler may have stopped meanwhile; then nobody waits for this.
            let _ = done.send(());
        });
    match spawned {
        Ok(_) => {
            if finished.await.is_err() {
                tracing::error!(
                    job = name,
                    "a scheduled job's thread ended without finishing"
                );
            }
        }
        Err(e) => tracing::error!(job = name, error = %e, "cannot start a scheduled job's thread"),
    }
}

/// The daily audit as `arkbridge audit daily` runs it: the report is stored and audited by the
/// engine, then posted to `[daily] post_to` when set. Failures are logged; the next day tries
/// again.
pub(crate) async fn run_daily_audit(state: &AppState) {
    let bridge = &state.bridge;
    let report = match bridge.daily_audit().await {
        Ok(report) => report,
        Err(e) => {
            tracing::error!(error = %e, "the scheduled daily audit failed");
            return;
        }
    };
    tracing::info!(
        report_id = ?report.report_id,
        passed = report.passed,
        "scheduled daily audit done"
    );
    if let Some(page) = &bridge.config().daily.post_to {
        match bridge.post_daily_report(&report, page).await {
            Ok(posted) => tracing::info!(
                page_id = %posted.page_id,
                version = posted.version,
                changed = posted.changed,
                "daily report posted"
            ),
            Err(e) => {
                tracing::error!(error = %e, page_id = %page, "the daily report was not posted")
            }
        }
    }
}

/// Retries failed rotations through the engine's recovery, which also settles leases a crashed
/// run left (runs of this server hold their locks, so they are left alone).
/// Returns whether recovery should be tried again soon (a dead run's account was busy).
pub(crate) async fn retry_rotations(state: &AppState) -> bool {
    match state.bridge.recover().await {
        Ok(report) => {
            if !report.rotated.is_empty() || !report.failed.is_empty() {
                tracing::info!(
                    rotated = ?report.rotated,
                    failed = ?report.failed,
                    "retried failed rotations"
                );
            }
            report.deferred > 0
        }
        Err(e) => {
            tracing::error!(error = %e, "retrying failed rotations failed");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_next_run_is_today_when_the_time_is_still_ahead() {
        assert_eq!(
            next_daily_run(at("2026-11-29T01:30:00Z"), 2, 0),
            at("2026-11-29T02:00:00Z")
        );
    }

    #[test]
    fn the_next_run_is_tomorrow_at_or_after_the_time() {
        assert_eq!(
            next_daily_run(at("2026-11-29T02:00:00Z"), 2, 0),
            at("2026-11-30T02:00:00Z")
        );
        assert_eq!(
            next_daily_run(at("2026-12-31T23:59:30Z"), 23, 59),
            at("2027-01-01T23:59:00Z")
        );
    }
}
