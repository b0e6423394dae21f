//! The scheduler inside `arkbridge serve`: the daily compliance audit once a day at
//! `[daily] run_at`, and a retry of failed rotations every few minutes. (Signed checkpoints are
//! started by `serve_cmd.rs` through `Bridge::start_background_audit`, not here.)
//!
//! Waiting is done with tokio's timer, so tests drive a schedule with a paused clock. The wall
//! clock is read through a [`WallClock`], which tests derive from tokio's paused time.
//!
//! **Time zone:** `run_at` is a local time in `[daily] time_zone` (an IANA name, read from the
//! system's zoneinfo), or in the system's own zone (`TZ`, else `/etc/localtime`). Across a
//! daylight-saving change the audit still runs once a day: a skipped time runs later by the length
//! of the jump (02:30 becomes 03:30), a repeated one at its first occurrence.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
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
/// The time zone of `[daily] run_at`: `[daily] time_zone`, else the system's.
pub fn daily_time_zone(config: &arkbridge_core::config::DailyConfig) -> Result<TimeZone, String> {
    match &config.time_zone {
        Some(name) => TimeZone::get(name).map_err(|e| {
            format!("daily.time_zone {name:?} is not a time zone this system knows: {e}")
        }),
        None => Ok(TimeZone::system()),
    }
}

/// The first `hour:minute` in `tz` strictly after `now`. A time that does not exist on a
/// day (skipped by a daylight-saving change) is moved later by the length of the jump (02:30
/// becomes 03:30); a time that exists twice is taken at its first occurrence.
pub fn next_daily_run(now: Timestamp, hour: u8, minute: u8, tz: &TimeZone) -> Timestamp {
    let today = now.to_zoned_datetime(tz.clone()).date();
    let at = |date: jiff::civil::Date| {
        date.at(hour as i8, minute as i8, 0, 0)
            .to_zoned_datetime(tz.clone())
            .map(|z| z.timestamp())
            .ok()
    };
    let mut date = today;
    // Today, tomorrow or (around a zone's rare skipped day) the day after.
    for _ in 0..3 {
        if let Some(candidate) = at(date)
            && candidate > now
        {
            return candidate;
        }
        match date.tomorrow() {
            Ok(next) => date = next,
            Err(_) => break,
        }
    }
    now
}

/// The latest `hour:minute` in `tz` at or before `now` (the occurrence a leader that took over
/// may still owe).
pub fn previous_daily_run(now: Timestamp, hour: u8, minute: u8, tz: &TimeZone) -> Timestamp {
    let day_before = now
        .checked_sub(jiff::SignedDuration::from_hours(26))
        .unwrap_or(now);
    let mut last = next_daily_run(day_before, hour, minute, tz);
    loop {
        let next = next_daily_run(last, hour, minute, tz);
        if next > now || next == last {
            return last;
        }
        last = next;
    }
}

fn until(now: Timestamp, then: Timestamp) -> Duration {
    Duration::try_from(then.duration_since(now)).unwrap_or(Duration::ZERO)
}

/// Runs `job` once a day at `hour:minute` (UTC) until the task is aborted.
pub fn spawn_daily<F, Fut>(
    clock: WallClock,
    hour: u8,
    minute: u8,
    tz: TimeZone,
    mut job: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let mut after = clock();
        loop {
            let next = next_daily_run(after, hour, minute, &tz);
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
    pub fn start(state: &AppState) -> Result<Scheduler, String> {
        let tz = daily_time_zone(&state.bridge.config().daily)?;
        Ok(Scheduler::start_with_clock(state, system_clock(), tz))
    }

    /// As [`Scheduler::start`], reading the wall clock from `clock`.
    pub fn start_with_clock(state: &AppState, clock: WallClock, tz: TimeZone) -> Scheduler {
        let (hour, minute) = state.bridge.config().daily.run_at_hm();
        tracing::info!(
            run_at = %format!("{hour:02}:{minute:02}"),
            time_zone = tz.iana_name().unwrap_or("system"),
            retry_secs = ROTATION_RETRY_PERIOD.as_secs(),
            "scheduler started: daily audit and failed-rotation retries"
        );
        let daily_state = state.clone();
        let daily = spawn_daily(clock, hour, minute, tz, move || {
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
            next_daily_run(at("2026-11-29T01:30:00Z"), 2, 0, &TimeZone::UTC),
            at("2026-11-29T02:00:00Z")
        );
    }

    #[test]
    fn the_next_run_is_tomorrow_at_or_after_the_time() {
        assert_eq!(
            next_daily_run(at("2026-11-29T02:00:00Z"), 2, 0, &TimeZone::UTC),
            at("2026-11-30T02:00:00Z")
        );
        assert_eq!(
            next_daily_run(at("2026-12-31T23:59:30Z"), 23, 59, &TimeZone::UTC),
            at("2027-01-01T23:59:00Z")
        );
    }

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").expect("the system's zoneinfo has Europe/Berlin")
    }

    #[test]
    fn run_at_is_local_time_in_the_configured_zone_across_daylight_saving() {
        // 02:00 in Berlin is 01:00 UTC in winter and 00:00 UTC in summer.
        assert_eq!(
            next_daily_run(at("2026-11-29T00:30:00Z"), 2, 0, &berlin()),
            at("2026-11-29T01:00:00Z")
        );
        assert_eq!(
            next_daily_run(at("2026-07-01T01:30:00Z"), 2, 0, &berlin()),
            at("2026-07-02T00:00:00Z")
        );
        // 2026-03-29: the clocks jump from 02:00 to 03:00, so 02:30 does not exist that day and
        // the run happens an hour later by the wall clock (03:30); the next day at 02:30 again.
        let skipped = next_daily_run(at("2026-03-28T23:00:00Z"), 2, 30, &berlin());
        assert_eq!(skipped, at("2026-03-29T01:30:00Z"));
        assert_eq!(
            next_daily_run(skipped, 2, 30, &berlin()),
            at("2026-03-30T00:30:00Z")
        );
        // 2026-10-25: 02:30 happens twice; the run is at the first one, once.
        let repeated = next_daily_run(at("2026-10-24T23:00:00Z"), 2, 30, &berlin());
        assert_eq!(repeated, at("2026-10-25T00:30:00Z"));
        assert_eq!(
            next_daily_run(repeated, 2, 30, &berlin()),
            at("2026-10-26T01:30:00Z")
        );
    }

    #[test]
    fn the_previous_run_is_the_latest_at_or_before_now() {
        assert_eq!(
            previous_daily_run(at("2026-11-29T10:00:00Z"), 2, 0, &TimeZone::UTC),
            at("2026-11-29T02:00:00Z")
        );
        assert_eq!(
            previous_daily_run(at("2026-11-29T01:00:00Z"), 2, 0, &TimeZone::UTC),
            at("2026-11-28T02:00:00Z")
        );
        assert_eq!(
            previous_daily_run(at("2026-11-29T02:00:00Z"), 2, 0, &TimeZone::UTC),
            at("2026-11-29T02:00:00Z")
        );
    }

    #[test]
    fn an_unknown_zone_is_refused_with_its_name() {
        let config = arkbridge_core::config::DailyConfig {
            time_zone: Some("Mars/Olympus_Mons".into()),
            ..Default::default()
        };
        let e = daily_time_zone(&config).unwrap_err();
        assert!(e.contains("Mars/Olympus_Mons"), "{e}");
    }
}
