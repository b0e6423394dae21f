//! The `[cluster]` section of `arkbridge.toml`: how `arkbridge serve` replicas sharing one
//! PostgreSQL store (`[store] url`) cooperate. Ignored on the embedded SQLite store, which serves
//! one replica.
//!
//! ```toml
//! [cluster]
//! heartbeat_secs = 5        # how often a replica records that it is alive
//! dead_after_secs = 30      # silence after which another replica recovers its runs
//! max_runs = 16             # runs one replica executes at a time (the rest wait in the queue)
//! poll_millis = 250         # how often a replica looks for queued runs and new output
//! ```

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The `[cluster]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    pub heartbeat_secs: u64,
    pub dead_after_secs: u64,
    pub max_runs: u32,
    pub poll_millis: u64,
}

impl Default for ClusterConfig {
    fn default() -> ClusterConfig {
        ClusterConfig {
            heartbeat_secs: 5,
            dead_after_secs: 30,
            max_runs: 16,
            poll_millis: 250,
        }
    }
}

impl ClusterConfig {
    /// Whether every setting is the default (the section is then left out of written configs).
    pub fn is_default(&self) -> bool {
        *self == ClusterConfig::default()
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.heartbeat_secs == 0 || self.max_runs == 0 || self.poll_millis == 0 {
            return Err(ConfigError::Invalid(
                "cluster.heartbeat_secs, cluster.max_runs and cluster.poll_millis must be > 0"
                    .into(),
            ));
        }
        // A replica must miss at least two heartbeats before another one takes its runs over,
        // or one slow database round trip would make two replicas rotate the same leases.
        if self.dead_after_secs < self.heartbeat_secs.saturating_mul(2) {
            return Err(ConfigError::Invalid(format!(
                "cluster.dead_after_secs ({}) must be at least twice cluster.heartbeat_secs ({})",
                self.dead_after_secs, self.heartbeat_secs
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_shorter_than_two_heartbeats_is_refused() {
        let c = ClusterConfig {
            heartbeat_secs: 10,
            dead_after_secs: 15,
            ..ClusterConfig::default()
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("at least twice"), "{e}");
        assert!(ClusterConfig::default().validate().is_ok());
    }
}
