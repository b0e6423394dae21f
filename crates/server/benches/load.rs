//! The API load test (issue 9, see `BENCHMARKS.md`): 50 users, one caller each, start runs
//! through `POST /api/v1/runs` against the simulators for 60 s and follow each to its end.
//!
//! `arkbridge serve`'s own `serve()` listens on a real TCP port over a bridge built from the
//! simulator's `arkbridge-oidc.toml`; every user signs in through the simulated OIDC provider
//! (authorization code with PKCE) and calls the API with their own access token. The runbook
//! is a `read` block on a non-rotating account (`Prod-DB-RO/payments-db-ro`), so runs do not
//! queue on an account lock.
//!
//! Phases, all in one process and run (absolute numbers on a shared 2-core machine move a lot;
//! the ratios between phases are what compares):
//! 1. calibration: one run alone, between two audit counts, gives the records one run writes
//!    (by action) besides the `api.call` of each API call;
//! 2. baseline: one caller (the users in turn) for `LOAD_BASELINE_SECS`;
//! 3. load: 50 callers, each its own user, for `LOAD_SECS`.
//!
//! It reports runs/s, p50/p99/max start latency (request sent → `202` with the run id read),
//! the latency to the first output chunk and to the end of the run, errors by kind, the ratios
//! load/baseline, and the audit check: the records added over the test against those expected
//! (runs × the calibrated records per run + one `api.call` per audited API call), by action,
//! with `MATCH` or the difference. It exits
//! non-zero on an error, a mismatch, or the planted secret appearing in any output, audit
//! record or this report.
//!
//! Knobs: `LOAD_SECS` (load phase, default 60), `LOAD_BASELINE_SECS` (default 10, at most
//! `LOAD_SECS`).

#[path = "load/audit.rs"]
mod audit;
#[path = "load/caller.rs"]
mod caller;
#[path = "load/stats.rs"]
mod stats;
#[path = "load/world.rs"]
mod world;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use caller::{Api, RunResult, Tally, caller, errors_by_kind};
use stats::{Phase, ms, ratio};
use world::{AUDITOR, PLANTED, USERS, User, World, user_email};

fn env_secs(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|&s| s > 0)
            .ok_or_else(|| format!("{name} must be a positive number of seconds, not {v:?}")),
        Err(_) => Ok(default),
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Everything the callers' side measured.
struct Measured {
    baseline: Phase,
    load: Phase,
    errors: BTreeMap<String, u64>,
    /// Runs that started, calibration included: each wrote the calibrated records.
    runs_started: u64,
    /// The calibrated records of one run, by action (`api.call` aside).
    per_run: BTreeMap<String, u64>,
    /// `api.call` records expected between the first and the last audit count.
    api_calls: u64,
    unknown_calls: u64,
    before: u64,
    after: u64,
    records: audit::Records,
}

fn main() -> ExitCode {
    // `cargo test --all-targets` runs bench binaries too; the load test runs only when asked.
    if !std::env::args().any(|a| a == "--bench") {
        println!("the load test runs only under `cargo bench` (or with `--bench`); skipped");
        return ExitCode::SUCCESS;
    }
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("load test failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let load_secs = env_secs("LOAD_SECS", 60)?;
    let base_secs = env_secs("LOAD_BASELINE_SECS", 10)?.min(load_secs);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load_start = loadavg();
    let world = World::start(cpus).map_err(|e| e.to_string())?;
    let callers_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cpus)
        .thread_name("callers")
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let measured = callers_rt.block_on(measure(&world, base_secs, load_secs));
    let load_end = loadavg();
    drop(callers_rt);
    let shutdown = world.shutdown();
    let m = measured?;
    let (report, ok) = report(&m, cpus, &load_start, &load_end, load_secs, base_secs);
    let report = match &shutdown {
        Ok(s) => format!(
            "{report}server shutdown: {} run(s) stopped\n",
            s.stopped_runs
        ),
        Err(e) => format!("{report}server shutdown: {e}\n"),
    };
    // The report itself is the last place the planted secret could show up.
    if report.contains(PLANTED) {
        return Err("the planted secret appears in the report".into());
    }
    print!("{report}");
    Ok(ok && shutdown.is_ok_and(|s| s.stopped_runs == 0))
}

