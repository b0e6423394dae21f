//! Space crawl benchmark: `ConfluenceClient::crawl_space` reading every page of a generated
//! space through the in-process simulator while the simulator enforces a rate limit (see
//! `BENCHMARKS.md`, issue 4).
//!
//! The simulator (its own Tokio runtime, as a separate service would have) starts from the
//! built-in demo seed plus a space `BENCH` whose `generate` block adds the requested number of
//! pages with the simulator's default storage bodies (`local-id`s, an entity, a code macro with an
//! `ac:macro-id` and a CDATA section split around `]]>`, an `ri:page` link). Its Confluence
//! token-bucket limit (`confluence-rate-limit`, `confluence-rate-burst`) answers 429 with
//! `Retry-After` once the bucket is empty. The client, configured from the `arkbridge.toml` the
//! simulator writes, gets a rate cap just under that limit, as a deployment would set it, and
//! crawls the space with `fetch_each` (listing without bodies, then one `GET /pages/{id}` with
//! the storage body per page).
//!
//! Every page must come back exactly once with its own body: the benchmark fails (exit status 1)
//! when a generated page is missing, repeated or carries another page's body, and when the goal
//! (achieved rate ≥ 0.9 × the server's limit, no request refused twice in a row) is missed.
//!
//! Knobs (environment variables):
//! * `ARKBRIDGE_BENCH_PAGES`        generated pages in the space (default 10000)
//! * `ARKBRIDGE_BENCH_SERVER_RATE`  the simulator's limit in requests/s (default 100)
//! * `ARKBRIDGE_BENCH_SERVER_BURST` the simulator's bucket size (default 100)
//! * `ARKBRIDGE_BENCH_CLIENT_RATE`  the client's cap in requests/s (default 98; `off`: no cap)
//! * `ARKBRIDGE_BENCH_CLIENT_BURST` the client's burst (default 10)
//! * `ARKBRIDGE_BENCH_CONCURRENCY`  page reads in flight (default 8)
//! * `ARKBRIDGE_BENCH_LIST_LIMIT`   pages per listing answer (default 250, the v2 maximum)
//! * `ARKBRIDGE_BENCH_ROUNDS`       crawls in this process, each with a fresh server bucket
//!   (default 1)
//!
//! `cargo bench` passes `--bench`; without it (as `cargo test --all-targets` runs every target)
//! the binary only says so and exits, since a measurement takes minutes of wall time.
//!
//! No secret is printed: the Confluence token stays in the client.

use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use arkbridge_confluence::{ConfluenceClient, CrawlOptions, CrawlStats, RateLimit};
use arkbridge_core::config::Config;
use arkbridge_sim::{SimHandle, SimOptions, parse_fault_spec};
use secrecy::SecretString;

/// The key of the generated space.
const SPACE: &str = "BENCH";
/// The goal of issue 4: achieved rate ÷ server limit.
const GOAL_RATIO: f64 = 0.9;
/// Width of the windows in which the delivery rate is sampled.
const WINDOW: Duration = Duration::from_secs(10);

fn env_or<T: std::str::FromStr>(name: &str, default: T, what: &str) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be {what}, not {v:?}")),
        Err(_) => default,
    }
}

struct Settings {
    pages: usize,
    server_rate: f64,
    server_burst: u32,
    /// `None`: no client-side cap.
    client: Option<RateLimit>,
    options: CrawlOptions,
    rounds: usize,
}

impl Settings {
    fn from_env() -> Settings {
        let pages = env_or("ARKBRIDGE_BENCH_PAGES", 10_000usize, "a whole number");
        assert!(
            (1..=200_000).contains(&pages),
            "ARKBRIDGE_BENCH_PAGES must be between 1 and 200000 (the seed's limit)"
        );
        let server_rate = env_or("ARKBRIDGE_BENCH_SERVER_RATE", 100.0f64, "a number");
        let server_burst = env_or("ARKBRIDGE_BENCH_SERVER_BURST", 100u32, "a whole number");
        let client_burst = env_or("ARKBRIDGE_BENCH_CLIENT_BURST", 10u32, "a whole number");
        let client = match std::env::var("ARKBRIDGE_BENCH_CLIENT_RATE").as_deref() {
            Ok("off") => None,
            Ok(v) => Some(v.trim().parse::<f64>().unwrap_or_else(|_| {
                panic!("ARKBRIDGE_BENCH_CLIENT_RATE must be a number or `off`, not {v:?}")
            })),
            Err(_) => Some(98.0),
        }
        .map(|rate| {
            RateLimit::new(rate, client_burst)
                .unwrap_or_else(|e| panic!("the client's rate cap is invalid: {e}"))
        });
        let options = CrawlOptions {
            concurrency: env_or("ARKBRIDGE_BENCH_CONCURRENCY", 8usize, "a whole number"),
            list_limit: env_or("ARKBRIDGE_BENCH_LIST_LIMIT", 250u32, "a whole number"),
            fetch_each: true,
            history: false,
        };
        Settings {
            pages,
            server_rate,
            server_burst,
            client,
            options,
            rounds: env_or("ARKBRIDGE_BENCH_ROUNDS", 1usize, "a whole number").max(1),
        }
    }

