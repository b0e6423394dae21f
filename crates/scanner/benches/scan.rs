//! Scanner throughput and recall against detect-secrets 1.5.0, on the same generated corpus,
//! in the same run (see `BENCHMARKS.md`, "Secret scanner").
//!
//! The corpus (`arkbridge_scanner::corpus`, storage-format pages with planted fakes and decoys)
//! is written under `target/tmp/scanner-bench/`. Our side reads each file and scans it
//! (`Scanner::scan`), `ARKBRIDGE_BENCH_ROUNDS` times; detect-secrets scans the same directory
//! once (`scan --all-files -n`, its default plugins and filters). CPU time is user + system from
//! `getrusage` (ours: this process; detect-secrets: the waited-for children, so its worker
//! processes count), and MB = 10^6 bytes of page files. Recall is scored against the labels:
//! our findings by their storage span; detect-secrets' results by their line (a result covers
//! the whole line it names).
//!
//! Knobs (environment variables):
//! * `ARKBRIDGE_BENCH_PAGES`     pages in the corpus (default 400, about 10 MB)
//! * `ARKBRIDGE_BENCH_SEED`      corpus seed (default 1)
//! * `ARKBRIDGE_BENCH_ROUNDS`    rounds of our scan (default 5; the median is reported)
//! * `ARKBRIDGE_DETECT_SECRETS`  path of a `detect-secrets` 1.5.0 executable; without it the
//!   bench runs `benches/detect-secrets-venv.sh`, which creates a venv under `target/tmp/`
//! * `ARKBRIDGE_BENCH_ONLY=arkbridge`  skip detect-secrets (for `perf`)

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use arkbridge_scanner::corpus::{self, Class, Hit, Score};
use arkbridge_scanner::{FingerprintKey, PageMeta, Scanner};
use nix::sys::resource::{UsageWho, getrusage};

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a non-negative integer")),
        Err(_) => default,
    }
}

