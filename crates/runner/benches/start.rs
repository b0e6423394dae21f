//! Run start overhead: `arkbridge_runner::run` against a bare fork+exec of the same interpreter,
//! side by side, in the same run (see `BENCHMARKS.md`).
//!
//! Each request runs a script whose first command prints `$EPOCHREALTIME` (bash's wall clock,
//! in microseconds) and exits. The time from the request to that moment is the start latency:
//! everything before the interpreter's exec, the exec, and the interpreter's own start-up,
//! which both sides share. CyberArk is not involved: the secrets are given.
//!
//! | side | one request |
//! |---|---|
//! | **arkbridge** | build the `Masker` of the run's two secrets, then `run()`: binding checks, interpreter and `prlimit` lookup, the limits, a private directory on `/dev/shm` with the script and a 0600 secret file, a cleared environment, spawn (`prlimit` execs `bash`), masked reads of stdout and stderr, group kill, removal of the directory |
//! | **bare** | `tokio::process::Command` running `bash --noprofile --norc -c SCRIPT` with the same cleared environment (minus the secrets), piped stdout and stderr, read to the end, wait |
//! | **prlimit** (for the breakdown) | the bare side started through `prlimit` with the same limits |
//!
//! Rounds alternate the order of the sides (arkbridge, bare, prlimit; then bare, prlimit,
//! arkbridge; ...). Per round and side: p50 and p99 of the start latency and of the whole
//! request (until the outcome is back). The summary gives medians over rounds, the
//! arkbridge/bare ratios with their spread (min..max) and the added milliseconds.
//!
//! Knobs (environment variables):
//! * `ARKBRIDGE_BENCH_RUNS`   requests per side per round (default 200)
//! * `ARKBRIDGE_BENCH_ROUNDS` rounds (default 10)
//! * `ARKBRIDGE_BENCH_WARMUP` requests per side before measuring (default 30)

use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arkbridge_core::mask::Masker;
use arkbridge_runner::{Interpreter, Limits, RunSpec, SEARCH_PATH};
use secrecy::SecretString;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

const SCRIPT: &str = "printf '%s\\n' \"$EPOCHREALTIME\"\n";
const SECRET_A: &str = "bench-Secret/Value+1";
const SECRET_B: &str = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n-----END KEY-----";

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a positive integer")),
        Err(_) => default,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Arkbridge,
    Bare,
    Prlimit,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Arkbridge => "arkbridge",
            Side::Bare => "bare",
            Side::Prlimit => "prlimit",
        }
    }
}

/// Microseconds since the epoch, now.
fn now_us() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
        * 1e6
}

/// The `$EPOCHREALTIME` the script printed, in microseconds.
fn printed_us(output: &[u8]) -> f64 {
    let text = String::from_utf8_lossy(output);
    let line = text.lines().next().expect("the script printed its start");
    line.trim().parse::<f64>().expect("EPOCHREALTIME") * 1e6
}

/// One request: (start latency, whole request), in microseconds.
async fn request(side: Side, n: usize) -> (f64, f64) {
    let t0 = now_us();
    let started = Instant::now();
    let output = match side {
        Side::Arkbridge => {
            let masker = Masker::with_default_mask([SECRET_A, SECRET_B]);
            let spec = RunSpec {
                run_id: format!("bench-{n}"),
                page_id: "12345".into(),
                mode: "read".into(),
                interpreter: Interpreter::Bash,
                script: SCRIPT.into(),
                secret_vars: vec![("DB_PASSWORD".into(), SecretString::from(SECRET_A))],
                secret_files: vec![("KEY_FILE".into(), SecretString::from(SECRET_B))],
                timeout: Duration::from_secs(60),
                limits: Limits::default(),
            };
            let outcome = arkbridge_runner::run(spec, &masker, &mut |_, _| {})
                .await
                .expect("run");
            assert!(outcome.succeeded());
            outcome.output
        }
        Side::Bare | Side::Prlimit => {
            let mut cmd = if side == Side::Bare {
                Command::new("/usr/bin/bash")
            } else {
                let mut c = Command::new("/usr/bin/prlimit");
                c.args([
                    "--cpu=60:61",
                    "--data=2147483648:2147483648",
                    "--nofile=1024:1024",
                    "--fsize=1073741824:1073741824",
                    "--core=0:0",
                    "--",
                    "/usr/bin/bash",
                ]);
                c
            };
            let mut child = cmd
                .args(["--noprofile", "--norc", "-c", SCRIPT])
                .env_clear()
                .env("PATH", SEARCH_PATH)
                .env("LANG", "C.UTF-8")
                .env("ARKBRIDGE_RUN_ID", format!("bench-{n}"))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn bash");
            let mut out = Vec::new();
            let mut err = Vec::new();
            let mut so = child.stdout.take().unwrap();
            let mut se = child.stderr.take().unwrap();
            let (a, b) = tokio::join!(so.read_to_end(&mut out), se.read_to_end(&mut err));
            a.and(b).expect("read the output");
            assert!(child.wait().await.expect("wait").success());
            out
        }
    };
    let total = started.elapsed().as_secs_f64() * 1e6;
    (printed_us(&output) - t0, total)
}

struct Sample {
    start: Vec<f64>,
    total: Vec<f64>,
}