    fn fault_spec(&self) -> String {
        format!(
            "confluence-rate-limit={},confluence-rate-burst={}",
            self.server_rate, self.server_burst
        )
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}

/// The demo seed with the generated space added in front of its spaces.
fn seed(pages: usize) -> String {
    let anchor = "\nspaces:\n";
    let text = arkbridge_sim::DEMO_SEED;
    assert!(
        text.contains(anchor),
        "the demo seed no longer has a top-level `spaces:` list; update this benchmark"
    );
    let space = format!(
        "{anchor}  - key: {SPACE}\n    name: Crawl benchmark\n    \
         description: Generated pages for the crawl benchmark\n    generate: {{ count: {pages} }}\n"
    );
    text.replacen(anchor, &space, 1)
}

/// What one crawl found, checked page by page.
struct Tally {
    /// `seen[n - 1]`: how often generated page n was delivered.
    seen: Vec<u32>,
    /// Pages that are not generated ones (the space's homepage).
    others: u64,
    /// Generated pages whose body is not their own.
    wrong_bodies: u64,
    body_bytes: u64,
    /// Seconds since the crawl started, per delivered page.
    delivered_at: Vec<f64>,
}

impl Tally {
    fn new(pages: usize) -> Tally {
        Tally {
            seen: vec![0; pages],
            others: 0,
            wrong_bodies: 0,
            body_bytes: 0,
            delivered_at: Vec::with_capacity(pages + 1),
        }
    }

    fn count(&mut self, title: &str, body: &str, at: f64) {
        self.delivered_at.push(at);
        self.body_bytes += body.len() as u64;
        let n = title
            .strip_prefix("Generated page ")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| (1..=self.seen.len()).contains(n));
        let Some(n) = n else {
            self.others += 1;
            return;
        };
        self.seen[n - 1] += 1;
        // The simulator's default body names its page number and space.
        if !body.contains(&format!("Service note {n} for space {SPACE}")) {
            self.wrong_bodies += 1;
        }
    }

    fn missing(&self) -> usize {
        self.seen.iter().filter(|&&c| c == 0).count()
    }

    fn repeated(&self) -> usize {
        self.seen.iter().filter(|&&c| c > 1).count()
    }

    /// The lowest and highest page delivery rate over full windows after the first one (which
    /// holds the start-up and the client's burst).
    fn window_rates(&self, elapsed: Duration) -> Option<(f64, f64)> {
        let width = WINDOW.as_secs_f64();
        let full = (elapsed.as_secs_f64() / width).floor() as usize;
        if full < 3 {
            return None;
        }
        let mut counts = vec![0u64; full];
        for &t in &self.delivered_at {
            let w = (t / width) as usize;
            if w < full {
                counts[w] += 1;
            }
        }
        let rates = counts[1..].iter().map(|&c| c as f64 / width);
        let min = rates.clone().fold(f64::INFINITY, f64::min);
        let max = rates.fold(f64::NEG_INFINITY, f64::max);
        Some((min, max))
    }
}

struct Round {
    stats: CrawlStats,
    retries: u64,
    max_in_a_row: u32,
    tally: Tally,
}

async fn crawl(client: &ConfluenceClient, settings: &Settings) -> Round {
    let space = client
        .space_by_key(SPACE)
        .await
        .expect("look up the benchmark space")
        .expect("the benchmark space exists");
    client.set_rate_limit(settings.client);
    let before = client.stats();
    let mut tally = Tally::new(settings.pages);
    let started = Instant::now();
    let stats = client
        .crawl_space(&space, &settings.options, |crawled| {
            tally.count(
                &crawled.page.title,
                &crawled.page.body_storage,
                started.elapsed().as_secs_f64(),
            );
            ControlFlow::Continue(())
        })
        .await
        .expect("the crawl failed");
    let after = client.stats();
    Round {
        stats,
        retries: after.retries - before.retries,
        max_in_a_row: after.max_consecutive_throttled,
        tally,
    }
}

