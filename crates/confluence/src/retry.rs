//! Retry policy for Confluence calls: which answers are retried, and after how long.
//!
//! `429` and `503` mean the server refused the request before acting on it, so they are retried
//! for every request, creating POSTs included, after the announced `Retry-After` (delta-seconds
//! or an HTTP-date), clamped because real servers have announced absurd values. A little jitter
//! is *added* to the announced delay, never taken off: re-sending early only earns a longer wait,
//! and the jitter keeps concurrent callers from coming back in the same instant. `408`, `500`,
//! `502` and `504` may come after the server acted, so they are retried only for requests that
//! are safe to repeat, after the announced delay if any, else exponential backoff with jitter.
//! Transport failures follow the same rule, except that a request that was never sent (connection
//! refused) is always safe to repeat.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::transport::Failure;

/// How many times, and how patiently, a request is retried.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per request in total, the first included (0 is treated as 1).
    pub max_attempts: u32,
    /// First backoff delay (doubled per attempt) when the server announced none.
    pub base: Duration,
    /// Longest backoff delay.
    pub cap: Duration,
    /// Longest `Retry-After` honoured.
    pub retry_after_cap: Duration,
    /// How many times [`edit_page`](crate::ConfluenceClient::edit_page) reads the page again and
    /// re-applies its edit after a 409 version conflict, before giving up with the conflict.
    pub conflict_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(4),
            retry_after_cap: Duration::from_secs(30),
            conflict_attempts: 5,
        }
    }
}

/// Whether a request may be sent again after the server may have acted on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Reads, PUTs, DELETEs and read-only POSTs (`users-bulk`, permission checks).
    Safe,
    /// Creating POSTs: a second copy would create a second comment or page.
    Once,
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

/// The most jitter added to an announced delay `d`: a tenth of it, at least 50 ms, at most 1 s.
pub(crate) fn retry_after_spread(d: Duration) -> Duration {
    (d / 10).clamp(Duration::from_millis(50), Duration::from_secs(1))
}

fn unit_of(unit: f64) -> f64 {
    if unit.is_finite() {
        unit.clamp(0.0, 1.0)
    } else {
        1.0
    }
}

/// An announced delay plus jitter: a delay in `[d, d + spread(d)]` where `unit` picks the point.
pub(crate) fn announced(d: Duration, unit: f64) -> Duration {
    d + retry_after_spread(d).mul_f64(unit_of(unit))
}

/// Exponential backoff for `attempt` (1-based), with jitter: a delay in `[c/2, c]` where
/// `c = min(cap, base * 2^(attempt-1))` and `unit` (in `[0, 1]`) picks the point.
pub(crate) fn backoff(policy: &RetryPolicy, attempt: u32, unit: f64) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
    let full = policy.base.saturating_mul(factor).min(policy.cap);
    full / 2 + full.mul_f64(unit_of(unit) / 2.0)
}

/// Whether (and after how long) an HTTP answer should be retried.
pub(crate) fn decide(
    policy: &RetryPolicy,
    status: u16,
    headers: &HeaderMap,
    attempt: u32,
    repeat: Repeat,
    unit: f64,
) -> Option<Duration> {
    let wait = || {
        retry_after(headers, SystemTime::now(), policy)
            .map(|d| announced(d, unit))
            .unwrap_or_else(|| backoff(policy, attempt, unit))
    };
    match status {
        429 | 503 => Some(wait()),
        408 | 500 | 502 | 504 if repeat == Repeat::Safe => Some(wait()),
        _ => None,
    }
}

/// Whether a transport failure should be retried: a request that was never sent always, one that
/// may have reached the server only when it is safe to repeat.
pub(crate) fn transport_retry(
    policy: &RetryPolicy,
    failure: &Failure,
    attempt: u32,
    repeat: Repeat,
    unit: f64,
) -> Option<Duration> {
    let retry = match failure {
        Failure::NotSent(_) => true,
        Failure::TimedOut(_) | Failure::Broken(_) => repeat == Repeat::Safe,
        Failure::TooLarge => false,
    };
    retry.then(|| backoff(policy, attempt, unit))
}

/// A random jitter unit in `[0, 1)`.
pub(crate) fn jitter() -> f64 {
    rand::random::<f64>()
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
    fn announced_delays_only_grow_by_bounded_jitter() {
        let s = Duration::from_secs;
        assert_eq!(announced(s(7), 0.0), s(7));
        assert_eq!(announced(s(7), 1.0), Duration::from_millis(7700));
        assert_eq!(announced(s(30), 1.0), s(31));
        assert_eq!(announced(Duration::ZERO, 1.0), Duration::from_millis(50));
        assert_eq!(announced(s(2), f64::NAN), Duration::from_millis(2200));
        for _ in 0..100 {
            let d = announced(s(5), jitter());
            assert!(d >= s(5) && d <= Duration::from_millis(5500), "{d:?}");
        }
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
        for repeat in [Repeat::Safe, Repeat::Once] {
            for s in [429, 503] {
                assert_eq!(
                    decide(&p, s, &h, 1, repeat, 0.0),
                    Some(Duration::from_secs(2)),
                    "{s} {repeat:?}"
                );
            }
        }
        let none = HeaderMap::new();
        assert_eq!(
            decide(&p, 429, &none, 1, Repeat::Once, 1.0),
            Some(Duration::from_millis(500))
        );
        for s in [408, 500, 502, 504] {
            assert_eq!(
                decide(&p, s, &none, 2, Repeat::Safe, 1.0),
                Some(Duration::from_secs(1)),
                "{s}"
            );
            assert_eq!(
                decide(&p, s, &h, 2, Repeat::Safe, 0.0),
                Some(Duration::from_secs(2)),
                "{s} honours Retry-After"
            );
            assert_eq!(decide(&p, s, &none, 2, Repeat::Once, 1.0), None, "{s}");
        }
        for s in [200, 201, 400, 401, 403, 404, 409, 410, 501] {
            assert_eq!(decide(&p, s, &h, 1, Repeat::Safe, 1.0), None, "{s}");
        }
    }

    #[test]
    fn transport_failures_retry_only_when_harmless() {
        let p = RetryPolicy::default();
        let not_sent = Failure::NotSent("refused".into());
        let timed_out = Failure::TimedOut("t".into());
        let broken = Failure::Broken("reset".into());
        assert!(transport_retry(&p, &not_sent, 1, Repeat::Once, 0.5).is_some());
        assert!(transport_retry(&p, &timed_out, 1, Repeat::Once, 0.5).is_none());
        assert!(transport_retry(&p, &broken, 1, Repeat::Once, 0.5).is_none());
        assert!(transport_retry(&p, &timed_out, 1, Repeat::Safe, 0.5).is_some());
        assert!(transport_retry(&p, &broken, 1, Repeat::Safe, 0.5).is_some());
        assert!(transport_retry(&p, &Failure::TooLarge, 1, Repeat::Safe, 0.5).is_none());
    }
}
