//! CCP retrieval benchmark: `arkbridge_cyberark::CcpClient` against a plain `reqwest` client,
//! side by side, in the same run, against the in-process simulator (see `BENCHMARKS.md`).
//!
//! Both sides send the identical `GET /AIMWebService/api/Accounts?...` over mutual TLS (same CA,
//! same client identity, ring provider, HTTP/1.1 with connection reuse, same timeouts, redirect
//! policy, user agent and `Accept` header). The client under test does its full per-call work
//! (query building and checks, circuit breaker, bounded self-wiping body buffer, parsing into a
//! `CcpAccount` with the secret in a `SecretString`); the baseline reads the body with
//! `Response::bytes` and parses it into a `serde_json::Value`.
//!
//! For every concurrency level the two sides run in alternating order (AB, BA, AB, ...) after a
//! warm-up of both, so machine noise hits both alike. Each round reports requests/s, p50 and p99
//! per side and the client/baseline ratios; the summary gives the median ratio and its spread
//! (min..max) across rounds.
//!
//! Knobs (environment variables):
//! * `ARKBRIDGE_BENCH_REQUESTS`    requests per side per round (default 10000)
//! * `ARKBRIDGE_BENCH_ROUNDS`      measured rounds per concurrency level (default 20)
//! * `ARKBRIDGE_BENCH_WARMUP`      warm-up requests per side per level (default 2000)
//! * `ARKBRIDGE_BENCH_CONCURRENCY` comma-separated caller counts (default `1,64`)
//! * `ARKBRIDGE_BENCH_CALLER_THREADS` worker threads of the callers' runtime (default: CPUs)
//! * `ARKBRIDGE_BENCH_PER_CALL_QUERY` `1`: the arkbridge side calls `get(query)`, building and
//!   checking the query on every call, instead of `get_prepared` (the query prepared once, as the
//!   baseline builds its URL once)
//! * `ARKBRIDGE_BENCH_ONLY`        `arkbridge` or `baseline`: run one side only, no comparison
//!   (for profiling with `perf record`)
//!
//! No secret value is printed or stored: the retrieved `Content` is only checked to be present.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arkbridge_core::config::{CcpConfig, Config};
use arkbridge_cyberark::{CcpClient, CcpQuery, PreparedCcpQuery};
use arkbridge_sim::SimOptions;
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

const SAFE: &str = "Prod-DB";
const OBJECT: &str = "payments-db";
const REASON: &str = "arkbridge benchmark";

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a positive integer")),
        Err(_) => default,
    }
}

struct Settings {
    requests: usize,
    rounds: usize,
    warmup: usize,
    concurrency: Vec<usize>,
}

impl Settings {
    fn from_env() -> Self {
        let concurrency = std::env::var("ARKBRIDGE_BENCH_CONCURRENCY")
            .unwrap_or_else(|_| "1,64".into())
            .split(',')
            .map(|s| {
                s.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0)
                    .expect("ARKBRIDGE_BENCH_CONCURRENCY: comma-separated positive integers")
            })
            .collect();
        Settings {
            requests: env_usize("ARKBRIDGE_BENCH_REQUESTS", 10000).max(1),
            rounds: env_usize("ARKBRIDGE_BENCH_ROUNDS", 20).max(1),
            warmup: env_usize("ARKBRIDGE_BENCH_WARMUP", 2000),
            concurrency,
        }
    }
}

/// One side of the comparison. Cheap to clone (both hold an `Arc`-backed client).
// Two values, cloned once per caller task: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum Caller {
    /// The client under test.
    /// `CcpClient::get_prepared` with the query prepared once (as the baseline builds its URL
    /// once); `query` is kept to time the per-call building that `CcpClient::get` adds.
    Arkbridge {
        client: CcpClient,
        prepared: PreparedCcpQuery,
        query: CcpQuery,
        /// `ARKBRIDGE_BENCH_PER_CALL_QUERY=1`: call `get(query)` (query built every call).
        per_call_query: bool,
    },
    /// A plain reqwest client sending the same request.
    Baseline {
        http: reqwest::Client,
        url: Arc<str>,
    },
}

impl Caller {
    fn name(&self) -> &'static str {
        match self {
            Caller::Arkbridge { .. } => "arkbridge",
            Caller::Baseline { .. } => "baseline",
        }
    }

    async fn call(&self) {
        match self {
            Caller::Arkbridge {
                client,
                prepared,
                query,
                per_call_query,
            } => {
                // A `CyberArkError` never carries a secret, so it may be shown.
                let account = if *per_call_query {
                    client.get(query).await
                } else {
                    client.get_prepared(prepared).await
                }
                .expect("arkbridge CCP retrieval failed");
                assert!(!account.content().expose_secret().is_empty());
                black_box(&account);
            }
            Caller::Baseline { http, url } => {
                let resp = http
                    .get(&**url)
                    .header(reqwest::header::ACCEPT, "application/json")
                    .send()
                    .await
                    .expect("baseline CCP request failed");
                // The body is never shown: on success it holds the secret.
                assert_eq!(resp.status().as_u16(), 200, "baseline CCP status");
                let body = resp.bytes().await.expect("baseline CCP body");
                let value: serde_json::Value =
                    serde_json::from_slice(&body).expect("baseline CCP answer is not JSON");
                assert!(
                    value
                        .get("Content")
                        .is_some_and(serde_json::Value::is_string)
                );
                black_box(&value);
            }
        }
    }
}