/// Prints one round; returns whether it met the goal and fetched every page once.
fn report(round_no: usize, round: &Round, settings: &Settings) -> bool {
    let s = &round.stats;
    let t = &round.tally;
    let secs = s.elapsed.as_secs_f64();
    let answered = s.requests - s.throttled;
    let achieved = answered as f64 / secs;
    let ratio = achieved / settings.server_rate;
    let reads = s.pages + s.skipped;
    let listing = answered.saturating_sub(reads);
    println!("\n## Round {round_no}\n");
    println!(
        "pages delivered: {} ({} generated, {} other: the homepage); missing: {}, repeated: {}, \
         wrong body: {}, vanished (404): {}",
        s.pages,
        s.pages - t.others,
        t.others,
        t.missing(),
        t.repeated(),
        t.wrong_bodies,
        s.skipped
    );
    println!(
        "storage bodies: {} bytes ({:.0} bytes per page)",
        t.body_bytes,
        t.body_bytes as f64 / s.pages.max(1) as f64
    );
    println!(
        "requests: {} sent = {} page reads + {} listing answers + {} refused (429); retries: {}",
        s.requests, reads, listing, s.throttled, round.retries
    );
    println!(
        "wall time: {secs:.2} s; answered requests/s: {achieved:.2}; pages/s: {:.2}",
        s.pages as f64 / secs
    );
    if let Some((lo, hi)) = t.window_rates(s.elapsed) {
        println!(
            "page delivery per {} s window after the first: {lo:.1}..{hi:.1} pages/s",
            WINDOW.as_secs()
        );
    }
    println!(
        "429s: {}; longest run of 429s for one request: {}",
        s.throttled, round.max_in_a_row
    );
    let complete = t.missing() == 0 && t.repeated() == 0 && t.wrong_bodies == 0;
    let met = ratio >= GOAL_RATIO && round.max_in_a_row <= 1;
    println!(
        "**ratio achieved/limit: {ratio:.3}** (goal ≥ {GOAL_RATIO}, at most 1 refusal in a row): {}",
        if met && complete {
            "met"
        } else if complete {
            "MISSED"
        } else {
            "MISSED (pages missing, repeated or with a wrong body)"
        }
    );
    met && complete
}

fn main() -> ExitCode {
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "the crawl benchmark measures only under `cargo bench` (or with `--bench`); skipped"
        );
        return ExitCode::SUCCESS;
    }
    let settings = Settings::from_env();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("# arkbridge Confluence crawl benchmark (issue 4)");
    println!(
        "cpus: {cpus}, load average at start: {}, profile: {}",
        loadavg(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    println!(
        "server: {} requests/s, bucket {} ({}); space {SPACE}: {} generated pages + homepage",
        settings.server_rate,
        settings.server_burst,
        settings.fault_spec(),
        settings.pages
    );
    println!(
        "client: cap {}; crawl_space with concurrency {}, list_limit {}, fetch_each, no history; \
         default retry policy",
        settings.client.map_or("off".to_string(), |l| format!(
            "{} requests/s, burst {}",
            l.per_second(),
            l.burst()
        )),
        settings.options.concurrency,
        settings.options.list_limit
    );

    // The simulator gets its own runtime (threads), as a separate service would.
    let sim_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cpus)
        .thread_name("sim")
        .enable_all()
        .build()
        .expect("build the simulator's runtime");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let seed_path = dir.path().join("seed.yaml");
    std::fs::write(&seed_path, seed(settings.pages)).expect("write the seed");
    let t = Instant::now();
    let sim: SimHandle = sim_rt
        .block_on(arkbridge_sim::start(SimOptions {
            dir: dir.path().to_path_buf(),
            seed: Some(seed_path),
            cpm_delay: Duration::from_millis(500),
        }))
        .expect("start the simulator");
    println!(
        "simulator started with the seed in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let config = Config::load(&dir.path().join("arkbridge.toml")).expect("load arkbridge.toml");
    let token = SecretString::from(sim.info().confluence_token.clone());
    let client =
        ConfluenceClient::new(&config.confluence, token).expect("build the Confluence client");
    let faults = parse_fault_spec(&settings.fault_spec()).expect("the server's rate limit");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cpus)
        .thread_name("client")
        .enable_all()
        .build()
        .expect("build the client's runtime");
    let mut ok = true;
    for round_no in 1..=settings.rounds {
        // Setting the faults gives the server a fresh, full bucket for every round; the space
        // lookup already goes through it, and a new client cap starts a fresh schedule.
        sim.set_faults(faults.clone()).expect("set the rate limit");
        let round = rt.block_on(crawl(&client, &settings));
        ok &= report(round_no, &round, &settings);
    }
    println!("\nload average at end: {}", loadavg());

    drop(rt);
    drop(sim);
    drop(sim_rt);
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