async fn measure(world: &World, base_secs: u64, load_secs: u64) -> Result<Measured, String> {
    let idp = world.idp_client().map_err(|e| e.to_string())?;
    let emails: Vec<String> = (1..=USERS).map(user_email).collect();
    let sign_ins = emails.iter().map(|e| world.sign_in(&idp, e));
    let users: Vec<Arc<User>> = futures_util::future::try_join_all(sign_ins)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(Arc::new)
        .collect();
    let auditor = world
        .sign_in(&idp, AUDITOR)
        .await
        .map_err(|e| e.to_string())?;
    let api = Api {
        http: reqwest::Client::builder()
            .build()
            .map_err(|e| e.to_string())?,
        base: world.base.clone(),
        page_id: world.page_id.clone(),
    };
    let tally = Arc::new(Tally::default());

    // Calibration: what one run writes to the audit log.
    let before = audit::size(&api, &tally, &auditor).await?;
    let calibration = api.run_once(&tally, &users[0]).await;
    if let Some(e) = &calibration.error {
        return Err(format!("the calibration run failed: {e}"));
    }
    let calibrated = audit::size(&api, &tally, &auditor).await?;
    let one = audit::records(&api, &tally, &auditor, before, calibrated).await?;
    let mut per_run = one.by_action.clone();
    // The first count, the start and the event stream: three audited calls.
    let calls = per_run.remove("api.call").unwrap_or(0);
    if calls != 3 || one.finished_runs != 1 {
        return Err(format!(
            "the calibration run wrote {calls} api.call record(s) (expected 3) and {} run.finished \
             record(s) (expected 1): {:?}",
            one.finished_runs, one.by_action
        ));
    }

    // Baseline: one caller, the users in turn (each user's request budget stays fresh).
    let started = Instant::now();
    let until = started + Duration::from_secs(base_secs);
    let alone = caller(api.clone(), tally.clone(), users.clone(), until).await;
    let baseline = Phase::of("baseline", 1, started.elapsed(), &alone);

    // Load: every user at once, each with its own caller.
    let started = Instant::now();
    let until = started + Duration::from_secs(load_secs);
    let tasks: Vec<_> = users
        .iter()
        .map(|u| tokio::spawn(caller(api.clone(), tally.clone(), vec![u.clone()], until)))
        .collect();
    let mut loaded: Vec<RunResult> = Vec::new();
    for t in tasks {
        loaded.extend(t.await.map_err(|e| format!("a caller failed: {e}"))?);
    }
    let load = Phase::of("load", USERS, started.elapsed(), &loaded);

    // Every run has ended (each caller followed its last run to `done`), so its records are in.
    let api_calls = tally.audited();
    let after = audit::size(&api, &tally, &auditor).await?;
    let records = audit::records(&api, &tally, &auditor, before, after).await?;
    let all: Vec<RunResult> = std::iter::once(calibration)
        .chain(alone)
        .chain(loaded)
        .collect();
    Ok(Measured {
        baseline,
        load,
        errors: errors_by_kind(&all),
        runs_started: all.iter().filter(|r| r.start.is_some()).count() as u64,
        per_run,
        api_calls,
        unknown_calls: tally.unknown(),
        before,
        after,
        records,
    })
}

