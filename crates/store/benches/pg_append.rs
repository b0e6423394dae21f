//! Audit appends per second on PostgreSQL against SQLite in the same run (see `BENCHMARKS.md`,
//! "Audit appends on PostgreSQL"):
//!
//! * SQLite (`SqliteStore::append_audit`, WAL, `synchronous=FULL`) with 1 and 16 writers: the
//!   single-replica baseline;
//! * PostgreSQL (`PgStore::append_audit`, a throw-away cluster from `initdb` with `fsync=on` and
//!   `synchronous_commit=on`, over loopback TCP) with 1 and 16 writers on one pool, and with 16
//!   writers spread over 2 and 3 pools on the same database, as 2 and 3 replicas would be.
//!
//! Each round runs every configuration once, in an order rotated from round to round, so noise
//! hits all alike; the summary gives the median appends/s over rounds with the spread, and the
//! ratio to SQLite with the same number of writers. At the end both logs are verified
//! (`verify_log`): gapless, one tree.
//!
//! Knobs: `ARKBRIDGE_BENCH_APPENDS` (events per writer per round, default 200),
//! `ARKBRIDGE_BENCH_ROUNDS` (default 5), `ARKBRIDGE_BENCH_DIR` (folder of the SQLite file:
//! default under `target/`). The cluster lives in the system's temporary folder (`TMPDIR`), which
//! should be on a disk too for a fair comparison, not a memory filesystem.

#[path = "../tests/support_pg/mod.rs"]
mod support_pg;

use std::path::PathBuf;
use std::time::Instant;

use arkbridge_audit::{VerifyOptions, verify_log};
use arkbridge_core::audit::{Action, Actor, AuditEvent, AuthMethod, Outcome, Target};
use arkbridge_store::{PgStore, SqliteStore, Store};
use support_pg::PgCluster;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{name} must be a positive integer"))
        })
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A realistic event (about 500 bytes of canonical JSON), without a secret.
fn event(writer: usize, i: usize) -> AuditEvent {
    let mut actor = Actor::user(
        "https://id.example.com/oauth2/default",
        "00u1abcd",
        AuthMethod::Oidc,
    );
    actor.name = Some("alice@example.com".into());
    AuditEvent::new(Action::CredentialIssued)
        .at(1_800_000_000_000_000 + (writer * 1_000_000 + i) as i64)
        .by(actor)
        .target(Target::account("Prod-DB", "payments-db").with_account_id(Some("12_3")))
        .outcome(Outcome::Success)
        .run(format!("run-{writer}-{i}"))
        .details(serde_json::json!({
            "lease_id": i,
            "rotation": "after-run",
            "via": "ccp",
            "page_id": "123456",
            "block": "restart-payments",
            "note": "benchmark event of a realistic size for the audit log of a runbook run",
        }))
}

/// One configuration: which backend, how many writers, over how many pools.
#[derive(Clone, Copy)]
struct Config {
    name: &'static str,
    postgres: bool,
    writers: usize,
    pools: usize,
}

const CONFIGS: &[Config] = &[
    Config {
        name: "sqlite, 1 writer",
        postgres: false,
        writers: 1,
        pools: 1,
    },
    Config {
        name: "sqlite, 16 writers",
        postgres: false,
        writers: 16,
        pools: 1,
    },
    Config {
        name: "postgres, 1 replica, 1 writer",
        postgres: true,
        writers: 1,
        pools: 1,
    },
    Config {
        name: "postgres, 1 replica, 16 writers",
        postgres: true,
        writers: 16,
        pools: 1,
    },
    Config {
        name: "postgres, 2 replicas, 16 writers",
        postgres: true,
        writers: 16,
        pools: 2,
    },
    Config {
        name: "postgres, 3 replicas, 16 writers",
        postgres: true,
        writers: 16,
        pools: 3,
    },
];

/// Appends `appends` events from each of `writers` tasks, spread over `stores`; returns
/// appends per second.
async fn run<S: Store + Clone>(stores: &[S], writers: usize, appends: usize) -> f64 {
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = stores[w % stores.len()].clone();
            tokio::spawn(async move {
                for i in 0..appends {
                    store.append_audit(event(w, i)).await.expect("append");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer task");
    }
    (writers * appends) as f64 / start.elapsed().as_secs_f64()
}

fn bench_dir() -> PathBuf {
    let dir = std::env::var_os("ARKBRIDGE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-pg"));
    std::fs::create_dir_all(&dir).expect("bench folder");
    dir
}

fn main() {
    let appends = env_usize("ARKBRIDGE_BENCH_APPENDS", 200);
    let rounds = env_usize("ARKBRIDGE_BENCH_ROUNDS", 5).max(1);
    let dir = bench_dir();
    let sqlite_dir = tempfile::tempdir_in(&dir).expect("sqlite folder");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cluster = PgCluster::start_with(true);
    runtime.block_on(async {
        let sqlite = SqliteStore::open(&sqlite_dir.path().join("bench.db"))
            .await
            .expect("sqlite store");
        let options = cluster.options("bench").await.max_connections(4);
        let mut pools = Vec::new();
        for _ in 0..3 {
            pools.push(PgStore::connect(&options).await.expect("postgres store"));
        }
        // Warm-up: connections opened, statements prepared, edges cached.
        run(std::slice::from_ref(&sqlite), 16, 20).await;
        run(&pools, 16, 20).await;

        let mut results: Vec<Vec<f64>> = vec![Vec::new(); CONFIGS.len()];
        let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); CONFIGS.len()];
        for round in 0..rounds {
            let mut this_round = vec![0.0; CONFIGS.len()];
            for k in 0..CONFIGS.len() {
                let c = (k + round) % CONFIGS.len();
                let config = CONFIGS[c];
                this_round[c] = if config.postgres {
                    run(&pools[..config.pools], config.writers, appends).await
                } else {
                    run(std::slice::from_ref(&sqlite), config.writers, appends).await
                };
            }
            for (c, config) in CONFIGS.iter().enumerate() {
                let baseline = CONFIGS
                    .iter()
                    .position(|b| !b.postgres && b.writers == config.writers)
                    .expect("an SQLite baseline per writer count");
                results[c].push(this_round[c]);
                ratios[c].push(this_round[c] / this_round[baseline]);
            }
            eprintln!("round {} of {rounds} done", round + 1);
        }
        println!("audit appends per second, {appends} per writer per round, {rounds} rounds");
        println!(
            "{:<36} {:>10} {:>21} {:>14}",
            "configuration", "median/s", "min..max /s", "vs sqlite"
        );
        for (c, config) in CONFIGS.iter().enumerate() {
            let min = results[c].iter().copied().fold(f64::INFINITY, f64::min);
            let max = results[c].iter().copied().fold(0.0, f64::max);
            println!(
                "{:<36} {:>10.0} {:>10.0}..{:<10.0} {:>13.2}x",
                config.name,
                median(results[c].clone()),
                min,
                max,
                median(ratios[c].clone())
            );
        }
        let options = VerifyOptions::default();
        let pg = verify_log(&pools[0], &options)
            .await
            .expect("read")
            .expect("postgres log verifies");
        let lite = verify_log(&sqlite, &options)
            .await
            .expect("read")
            .expect("sqlite log verifies");
        println!(
            "verified: postgres {} records (one gapless tree from 3 pools), sqlite {} records",
            pg.records, lite.records
        );
        for p in &pools {
            p.close().await;
        }
        sqlite.close().await;
    });
}
