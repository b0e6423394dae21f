//! Retry policy for Confluence calls.
//!
//! Confluence Cloud rate-limits with `429` + `Retry-After`, and some `503`s carry it too. Those are
//! retried after the announced delay (seconds or an HTTP-date), clamped to 30 s because real
//! servers have announced absurd values. `408`, `500`, `502` and `504` are retried with
//! exponential backoff and jitter, but only for idempotent requests (a retried POST could create
//! a second comment). At most three attempts in all. Sleeping uses `tokio::time`, so tests can
//! run on paused time.

use std::future::Future;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// How retries are spaced.
#[derive(Debug, Clone)]
pub(crate) struct RetryPolicy {
    pub(crate) max_attempts: u32,
    /// First backoff delay (doubled per attempt).
    pub(crate) base: Duration,
    /// Longest backoff delay.
    pub(crate) cap: Duration,
    /// Longest `Retry-After` honoured.
    pub(crate) retry_after_cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(4),
            retry_after_cap: Duration::from_secs(30),
        }
    }
}

/// What one attempt produced: a final outcome, or an outcome worth retrying after a delay.
pub(crate) enum Step<T> {
    Finish(T),
    Again(T, Duration),
}

/// Parses a `Retry-After` value: delta-seconds or an HTTP-date (past dates mean zero). Unclamped.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Values beyond u64 are still "very long".
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The announced delay from the headers, clamped to the policy's cap.
pub(crate) fn retry_after(
    headers: &HeaderMap,
    now: SystemTime,
    policy: &RetryPolicy,
) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, now).map(|d| d.min(policy.retry_after_cap))
}

/// Exponential backoff for `attempt` (1-based), with jitter: a delay in `[d/2, d]` where `unit`
/// (in `[0, 1]`) picks the point.
pub(crate) fn backoff(policy: &RetryPolicy, attempt: u32, unit: f64) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
    let full = policy.base.saturating_mul(factor).min(policy.cap);
    let unit = if unit.is_finite() {
        unit.clamp(0.0, 1.0)
    } else {
        1.0
    };
    full / 2 + full.mul_f64(unit / 2.0)
}

/// Whether (and after how long) an HTTP answer should be retried.
pub(crate) fn decide(
    policy: &RetryPolicy,
    status: u16,
    headers: &HeaderMap,
    attempt: u32,
    idempotent: bool,
    unit: f64,
) -> Option<Duration> {
    match status {
        429 | 503 => Some(
            retry_after(headers, SystemTime::now(), policy)
                .unwrap_or_else(|| backoff(policy, attempt, unit)),
        ),
        408 | 500 | 502 | 504 if idempotent => Some(backoff(policy, attempt, unit)),
        _ => None,
    }
}

/// Whether a transport failure should be retried: connection failures always (nothing was sent),
/// timeouts only for idempotent requests.
pub(crate) fn transport_retry(
    policy: &RetryPolicy,
    err: &reqwest::Error,
    attempt: u32,
    idempotent: bool,
    unit: f64,
) -> Option<Duration> {
    (err.is_connect() || (idempotent && err.is_timeout())).then(|| backoff(policy, attempt, unit))
}

/// A random jitter unit in `[0, 1)`.
pub(crate) fn jitter() -> f64 {
    rand::random::<f64>()
}

/// Runs `op` (given the 1-based attempt number) until it finishes or the attempts run out; the
/// last outcome is returned as is.
pub(crate) async fn run<T, F, Fut>(policy: &RetryPolicy, mut op: F) -> T
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Step<T>>,
{
    let mut attempt = 1;
    loop {
        match op(attempt).await {
            Step::Finish(out) => return out,
            Step::Again(out, _) if attempt >= policy.max_attempts => return out,
            Step::Again(_, delay) => {
                tracing::debug!(attempt, ?delay, "Confluence call will be retried");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:49 GMT", now),
            Some(Duration::from_secs(12))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn retry_after_is_clamped() {
        let policy = RetryPolicy::default();
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("9223372036854775807"));
        assert_eq!(
            retry_after(&h, SystemTime::now(), &policy),
            Some(Duration::from_secs(30))
        );
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(
            retry_after(&h, SystemTime::now(), &policy),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            retry_after(&HeaderMap::new(), SystemTime::now(), &policy),
            None
        );
    }

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let p = RetryPolicy::default();
        assert_eq!(backoff(&p, 1, 1.0), Duration::from_millis(500));
        assert_eq!(backoff(&p, 1, 0.0), Duration::from_millis(250));
        assert_eq!(backoff(&p, 2, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(&p, 3, 0.5), Duration::from_millis(1500));
        assert_eq!(backoff(&p, 30, 1.0), Duration::from_secs(4));
        assert_eq!(backoff(&p, 2, f64::NAN), Duration::from_secs(1));
        for _ in 0..100 {
            let d = backoff(&p, 2, jitter());
            assert!(
                d >= Duration::from_millis(500) && d <= Duration::from_secs(1),
                "{d:?}"
            );
        }
    }

    #[test]
    fn which_statuses_retry() {
        let p = RetryPolicy::default();
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(
            decide(&p, 429, &h, 1, false, 1.0),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            decide(&p, 503, &h, 1, false, 1.0),
            Some(Duration::from_secs(2))
        );
        let none = HeaderMap::new();
        assert_eq!(
            decide(&p, 429, &none, 1, true, 1.0),
            Some(Duration::from_millis(500))
        );
        for s in [408, 500, 502, 504] {
            assert_eq!(
                decide(&p, s, &none, 2, true, 1.0),
                Some(Duration::from_secs(1)),
                "{s}"
            );
            assert_eq!(decide(&p, s, &none, 2, false, 1.0), None, "{s}");
        }
        for s in [200, 201, 400, 401, 403, 404, 409, 501] {
            assert_eq!(decide(&p, s, &h, 1, true, 1.0), None, "{s}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn run_sleeps_the_announced_delays_and_stops_after_three() {
        let p = RetryPolicy::default();
        let start = tokio::time::Instant::now();
        let mut seen = Vec::new();
        let out = run(&p, |attempt| {
            seen.push((attempt, tokio::time::Instant::now() - start));
            std::future::ready(Step::Again(attempt, Duration::from_secs(30)))
        })
        .await;
        assert_eq!(out, 3);
        assert_eq!(
            seen,
            vec![
                (1, Duration::ZERO),
                (2, Duration::from_secs(30)),
                (3, Duration::from_secs(60))
            ]
        );
        assert_eq!(tokio::time::Instant::now() - start, Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn run_returns_first_finished_outcome() {
        let p = RetryPolicy::default();
        let start = tokio::time::Instant::now();
        let out = run(&p, |attempt| {
            std::future::ready(if attempt < 2 {
                Step::Again("retry", Duration::from_millis(750))
            } else {
                Step::Finish("done")
            })
        })
        .await;
        assert_eq!(out, "done");
        assert_eq!(
            tokio::time::Instant::now() - start,
            Duration::from_millis(750)
        );
    }
}
