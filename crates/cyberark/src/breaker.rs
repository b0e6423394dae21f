//! A circuit breaker per CyberArk endpoint (one for the CCP, one for the PVWA).
//!
//! * **Closed**: calls go through. Every request that fails as *unavailable* (transport failure,
//!   timeout, 5xx, CCP `APPAP007E`) adds one to a counter; any other outcome (a success, but also
//!   a refusal or an odd answer: the endpoint did answer) resets it. At `failure_threshold`
//!   consecutive failures the circuit opens.
//! * **Open**: for `cool_down`, calls fail fast with [`CyberArkError::Unavailable`] (`circuit
//!   open ...`) without touching the network, so the read-only fallback fires at once.
//! * **Half-open**: after the cool-down one trial request is let through (others still fail
//!   fast). If it is unavailable the circuit reopens for another cool-down; any other outcome
//!   closes it. A trial abandoned mid-flight (its future dropped) reopens the circuit with an
//!   already-expired cool-down, so the next call becomes the trial.
//!
//! The state lives behind an `Arc`: clones of a breaker (and so of a client) share it. Time is
//! `tokio::time::Instant`, so paused-time tests can drive the cool-down.
//!
//! The healthy case (closed, no failures counted) is the hot path of every CCP retrieval, so it
//! is answered from one atomic flag without the mutex or the clock: under 64 concurrent callers
//! the mutex was measurable (BENCHMARKS.md). The flag is only ever set while holding the mutex,
//! so it never claims health the state does not have for longer than one racing request.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::CyberArkError;

/// When a breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive unavailable requests that open the circuit (at least 1).
    pub failure_threshold: u32,
    /// How long an open circuit fails fast before allowing one trial request.
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            cool_down: Duration::from_secs(30),
        }
    }
}

/// The observable state of a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

/// A circuit breaker; cheap to clone, clones share their state.
#[derive(Clone)]
pub struct CircuitBreaker {
    endpoint: &'static str,
    config: BreakerConfig,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// True exactly when `state` is `Closed { failures: 0 }` (written under the mutex).
    healthy: AtomicBool,
    state: Mutex<State>,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("endpoint", &self.endpoint)
            .field("config", &self.config)
            .field("state", &self.state())
            .finish()
    }
}

impl CircuitBreaker {
    /// A closed breaker for `endpoint` (`"ccp"` or `"pvwa"`, used in error texts).
    pub fn new(endpoint: &'static str, config: BreakerConfig) -> Self {
        CircuitBreaker {
            endpoint,
            config: BreakerConfig {
                failure_threshold: config.failure_threshold.max(1),
                cool_down: config.cool_down,
            },
            shared: Arc::new(Shared {
                healthy: AtomicBool::new(true),
                state: Mutex::new(State::Closed { failures: 0 }),
            }),
        }
    }

    pub fn config(&self) -> BreakerConfig {
        self.config
    }

    /// The current state. An open circuit whose cool-down has passed reports `HalfOpen` (the
    /// next call will be the trial).
    pub fn state(&self) -> CircuitState {
        match *self.lock() {
            State::Closed { .. } => CircuitState::Closed,
            State::Open { until } if Instant::now() < until => CircuitState::Open,
            State::Open { .. } | State::HalfOpen => CircuitState::HalfOpen,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the state and keeps the fast-path flag in step; call with the lock held.
    fn set(&self, guard: &mut std::sync::MutexGuard<'_, State>, state: State) {
        let healthy = matches!(state, State::Closed { failures: 0 });
        **guard = state;
        self.shared.healthy.store(healthy, Ordering::Release);
    }

    /// Asks to send one request. Fails fast while the circuit is open or a trial is in flight.
    pub(crate) fn acquire(&self) -> Result<Permit<'_>, CyberArkError> {
        if self.shared.healthy.load(Ordering::Acquire) {
            return Ok(Permit {
                breaker: self,
                trial: false,
                done: false,
            });
        }
        let mut state = self.lock();
        let now = Instant::now();
        match *state {
            State::Closed { .. } => Ok(Permit {
                breaker: self,
                trial: false,
                done: false,
            }),
            State::Open { until } if now >= until => {
                self.set(&mut state, State::HalfOpen);
                tracing::info!(
                    endpoint = self.endpoint,
                    "circuit half-open: sending a trial request"
                );
                Ok(Permit {
                    breaker: self,
                    trial: true,
                    done: false,
                })
            }
            State::Open { until } => Err(self.open_error(Some(until - now))),
            State::HalfOpen => Err(self.open_error(None)),
        }
    }

    fn open_error(&self, remaining: Option<Duration>) -> CyberArkError {
        let detail = match remaining {
            Some(r) => format!(
                "circuit open after {} consecutive failures; retrying in {} ms",
                self.config.failure_threshold,
                r.as_millis()
            ),
            None => "circuit open; a trial request is in flight".to_string(),
        };
        CyberArkError::Unavailable {
            endpoint: self.endpoint,
            detail,
            status: None,
            code: None,
        }
    }

    fn record(&self, trial: bool, unavailable: bool) {
        if !unavailable && !trial && self.shared.healthy.load(Ordering::Acquire) {
            return;
        }
        let mut state = self.lock();
        let now = Instant::now();
        if !unavailable {
            if !matches!(*state, State::Closed { failures: 0 }) {
                tracing::info!(endpoint = self.endpoint, "circuit closed");
            }
            self.set(&mut state, State::Closed { failures: 0 });
            return;
        }
        let failures = match *state {
            State::Closed { failures } if !trial => failures + 1,
            // A failed trial (or a late failure while open) keeps the circuit open.
            _ => self.config.failure_threshold,
        };
        if failures >= self.config.failure_threshold {
            tracing::warn!(
                endpoint = self.endpoint,
                failures,
                cool_down_ms = self.config.cool_down.as_millis() as u64,
                "circuit opened"
            );
            let until = now + self.config.cool_down;
            self.set(&mut state, State::Open { until });
        } else {
            self.set(&mut state, State::Closed { failures });
        }
    }
}

/// Permission to send one request; report its outcome with [`Permit::record`].
pub(crate) struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    trial: bool,
    done: bool,
}