/// Latencies (ns, sorted) and wall time of one run.
struct Run {
    wall: Duration,
    lat: Vec<u64>,
}

impl Run {
    fn rps(&self) -> f64 {
        self.lat.len() as f64 / self.wall.as_secs_f64()
    }
    fn p50(&self) -> u64 {
        percentile(&self.lat, 0.50)
    }
    fn p99(&self) -> u64 {
        percentile(&self.lat, 0.99)
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `requests` calls spread over `callers` concurrent tasks (work-stealing counter).
async fn run(caller: &Caller, callers: usize, requests: usize) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(callers);
    for _ in 0..callers {
        let caller = caller.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(requests / callers + 1);
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let t = Instant::now();
                caller.call().await;
                lat.push(t.elapsed().as_nanos() as u64);
            }
            lat
        }));
    }
    let mut lat = Vec::with_capacity(requests);
    for t in tasks {
        lat.extend(t.await.expect("a caller task panicked"));
    }
    let wall = start.elapsed();
    lat.sort_unstable();
    Run { wall, lat }
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

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}

/// The baseline: reqwest's own rustls setup (process-default ring provider), only the sim's CA
/// as root, the same client identity, and the client under test's reqwest settings.
fn baseline_client(cfg: &CcpConfig) -> reqwest::Client {
    let ca = std::fs::read(cfg.ca_cert.as_ref().expect("sim config sets ca_cert")).unwrap();
    let mut identity = Zeroizing::new(
        std::fs::read(
            cfg.client_cert
                .as_ref()
                .expect("sim config sets client_cert"),
        )
        .unwrap(),
    );
    let key = Zeroizing::new(
        std::fs::read(cfg.client_key.as_ref().expect("sim sets client_key")).unwrap(),
    );
    identity.push(b'\n');
    identity.extend_from_slice(&key);
    reqwest::Client::builder()
        .tls_backend_rustls()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(&ca).expect("CA bundle"))
        .identity(reqwest::Identity::from_pem(&identity).expect("client identity"))
        .http1_only()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(
            u64::from(cfg.connection_timeout_secs) + 10,
        ))
        .user_agent(concat!("arkbridge/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("baseline client")
}

struct Level {
    callers: usize,
    rows: Vec<(Run, Run)>, // (arkbridge, baseline) per round
}

/// Profiling aid: runs one side only, printing its throughput and latency per round.
fn only(rt: &tokio::runtime::Runtime, caller: &Caller, settings: &Settings) {
    for &callers in &settings.concurrency {
        rt.block_on(async {
            run(caller, callers, settings.warmup).await;
            for round in 0..settings.rounds {
                let r = run(caller, callers, settings.requests).await;
                println!(
                    "{} callers={callers} round={} req/s={:.0} p50={:.0}µs p99={:.0}µs",
                    caller.name(),
                    round + 1,
                    r.rps(),
                    us(r.p50()),
                    us(r.p99())
                );
            }
        });
    }
}

fn main() {
    rustls::crypto::ring::default_provider()
        .install_default()
        .expect("install the ring crypto provider");
    let settings = Settings::from_env();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load_start = loadavg();

    // The simulator gets its own runtime (threads), as a separate service would.
    let sim_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cpus)
        .thread_name("sim")
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sim = sim_rt
        .block_on(arkbridge_sim::start(SimOptions {
            dir: dir.path().to_path_buf(),
            seed: None,
            cpm_delay: Duration::from_millis(500),
        }))
        .expect("start the simulator");
    let config = Config::load(&dir.path().join("arkbridge.toml")).expect("load arkbridge.toml");
    let ccp = &config.cyberark.ccp;

    let query = CcpQuery::for_account(SAFE, OBJECT).reason(REASON);
    let client = CcpClient::new(ccp).expect("build the CcpClient");
    let url: Arc<str> = client.request_url(&query).expect("request URL").into();
    let prepared = client.prepare(&query).expect("prepare the CCP query");
    let ark = Caller::Arkbridge {
        client,
        prepared,
        query: query.clone(),
        per_call_query: std::env::var("ARKBRIDGE_BENCH_PER_CALL_QUERY").is_ok_and(|v| v == "1"),
    };
    let base = Caller::Baseline {
        http: baseline_client(ccp),
        url: url.clone(),
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(env_usize("ARKBRIDGE_BENCH_CALLER_THREADS", cpus).max(1))
        .thread_name("callers")
        .enable_all()
        .build()
        .unwrap();

    match std::env::var("ARKBRIDGE_BENCH_ONLY").as_deref() {
        Ok("arkbridge") => return only(&rt, &ark, &settings),
        Ok("baseline") => return only(&rt, &base, &settings),
        Ok(other) => panic!("ARKBRIDGE_BENCH_ONLY must be arkbridge or baseline, not {other:?}"),
        Err(_) => {}
    }

    println!("# arkbridge CCP benchmark: CcpClient vs plain reqwest, same run");
    println!(
        "cpus: {cpus}, load average at start: {load_start}, requests/side/round: {}, rounds: {}, \
         warm-up/side: {}, profile: {}",
        settings.requests,
        settings.rounds,
        settings.warmup,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    );
    println!(
        "request: GET {}",
        url.split_once("://")
            .map_or(&*url, |(_, r)| r.split_once('/').map_or(r, |(_, p)| p))
    );

    let started = Instant::now();
    let mut levels = Vec::new();
    for &callers in &settings.concurrency {
        rt.block_on(async {
            // Warm-up: opens the connection pools (up to `callers` connections per side),
            // faults in code and allocator pages.
            if settings.warmup > 0 {
                for side in [&ark, &base] {
                    run(side, callers, settings.warmup).await;
                }
            }
            println!("\n## {callers} concurrent caller(s)\n");
            println!(
                "| round | order | arkbridge req/s | baseline req/s | thr. ratio | \
                 arkbridge p50 / p99 (µs) | baseline p50 / p99 (µs) | p50 ratio | p99 ratio |"
            );
            println!("|---|---|---|---|---|---|---|---|---|");
            let mut rows = Vec::new();
            for round in 0..settings.rounds {
                let (first, second) = if round % 2 == 0 { (&ark, &base) } else { (&base, &ark) };
                let a = run(first, callers, settings.requests).await;
                let b = run(second, callers, settings.requests).await;
                let (k, p) = if round % 2 == 0 { (a, b) } else { (b, a) };
                println!(
                    "| {} | {}→{} | {:.0} | {:.0} | {:.3} | {:.0} / {:.0} | {:.0} / {:.0} | {:.3} | {:.3} |",
                    round + 1,
                    first.name(),
                    second.name(),
                    k.rps(),
                    p.rps(),
                    k.rps() / p.rps(),
                    us(k.p50()),
                    us(k.p99()),
                    us(p.p50()),
                    us(p.p99()),
                    k.p50() as f64 / p.p50() as f64,
                    k.p99() as f64 / p.p99() as f64,
                );
                rows.push((k, p));
            }
            levels.push(Level { callers, rows });
        });
    }
    let elapsed = started.elapsed();

    println!("\n## Summary (medians over rounds; [min..max] across rounds)\n");
    println!(
        "| callers | arkbridge req/s | baseline req/s | throughput ratio | added time/request | \
         arkbridge p50 / p99 (µs) | baseline p50 / p99 (µs) | p50 ratio | p99 ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for level in &levels {
        let col = |f: &dyn Fn(&(Run, Run)) -> f64| level.rows.iter().map(f).collect::<Vec<_>>();
        let k_rps = col(&|(k, _)| k.rps());
        let p_rps = col(&|(_, p)| p.rps());
        let thr = col(&|(k, p)| k.rps() / p.rps());
        let p50r = col(&|(k, p)| k.p50() as f64 / p.p50() as f64);
        let p99r = col(&|(k, p)| k.p99() as f64 / p.p99() as f64);
        let k50 = col(&|(k, _)| k.p50() as f64);
        let k99 = col(&|(k, _)| k.p99() as f64);
        let p50 = col(&|(_, p)| p.p50() as f64);
        let p99 = col(&|(_, p)| p.p99() as f64);
        let (tmin, tmax) = spread(&thr);
        let (l50, h50) = spread(&p50r);
        let (l99, h99) = spread(&p99r);
        let thr_med = median(thr);
        println!(
            "| {} | {:.0} | {:.0} | {:.3} [{:.3}..{:.3}] | {:+.1}% | {:.0} / {:.0} | {:.0} / {:.0} | \
             {:.3} [{:.3}..{:.3}] | {:.3} [{:.3}..{:.3}] |",
            level.callers,
            median(k_rps),
            median(p_rps),
            thr_med,
            tmin,
            tmax,
            (1.0 / thr_med - 1.0) * 100.0,
            median(k50) / 1000.0,
            median(k99) / 1000.0,
            median(p50) / 1000.0,
            median(p99) / 1000.0,
            median(p50r),
            l50,
            h50,
            median(p99r),
            l99,
            h99,
        );
    }
    println!(
        "\n\"added time/request\" = baseline req/s ÷ arkbridge req/s − 1 (goal at 64 callers: < 5%)."
    );
    // Pure CPU cost of one per-call step the baseline does not do: building and checking the
    // query string (the baseline reuses a prebuilt URL).
    if let Caller::Arkbridge { client, query, .. } = &ark {
        let n = 200_000u32;
        let t = Instant::now();
        for _ in 0..n {
            black_box(client.request_url(black_box(query)).unwrap());
        }
        println!(
            "CcpClient::request_url (query building + checks, per call): {:.0} ns",
            t.elapsed().as_nanos() as f64 / f64::from(n)
        );
    }
    println!(
        "measured in {:.1} s; load average at end: {}",
        elapsed.as_secs_f64(),
        loadavg()
    );

    drop(rt);
    drop(sim);
    drop(sim_rt);
}
