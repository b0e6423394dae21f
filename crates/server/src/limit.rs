//! A per-caller request budget: at most [`MAX_CALLS`] authenticated calls per [`WINDOW`] for
//! each verified principal (the Forge macro polls well under it), then 429 `rate_limited` with
//! `Retry-After` until the window ends. It keeps one small entry per active caller and forgets
//! callers whose window has passed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::StatusCode;
use tokio::time::Instant;

use crate::error::ApiError;

/// The length of one budget window.
pub(crate) const WINDOW: Duration = Duration::from_secs(25);
/// The calls one caller may make in a window.
pub(crate) const MAX_CALLS: u32 = 500;
/// Past this many callers, entries of finished windows are dropped before adding one.
const PRUNE_AT: usize = 10_000;

/// Fixed-window counters by caller.
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    calls: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// Counts one call of `caller`; refuses it when the caller's window is spent, saying how
    /// many seconds remain.
    pub(crate) fn check(&self, caller: &str) -> Result<(), (ApiError, u64)> {
        let now = Instant::now();
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        if calls.len() >= PRUNE_AT {
            calls.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = calls.entry(caller.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= MAX_CALLS {
            let left = WINDOW.saturating_sub(now.duration_since(entry.0));
            let secs = left.as_secs().max(1);
            let e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "more than {MAX_CALLS} calls in {} s; try again in {secs} s",
                    WINDOW.as_secs()
                ),
            );
            return Err((e, secs));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_caller_over_budget_waits_for_the_next_window() {
        let limiter = RateLimiter::default();
        for _ in 0..MAX_CALLS {
            limiter.check("alice").unwrap();
        }
        let (e, secs) = limiter.check("alice").unwrap_err();
        assert_eq!((e.status, e.code), (429, "rate_limited"));
        assert_eq!(secs, WINDOW.as_secs());
        // Another caller has a budget of their own.
        limiter.check("bob").unwrap();
        tokio::time::advance(WINDOW).await;
        limiter.check("alice").unwrap();
    }
}
