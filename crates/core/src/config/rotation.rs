//! The `[rotation]` section of `arkbridge.toml` (how a failed rotation is retried before it
//! raises an alert) and the lease settings of `[runner]` (how long a run waits for an account
//! another run holds, and how long past its deadline a run may keep its credentials).
//!
//! ```toml
//! [runner]
//! lease_wait_secs = 300     # wait this long for an after-run/checkin account in use, then fail
//! lease_grace_secs = 30     # a run's credentials are rotated at its deadline plus this
//!
//! [rotation]
//! attempts = 3              # tries of one rotation before the alert (1 to 20)
//! base_delay_ms = 2000      # the wait after the first failure; doubled after each one
//! max_delay_ms = 60000      # the longest wait between two tries
//! ```
//!
//! Bad values are refused when the file is read.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The most tries of one rotation: past this an alert is due, not more patience.
pub const MAX_ROTATION_ATTEMPTS: u32 = 20;

/// The `[rotation]` section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(try_from = "RawRotation")]
pub struct RotationConfig {
    /// Tries of one rotation (the first included) before it is given up and alerted.
    pub attempts: u32,
    /// The wait after the first failed try, in milliseconds; doubled after each further one.
    pub base_delay_ms: u64,
    /// The longest wait between two tries, in milliseconds.
    pub max_delay_ms: u64,
}

impl Default for RotationConfig {
    fn default() -> Self {
        RotationConfig {
            attempts: default_attempts(),
            base_delay_ms: default_base_delay_ms(),
            max_delay_ms: default_max_delay_ms(),
        }
    }
}

impl RotationConfig {
    /// The wait after failed try number `failed` (1 for the first): exponential from
    /// `base_delay_ms`, capped at `max_delay_ms`.
    pub fn delay_after(&self, failed: u32) -> Duration {
        let factor = 1u64 << failed.saturating_sub(1).min(32);
        Duration::from_millis(
            self.base_delay_ms
                .saturating_mul(factor)
                .min(self.max_delay_ms),
        )
    }
}

/// The section as written, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRotation {
    #[serde(default = "default_attempts")]
    attempts: u32,
    #[serde(default = "default_base_delay_ms")]
    base_delay_ms: u64,
    #[serde(default = "default_max_delay_ms")]
    max_delay_ms: u64,
}

impl TryFrom<RawRotation> for RotationConfig {
    type Error = String;

    fn try_from(raw: RawRotation) -> Result<Self, String> {
        if raw.attempts == 0 || raw.attempts > MAX_ROTATION_ATTEMPTS {
            return Err(format!(
                "rotation.attempts must be between 1 and {MAX_ROTATION_ATTEMPTS}, not {}",
                raw.attempts
            ));
        }
        if raw.max_delay_ms < raw.base_delay_ms {
            return Err(format!(
                "rotation.max_delay_ms ({}) is below rotation.base_delay_ms ({})",
                raw.max_delay_ms, raw.base_delay_ms
            ));
        }
        Ok(RotationConfig {
            attempts: raw.attempts,
            base_delay_ms: raw.base_delay_ms,
            max_delay_ms: raw.max_delay_ms,
        })
    }
}

fn default_attempts() -> u32 {
    3
}
fn default_base_delay_ms() -> u64 {
    2_000
}
fn default_max_delay_ms() -> u64 {
    60_000
}

/// `[runner] lease_wait_secs` when unset.
pub(crate) fn default_lease_wait_secs() -> u64 {
    300
}

/// `[runner] lease_grace_secs` when unset.
pub(crate) fn default_lease_grace_secs() -> u64 {
    30
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RotationConfig, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn empty_section_takes_the_defaults() {
        assert_eq!(parse("").unwrap(), RotationConfig::default());
    }

    #[test]
    fn delays_double_and_stop_at_the_cap() {
        let c = parse("attempts = 5\nbase_delay_ms = 100\nmax_delay_ms = 350").unwrap();
        let delays: Vec<u64> = (1..=4)
            .map(|n| c.delay_after(n).as_millis() as u64)
            .collect();
        assert_eq!(delays, [100, 200, 350, 350]);
    }

    #[test]
    fn zero_or_too_many_attempts_are_refused() {
        for bad in ["attempts = 0", "attempts = 21"] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(
                e.contains("rotation.attempts must be between 1 and 20"),
                "{e}"
            );
        }
    }

    #[test]
    fn cap_below_base_is_refused() {
        let e = parse("base_delay_ms = 500\nmax_delay_ms = 10")
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_delay_ms (10) is below"), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(parse("atempts = 2").is_err());
    }
}