/// User + system CPU time of this process or of its waited-for children.
fn cpu(who: UsageWho) -> Duration {
    let u = getrusage(who).expect("getrusage");
    let t = |tv: nix::sys::time::TimeVal| {
        Duration::new(
            tv.tv_sec().max(0) as u64,
            (tv.tv_usec().max(0) as u32) * 1000,
        )
    };
    t(u.user_time()) + t(u.system_time())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Side {
    cpu_s: f64,
    wall_s: f64,
    score: Score,
}

fn our_scan(dir: &Path, files: &[String], labels: &[corpus::Label]) -> Side {
    let key = FingerprintKey::new(&secrecy::SecretSlice::from(b"bench-key".to_vec()));
    let (c0, w0) = (cpu(UsageWho::RUSAGE_SELF), Instant::now());
    let scanner = Scanner::new(key);
    let mut hits = Vec::new();
    for f in files {
        let storage = std::fs::read_to_string(dir.join(f)).expect("read page");
        let meta = PageMeta {
            path: Some(f.clone()),
            ..PageMeta::default()
        };
        for finding in scanner.scan(meta, &storage).findings {
            let l = &finding.location;
            hits.push(Hit {
                file: f.clone(),
                range: l.byte_offset..l.byte_offset + l.byte_length,
            });
        }
    }
    let cpu_s = (cpu(UsageWho::RUSAGE_SELF) - c0).as_secs_f64();
    let wall_s = w0.elapsed().as_secs_f64();
    Side {
        cpu_s,
        wall_s,
        score: corpus::score(labels, &hits),
    }
}

fn detect_secrets_exe() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("ARKBRIDGE_DETECT_SECRETS") {
        return Some(PathBuf::from(p));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/detect-secrets-venv.sh");
    let out = Command::new("sh").arg(&script).output().ok()?;
    if !out.status.success() {
        eprintln!(
            "{} failed:\n{}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn detect_secrets(
    exe: &Path,
    dir: &Path,
    pages: &[corpus::GeneratedPage],
    labels: &[corpus::Label],
) -> Option<Side> {
    let (c0, w0) = (cpu(UsageWho::RUSAGE_CHILDREN), Instant::now());
    let out = Command::new(exe)
        .current_dir(dir)
        .args([
            "scan",
            "--all-files",
            "-n",
            "--exclude-files",
            r"labels\.jsonl",
            ".",
        ])
        .output()
        .ok()?;
    let cpu_s = (cpu(UsageWho::RUSAGE_CHILDREN) - c0).as_secs_f64();
    let wall_s = w0.elapsed().as_secs_f64();
    if !out.status.success() {
        eprintln!(
            "detect-secrets failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let baseline: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let mut hits = Vec::new();
    for (file, results) in baseline["results"].as_object()? {
        let file = file.trim_start_matches("./").to_string();
        let Some(page) = pages.iter().find(|p| p.file == file) else {
            continue;
        };
        // Byte ranges of each line, to turn a line number into a span.
        let mut lines = Vec::new();
        let mut start = 0;
        for line in page.storage.split_inclusive('\n') {
            lines.push(start..start + line.len());
            start += line.len();
        }
        for r in results.as_array()? {
            let n = r["line_number"].as_u64().unwrap_or(0) as usize;
            if let Some(range) = n.checked_sub(1).and_then(|i| lines.get(i)) {
                hits.push(Hit {
                    file: file.clone(),
                    range: range.clone(),
                });
            }
        }
    }
    Some(Side {
        cpu_s,
        wall_s,
        score: corpus::score(labels, &hits),
    })
}

fn row(name: &str, mb: f64, s: &Side) -> String {
    let t = |c: Class| s.score.by_class.get(&c).copied().unwrap_or_default();
    let r = |c: Class| {
        format!(
            "{}/{} = {:.1}%",
            t(c).found,
            t(c).planted,
            100.0 * t(c).rate()
        )
    };
    format!(
        "| {name} | {:.2} | {:.2} | **{:.prec$}** | {} | {} | {} | {}/{} | {} ({} on decoys) | {:.1}% |",
        s.cpu_s,
        s.wall_s,
        mb / s.cpu_s,
        r(Class::Structured),
        r(Class::Confluence),
        r(Class::Generic),
        t(Class::Decoy).found,
        t(Class::Decoy).planted,
        s.score.findings,
        s.score.decoy_findings,
        100.0 * s.score.precision(),
        prec = if mb / s.cpu_s < 10.0 { 2 } else { 1 },
    )
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is a filter this bench does not use.
    let pages_n = env_usize("ARKBRIDGE_BENCH_PAGES", 400);
    let seed = env_usize("ARKBRIDGE_BENCH_SEED", 1) as u64;
    let rounds = env_usize("ARKBRIDGE_BENCH_ROUNDS", 5).max(1);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tmp/scanner-bench/corpus");
    let _ = std::fs::remove_dir_all(&dir);
    let pages = corpus::generate(pages_n, seed);
    corpus::write(&dir, &pages).expect("write the corpus");
    let files: Vec<String> = pages.iter().map(|p| p.file.clone()).collect();
    let labels: Vec<corpus::Label> = pages
        .iter()
        .flat_map(|p| p.labels.iter().cloned())
        .collect();
    let mb = pages.iter().map(|p| p.storage.len()).sum::<usize>() as f64 / 1e6;
    println!(
        "corpus: {pages_n} pages, {mb:.2} MB, {} labels, in {}",
        labels.len(),
        dir.display()
    );

    let setup = Instant::now();
    let _ = Scanner::new(FingerprintKey::new(&secrecy::SecretSlice::from(
        b"k".to_vec(),
    )));
    println!(
        "scanner set-up (compiling the detectors): {:.1} ms",
        setup.elapsed().as_secs_f64() * 1e3
    );

    let mut ours = Vec::new();
    for i in 0..rounds {
        let s = our_scan(&dir, &files, &labels);
        println!(
            "round {}: arkbridge {:.3} CPU-s, {:.1} MB/CPU-s",
            i + 1,
            s.cpu_s,
            mb / s.cpu_s
        );
        ours.push(s);
    }
    let med = median(ours.iter().map(|s| s.cpu_s).collect());
    let ours = ours
        .into_iter()
        .find(|s| s.cpu_s == med)
        .expect("a median round");

    let theirs = if std::env::var("ARKBRIDGE_BENCH_ONLY").as_deref() == Ok("arkbridge") {
        None
    } else {
        match detect_secrets_exe() {
            Some(exe) => detect_secrets(&exe, &dir, &pages, &labels),
            None => {
                println!("detect-secrets is not available: no comparison");
                None
            }
        }
    };

    println!();
    println!(
        "| tool | CPU-s | wall s | MB per CPU-s | recall structured | recall Confluence-style | recall generic | decoys hit | findings | precision |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    println!("{}", row("arkbridge-scanner (median round)", mb, &ours));
    if let Some(t) = &theirs {
        println!("{}", row("detect-secrets 1.5.0", mb, t));
        println!();
        println!(
            "throughput ratio (MB per CPU-s): {:.1}x",
            t.cpu_s / ours.cpu_s
        );
    }
    println!();
    println!("arkbridge-scanner per kind:\n{}", ours.score);
    if let Some(t) = &theirs {
        println!("\ndetect-secrets per kind:\n{}", t.score);
    }
}
