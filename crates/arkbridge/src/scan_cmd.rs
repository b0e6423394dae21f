//! `arkbridge scan`: find secrets pasted into Confluence pages (through the bridge, keeping
//! every finding in the triage memory) or in storage-format files (`--path`, e.g. an export);
//! with `--server`, through an `arkbridge serve` (`remote_scan.rs`).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use arkbridge_core::config::Config;
use arkbridge_engine::{BRIDGE_ACTOR, Bridge, ScanProgress, ScanReport, ScanRequest, Since};
use arkbridge_scanner::{FingerprintKey, PageMeta, Report, Scanner, Severity, report};
use arkbridge_store::FindingState;

use crate::cli::{ScanArgs, ScanFormat};
use crate::run_cmd::report_recovery;

/// File names a `--path` scan reads.
const STORAGE_EXTENSIONS: [&str; 3] = ["xhtml", "html", "xml"];

pub(crate) async fn main(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let fail_on = match args.fail_on.as_deref().map(|s| (s, Severity::parse(s))) {
        None => None,
        Some((_, Some(s))) => Some(s),
        Some((s, None)) => {
            anyhow::bail!("--fail-on {s}: the severities are low, medium, high and critical")
        }
    };
    if let Some(server) = args.remote.server.as_deref() {
        return crate::remote_scan::scan(server, &args, fail_on).await;
    }
    let (output, failing) = match &args.path {
        Some(dir) => {
            let report = scan_dir(dir)?;
            let failing = report
                .findings()
                .filter(|(_, f)| fail_on.is_some_and(|s| f.severity >= s))
                .count();
            (render(&report, args.format), failing)
        }
        None => {
            let config_path = args.config.as_ref().context(
                "--config FILE is needed to scan Confluence (--space or --page); --path DIR \
                 scans files without one",
            )?;
            let config = Config::load(config_path)?;
            let request = ScanRequest {
                spaces: args.space.clone(),
                pages: args.page.clone(),
                since: parse_since(args.since.as_deref())?,
                history: args.history,
                comments: args.comments,
            };
            if request.spaces.is_empty() && request.pages.is_empty() {
                anyhow::bail!("name what to scan: --space KEY, --page ID or --path DIR");
            }
            let (bridge, recovery) = Bridge::connect(config)
                .await
                .context("cannot connect the bridge")?;
            report_recovery(&recovery);
            let mut bar = Progress::new();
            let scanned = bridge.scan(BRIDGE_ACTOR, &request, |p| bar.show(p)).await;
            bar.finish();
            bridge.shutdown().await;
            let scanned = scanned?;
            // Accepted, false-positive and vaulted findings were decided on: they do not fail.
            let failing = scanned
                .hits
                .iter()
                .filter(|h| h.record.state == FindingState::New)
                .filter(|h| fail_on.is_some_and(|s| scanned.of(h).1.severity >= s))
                .count();
            let output = match args.format {
                ScanFormat::Text => triage_text(&scanned),
                ScanFormat::Json => triage_json(&scanned),
                other => render(&scanned.report, other),
            };
            (output, failing)
        }
    };
    deliver(&args, &output, failing)
}

