//! Retries with jittered exponential backoff, combined with the endpoint's circuit breaker.
//!
//! Only *unavailability* is retried (transport failure, timeout, 5xx, CCP `APPAP007E`); refusals
//! (4xx), a CPM change in progress, protocol and configuration errors are returned at once. Calls
//! that are not idempotent (PVWA `POST .../Change`, `.../CheckIn` ...) are retried only when the
//! connection failed before the request was sent (a connect error, including a connect timeout);
//! never after an answer or a request timeout, since the server may have acted on it.
//!
//! The wait before retry *n* (n = 0 after the first failure) is "full jitter": uniformly random in
//! `[0, min(max_delay, base_delay * 2^n)]`, slept with `tokio::time::sleep` (paused-time
//! friendly). Every attempt asks the breaker first; when the breaker refuses, the loop stops with
//! its fail-fast error (still unavailable, so the read-only fallback fires).

use std::future::Future;
use std::time::Duration;

use rand::Rng;

use crate::breaker::{BreakerConfig, CircuitBreaker};
use crate::error::{CyberArkError, transport};

/// How often, and how patiently, unavailable calls are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 = no retry; 0 is treated as 1).
    pub max_attempts: u32,
    /// Cap of the first wait; doubles per retry.
    pub base_delay: Duration,
    /// Largest cap of any wait.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub fn no_retry() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The upper bound of the wait before retry `n` (0-based): `min(max_delay, base * 2^n)`.
    pub fn delay_cap(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.min(31)).unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.max_delay)
    }
}

/// How a wait is drawn from its cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Jitter {
    /// Uniform in `[0, cap]`.
    Full,
    /// Exactly the cap (tests that assert elapsed paused time).
    #[cfg(test)]
    None,
}

impl Jitter {
    fn draw(self, cap: Duration) -> Duration {
        match self {
            Jitter::Full => {
                let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
                Duration::from_nanos(rand::rng().random_range(0..=nanos))
            }
            #[cfg(test)]
            Jitter::None => cap,
        }
    }
}

/// Retry policy plus circuit breaker for one endpoint. Clones share the breaker.
#[derive(Debug, Clone)]
pub struct Resilience {
    retry: RetryPolicy,
    breaker: CircuitBreaker,
    jitter: Jitter,
}

impl Resilience {
    /// A policy and a fresh (closed) breaker for `endpoint` (`"ccp"` or `"pvwa"`).
    pub fn new(endpoint: &'static str, retry: RetryPolicy, breaker: BreakerConfig) -> Self {
        Resilience {
            retry,
            breaker: CircuitBreaker::new(endpoint, breaker),
            jitter: Jitter::Full,
        }
    }

    /// The same policy around an existing (possibly shared) breaker.
    pub fn with_breaker(retry: RetryPolicy, breaker: CircuitBreaker) -> Self {
        Resilience {
            retry,
            breaker,
            jitter: Jitter::Full,
        }
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    #[cfg(test)]
    pub(crate) fn without_jitter(mut self) -> Self {
        self.jitter = Jitter::None;
        self
    }

    /// Runs `op` under the breaker, retrying unavailability as `safety` allows.
    pub(crate) async fn run<T, F, Fut>(&self, safety: Safety, mut op: F) -> Result<T, CyberArkError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let attempts = self.retry.max_attempts.max(1);
        let mut n = 0;
        loop {
            let permit = self.breaker.acquire()?;
            let outcome = op().await;
            let (result, not_sent) = match outcome {
                Ok(v) => (Ok(v), false),
                Err(f) => (Err(f.error), f.not_sent),
            };
            permit.record(&result);
            let err = match result {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let retryable = err.is_unavailable()
                && match safety {
                    Safety::Idempotent => true,
                    Safety::NotIdempotent => not_sent,
                };
            n += 1;
            if !retryable || n >= attempts {
                return Err(err);
            }
            let wait = self.jitter.draw(self.retry.delay_cap(n - 1));
            tracing::debug!(error = %err, attempt = n, wait_ms = wait.as_millis() as u64, "retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

/// Whether a call may be repeated after the server might have seen it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Safety {
    /// GET requests, logon, the CCP: any unavailability is retried.
    Idempotent,
    /// CPM operations: only connect errors (request never sent) are retried.
    NotIdempotent,
}

/// A failed attempt: the error, and whether the request certainly never left this process.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: CyberArkError,
    pub(crate) not_sent: bool,
}

impl From<CyberArkError> for Failure {
    fn from(error: CyberArkError) -> Self {
        Failure {
            error,
            not_sent: false,
        }
    }
}

/// Maps a transport error, noting connect errors (the request was never written).
pub(crate) fn send_failure(endpoint: &'static str, err: reqwest::Error) -> Failure {
    let not_sent = err.is_connect();
    Failure {
        error: transport(endpoint, err),
        not_sent,
    }
}

#[cfg(test)]
#[path = "retry_tests.rs"]
mod tests;