/// The report, and whether everything checked out.
fn report(
    m: &Measured,
    cpus: usize,
    load_start: &str,
    load_end: &str,
    load_secs: u64,
    base_secs: u64,
) -> (String, bool) {
    let mut out = String::new();
    let mut ok = true;
    let _ = writeln!(
        out,
        "# arkbridge API load test: {USERS} users starting runs through arkbridge serve"
    );
    let _ = writeln!(
        out,
        "cpus: {cpus}, load average at start: {load_start}, at end: {load_end}, \
         baseline: {base_secs} s x 1 caller, load: {load_secs} s x {USERS} callers, profile: {}",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    let _ = writeln!(
        out,
        "\n| phase | callers | runs started | runs/s | start p50 / p99 / max (ms) \
         | first output p50 / p99 (ms) | run p50 / p99 (ms) | errors |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    let _ = writeln!(out, "{}", m.baseline.row());
    let _ = writeln!(out, "{}", m.load.row());
    let _ = writeln!(
        out,
        "\nratios load/baseline: start p50 {}, start p99 {}, run p50 {}, throughput {}",
        ratio(ms(m.load.start.p50), ms(m.baseline.start.p50)),
        ratio(ms(m.load.start.p99), ms(m.baseline.start.p99)),
        ratio(ms(m.load.total.p50), ms(m.baseline.total.p50)),
        ratio(m.load.rate(), m.baseline.rate()),
    );
    if m.errors.is_empty() {
        let _ = writeln!(out, "errors: none");
    } else {
        ok = false;
        let _ = writeln!(out, "errors by kind:");
        for (kind, n) in &m.errors {
            let _ = writeln!(out, "  {n} x {kind}");
        }
    }

    // The audit check: per action, expected against found.
    let mut expected: BTreeMap<String, u64> = m
        .per_run
        .iter()
        .map(|(a, n)| (a.clone(), n * m.runs_started))
        .collect();
    expected.insert("api.call".into(), m.api_calls);
    let found = &m.records.by_action;
    let expected_total: u64 = expected.values().sum();
    let added = m.after - m.before;
    let _ = writeln!(
        out,
        "\naudit log: {} records before, {} after (verified), {added} added; \
         expected {} run(s) x {} records + {} api.call = {expected_total}",
        m.before,
        m.after,
        m.runs_started,
        m.per_run.values().sum::<u64>(),
        m.api_calls,
    );
    let _ = writeln!(out, "| action | expected | found |");
    let _ = writeln!(out, "|---|---|---|");
    let actions: std::collections::BTreeSet<&String> =
        expected.keys().chain(found.keys()).collect();
    for action in actions {
        let e = expected.get(action).copied().unwrap_or(0);
        let f = found.get(action).copied().unwrap_or(0);
        let mark = if e == f { "" } else { " (differs)" };
        let _ = writeln!(out, "| {action} | {e} | {f}{mark} |");
    }
    let matches = added == expected_total
        && m.records.total() == added
        && *found == expected
        && m.records.gaps == 0
        && m.records.finished_runs == m.runs_started;
    if matches {
        let _ = writeln!(
            out,
            "audit: MATCH ({added} records, {} distinct runs finished, no gap in seq)",
            m.records.finished_runs
        );
    } else {
        ok = false;
        let _ = writeln!(
            out,
            "audit: MISMATCH: added {added}, expected {expected_total} (difference {}), read {} \
             records, {} seq gap(s), {} distinct runs finished of {} started",
            added as i64 - expected_total as i64,
            m.records.total(),
            m.records.gaps,
            m.records.finished_runs,
            m.runs_started,
        );
    }
    if m.unknown_calls > 0 {
        ok = false;
        let _ = writeln!(
            out,
            "{} call(s) failed in transport: whether the server audited them is unknown",
            m.unknown_calls
        );
    }
    if m.records.leaking > 0 {
        ok = false;
        let _ = writeln!(
            out,
            "SECRET LEAK: {} audit record(s) hold the planted secret",
            m.records.leaking
        );
    } else if m.errors.keys().any(|k| k.starts_with("output:")) {
        let _ = writeln!(
            out,
            "planted secret: in no audit record; run outputs: see the errors above"
        );
    } else {
        let _ = writeln!(
            out,
            "planted secret: in no run output (every run's output had the masked line) and in no \
             audit record"
        );
    }
    (out, ok)
}
