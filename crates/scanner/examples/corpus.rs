//! Writes the labelled corpus to a directory:
//! `cargo run -p arkbridge-scanner --example corpus -- --out DIR --pages N --seed S`
//! (`page-NNNNN.xhtml` storage-format pages and `labels.jsonl`, one label per planted value).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut out: Option<PathBuf> = None;
    let mut pages = 200usize;
    let mut seed = 1u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = args.next();
        let parsed = match (a.as_str(), value) {
            ("--out", Some(v)) => {
                out = Some(PathBuf::from(v));
                true
            }
            ("--pages", Some(v)) => v.parse().map(|n| pages = n).is_ok(),
            ("--seed", Some(v)) => v.parse().map(|n| seed = n).is_ok(),
            _ => false,
        };
        if !parsed {
            eprintln!("usage: corpus --out DIR [--pages N] [--seed S] (bad argument `{a}`)");
            return ExitCode::from(2);
        }
    }
    let Some(out) = out else {
        eprintln!("usage: corpus --out DIR [--pages N] [--seed S]");
        return ExitCode::from(2);
    };
    let corpus = arkbridge_scanner::corpus::generate(pages, seed);
    if let Err(e) = arkbridge_scanner::corpus::write(&out, &corpus) {
        eprintln!("cannot write the corpus to {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    let bytes: usize = corpus.iter().map(|p| p.storage.len()).sum();
    let labels: usize = corpus.iter().map(|p| p.labels.len()).sum();
    println!(
        "wrote {pages} pages ({:.1} MB) and {labels} labels to {}",
        bytes as f64 / 1e6,
        out.display()
    );
    ExitCode::SUCCESS
}
