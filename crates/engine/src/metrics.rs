//! The engine's counters, rendered in the Prometheus text format (version 0.0.4) for `serve` to
//! expose at `/metrics`.
//!
//! The counters are process-wide atomics ([`METRICS`]): every bridge in the process adds to the
//! same ones, as a scrape of the process expects. They count events only; no label holds an
//! account name or anything a run handled.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// The process's counters.
pub static METRICS: Metrics = Metrics::new();

/// One counter per event the operators alert or graph on.
#[derive(Debug)]
pub struct Metrics {
    rotations: AtomicU64,
    rotation_retries: AtomicU64,
    rotation_alerts: AtomicU64,
    lease_waits: AtomicU64,
    lease_wait_timeouts: AtomicU64,
    lease_expirations: AtomicU64,
    orphans_killed: AtomicU64,
}

/// Which counter to add to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// A credential was rotated (after a run or by recovery).
    Rotations,
    /// A failed rotation try was tried again.
    RotationRetries,
    /// A rotation failed every try: an alert.
    RotationAlerts,
    /// A run had to wait for an account another run held.
    LeaseWaits,
    /// A run gave up waiting for an account.
    LeaseWaitTimeouts,
    /// A run passed its deadline plus grace and was stopped by the watchdog.
    LeaseExpirations,
    /// Recovery killed the orphaned process group of a crashed run.
    OrphansKilled,
}

impl Counter {
    /// Every counter, in the order they are rendered.
    pub const ALL: [Counter; 7] = [
        Counter::Rotations,
        Counter::RotationRetries,
        Counter::RotationAlerts,
        Counter::LeaseWaits,
        Counter::LeaseWaitTimeouts,
        Counter::LeaseExpirations,
        Counter::OrphansKilled,
    ];

    /// The metric's name.
    pub fn name(self) -> &'static str {
        match self {
            Counter::Rotations => "arkbridge_rotations_total",
            Counter::RotationRetries => "arkbridge_rotation_retries_total",
            Counter::RotationAlerts => "arkbridge_rotation_failures_total",
            Counter::LeaseWaits => "arkbridge_lease_waits_total",
            Counter::LeaseWaitTimeouts => "arkbridge_lease_wait_timeouts_total",
            Counter::LeaseExpirations => "arkbridge_lease_expirations_total",
            Counter::OrphansKilled => "arkbridge_orphan_groups_killed_total",
        }
    }

    fn help(self) -> &'static str {
        match self {
            Counter::Rotations => "Credentials rotated after a run or by recovery.",
            Counter::RotationRetries => "Failed rotation tries that were tried again.",
            Counter::RotationAlerts => {
                "Rotations that failed every try and raised an alert (rotation.failed)."
            }
            Counter::LeaseWaits => "Runs that waited for an account another run held.",
            Counter::LeaseWaitTimeouts => "Runs that gave up waiting for an account in use.",
            Counter::LeaseExpirations => {
                "Runs stopped at their deadline plus grace, their credentials rotated."
            }
            Counter::OrphansKilled => "Orphaned script process groups killed by recovery.",
        }
    }
}

impl Metrics {
    /// All counters at zero.
    pub const fn new() -> Metrics {
        Metrics {
            rotations: AtomicU64::new(0),
            rotation_retries: AtomicU64::new(0),
            rotation_alerts: AtomicU64::new(0),
            lease_waits: AtomicU64::new(0),
            lease_wait_timeouts: AtomicU64::new(0),
            lease_expirations: AtomicU64::new(0),
            orphans_killed: AtomicU64::new(0),
        }
    }

    fn cell(&self, c: Counter) -> &AtomicU64 {
        match c {
            Counter::Rotations => &self.rotations,
            Counter::RotationRetries => &self.rotation_retries,
            Counter::RotationAlerts => &self.rotation_alerts,
            Counter::LeaseWaits => &self.lease_waits,
            Counter::LeaseWaitTimeouts => &self.lease_wait_timeouts,
            Counter::LeaseExpirations => &self.lease_expirations,
            Counter::OrphansKilled => &self.orphans_killed,
        }
    }

    /// Adds `n` to a counter.
    pub fn add(&self, c: Counter, n: u64) {
        self.cell(c).fetch_add(n, Ordering::Relaxed);
    }

    /// Adds one to a counter.
    pub fn inc(&self, c: Counter) {
        self.add(c, 1);
    }

    /// A counter's current value.
    pub fn get(&self, c: Counter) -> u64 {
        self.cell(c).load(Ordering::Relaxed)
    }

    /// Every counter in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for c in Counter::ALL {
            let name = c.name();
            // Writing to a String cannot fail.
            let _ = writeln!(out, "# HELP {name} {}", c.help());
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", self.get(c));
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_lists_every_counter_with_help_type_and_value() {
        let m = Metrics::new();
        m.inc(Counter::RotationAlerts);
        m.add(Counter::RotationRetries, 2);
        let text = m.render();
        assert!(text.contains(
            "# TYPE arkbridge_rotation_failures_total counter\narkbridge_rotation_failures_total 1\n"
        ));
        assert!(text.contains("\narkbridge_rotation_retries_total 2\n"));
        assert!(text.contains("\narkbridge_rotations_total 0\n"));
        assert_eq!(text.lines().filter(|l| l.starts_with("# HELP ")).count(), 7);
        // Every sample line is `name value`, as the exposition format wants.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.split_once(' ').unwrap();
            assert!(name.starts_with("arkbridge_") && name.ends_with("_total"));
            value.parse::<u64>().unwrap();
        }
    }

    #[test]
    fn counter_names_are_unique() {
        let mut names: Vec<&str> = Counter::ALL.iter().map(|c| c.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Counter::ALL.len());
    }
}