impl Permit<'_> {
    /// Records the request's outcome: only unavailability counts as a failure.
    pub(crate) fn record<T>(mut self, outcome: &Result<T, CyberArkError>) {
        self.done = true;
        let unavailable = matches!(outcome, Err(e) if e.is_unavailable());
        self.breaker.record(self.trial, unavailable);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.trial && !self.done {
            // The trial was abandoned: let the next call try again at once.
            let mut state = self.breaker.lock();
            self.breaker.set(
                &mut state,
                State::Open {
                    until: Instant::now(),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down() -> Result<(), CyberArkError> {
        Err(CyberArkError::Unavailable {
            endpoint: "ccp",
            detail: "down".into(),
            status: None,
            code: None,
        })
    }

    fn refused() -> Result<(), CyberArkError> {
        Err(CyberArkError::Refused {
            endpoint: "ccp",
            status: 403,
            code: "APPAP306E".into(),
            message: "no".into(),
        })
    }

    fn breaker(n: u32) -> CircuitBreaker {
        CircuitBreaker::new(
            "ccp",
            BreakerConfig {
                failure_threshold: n,
                cool_down: Duration::from_secs(30),
            },
        )
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_threshold_and_half_opens_after_cool_down() {
        let b = breaker(3);
        for _ in 0..3 {
            b.acquire().unwrap().record(&down());
        }
        assert_eq!(b.state(), CircuitState::Open);
        let err = b.acquire().err().unwrap();
        assert!(err.is_unavailable());
        assert!(err.to_string().contains("circuit open"), "{err}");
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(b.state(), CircuitState::HalfOpen);
        let trial = b.acquire().unwrap();
        // Only one trial at a time.
        assert!(b.acquire().err().unwrap().to_string().contains("trial"));
        trial.record(&Ok(()));
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_trial_reopens_for_a_full_cool_down() {
        let b = breaker(1);
        b.acquire().unwrap().record(&down());
        tokio::time::advance(Duration::from_secs(30)).await;
        b.acquire().unwrap().record(&down());
        assert_eq!(b.state(), CircuitState::Open);
        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(b.acquire().is_err());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(b.acquire().is_ok());
    }

    #[test]
    fn refusals_and_successes_reset_the_count() {
        let b = breaker(2);
        b.acquire().unwrap().record(&down());
        b.acquire().unwrap().record(&refused());
        b.acquire().unwrap().record(&down());
        assert_eq!(b.state(), CircuitState::Closed);
        b.acquire().unwrap().record(&Ok(()));
        b.acquire().unwrap().record(&down());
        assert_eq!(b.state(), CircuitState::Closed);
        b.acquire().unwrap().record(&down());
        assert_eq!(b.state(), CircuitState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn abandoned_trial_lets_the_next_call_try() {
        let b = breaker(1);
        b.acquire().unwrap().record(&down());
        tokio::time::advance(Duration::from_secs(30)).await;
        drop(b.acquire().unwrap());
        assert_eq!(b.state(), CircuitState::HalfOpen);
        b.acquire().unwrap().record(&Ok(()));
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn fast_path_flag_follows_every_transition() {
        let b = breaker(2);
        let healthy = || b.shared.healthy.load(Ordering::Acquire);
        assert!(healthy());
        b.acquire().unwrap().record(&down());
        assert!(
            !healthy(),
            "one failure counted: the slow path must count the next"
        );
        b.acquire().unwrap().record(&Ok(()));
        assert!(healthy());
        b.acquire().unwrap().record(&down());
        b.acquire().unwrap().record(&down());
        assert_eq!(b.state(), CircuitState::Open);
        assert!(!healthy());
        assert!(
            b.acquire().is_err(),
            "an open circuit must not take the fast path"
        );
        tokio::time::advance(Duration::from_secs(30)).await;
        let trial = b.acquire().unwrap();
        assert!(!healthy(), "half-open");
        trial.record(&Ok(()));
        assert!(healthy());
    }

    #[test]
    fn clones_share_state_and_debug_is_plain() {
        let b = breaker(1);
        let c = b.clone();
        b.acquire().unwrap().record(&down());
        assert_eq!(c.state(), CircuitState::Open);
        let dbg = format!("{c:?}");
        assert!(dbg.contains("Open") && dbg.contains("ccp"), "{dbg}");
        assert_eq!(
            CircuitBreaker::new(
                "x",
                BreakerConfig {
                    failure_threshold: 0,
                    ..BreakerConfig::default()
                }
            )
            .config()
            .failure_threshold,
            1
        );
    }
}
