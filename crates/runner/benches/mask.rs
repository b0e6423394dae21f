//! Masking throughput: `arkbridge_core::mask::MaskStream` against a plain copy of the same
//! stream through the same chunking, side by side, in the same run (see `BENCHMARKS.md`).
//!
//! The stream is generated log-like text (timestamps, levels, paths, hex trace ids, JSON lines)
//! with, every `ARKBRIDGE_BENCH_SECRET_EVERY` bytes, one line holding a form of one of the run's
//! secrets (raw, base64 and base64url with and without padding, percent-encoded, hex in both
//! cases, JSON-escaped). The secrets are random (12 to 40 characters, punctuation, quotes,
//! backslashes and a few non-ASCII letters among them); the masker gets all of them.
//!
//! Both sides take the stream in chunks of `ARKBRIDGE_BENCH_CHUNK` bytes (the runner's read
//! size by default) and append what they emit to one reused output buffer, cleared after every
//! chunk as a sink would consume it: the copy side appends the chunk as it is, the masker side
//! appends the masked bytes that are final (`MaskStream::push_into`). Rounds alternate the order
//! (masker→copy, copy→masker, ...). Each round reports MB/s per side (one thread, so per core)
//! and the masker/copy ratio; the summary gives medians and the spread (min..max) over rounds.
//! Before timing, the masked output is checked: it equals the one-shot `Masker::mask` of the
//! whole stream and contains no form of any secret.
//!
//! Knobs (environment variables):
//! * `ARKBRIDGE_BENCH_SECRETS`      comma-separated secret counts (default `1,10,100`)
//! * `ARKBRIDGE_BENCH_MB`           stream size in MiB (default 64)
//! * `ARKBRIDGE_BENCH_CHUNK`        chunk size in bytes (default: the runner's read size)
//! * `ARKBRIDGE_BENCH_SECRET_EVERY` bytes between two secret lines (default 16384)
//! * `ARKBRIDGE_BENCH_ROUNDS`       measured rounds per secret count (default 10)
//! * `ARKBRIDGE_BENCH_ONLY`         `masker`: the masker side only, no comparison (for `perf`)

use std::hint::black_box;
use std::time::{Duration, Instant};

use aho_corasick::AhoCorasick;
use arkbridge_core::mask::Masker;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a positive integer")),
        Err(_) => default,
    }
}

/// A small deterministic generator (xorshift64*), so that every run sees the same stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn secret(rng: &mut Rng) -> String {
    const ALPHABET: &[char] = &[
        'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'k', 'm', 'n', 'p', 'q', 'r', 's', 't', 'u', 'v',
        'w', 'x', 'y', 'z', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'K', 'M', 'N', 'P', 'Q', 'R',
        'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9',
        '!', '@', '#', '$', '%', '^', '&', '(', ')', '-', '_', '=', '+', '[', ']', '{', '}', ';',
        ':', '\'', '"', ',', '.', '<', '>', '/', '?', '\\', '|', '~', ' ', 'é', 'ü', '€',
    ];
    let len = 12 + rng.below(29);
    (0..len)
        .map(|_| ALPHABET[rng.below(ALPHABET.len())])
        .collect()
}

/// The forms a line of the stream may carry, all of which must come out masked.
fn forms(value: &str) -> Vec<Vec<u8>> {
    let b = value.as_bytes();
    let json = serde_json::to_string(value).unwrap();
    vec![
        b.to_vec(),
        STANDARD.encode(b).into_bytes(),
        STANDARD_NO_PAD.encode(b).into_bytes(),
        URL_SAFE.encode(b).into_bytes(),
        URL_SAFE_NO_PAD.encode(b).into_bytes(),
        utf8_percent_encode(value, NON_ALPHANUMERIC)
            .to_string()
            .into_bytes(),
        hex::encode(b).into_bytes(),
        hex::encode_upper(b).into_bytes(),
        json.as_bytes()[1..json.len() - 1].to_vec(),
    ]
}

