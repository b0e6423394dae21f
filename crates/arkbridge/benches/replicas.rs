//! Run throughput and audit appends per second with 1, 2 and 3 `arkbridge serve` replicas on
//! one PostgreSQL database, as ratios to one replica on the embedded SQLite store in the same
//! run (issue 10; see `BENCHMARKS.md`, "Runs with 1 to 3 replicas on PostgreSQL vs one on SQLite").
//!
//! One process starts the simulators (`arkbridge sim`) and a durable throw-away PostgreSQL
//! cluster (`fsync=on`), then runs four phases against the same simulators: (a) one replica on
//! SQLite, the baseline; (b) one, (c) two and (d) three replicas on PostgreSQL, each phase on a
//! fresh database, every replica with `[cluster] poll_millis = 100`. In each phase `C` clients,
//! spread round-robin over the replicas and each calling as its own user, start the read-only
//! health check ("Payments DB health", block `health`) for `T` seconds, each following its run's
//! `/events` stream to the end before starting the next; one run per client before the clock
//! starts warms the replicas up (keys, connection pools, caches). A phase reports runs
//! finished, runs/s, p50/p99 end-to-end latency, audit records appended per second
//! (`Store::audit_size` before and after), and errors; at its end the audit log is verified
//! and, on PostgreSQL, every accepted run must be in the run queue exactly once, finished.
//!
//! The demo rotates the health check's `Prod-DB/payments-db` after every run, which makes runs
//! wait for its account lock one at a time; the benchmark's seed sets `Prod-DB` rotation to
//! `none` so that runs overlap, unless `REPLICA_BENCH_ROTATE=1` (the demo's policy as it is).
//!
//! Knobs: `REPLICA_BENCH_CLIENTS` (default 16), `REPLICA_BENCH_SECS` (default 30),
//! `REPLICA_BENCH_ROUNDS` (default 1; each further round runs the four phases again in an order
//! rotated by one), `REPLICA_BENCH_ROTATE` (0 or 1, default 0). Exits non-zero if anything
//! failed. Runs only under `cargo bench` (or with `--bench`), not when `cargo test --all-targets`
//! starts it.

#[path = "../tests/support.rs"]
mod support;
#[path = "../../store/tests/support_pg/mod.rs"]
mod support_pg;

#[path = "replicas_bench/clients.rs"]
mod clients;
#[path = "replicas_bench/report.rs"]
mod report;
#[path = "replicas_bench/setup.rs"]
mod setup;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arkbridge_audit::{VerifyOptions, verify_log};
use arkbridge_store::{AnyStore, Store};
use clients::{Clients, percentile_ms};
use report::{Outcome, PHASES, Phase, print_phase, print_summary};
use setup::Backend;
use support::Sim;
use support_pg::PgCluster;

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => match v.trim().parse() {
            Ok(n) if n > 0 => n,
            _ => panic!("{name} must be a positive integer, not {v:?}"),
        },
        Err(_) => default,
    }
}

/// Everything the phases share; dropped in this order (the folder last, after the processes).
struct Bench {
    clients: Arc<Clients>,
    rt: tokio::runtime::Runtime,
    pg: PgCluster,
    sim: Sim,
    client_count: usize,
    secs: u64,
    root: tempfile::TempDir,
}

impl Bench {
    fn run_phase(&self, phase: Phase, round: usize) -> Outcome {
        let dir = self.root.path().join(format!(
            "round-{round}-{}",
            phase.name.replace([',', ' '], "")
        ));
        std::fs::create_dir_all(dir.join("tmp")).expect("create the phase's folder");
        let backend = if phase.postgres {
            let name = format!("bench_r{round}_{}", phase.replicas);
            Backend::Postgres {
                url: self.rt.block_on(self.pg.database(&name)),
            }
        } else {
            Backend::Sqlite
        };
        let replicas: Vec<setup::Replica> = (0..phase.replicas)
            .map(|n| {
                let config = setup::write_config(&self.sim, &dir, &backend, n);
                setup::start_replica(&dir, &config, n)
            })
            .collect();
        let mut outcome = self.rt.block_on(async {
            let store = setup::open_store(&backend, &replicas[0]).await;
            let outcome = self.measure(&store, &backend, &replicas).await;
            let outcome = check(outcome, &store, phase.postgres).await;
            store.close().await;
            outcome
        });
        // The replicas' own complaints, if any, point at the cause of an error.
        for r in &replicas {
            let log = std::fs::read_to_string(&r.log).unwrap_or_default();
            if let Some(line) = log.lines().find(|l| l.contains("ERROR")) {
                outcome.error("replica log", format!("{}: {line}", r.log.display()));
            }
        }
        outcome
    }