impl Sample {
    fn p(&self, which: &[f64], q: f64) -> f64 {
        let mut v = which.to_vec();
        v.sort_by(f64::total_cmp);
        let rank = (q * v.len() as f64).ceil() as usize;
        v[rank.clamp(1, v.len()) - 1]
    }
}

async fn measure(side: Side, runs: usize, base: usize) -> Sample {
    let mut s = Sample {
        start: Vec::with_capacity(runs),
        total: Vec::with_capacity(runs),
    };
    for i in 0..runs {
        let (a, b) = request(side, base + i).await;
        s.start.push(a);
        s.total.push(b);
    }
    s
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn spread(v: &[f64]) -> (f64, f64) {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}

fn main() {
    let runs = env_usize("ARKBRIDGE_BENCH_RUNS", 200).max(1);
    let rounds = env_usize("ARKBRIDGE_BENCH_ROUNDS", 10).max(1);
    let warmup = env_usize("ARKBRIDGE_BENCH_WARMUP", 30);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("# arkbridge run start benchmark: run() vs a bare fork+exec of bash, same run");
    println!(
        "load average at start: {}, requests/side/round: {runs}, rounds: {rounds}, warm-up/side: \
         {warmup}, profile: {}",
        loadavg(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    );
    let sides = [Side::Arkbridge, Side::Bare, Side::Prlimit];
    let started = Instant::now();
    let mut rows: Vec<[Sample; 3]> = Vec::new();
    rt.block_on(async {
        for side in sides {
            measure(side, warmup, 0).await;
        }
        println!(
            "\n| round | order | arkbridge start p50 / p99 (ms) | bare start p50 / p99 (ms) | \
             prlimit start p50 (ms) | start p50 ratio | arkbridge request p50 (ms) | bare \
             request p50 (ms) |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        for round in 0..rounds {
            let order: Vec<Side> = (0..3).map(|i| sides[(i + round) % 3]).collect();
            let mut got: Vec<(Side, Sample)> = Vec::new();
            for &side in &order {
                got.push((side, measure(side, runs, round * runs).await));
            }
            let take = |s: Side, got: &mut Vec<(Side, Sample)>| {
                let i = got.iter().position(|(x, _)| *x == s).unwrap();
                got.remove(i).1
            };
            let row = [
                take(Side::Arkbridge, &mut got),
                take(Side::Bare, &mut got),
                take(Side::Prlimit, &mut got),
            ];
            let [a, b, p] = &row;
            println!(
                "| {} | {} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                round + 1,
                order.iter().map(|s| s.name()).collect::<Vec<_>>().join("→"),
                a.p(&a.start, 0.5) / 1e3,
                a.p(&a.start, 0.99) / 1e3,
                b.p(&b.start, 0.5) / 1e3,
                b.p(&b.start, 0.99) / 1e3,
                p.p(&p.start, 0.5) / 1e3,
                a.p(&a.start, 0.5) / b.p(&b.start, 0.5),
                a.p(&a.total, 0.5) / 1e3,
                b.p(&b.total, 0.5) / 1e3,
            );
            rows.push(row);
        }
    });
    let col = |f: &dyn Fn(&[Sample; 3]) -> f64| rows.iter().map(f).collect::<Vec<_>>();
    println!("\n## Summary (medians over rounds; [min..max] across rounds)\n");
    println!(
        "| measure | arkbridge p50 / p99 (ms) | bare p50 / p99 (ms) | p50 ratio | p99 ratio | added at p50 (ms) |"
    );
    println!("|---|---|---|---|---|---|");
    for (label, pick) in [
        ("start (request → first command)", 0usize),
        ("whole request (→ outcome)", 1),
    ] {
        let get = |s: &Sample, q: f64| {
            if pick == 0 {
                s.p(&s.start, q)
            } else {
                s.p(&s.total, q)
            }
        };
        let a50 = col(&|r| get(&r[0], 0.5));
        let a99 = col(&|r| get(&r[0], 0.99));
        let b50 = col(&|r| get(&r[1], 0.5));
        let b99 = col(&|r| get(&r[1], 0.99));
        let r50 = col(&|r| get(&r[0], 0.5) / get(&r[1], 0.5));
        let r99 = col(&|r| get(&r[0], 0.99) / get(&r[1], 0.99));
        let added = col(&|r| get(&r[0], 0.5) - get(&r[1], 0.5));
        let ((l50, h50), (l99, h99)) = (spread(&r50), spread(&r99));
        println!(
            "| {label} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} [{l50:.2}..{h50:.2}] | {:.2} \
             [{l99:.2}..{h99:.2}] | {:.2} |",
            median(a50) / 1e3,
            median(a99) / 1e3,
            median(b50) / 1e3,
            median(b99) / 1e3,
            median(r50),
            median(r99),
            median(added) / 1e3,
        );
    }
    let p50 = col(&|r| r[2].p(&r[2].start, 0.5) - r[1].p(&r[1].start, 0.5));
    println!(
        "\nprlimit's share: its extra exec adds {:.2} ms at p50 to the bare start (median over \
         rounds).",
        median(p50) / 1e3
    );
    println!(
        "measured in {:.1} s; load average at end: {}",
        started.elapsed().as_secs_f64(),
        loadavg()
    );
}
