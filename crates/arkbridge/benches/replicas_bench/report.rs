//! What a phase of the replicas benchmark measured, and how it is printed: one line per phase
//! as it ends, then a Markdown table of every round with the ratios to the SQLite phase of the
//! same round (and, with several rounds, the medians of those ratios).

use std::collections::BTreeMap;
use std::time::Duration;

/// One phase: how many replicas, on which store.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Phase {
    pub(crate) name: &'static str,
    pub(crate) replicas: usize,
    pub(crate) postgres: bool,
}

pub(crate) const PHASES: [Phase; 4] = [
    Phase {
        name: "sqlite, 1 replica",
        replicas: 1,
        postgres: false,
    },
    Phase {
        name: "postgres, 1 replica",
        replicas: 1,
        postgres: true,
    },
    Phase {
        name: "postgres, 2 replicas",
        replicas: 2,
        postgres: true,
    },
    Phase {
        name: "postgres, 3 replicas",
        replicas: 3,
        postgres: true,
    },
];

/// What one phase measured.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) runs: usize,
    /// Runs the API accepted, the warm-up's included.
    pub(crate) accepted: usize,
    pub(crate) wall: Duration,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) appended: u64,
    pub(crate) errors: BTreeMap<&'static str, usize>,
    pub(crate) samples: BTreeMap<&'static str, String>,
    pub(crate) minting_ms_per_run: f64,
    /// PostgreSQL transactions committed during the phase (`None` on SQLite).
    pub(crate) pg_commits: Option<i64>,
}

impl Outcome {
    pub(crate) fn runs_per_sec(&self) -> f64 {
        self.runs as f64 / self.wall.as_secs_f64()
    }

    pub(crate) fn appends_per_sec(&self) -> f64 {
        self.appended as f64 / self.wall.as_secs_f64()
    }

    /// PostgreSQL transactions per finished run, as text (`-` on SQLite).
    pub(crate) fn commits_per_run(&self) -> String {
        self.pg_commits.map_or("-".into(), |n| {
            format!("{:.1}", n as f64 / self.runs.max(1) as f64)
        })
    }

    pub(crate) fn error_count(&self) -> usize {
        self.errors.values().sum()
    }

    pub(crate) fn error(&mut self, kind: &'static str, message: String) {
        *self.errors.entry(kind).or_default() += 1;
        self.samples.entry(kind).or_insert(message);
    }
}

pub(crate) fn print_phase(phase: Phase, round: usize, o: &Outcome) {
    println!(
        "round {round}, {}: {} runs in {:.1} s = {:.1} runs/s; latency p50 {:.0} ms, p99 {:.0} ms; \
         audit +{} = {:.0} appends/s ({:.1} per run); PostgreSQL transactions per run: {}; \
         token minting {:.1} ms per run; errors {}",
        phase.name,
        o.runs,
        o.wall.as_secs_f64(),
        o.runs_per_sec(),
        o.p50_ms,
        o.p99_ms,
        o.appended,
        o.appends_per_sec(),
        o.appended as f64 / o.runs.max(1) as f64,
        o.commits_per_run(),
        o.minting_ms_per_run,
        o.error_count(),
    );
    for (kind, n) in &o.errors {
        println!(
            "  {n} × {kind}, first: {}",
            o.samples.get(kind).map_or("", String::as_str)
        );
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The table of every round, then (with several rounds) the medians of the per-round ratios.
pub(crate) fn print_summary(results: &[Vec<Outcome>]) {
    println!();
    println!(
        "| round | phase | runs | runs/s | p50 / p99 ms | appends/s | records/run | pg tx/run | errors | runs/s vs sqlite | appends/s vs sqlite |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (round, outcomes) in results.iter().enumerate() {
        let base = &outcomes[0];
        for (phase, o) in PHASES.iter().zip(outcomes) {
            println!(
                "| {} | {} | {} | {:.1} | {:.0} / {:.0} | {:.0} | {:.1} | {} | {} | {:.2} | {:.2} |",
                round + 1,
                phase.name,
                o.runs,
                o.runs_per_sec(),
                o.p50_ms,
                o.p99_ms,
                o.appends_per_sec(),
                o.appended as f64 / o.runs.max(1) as f64,
                o.commits_per_run(),
                o.error_count(),
                o.runs_per_sec() / base.runs_per_sec(),
                o.appends_per_sec() / base.appends_per_sec(),
            );
        }
    }
    if results.len() > 1 {
        println!();
        println!("| phase | median runs/s vs sqlite | median appends/s vs sqlite |");
        println!("|---|---:|---:|");
        for (i, phase) in PHASES.iter().enumerate() {
            let ratio = |f: fn(&Outcome) -> f64| {
                median(results.iter().map(|r| f(&r[i]) / f(&r[0])).collect())
            };
            println!(
                "| {} | {:.2} | {:.2} |",
                phase.name,
                ratio(Outcome::runs_per_sec),
                ratio(Outcome::appends_per_sec)
            );
        }
    }
}