    /// Every client on its replica until `deadline`, for at most `limit` runs each.
    fn spawn_clients(
        &self,
        replicas: &[setup::Replica],
        deadline: Instant,
        limit: usize,
    ) -> Vec<tokio::task::JoinHandle<clients::ClientStats>> {
        (0..self.client_count)
            .map(|n| {
                let clients = self.clients.clone();
                let replica = replicas[n % replicas.len()].url.clone();
                tokio::spawn(async move {
                    clients
                        .run_client(setup::client_email(n), replica, deadline, limit)
                        .await
                })
            })
            .collect()
    }

    /// Runs the clients for the phase's time against `replicas`, after one unmeasured run per
    /// client (the replicas' first runs fetch keys, open connection pools and fill caches).
    async fn measure(
        &self,
        store: &AnyStore,
        backend: &Backend,
        replicas: &[setup::Replica],
    ) -> Outcome {
        let mut outcome = Outcome::default();
        let warm_up = Instant::now() + Duration::from_secs(120);
        for task in self.spawn_clients(replicas, warm_up, 1) {
            let stats = task.await.expect("a client task panicked");
            outcome.accepted += stats.accepted;
            for (kind, n) in stats.errors {
                *outcome.errors.entry(kind).or_default() += n;
            }
            for (kind, message) in stats.samples {
                outcome.samples.entry(kind).or_insert(message);
            }
        }
        let before = store.audit_size().await.expect("audit size before");
        let commits_before = setup::pg_commits(backend).await;
        let start = Instant::now();
        let deadline = start + Duration::from_secs(self.secs);
        let tasks = self.spawn_clients(replicas, deadline, usize::MAX);
        let mut latencies = Vec::new();
        let mut minting = Duration::ZERO;
        let mut attempts = 0usize;
        let mut end = start;
        for task in tasks {
            let stats = task.await.expect("a client task panicked");
            outcome.accepted += stats.accepted;
            attempts += stats.latencies.len() + stats.errors.values().sum::<usize>();
            latencies.extend(stats.latencies);
            minting += stats.minting;
            end = end.max(stats.finished_at.unwrap_or(start));
            for (kind, n) in stats.errors {
                *outcome.errors.entry(kind).or_default() += n;
            }
            for (kind, message) in stats.samples {
                outcome.samples.entry(kind).or_insert(message);
            }
        }
        let after = store.audit_size().await.expect("audit size after");
        let commits_after = setup::pg_commits(backend).await;
        outcome.pg_commits = commits_before
            .zip(commits_after)
            .map(|(b, a)| a.saturating_sub(b));
        latencies.sort();
        outcome.runs = latencies.len();
        outcome.wall = end - start;
        outcome.p50_ms = percentile_ms(&latencies, 50.0);
        outcome.p99_ms = percentile_ms(&latencies, 99.0);
        outcome.appended = after.saturating_sub(before);
        outcome.minting_ms_per_run = minting.as_secs_f64() * 1000.0 / attempts.max(1) as f64;
        outcome
    }
}