/// Log-like text of `size` bytes with a secret line every `every` bytes.
fn stream(rng: &mut Rng, size: usize, every: usize, secrets: &[Vec<Vec<u8>>]) -> Vec<u8> {
    const LEVELS: &[&str] = &["INFO ", "DEBUG", "WARN ", "INFO ", "ERROR"];
    const WORDS: &[&str] = &[
        "request",
        "served",
        "connection",
        "opened",
        "closed",
        "retrying",
        "backup",
        "replica",
        "lag",
        "vacuum",
        "table",
        "payments",
        "ledger",
        "checkpoint",
        "complete",
        "started",
    ];
    let mut out = Vec::with_capacity(size + 256);
    let mut next_secret = every;
    while out.len() < size {
        let ms = rng.below(86_400_000);
        out.extend_from_slice(
            format!(
                "2026-11-29T{:02}:{:02}:{:02}.{:03}Z {} worker-{} ",
                ms / 3_600_000,
                ms / 60_000 % 60,
                ms / 1000 % 60,
                ms % 1000,
                LEVELS[rng.below(LEVELS.len())],
                rng.below(16)
            )
            .as_bytes(),
        );
        match rng.below(3) {
            0 => out.extend_from_slice(
                format!(
                    "GET /api/v1/items/{} status=200 bytes={} took={}ms trace={:016x}\n",
                    rng.below(100_000),
                    rng.below(65_536),
                    rng.below(500),
                    rng.next()
                )
                .as_bytes(),
            ),
            1 => out.extend_from_slice(
                format!(
                    "{{\"event\":\"{}\",\"table\":\"{}\",\"rows\":{},\"id\":\"{:08x}-{:04x}\"}}\n",
                    WORDS[rng.below(WORDS.len())],
                    WORDS[rng.below(WORDS.len())],
                    rng.below(1_000_000),
                    rng.next() as u32,
                    rng.next() as u16
                )
                .as_bytes(),
            ),
            _ => {
                for _ in 0..6 + rng.below(8) {
                    out.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
                    out.push(b' ');
                }
                out.push(b'\n');
            }
        }
        if out.len() >= next_secret {
            next_secret += every;
            let s = &secrets[rng.below(secrets.len())];
            out.extend_from_slice(b"connecting with token=");
            out.extend_from_slice(&s[rng.below(s.len())]);
            out.extend_from_slice(b" (retry 0)\n");
        }
    }
    out
}

/// One side of the comparison; both emit into `out`, cleared after every chunk.
fn copy_side(input: &[u8], chunk: usize, out: &mut Vec<u8>) -> usize {
    let mut emitted = 0;
    for c in input.chunks(chunk) {
        out.extend_from_slice(c);
        emitted += black_box(&*out).len();
        out.clear();
    }
    emitted
}

