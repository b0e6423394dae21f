//! Wall-clock time for token validity checks.
//!
//! `exp`, `nbf` and `iat` are Unix times, so they are compared with the system clock. Tests
//! (and the simulator) need that clock to move with tokio's paused time, so a [`Clock`] may
//! instead be anchored: it reports the Unix time it was created with plus however far tokio's
//! clock has moved since.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Where "now" comes from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    anchor: Option<(i64, Instant)>,
}

impl Clock {
    /// The system clock (the default).
    pub fn system() -> Self {
        Self { anchor: None }
    }

    /// A clock that reads `unix_now` at this moment of tokio time and then advances with tokio's
    /// clock, paused or not.
    pub fn tokio_anchored(unix_now: i64) -> Self {
        Self {
            anchor: Some((unix_now, Instant::now())),
        }
    }

    /// The current Unix time in whole seconds.
    pub fn now_unix(&self) -> i64 {
        match self.anchor {
            Some((unix, at)) => {
                let elapsed = i64::try_from(at.elapsed().as_secs()).unwrap_or(i64::MAX);
                unix.saturating_add(elapsed)
            }
            None => system_unix(),
        }
    }
}

/// Seconds since the Unix epoch by the system clock; a clock set before 1970 reads as 0, which
/// makes every token look expired rather than valid.
pub fn system_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn anchored_clock_follows_paused_tokio_time() {
        let clock = Clock::tokio_anchored(1_000);
        assert_eq!(clock.now_unix(), 1_000);
        tokio::time::advance(Duration::from_secs(90)).await;
        assert_eq!(clock.now_unix(), 1_090);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(Clock::system().now_unix() > 1_577_836_800);
    }
}
