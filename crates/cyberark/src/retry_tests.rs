//! Unit tests of the retry loop on paused tokio time, with scripted attempts instead of HTTP:
//! exact attempt counts, exact waits (jitter off), the jitter range, and the breaker interplay.

use std::cell::Cell;

use tokio::time::Instant;

use super::*;
use crate::breaker::CircuitState;

fn unavailable(detail: &str) -> CyberArkError {
    CyberArkError::Unavailable {
        endpoint: "pvwa",
        detail: detail.into(),
        status: None,
        code: None,
    }
}

fn refused(status: u16) -> CyberArkError {
    CyberArkError::Refused {
        endpoint: "pvwa",
        status,
        code: String::new(),
        message: String::new(),
    }
}

fn resilience(attempts: u32, threshold: u32) -> Resilience {
    Resilience::new(
        "pvwa",
        RetryPolicy {
            max_attempts: attempts,
            ..RetryPolicy::default()
        },
        BreakerConfig {
            failure_threshold: threshold,
            cool_down: Duration::from_secs(30),
        },
    )
    .without_jitter()
}

/// Runs a scripted operation: attempt i (0-based) yields `script[i]` (the last one repeats).
async fn run_script(
    r: &Resilience,
    safety: Safety,
    script: &[fn() -> Result<u32, Failure>],
) -> (Result<u32, CyberArkError>, usize) {
    let calls = Cell::new(0usize);
    let result = r
        .run(safety, || {
            let i = calls.get();
            calls.set(i + 1);
            let f = script[i.min(script.len() - 1)];
            async move { f() }
        })
        .await;
    (result, calls.get())
}

#[test]
fn delay_caps_double_up_to_the_maximum() {
    let p = RetryPolicy::default();
    let caps: Vec<u128> = (0..7).map(|n| p.delay_cap(n).as_millis()).collect();
    assert_eq!(caps, vec![200, 400, 800, 1600, 3200, 5000, 5000]);
    assert_eq!(p.delay_cap(200), Duration::from_secs(5));
    assert_eq!(RetryPolicy::no_retry().max_attempts, 1);
}

#[test]
fn full_jitter_stays_within_the_cap_and_varies() {
    let cap = Duration::from_millis(400);
    let draws: Vec<Duration> = (0..200).map(|_| Jitter::Full.draw(cap)).collect();
    assert!(draws.iter().all(|d| *d <= cap));
    assert!(draws.iter().any(|d| *d != draws[0]), "jitter never varied");
    assert_eq!(Jitter::Full.draw(Duration::ZERO), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn unavailable_is_retried_with_exponential_waits() {
    let r = resilience(3, 10);
    let start = Instant::now();
    let (result, calls) = run_script(
        &r,
        Safety::Idempotent,
        &[
            || Err(unavailable("one").into()),
            || Err(unavailable("two").into()),
            || Ok(7),
        ],
    )
    .await;
    assert_eq!(result.unwrap(), 7);
    assert_eq!(calls, 3);
    assert_eq!(start.elapsed(), Duration::from_millis(200 + 400));
}

#[tokio::test(start_paused = true)]
async fn exhaustion_returns_the_last_error() {
    let r = resilience(3, 10);
    let start = Instant::now();
    let (result, calls) = run_script(
        &r,
        Safety::Idempotent,
        &[
            || Err(unavailable("first").into()),
            || Err(unavailable("second").into()),
            || Err(unavailable("last").into()),
        ],
    )
    .await;
    let err = result.unwrap_err();
    assert!(err.to_string().ends_with("last"), "{err}");
    assert_eq!(calls, 3);
    assert_eq!(start.elapsed(), Duration::from_millis(600));
}

#[tokio::test(start_paused = true)]
async fn refusals_are_not_retried() {
    let r = resilience(5, 10);
    let start = Instant::now();
    let (result, calls) = run_script(&r, Safety::Idempotent, &[|| Err(refused(403).into())]).await;
    assert_eq!(result.unwrap_err().status(), Some(403));
    assert_eq!((calls, start.elapsed()), (1, Duration::ZERO));
}

#[tokio::test(start_paused = true)]
async fn non_idempotent_calls_retry_only_unsent_requests() {
    let r = resilience(3, 10);
    let (result, calls) = run_script(
        &r,
        Safety::NotIdempotent,
        &[|| Err(unavailable("503").into())],
    )
    .await;
    assert!(result.unwrap_err().is_unavailable());
    assert_eq!(calls, 1);
    let (result, calls) = run_script(
        &r,
        Safety::NotIdempotent,
        &[
            || {
                Err(Failure {
                    error: unavailable("connection refused"),
                    not_sent: true,
                })
            },
            || Ok(1),
        ],
    )
    .await;
    assert_eq!((result.unwrap(), calls), (1, 2));
}

#[tokio::test(start_paused = true)]
async fn an_opening_breaker_stops_the_retries() {
    let r = resilience(5, 2);
    let (result, calls) = run_script(
        &r,
        Safety::Idempotent,
        &[|| Err(unavailable("down").into())],
    )
    .await;
    let err = result.unwrap_err();
    assert!(err.is_unavailable());
    assert!(err.to_string().contains("circuit open"), "{err}");
    assert_eq!(calls, 2);
    assert_eq!(r.breaker().state(), CircuitState::Open);
    // A clone shares the breaker: it fails fast without running the operation.
    let (result, calls) = run_script(&r.clone(), Safety::Idempotent, &[|| Ok(1)]).await;
    assert!(result.unwrap_err().is_unavailable());
    assert_eq!(calls, 0);
    tokio::time::advance(Duration::from_secs(30)).await;
    let (result, calls) = run_script(&r, Safety::Idempotent, &[|| Ok(1)]).await;
    assert_eq!((result.unwrap(), calls), (1, 1));
    assert_eq!(r.breaker().state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn zero_attempts_means_one() {
    let r = resilience(0, 10);
    let (result, calls) = run_script(
        &r,
        Safety::Idempotent,
        &[|| Err(unavailable("down").into())],
    )
    .await;
    assert!(result.is_err());
    assert_eq!(calls, 1);
}