fn masker_side(masker: &Masker, input: &[u8], chunk: usize, out: &mut Vec<u8>) -> usize {
    let mut emitted = 0;
    let mut s = masker.stream();
    for c in input.chunks(chunk) {
        s.push_into(c, out);
        emitted += black_box(&*out).len();
        out.clear();
    }
    s.finish_into(out);
    emitted += black_box(&*out).len();
    out.clear();
    emitted
}

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
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
    let counts: Vec<usize> = std::env::var("ARKBRIDGE_BENCH_SECRETS")
        .unwrap_or_else(|_| "1,10,100".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .expect("ARKBRIDGE_BENCH_SECRETS: comma-separated positive integers")
        })
        .collect();
    let size = env_usize("ARKBRIDGE_BENCH_MB", 64).max(1) << 20;
    let chunk = env_usize("ARKBRIDGE_BENCH_CHUNK", arkbridge_runner::READ_CHUNK).max(1);
    let every = env_usize("ARKBRIDGE_BENCH_SECRET_EVERY", 16384).max(64);
    let rounds = env_usize("ARKBRIDGE_BENCH_ROUNDS", 10).max(1);
    let only_masker = match std::env::var("ARKBRIDGE_BENCH_ONLY").as_deref() {
        Ok("masker") => true,
        Ok(other) => panic!("ARKBRIDGE_BENCH_ONLY must be masker, not {other:?}"),
        Err(_) => false,
    };

    println!("# arkbridge masking benchmark: MaskStream vs a plain copy, same run, one thread");
    println!(
        "load average at start: {}, stream: {} MiB, chunk: {chunk} B, a secret line every \
         {every} B, rounds: {rounds}, profile: {}",
        loadavg(),
        size >> 20,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    );
    let started = Instant::now();
    let mut summary = Vec::new();
    for &n in &counts {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ n as u64);
        let values: Vec<String> = (0..n).map(|_| secret(&mut rng)).collect();
        let all_forms: Vec<Vec<Vec<u8>>> = values.iter().map(|v| forms(v)).collect();
        let input = stream(&mut rng, size, every, &all_forms);
        let built = Instant::now();
        let masker = Masker::with_default_mask(values.iter().map(String::as_str));
        let build_time = built.elapsed();

        // Correctness first: streamed == one-shot, and no form of any secret survives.
        let whole = masker.mask(&input);
        let mut streamed = Vec::new();
        let mut s = masker.stream();
        for c in input.chunks(chunk) {
            s.push_into(c, &mut streamed);
        }
        s.finish_into(&mut streamed);
        assert!(streamed == whole, "streamed and one-shot masking differ");
        let check = AhoCorasick::new(all_forms.iter().flatten()).unwrap();
        assert!(!check.is_match(&whole), "a secret form survived masking");
        assert!(check.is_match(&input), "the stream carries secrets");

        let mut out = Vec::with_capacity(chunk * 2 + 4096);
        // Warm-up: faults in the automaton, the input and the output buffer.
        masker_side(&masker, &input, chunk, &mut out);
        copy_side(&input, chunk, &mut out);
        println!(
            "\n## {n} secret(s): {} needles after dedup, masker built in {:.2} ms\n",
            masker.needle_count(),
            build_time.as_secs_f64() * 1e3
        );
        if only_masker {
            for round in 0..rounds {
                let t = Instant::now();
                black_box(masker_side(&masker, &input, chunk, &mut out));
                println!(
                    "round {} masker {:.0} MB/s",
                    round + 1,
                    mbps(size, t.elapsed())
                );
            }
            continue;
        }
        println!("| round | order | masker MB/s | copy MB/s | ratio (masker/copy) |");
        println!("|---|---|---|---|---|");
        let mut rows = Vec::new();
        for round in 0..rounds {
            let masker_first = round % 2 == 0;
            let mut time_masker = || {
                let t = Instant::now();
                black_box(masker_side(&masker, &input, chunk, &mut out));
                t.elapsed()
            };
            let (m, c);
            if masker_first {
                m = time_masker();
                let t = Instant::now();
                black_box(copy_side(&input, chunk, &mut Vec::with_capacity(chunk)));
                c = t.elapsed();
            } else {
                let t = Instant::now();
                black_box(copy_side(&input, chunk, &mut Vec::with_capacity(chunk)));
                c = t.elapsed();
                m = time_masker();
            }
            let (mm, cm) = (mbps(input.len(), m), mbps(input.len(), c));
            println!(
                "| {} | {} | {mm:.0} | {cm:.0} | {:.4} |",
                round + 1,
                if masker_first {
                    "masker→copy"
                } else {
                    "copy→masker"
                },
                mm / cm
            );
            rows.push((mm, cm));
        }
        summary.push((n, masker.needle_count(), rows));
    }
    if only_masker {
        return;
    }
    println!("\n## Summary (medians over rounds; [min..max] across rounds)\n");
    println!("| secrets | needles | masker MB/s | copy MB/s | ratio (masker/copy) |");
    println!("|---|---|---|---|---|");
    for (n, needles, rows) in &summary {
        let m: Vec<f64> = rows.iter().map(|r| r.0).collect();
        let c: Vec<f64> = rows.iter().map(|r| r.1).collect();
        let r: Vec<f64> = rows.iter().map(|r| r.0 / r.1).collect();
        let ((ml, mh), (rl, rh)) = (spread(&m), spread(&r));
        println!(
            "| {n} | {needles} | {:.0} [{ml:.0}..{mh:.0}] | {:.0} | {:.4} [{rl:.4}..{rh:.4}] |",
            median(m),
            median(c),
            median(r),
        );
    }
    println!(
        "\nmeasured in {:.1} s; load average at end: {}",
        started.elapsed().as_secs_f64(),
        loadavg()
    );
}
