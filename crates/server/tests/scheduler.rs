//! The scheduler's timing with tokio's paused clock: the daily job fires at `[daily] run_at`
//! (UTC) and once per day, and the periodic job once per period.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arkbridge_server::scheduler::{WallClock, spawn_daily, spawn_every};
use jiff::{SignedDuration, Timestamp};
use tokio::time::{Instant, sleep};

/// A wall clock that starts at `start` and moves with tokio's (paused) clock.
fn paused_wall_clock(start: &str) -> WallClock {
    let base: Timestamp = start.parse().unwrap();
    let origin = Instant::now();
    Arc::new(move || base + SignedDuration::try_from(origin.elapsed()).unwrap())
}

#[tokio::test(start_paused = true)]
async fn the_daily_job_fires_at_the_configured_time_once_per_day() {
    let clock = paused_wall_clock("2026-11-29T01:00:00Z");
    let fired: Arc<Mutex<Vec<Timestamp>>> = Arc::default();
    let (record, at) = (fired.clone(), clock.clone());
    let task = spawn_daily(clock, 2, 30, jiff::tz::TimeZone::UTC, move || {
        let (record, at) = (record.clone(), at.clone());
        async move { record.lock().unwrap().push(at()) }
    });

    // 02:29:59: not yet.
    sleep(Duration::from_secs(89 * 60 + 59)).await;
    assert!(fired.lock().unwrap().is_empty());
    // 02:30:01: once.
    sleep(Duration::from_secs(2)).await;
    {
        let fired = fired.lock().unwrap();
        assert_eq!(fired.len(), 1);
        let first = fired[0].to_string();
        assert!(first.starts_with("2026-11-29T02:30:00"), "{first}");
    }
    // Three days later: three more runs, each at 02:30 of its day.
    sleep(Duration::from_secs(3 * 24 * 3600)).await;
    let fired = fired.lock().unwrap().clone();
    let days: Vec<String> = fired
        .iter()
        .map(|t| t.to_string()[..16].to_string())
        .collect();
    assert_eq!(
        days,
        [
            "2026-11-29T02:30",
            "2026-11-30T02:30",
            "2026-12-01T02:30",
            "2026-12-02T02:30"
        ]
    );
    task.abort();
}

#[tokio::test(start_paused = true)]
async fn a_daily_job_that_takes_a_while_still_runs_once_that_day() {
    let clock = paused_wall_clock("2026-11-29T23:58:00Z");
    let runs = Arc::new(Mutex::new(0u32));
    let count = runs.clone();
    let task = spawn_daily(clock, 23, 59, jiff::tz::TimeZone::UTC, move || {
        let count = count.clone();
        async move {
            *count.lock().unwrap() += 1;
            // A job that overruns its minute must not be started again for the same day.
            sleep(Duration::from_secs(90)).await;
        }
    });
    sleep(Duration::from_secs(10 * 60)).await;
    assert_eq!(*runs.lock().unwrap(), 1);
    sleep(Duration::from_secs(24 * 3600)).await;
    assert_eq!(*runs.lock().unwrap(), 2);
    task.abort();
}

#[tokio::test(start_paused = true)]
async fn the_periodic_job_runs_once_per_period_starting_after_one_period() {
    let runs = Arc::new(Mutex::new(0u32));
    let count = runs.clone();
    let task = spawn_every(Duration::from_secs(300), move || {
        let count = count.clone();
        async move { *count.lock().unwrap() += 1 }
    });
    sleep(Duration::from_secs(299)).await;
    assert_eq!(*runs.lock().unwrap(), 0);
    sleep(Duration::from_secs(2)).await;
    assert_eq!(*runs.lock().unwrap(), 1);
    sleep(Duration::from_secs(900)).await;
    assert_eq!(*runs.lock().unwrap(), 4);
    task.abort();
}
