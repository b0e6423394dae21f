//! Audit log benchmarks (see `BENCHMARKS.md`, "Audit log"):
//!
//! 1. **Durable appends per second** with 1 and 16 concurrent writers, through
//!    `SqliteStore::append_audit` (group commit, Merkle nodes, search indexes, `synchronous=FULL`)
//!    against a baseline that writes the same canonical record text with a plain
//!    `BEGIN IMMEDIATE; SELECT max(seq); INSERT; COMMIT` per event on an identically configured
//!    SQLite file (no nodes, no indexes, no grouping). Rounds alternate the order of the two
//!    sides. A third line times `append_audit_batch` (one writer, 1,000 events per transaction).
//! 2. **`audit verify` over N events** (default 1,000,000): `verify_log` over the store (with one
//!    checkpoint at the end, whose root it must meet) against the baseline of SHA-256 over the
//!    same record bytes, already in memory, in the same run. Reported as wall time, process CPU
//!    time (all threads, from `/proc/self/stat`) and the verify/baseline ratio.
//!
//! Knobs (environment variables):
//! * `ARKBRIDGE_BENCH_DIR`      folder for the store files (default: a temporary folder under
//!   `target/`, on the same disk as the workspace); `/dev/shm/...` takes fsync out of the picture
//! * `ARKBRIDGE_BENCH_APPENDS`  events per writer per round (default 200)
//! * `ARKBRIDGE_BENCH_ROUNDS`   rounds per writer count (default 5)
//! * `ARKBRIDGE_BENCH_WRITERS`  comma-separated writer counts (default `1,16`)
//! * `ARKBRIDGE_BENCH_EVENTS`   events in the verify benchmark (default 1000000)
//! * `ARKBRIDGE_BENCH_ONLY`     `append` or `verify`: run one part only
//! * `ARKBRIDGE_BENCH_SYNTHETIC_TIME=1`  events stamped with a fixed time plus their number
//!   instead of the time they are made (see `event_time`)
//!
//! The events are realistic (actor, target, details ~ 500 bytes of canonical JSON) and hold no
//! secret.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arkbridge_audit::{Checkpointer, SigningKey, VerifyOptions, verify_log};
use arkbridge_core::audit::{Action, Actor, AuditEvent, AuthMethod, Outcome, Target, encode};
use arkbridge_store::{SqliteStore, Store};
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a positive integer")),
        Err(_) => default,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn spread(v: &[f64]) -> (f64, f64) {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

/// Process CPU time (user + system, all threads), from `/proc/self/stat`.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the file, 12 and 13 after the name; clock ticks
    // are 100 per second on Linux.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// When an event happened: now, as the engine stamps its events, so the log's time index grows
/// at its end; with `ARKBRIDGE_BENCH_SYNTHETIC_TIME=1`, a fixed time plus the event's number (the
/// first version of this benchmark), which with 16 writers scatters each batch over 16 places
/// of the time index.
fn event_time(i: u64) -> i64 {
    static SYNTHETIC: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *SYNTHETIC
        .get_or_init(|| std::env::var("ARKBRIDGE_BENCH_SYNTHETIC_TIME").is_ok_and(|v| v == "1"))
    {
        1_764_504_000_000_000 + i as i64
    } else {
        arkbridge_audit::time::now_us()
    }
}

/// A realistic event (~500 bytes canonical).
fn event(i: u64) -> AuditEvent {
    let users = ["alice@example.com", "bob@example.com", "carol@example.com"];
    let mut actor = Actor::user(
        "https://id.example.com/oauth2/default",
        users[i as usize % 3],
        AuthMethod::Oidc,
    );
    actor.name = Some("Alice Liddell".into());
    actor.session_id = Some(format!("9f1c2a7e-{i:012}"));
    AuditEvent::new(Action::CredentialIssued)
        .at(event_time(i))
        .by(actor)
        .from_address("10.20.30.40")
        .target(Target {
            page_id: Some("1001".into()),
            page_version: Some(7),
            block: Some("restart".into()),
            ..Target::account("Prod-DB", "payments-db").with_account_id(Some("12_3"))
        })
        .outcome(Outcome::Success)
        .reason("page 1001 v7 block restart")
        .run(format!("3c6f0d5e-7a1b-4c2d-9e8f-{i:012}"))
        .details(serde_json::json!({ "lease": i, "via": "ccp", "mode": "write" }))
}

async fn open_baseline(path: &Path) -> sqlx::SqlitePool {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(30));
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, record TEXT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    pool
}