/// After a phase: the audit log verifies, and on PostgreSQL every run the clients finished is
/// in the queue once, finished (none lost, none doubled).
async fn check(mut outcome: Outcome, store: &AnyStore, postgres: bool) -> Outcome {
    match verify_log(store, &VerifyOptions::default()).await {
        Ok(Ok(report)) => {
            let size = store.audit_size().await.unwrap_or(0);
            if report.records != size {
                outcome.error(
                    "check",
                    format!("verified {} records of {size}", report.records),
                );
            }
        }
        Ok(Err(failure)) => outcome.error("check", format!("audit verify: {failure}")),
        Err(e) => outcome.error("check", format!("audit verify: {e}")),
    }
    if let (true, AnyStore::Postgres(pg)) = (postgres, store) {
        match pg.pg_cluster().api_run_counts().await {
            Ok(counts) => {
                let total: i64 = counts.iter().map(|(_, _, n)| n).sum();
                let open: i64 = counts
                    .iter()
                    .filter(|(state, _, _)| state != "finished")
                    .map(|(_, _, n)| n)
                    .sum();
                if open != 0 || total != outcome.accepted as i64 {
                    outcome.error(
                        "check",
                        format!(
                            "run queue {counts:?} for {} runs accepted",
                            outcome.accepted
                        ),
                    );
                }
            }
            Err(e) => outcome.error("check", format!("run queue: {e}")),
        }
    }
    outcome
}

fn run() -> bool {
    let client_count = env_usize("REPLICA_BENCH_CLIENTS", 16);
    let secs = env_usize("REPLICA_BENCH_SECS", 30) as u64;
    let rounds = env_usize("REPLICA_BENCH_ROUNDS", 1);
    let rotate = match std::env::var("REPLICA_BENCH_ROTATE").as_deref() {
        Ok("1") => true,
        Ok("0") | Err(_) => false,
        Ok(other) => panic!("REPLICA_BENCH_ROTATE must be 0 or 1, not {other:?}"),
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("# arkbridge replicas benchmark (issue 10)");
    println!(
        "cpus: {cpus}, load average at start: {}, profile: {}, clients: {client_count}, \
         {secs} s per phase, rounds: {rounds}, [cluster] poll_millis = 100, PostgreSQL with \
         fsync=on, Prod-DB rotation: {}",
        setup::loadavg(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        if rotate { "after-run" } else { "none" },
    );
    let root = support::test_root();
    let sim = support::start_sim(root.path(), &setup::seed(client_count, rotate));
    let rt = support::rt();
    let pg = PgCluster::start_with(true);
    let page_id = support::page_id_by_title(&sim, "Payments DB health");
    let ca = std::fs::read(sim.info["ca_cert"].as_str().expect("the sim's CA path"))
        .expect("read the sim's CA");
    let sim_http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).expect("the sim's CA")])
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTPS client");
    let clients = Arc::new(Clients {
        sim_http,
        // A run that never ends fails after two minutes instead of hanging the benchmark.
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("an HTTP client"),
        fit_url: sim.info["identity"]["forge_fit_url"]
            .as_str()
            .expect("the sim's Forge token URL")
            .to_string(),
        page_id,
    });
    let bench = Bench {
        clients,
        rt,
        pg,
        sim,
        client_count,
        secs,
        root,
    };
    let mut results = Vec::new();
    for round in 0..rounds {
        let mut outcomes: Vec<Option<Outcome>> = PHASES.iter().map(|_| None).collect();
        for step in 0..PHASES.len() {
            let i = (step + round) % PHASES.len();
            let outcome = bench.run_phase(PHASES[i], round + 1);
            print_phase(PHASES[i], round + 1, &outcome);
            outcomes[i] = Some(outcome);
        }
        results.push(outcomes.into_iter().flatten().collect::<Vec<_>>());
    }
    print_summary(&results);
    println!("load average at the end: {}", setup::loadavg());
    let errors: usize = results.iter().flatten().map(Outcome::error_count).sum();
    if errors > 0 {
        let kept = bench.root.keep();
        println!(
            "FAILED: {errors} errors; the replicas' logs are kept in {}",
            kept.display()
        );
        return false;
    }
    true
}

fn main() -> ExitCode {
    // `cargo test --all-targets` runs bench binaries too; this one measures only when asked.
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "the replicas benchmark runs only under `cargo bench` (or with `--bench`); skipped"
        );
        return ExitCode::SUCCESS;
    }
    if run() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
