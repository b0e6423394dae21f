//! Fault injection for the simulated Confluence: added latency, a rate limit (token bucket, as
//! Data Center's limiter and Cloud's burst limits behave), bursts and rates of 429 and 5xx
//! answers, concurrent edits that make a client's page update meet a 409, and Data Center's
//! "next link past the end" paging quirk.
//!
//! The settings are [`ConfluenceFaults`], part of [`crate::Faults`]: set at start with
//! `arkbridge sim --fault confluence-...` (see [`parse_item`]), at run time through the admin
//! endpoint (`{"confluence": {...}}`, see [`apply_json`]) or `SimHandle::set_faults`. Bursts count
//! down as they are served. Rates are deterministic like the CyberArk ones (rate `r` hits the
//! n-th event exactly when `floor(n·r) > floor((n-1)·r)`).
//!
//! Refused requests carry `Retry-After` (whole seconds, at least 1); while a rate limit is set,
//! every answer carries `X-RateLimit-Limit`, `X-RateLimit-Remaining`,
//! `X-RateLimit-Interval-Seconds` and `X-RateLimit-FillRate`, and a refusal adds
//! `X-RateLimit-Reset`.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use tokio::time::Instant;

use crate::confluence_http::{Api, api_error};
use crate::error::SimError;
use crate::faults::RateCounter;
use crate::world::World;

pub(crate) use crate::confluence_fault_spec::{apply_json, parse_item, to_json};

/// The Confluence fault settings. `ConfluenceFaults::default()` is "no faults".
#[derive(Debug, Clone, PartialEq)]
pub struct ConfluenceFaults {
    /// Added before every Confluence answer.
    pub latency: Duration,
    /// Requests per second the token bucket refills; `None` for no limit.
    pub rate_limit: Option<f64>,
    /// Bucket size (the burst a client may send at once); the rate rounded up by default.
    pub rate_burst: Option<u32>,
    /// The next this many requests get 429.
    pub burst_429: u32,
    /// Share of requests (0 to 1) that get 429.
    pub rate_429: f64,
    /// `Retry-After` of injected 429 and 503 answers.
    pub retry_after: Duration,
    /// Share of requests (0 to 1) that get `error_status`.
    pub error_rate: f64,
    /// The next this many requests get `error_status`.
    pub error_burst: u32,
    /// 500, 502, 503 or 504.
    pub error_status: u16,
    /// Share of page updates (0 to 1) that meet a concurrent edit just before them.
    pub edit_race: f64,
    /// Data Center lists keep a `next` link past the last page (CONFSERVER-95396).
    pub dc_over_paging: bool,
}

impl Default for ConfluenceFaults {
    fn default() -> Self {
        ConfluenceFaults {
            latency: Duration::ZERO,
            rate_limit: None,
            rate_burst: None,
            burst_429: 0,
            rate_429: 0.0,
            retry_after: Duration::from_secs(1),
            error_rate: 0.0,
            error_burst: 0,
            error_status: 503,
            edit_race: 0.0,
            dc_over_paging: false,
        }
    }
}

pub(crate) fn spec_err(msg: String) -> SimError {
    SimError::FaultSpec(msg)
}

impl ConfluenceFaults {
    pub(crate) fn validate(&self) -> Result<(), SimError> {
        for (name, rate) in [
            ("confluence-429-rate", self.rate_429),
            ("confluence-error-rate", self.error_rate),
            ("confluence-edit-race", self.edit_race),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(spec_err(format!(
                    "{name} must be between 0 and 1, not {rate}"
                )));
            }
        }
        if let Some(r) = self.rate_limit
            && !(r.is_finite() && r > 0.0 && r <= 1_000_000.0)
        {
            return Err(spec_err(format!(
                "confluence-rate-limit must be above 0 requests per second, not {r}"
            )));
        }
        if self.rate_burst == Some(0) {
            return Err(spec_err("confluence-rate-burst must be at least 1".into()));
        }
        if ![500, 502, 503, 504].contains(&self.error_status) {
            return Err(spec_err(format!(
                "confluence-error-status must be 500, 502, 503 or 504, not {}",
                self.error_status
            )));
        }
        Ok(())
    }

    fn bucket_size(&self, rate: f64) -> f64 {
        f64::from(
            self.rate_burst
                .unwrap_or_else(|| rate.ceil().max(1.0) as u32),
        )
    }
}

/// The token bucket of the rate limit.
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn full(size: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: size,
            last: now,
        }
    }

    /// Refills for the time since the last call and takes one token: `Ok(tokens left)`, or
    /// `Err(seconds until a token is there)`.
    fn take(&mut self, rate: f64, size: f64, now: Instant) -> Result<f64, f64> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(size);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(self.tokens)
        } else {
            Err((1.0 - self.tokens) / rate)
        }
    }
}