/// The baseline append: the record's canonical text in one durable transaction of its own.
async fn baseline_append(pool: &sqlx::SqlitePool, i: u64) {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(seq), 0) FROM log")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let record = encode(n + 1, event(i));
    sqlx::query("INSERT INTO log (seq, record) VALUES ($1, $2)")
        .bind(n + 1)
        .bind(record.canonical)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Arkbridge,
    Baseline,
    Batch,
}

/// Events per second for `writers` tasks appending `per_writer` events each.
async fn appends(
    side: Side,
    store: &SqliteStore,
    pool: &sqlx::SqlitePool,
    writers: usize,
    per_writer: usize,
) -> f64 {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (store, pool) = (store.clone(), pool.clone());
        tasks.push(tokio::spawn(async move {
            let base = (w * per_writer) as u64;
            match side {
                Side::Arkbridge => {
                    for i in 0..per_writer as u64 {
                        black_box(store.append_audit(event(base + i)).await.unwrap());
                    }
                }
                Side::Baseline => {
                    for i in 0..per_writer as u64 {
                        baseline_append(&pool, base + i).await;
                    }
                }
                Side::Batch => {
                    for chunk in (0..per_writer as u64).collect::<Vec<_>>().chunks(1000) {
                        let events = chunk.iter().map(|i| event(base + i)).collect();
                        black_box(store.append_audit_batch(events).await.unwrap());
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (writers * per_writer) as f64 / start.elapsed().as_secs_f64()
}

async fn bench_appends(dir: &Path) {
    let per_writer = env_usize("ARKBRIDGE_BENCH_APPENDS", 200).max(1);
    let rounds = env_usize("ARKBRIDGE_BENCH_ROUNDS", 5).max(1);
    let writers: Vec<usize> = std::env::var("ARKBRIDGE_BENCH_WRITERS")
        .unwrap_or_else(|_| "1,16".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("ARKBRIDGE_BENCH_WRITERS: positive integers")
        })
        .collect();
    let store = SqliteStore::open(&dir.join("appends.db")).await.unwrap();
    let pool = open_baseline(&dir.join("baseline.db")).await;
    println!("\n## Durable appends ({per_writer} events per writer per round, {rounds} rounds)\n");
    println!("| writers | arkbridge events/s | baseline events/s | ratio [min..max] |");
    println!("|---|---|---|---|");
    for &w in &writers {
        // Warm-up of both sides.
        appends(Side::Arkbridge, &store, &pool, w, per_writer / 4 + 1).await;
        appends(Side::Baseline, &store, &pool, w, per_writer / 4 + 1).await;
        let (mut ours, mut base, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            let order = if round % 2 == 0 {
                [Side::Arkbridge, Side::Baseline]
            } else {
                [Side::Baseline, Side::Arkbridge]
            };
            let mut got = [0.0; 2];
            for side in order {
                let rate = appends(side, &store, &pool, w, per_writer).await;
                got[usize::from(side == Side::Baseline)] = rate;
            }
            ours.push(got[0]);
            base.push(got[1]);
            ratios.push(got[0] / got[1]);
        }
        let (lo, hi) = spread(&ratios);
        println!(
            "| {w} | {:.0} | {:.0} | {:.2} [{lo:.2}..{hi:.2}] |",
            median(ours),
            median(base),
            median(ratios.clone())
        );
    }
    let batch: Vec<f64> = {
        let mut v = Vec::new();
        for _ in 0..rounds {
            v.push(appends(Side::Batch, &store, &pool, 1, per_writer.max(1000) * 10).await);
        }
        v
    };
    let (lo, hi) = spread(&batch);
    println!(
        "\n`append_audit_batch`, 1 writer, 1,000 events per transaction: {:.0} events/s [{lo:.0}..{hi:.0}]",
        median(batch)
    );
    println!(
        "store now holds {} records; it verifies: {}",
        store.audit_size().await.unwrap(),
        verify_log(&store, &VerifyOptions::default())
            .await
            .unwrap()
            .is_ok()
    );
}

async fn bench_verify(dir: &Path) {
    let n = env_usize("ARKBRIDGE_BENCH_EVENTS", 1_000_000) as u64;
    let store = SqliteStore::open(&dir.join(format!("verify-{n}.db")))
        .await
        .unwrap();
    let have = store.audit_size().await.unwrap();
    if have != n {
        assert_eq!(have, 0, "verify-{n}.db holds {have} records; remove it");
        let start = Instant::now();
        let mut i = 0;
        while i < n {
            let chunk = (n - i).min(10_000);
            store
                .append_audit_batch((i..i + chunk).map(event).collect())
                .await
                .unwrap();
            i += chunk;
        }
        println!(
            "\nbuilt a log of {n} events in {:.1} s",
            start.elapsed().as_secs_f64()
        );
    }
    let (private, public) = arkbridge_audit::keys::generate("bench.example/audit").unwrap();
    if store.audit_checkpoints().await.unwrap().is_empty() {
        let key = Arc::new(SigningKey::from_base64("bench.example/audit", &private).unwrap());
        let start = Instant::now();
        Checkpointer::new(store.clone(), key)
            .checkpoint()
            .await
            .unwrap();
        println!(
            "first checkpoint (checks all {n} records it signs): {:.1} s",
            start.elapsed().as_secs_f64()
        );
    }
    // The baseline's input: every record's exact bytes, in memory.
    let mut bytes: Vec<String> = Vec::with_capacity(n as usize);
    let mut after = 0;
    loop {
        let page = store.audit_leaves(after, 50_000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        bytes.extend(page.into_iter().map(|l| l.record));
    }
    let total: usize = bytes.iter().map(String::len).sum();
    println!(
        "\n## `audit verify` over {n} events ({:.0} MB of canonical records, {:.0} bytes each)\n",
        total as f64 / 1e6,
        total as f64 / n as f64
    );
    println!("| round | verify wall s | verify CPU s | SHA-256 wall s | ratio wall | ratio CPU |");
    println!("|---|---|---|---|---|---|");
    // Signatures are not checked here (the key of a reused store is gone); their cost is one
    // Ed25519 verification per checkpoint, nothing next to a million leaves.
    let _ = public;
    let options = VerifyOptions::default();
    let mut ratios = Vec::new();
    for round in 0..3 {
        let verify = async {
            let (w, c) = (Instant::now(), cpu_time());
            let report = verify_log(&store, &options).await.unwrap().unwrap();
            assert_eq!(report.records, n);
            (w.elapsed(), cpu_time() - c)
        };
        let sha = || {
            let (w, c) = (Instant::now(), cpu_time());
            for b in &bytes {
                black_box(Sha256::digest(b.as_bytes()));
            }
            (w.elapsed(), cpu_time() - c)
        };
        let ((vw, vc), (sw, sc)) = if round % 2 == 0 {
            let v = verify.await;
            (v, sha())
        } else {
            let s = sha();
            (verify.await, s)
        };
        ratios.push(vw.as_secs_f64() / sw.as_secs_f64());
        println!(
            "| {} | {:.2} | {:.2} | {:.3} | {:.1} | {:.1} |",
            round + 1,
            vw.as_secs_f64(),
            vc.as_secs_f64(),
            sw.as_secs_f64(),
            vw.as_secs_f64() / sw.as_secs_f64(),
            vc.as_secs_f64() / sc.as_secs_f64().max(1e-3)
        );
    }
    println!("\nmedian verify/SHA-256 wall ratio: {:.1}", median(ratios));
}

fn main() {
    let dir: PathBuf = match std::env::var("ARKBRIDGE_BENCH_DIR") {
        Ok(d) => PathBuf::from(d),
        Err(_) => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/audit-bench"),
    };
    std::fs::create_dir_all(&dir).unwrap();
    let scratch = tempfile::tempdir_in(&dir).unwrap();
    let only = std::env::var("ARKBRIDGE_BENCH_ONLY").ok();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "# arkbridge audit benchmark (store files in {})",
        dir.display()
    );
    rt.block_on(async {
        if only.as_deref() != Some("verify") {
            bench_appends(scratch.path()).await;
        }
        if only.as_deref() != Some("append") {
            bench_verify(&dir).await;
        }
    });
}
