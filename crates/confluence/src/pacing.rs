//! Client-side request pacing and request counters, shared by every clone of a client.
//!
//! The cap is a token bucket in its "virtual scheduling" form (GCRA): each request reserves the
//! next free slot under the lock and then sleeps outside it until that slot, so waiting callers
//! are served in order, never spin, and never send in a burst larger than configured. When the
//! server answers 429 or 503 with `Retry-After`, [`Pacer::pause_until`] holds back every request
//! of every clone until then, so a crawl with many requests in flight does not collect one
//! refusal per request. Time is `tokio::time`, so the pacing is tested on the paused clock.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::ConfluenceError;

/// A requests-per-second cap with a burst allowance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    per_second: f64,
    burst: u32,
}

impl RateLimit {
    /// At most `per_second` requests per second on average, and at most `burst` at once after
    /// a quiet period. `per_second` must be above 0 (and at most 10,000); `burst` at least 1.
    pub fn new(per_second: f64, burst: u32) -> Result<RateLimit, ConfluenceError> {
        if !(per_second.is_finite() && per_second > 0.0 && per_second <= 10_000.0) {
            return Err(ConfluenceError::Config(format!(
                "a rate limit must be above 0 and at most 10000 requests per second, not {per_second}"
            )));
        }
        if burst == 0 {
            return Err(ConfluenceError::Config(
                "a rate limit's burst must be at least 1".into(),
            ));
        }
        Ok(RateLimit { per_second, burst })
    }

    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    pub fn burst(&self) -> u32 {
        self.burst
    }

    fn interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.per_second)
    }
}

/// What a client has sent so far (all clones together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP requests sent, every attempt counted.
    pub requests: u64,
    /// Answers with status 429.
    pub throttled: u64,
    /// Attempts that repeated an earlier one.
    pub retries: u64,
    /// The most 429 answers one call received in a row.
    pub max_consecutive_throttled: u32,
}

struct Schedule {
    limit: Option<RateLimit>,
    /// When the next request may go if no burst allowance is left (GCRA's "theoretical
    /// arrival time").
    next_slot: Option<Instant>,
    /// No request before this instant.
    paused_until: Option<Instant>,
}

/// The shared pacer and counters of a client.
pub(crate) struct Pacer {
    schedule: Mutex<Schedule>,
    requests: AtomicU64,
    throttled: AtomicU64,
    retries: AtomicU64,
    max_consecutive_throttled: AtomicU32,
}