/// Counters and the bucket; reset whenever the faults are set.
#[derive(Default)]
pub(crate) struct ConfluenceCounters {
    bucket: Option<Bucket>,
    throttled: RateCounter,
    errors: RateCounter,
    races: RateCounter,
}

/// What the fault gate decided for one request.
pub(crate) struct Verdict {
    /// Answer this instead of serving the request.
    pub(crate) refuse: Option<Response>,
    /// Headers to add to whatever answer is given.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
}

fn too_many(api: Api, retry_after: u64) -> Response {
    let mut r = api_error(
        api,
        StatusCode::TOO_MANY_REQUESTS,
        "TOO_MANY_REQUESTS",
        "Rate limit exceeded. Retry after the time given in the Retry-After header.",
    );
    if let Ok(v) = HeaderValue::from_str(&retry_after.max(1).to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// Applies the Confluence faults to one request of `api`.
pub(crate) async fn gate(world: &World, api: Api) -> Verdict {
    let latency = world.faults().faults.confluence.latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut st = world.faults();
    let st = &mut *st;
    let f = &mut st.faults.confluence;
    let c = &mut st.confluence;
    let retry = f.retry_after.as_secs();
    let mut headers = Vec::new();
    if f.burst_429 > 0 {
        f.burst_429 -= 1;
        return refuse(too_many(api, retry), headers);
    }
    if f.rate_429 > 0.0 && c.throttled.hit(f.rate_429) {
        return refuse(too_many(api, retry), headers);
    }
    if let Some(rate) = f.rate_limit {
        let size = f.bucket_size(rate);
        let now = Instant::now();
        let taken = c
            .bucket
            .get_or_insert_with(|| Bucket::full(size, now))
            .take(rate, size, now);
        let mut add = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.push((HeaderName::from_static(name), v));
            }
        };
        add("x-ratelimit-limit", format!("{}", size as u64));
        add(
            "x-ratelimit-remaining",
            format!("{}", taken.unwrap_or(0.0).floor() as u64),
        );
        add("x-ratelimit-interval-seconds", "1".into());
        add("x-ratelimit-fillrate", format!("{rate}"));
        if let Err(wait) = taken {
            let reset = jiff::Timestamp::now()
                .checked_add(jiff::SignedDuration::from_secs_f64(wait.ceil()))
                .unwrap_or_else(|_| jiff::Timestamp::now());
            add(
                "x-ratelimit-reset",
                reset.strftime("%Y-%m-%dT%H:%MZ").to_string(),
            );
            return refuse(too_many(api, wait.ceil() as u64), headers);
        }
    }
    let error = if f.error_burst > 0 {
        f.error_burst -= 1;
        true
    } else {
        f.error_rate > 0.0 && c.errors.hit(f.error_rate)
    };
    if error {
        let status =
            StatusCode::from_u16(f.error_status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let mut r = api_error(
            api,
            status,
            "SERVICE_UNAVAILABLE",
            "The service is temporarily unavailable (fault injected by arkbridge sim).",
        );
        if status == StatusCode::SERVICE_UNAVAILABLE
            && let Ok(v) = HeaderValue::from_str(&retry.max(1).to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return refuse(r, headers);
    }
    Verdict {
        refuse: None,
        headers,
    }
}

fn refuse(mut r: Response, headers: Vec<(HeaderName, HeaderValue)>) -> Verdict {
    for (k, v) in &headers {
        r.headers_mut().insert(k.clone(), v.clone());
    }
    Verdict {
        refuse: Some(r),
        headers,
    }
}

/// Whether this page update meets a concurrent edit (counts one update).
pub(crate) fn edit_race(world: &World) -> bool {
    let mut st = world.faults();
    let rate = st.faults.confluence.edit_race;
    rate > 0.0 && st.confluence.races.hit(rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_refills_at_the_rate_and_caps_at_its_size() {
        let t0 = Instant::now();
        let mut b = Bucket::full(2.0, t0);
        assert_eq!(b.take(10.0, 2.0, t0), Ok(1.0));
        assert_eq!(b.take(10.0, 2.0, t0), Ok(0.0));
        let wait = b.take(10.0, 2.0, t0).unwrap_err();
        assert!((wait - 0.1).abs() < 1e-9, "{wait}");
        assert!(b.take(10.0, 2.0, t0 + Duration::from_millis(100)).is_ok());
        // A long pause refills no more than the bucket holds.
        let later = t0 + Duration::from_secs(60);
        assert_eq!(b.take(10.0, 2.0, later), Ok(1.0));
    }
}