/// Writes a scan's `output` to `--output` (or stdout) and exits 1 when `failing` findings are at
/// or above `--fail-on`, as the local and the `--server` scan both do.
pub(crate) fn deliver(args: &ScanArgs, output: &str, failing: usize) -> anyhow::Result<ExitCode> {
    match &args.output {
        Some(file) => std::fs::write(file, output)
            .with_context(|| format!("cannot write {}", file.display()))?,
        None => std::io::stdout().write_all(output.as_bytes())?,
    }
    if failing > 0 {
        eprintln!(
            "{failing} finding{} at or above --fail-on {}",
            if failing == 1 { "" } else { "s" },
            args.fail_on.as_deref().unwrap_or_default()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn render(report: &Report, format: ScanFormat) -> String {
    match format {
        ScanFormat::Text => report::text(report),
        ScanFormat::Json => report::json(report),
        ScanFormat::Sarif => report::sarif(report),
        ScanFormat::Html => report::html(report),
    }
}

/// `--since`: `last` (the space's last complete scan) or a date `YYYY-MM-DD` or RFC 3339 time.
fn parse_since(since: Option<&str>) -> anyhow::Result<Since> {
    let Some(s) = since else {
        return Ok(Since::All);
    };
    if s == "last" {
        return Ok(Since::Last);
    }
    // A date is midnight UTC of that day.
    let ts = s
        .parse::<jiff::Timestamp>()
        .or_else(|_| format!("{s}T00:00:00Z").parse::<jiff::Timestamp>())
        .map_err(|_| {
            anyhow::anyhow!(
                "--since {s}: give `last`, a date (2026-11-29) or a time (2026-11-29T08:00:00Z)"
            )
        })?;
    Ok(Since::Time(ts.as_microsecond()))
}

/// Scans the storage files under `dir` with a random fingerprint key: without the bridge's key
/// (`[scanner] fingerprint_key`) fingerprints only compare within this scan.
fn scan_dir(dir: &Path) -> anyhow::Result<Report> {
    let mut key = [0u8; 32];
    rand::fill(&mut key);
    let scanner = Scanner::new(FingerprintKey::new(&secrecy::SecretSlice::from(
        key.to_vec(),
    )));
    let mut files = Vec::new();
    collect_files(dir, &mut files).with_context(|| format!("cannot read {}", dir.display()))?;
    files.sort();
    let mut report = Report::default();
    let mut bar = Progress::new();
    let (mut bytes, mut findings) = (0u64, 0u64);
    for file in files {
        let body =
            std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let body = String::from_utf8_lossy(&body);
        let rel = file
            .strip_prefix(dir)
            .unwrap_or(&file)
            .to_string_lossy()
            .into_owned();
        let meta = PageMeta {
            title: file.file_stem().map(|s| s.to_string_lossy().into_owned()),
            path: Some(rel),
            ..PageMeta::default()
        };
        let scanned = scanner.scan(meta, &body);
        bytes += body.len() as u64;
        findings += scanned.findings.len() as u64;
        report.pages.push(scanned);
        bar.show(ScanProgress {
            documents: report.pages.len() as u64,
            bytes,
            findings,
        });
    }
    bar.finish();
    Ok(report)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            collect_files(&path, out)?;
        } else if kind.is_file()
            && path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| STORAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// The text output of a Confluence scan: one line per finding with its triage id and state
/// (the id is what `arkbridge vault` takes), then a summary.
fn triage_text(scanned: &ScanReport) -> String {
    let mut out = String::new();
    for hit in &scanned.hits {
        let (page, f) = scanned.of(hit);
        let m = &page.meta;
        out.push_str(&format!(
            "#{:<5} {:<14} {:<8} {:<28} page {} v{} {:?} at {} (char {}): {}\n",
            hit.record.id,
            if hit.new {
                "new".to_string()
            } else {
                hit.record.state.as_str().to_string()
            },
            f.severity.as_str(),
            f.detector,
            m.page_id.as_deref().unwrap_or("-"),
            m.version.unwrap_or(0),
            m.title.as_deref().unwrap_or(""),
            hit.record.finding.element_path,
            f.location.char_offset,
            f.preview,
        ));
    }
    let new = scanned.new_hits().count();
    out.push_str(&format!(
        "{} finding{} ({new} new) on {} document{}, {} bytes\n",
        scanned.hits.len(),
        if scanned.hits.len() == 1 { "" } else { "s" },
        scanned.report.pages.len(),
        if scanned.report.pages.len() == 1 {
            ""
        } else {
            "s"
        },
        scanned.bytes
    ));
    out
}

fn triage_json(scanned: &ScanReport) -> String {
    let findings: Vec<serde_json::Value> = scanned
        .hits
        .iter()
        .map(|hit| {
            let (page, f) = scanned.of(hit);
            serde_json::json!({
                "id": hit.record.id,
                "state": hit.record.state,
                "new": hit.new,
                "page": page.meta,
                "finding": f,
            })
        })
        .collect();
    let value = serde_json::json!({
        "tool": { "name": report::TOOL_NAME, "version": report::TOOL_VERSION },
        "documents": scanned.report.pages.len(),
        "bytes": scanned.bytes,
        "findings": findings,
    });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

/// Pages, bytes and findings on stderr: a bar redrawn in place on a terminal, a plain line
/// every 100 documents otherwise.
struct Progress {
    tty: bool,
    last: ScanProgress,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            tty: std::io::stderr().is_terminal(),
            last: ScanProgress::default(),
        }
    }

    fn line(p: ScanProgress) -> String {
        format!(
            "scanned {} document{}, {:.1} MB, {} finding{}",
            p.documents,
            if p.documents == 1 { "" } else { "s" },
            p.bytes as f64 / 1e6,
            p.findings,
            if p.findings == 1 { "" } else { "s" }
        )
    }

    fn show(&mut self, p: ScanProgress) {
        self.last = p;
        if self.tty {
            eprint!("\r\x1b[2K{}", Progress::line(p));
        } else if p.documents.is_multiple_of(100) {
            eprintln!("{}", Progress::line(p));
        }
    }

    fn finish(&self) {
        if self.tty {
            eprintln!();
        } else if !self.last.documents.is_multiple_of(100) {
            eprintln!("{}", Progress::line(self.last));
        }
    }
}
