//! Summaries of a phase of the load test: runs, runs per second, and percentiles of the start
//! latency, of the first output and of the whole run as the caller saw it.

use std::time::Duration;

use crate::caller::RunResult;

/// One phase's numbers.
#[derive(Debug, Clone)]
pub(crate) struct Phase {
    pub(crate) name: &'static str,
    pub(crate) callers: usize,
    /// Runs that started (`202`).
    pub(crate) started: usize,
    /// Runs that started and ended without an error.
    pub(crate) succeeded: usize,
    pub(crate) errors: usize,
    /// From the phase's start until its last caller was done.
    pub(crate) wall: Duration,
    pub(crate) start: Percentiles,
    pub(crate) first_output: Percentiles,
    pub(crate) total: Percentiles,
}

/// p50, p99 and max of a set of durations (zero when empty).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Percentiles {
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) max: Duration,
}

impl Percentiles {
    /// Nearest-rank percentiles of `values`.
    pub(crate) fn of(mut values: Vec<Duration>) -> Percentiles {
        if values.is_empty() {
            return Percentiles::default();
        }
        values.sort_unstable();
        let rank = |p: f64| {
            let r = (p * values.len() as f64).ceil() as usize;
            values[r.clamp(1, values.len()) - 1]
        };
        Percentiles {
            p50: rank(0.50),
            p99: rank(0.99),
            max: values[values.len() - 1],
        }
    }
}

impl Phase {
    pub(crate) fn of(
        name: &'static str,
        callers: usize,
        wall: Duration,
        results: &[RunResult],
    ) -> Phase {
        Phase {
            name,
            callers,
            started: results.iter().filter(|r| r.start.is_some()).count(),
            succeeded: results.iter().filter(|r| r.error.is_none()).count(),
            errors: results.iter().filter(|r| r.error.is_some()).count(),
            wall,
            start: Percentiles::of(results.iter().filter_map(|r| r.start).collect()),
            first_output: Percentiles::of(results.iter().filter_map(|r| r.first_output).collect()),
            total: Percentiles::of(results.iter().filter_map(|r| r.total).collect()),
        }
    }

    /// Successful runs per second of wall time.
    pub(crate) fn rate(&self) -> f64 {
        self.succeeded as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// A row of the results table.
    pub(crate) fn row(&self) -> String {
        format!(
            "| {} | {} | {} | {:.1} | {:.1} / {:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} | {} |",
            self.name,
            self.callers,
            self.started,
            self.rate(),
            ms(self.start.p50),
            ms(self.start.p99),
            ms(self.start.max),
            ms(self.first_output.p50),
            ms(self.first_output.p99),
            ms(self.total.p50),
            ms(self.total.p99),
            self.errors,
        )
    }
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The ratio `a / b`, or `n/a` when `b` is zero.
pub(crate) fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "n/a".into()
    }
}