impl Pacer {
    pub(crate) fn new(limit: Option<RateLimit>) -> Pacer {
        Pacer {
            schedule: Mutex::new(Schedule {
                limit,
                next_slot: None,
                paused_until: None,
            }),
            requests: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            max_consecutive_throttled: AtomicU32::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Schedule> {
        // The schedule holds plain values; a panic elsewhere cannot leave it half-written.
        self.schedule
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn limit(&self) -> Option<RateLimit> {
        self.lock().limit
    }

    pub(crate) fn set_limit(&self, limit: Option<RateLimit>) {
        let mut s = self.lock();
        s.limit = limit;
        s.next_slot = None;
    }

    /// Reserves the next slot and returns when it has come (and no pause holds it back).
    pub(crate) async fn acquire(&self) {
        let at = {
            let mut s = self.lock();
            let now = Instant::now();
            let mut at = now;
            if let Some(limit) = s.limit {
                let interval = limit.interval();
                let tolerance = interval * (limit.burst - 1);
                let slot = s.next_slot.map_or(now, |t| t.max(now));
                at = slot
                    .checked_sub(tolerance)
                    .map_or(now, |allowed| allowed.max(now));
                s.next_slot = Some(slot + interval);
            }
            if let Some(p) = s.paused_until {
                at = at.max(p);
            }
            at
        };
        if at > Instant::now() {
            tokio::time::sleep_until(at).await;
        }
        // A pause announced while this caller slept holds it back too.
        loop {
            let paused = self.lock().paused_until;
            match paused {
                Some(p) if p > Instant::now() => tokio::time::sleep_until(p).await,
                _ => return,
            }
        }
    }

    /// Holds every request back until `until` (a server's `Retry-After`).
    pub(crate) fn pause_until(&self, until: Instant) {
        let mut s = self.lock();
        s.paused_until = Some(s.paused_until.map_or(until, |p| p.max(until)));
        if s.limit.is_some() {
            // The cap's schedule resumes after the pause instead of releasing a backlog.
            s.next_slot = Some(s.next_slot.map_or(until, |t| t.max(until)));
        }
    }

    pub(crate) fn count_request(&self, retry: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if retry {
            self.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records a 429 answer, the `in_a_row`-th for the same call.
    pub(crate) fn count_throttled(&self, in_a_row: u32) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
        self.max_consecutive_throttled
            .fetch_max(in_a_row, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> ClientStats {
        ClientStats {
            requests: self.requests.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            max_consecutive_throttled: self.max_consecutive_throttled.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn bad_limits_are_refused() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 20_000.0] {
            assert!(RateLimit::new(bad, 1).is_err(), "{bad}");
        }
        assert!(RateLimit::new(10.0, 0).is_err());
        let l = RateLimit::new(2.5, 3).unwrap();
        assert_eq!((l.per_second(), l.burst()), (2.5, 3));
    }

    #[tokio::test(start_paused = true)]
    async fn requests_are_spaced_by_the_rate() {
        let pacer = Pacer::new(Some(RateLimit::new(10.0, 1).unwrap()));
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..5 {
            pacer.acquire().await;
            at.push(Instant::now() - start);
        }
        assert_eq!(at, [ms(0), ms(100), ms(200), ms(300), ms(400)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_goes_at_once_then_the_rate_applies() {
        let pacer = Pacer::new(Some(RateLimit::new(10.0, 3).unwrap()));
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..5 {
            pacer.acquire().await;
            at.push(Instant::now() - start);
        }
        assert_eq!(at, [ms(0), ms(0), ms(0), ms(100), ms(200)]);
        // After a quiet second the burst is available again.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let again = Instant::now();
        for _ in 0..3 {
            pacer.acquire().await;
        }
        assert_eq!(Instant::now() - again, ms(0));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_schedule() {
        let pacer = Arc::new(Pacer::new(Some(RateLimit::new(100.0, 1).unwrap())));
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let p = pacer.clone();
            tasks.spawn(async move {
                p.acquire().await;
                Instant::now() - start
            });
        }
        let mut at = tasks.join_all().await;
        at.sort();
        let want: Vec<Duration> = (0..20).map(|i| ms(10 * i)).collect();
        assert_eq!(at, want);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_back_new_and_sleeping_callers() {
        let pacer = Arc::new(Pacer::new(Some(RateLimit::new(10.0, 1).unwrap())));
        let start = Instant::now();
        pacer.acquire().await;
        // This caller reserves the 100 ms slot and sleeps; the pause then moves it.
        let waiting = {
            let p = pacer.clone();
            tokio::spawn(async move {
                p.acquire().await;
                Instant::now() - start
            })
        };
        tokio::task::yield_now().await;
        pacer.pause_until(start + Duration::from_secs(2));
        assert_eq!(waiting.await.unwrap(), Duration::from_secs(2));
        pacer.acquire().await;
        assert!(Instant::now() - start >= Duration::from_secs(2));
        // Without a cap a pause still applies.
        let free = Pacer::new(None);
        let t = Instant::now();
        free.pause_until(t + ms(1500));
        free.acquire().await;
        assert_eq!(Instant::now() - t, ms(1500));
        free.acquire().await;
        assert_eq!(Instant::now() - t, ms(1500));
    }

    #[test]
    fn counters_add_up() {
        let pacer = Pacer::new(None);
        pacer.count_request(false);
        pacer.count_request(true);
        pacer.count_throttled(1);
        pacer.count_throttled(2);
        pacer.count_throttled(1);
        assert_eq!(
            pacer.stats(),
            ClientStats {
                requests: 2,
                throttled: 3,
                retries: 1,
                max_consecutive_throttled: 2,
            }
        );
    }
}
