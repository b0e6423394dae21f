//! The daily report for people: plain text for a terminal or a cron mail, and one
//! self-contained HTML file (inline style, no script, no external resource) with every value
//! escaped.

use std::fmt::Write;

use super::report::{CheckResult, DailyReport, Status};
use crate::comment::xml_escape;

fn criteria(c: &CheckResult) -> String {
    c.criteria.join(", ")
}

/// The report as text: the verdict, each check with its evidence, the checkpoint and the open
/// findings. Control characters are replaced, so a page title cannot drive the terminal.
pub fn render_text(r: &DailyReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "arkbridge daily compliance audit, {}", r.generated_at);
    let _ = writeln!(
        out,
        "Spaces: {}. Leases since {} (last {} h).",
        if r.spaces.is_empty() {
            "none".to_string()
        } else {
            r.spaces.join(", ")
        },
        r.period_start,
        r.lookback_hours
    );
    let _ = writeln!(out, "{}\n", r.headline());
    for c in &r.checks {
        let _ = writeln!(
            out,
            "[{:<5}] {} ({}): {}",
            c.status.label(),
            c.id,
            criteria(c),
            c.title
        );
        let _ = writeln!(out, "        {}", c.summary);
        for e in &c.evidence {
            let _ = writeln!(
                out,
                "        - {:<5} {}: {}",
                e.status.as_str(),
                e.subject,
                e.detail
            );
        }
    }
    out.push('\n');
    match &r.checkpoint {
        Some(c) => {
            let _ = writeln!(
                out,
                "Checkpoint {}: tree size {}, root {}, signed {} by {}+{}",
                c.id, c.tree_size, c.root, c.time, c.origin, c.key_id
            );
        }
        None => out.push_str("Checkpoint: none signed yet\n"),
    }
    if r.findings.is_empty() {
        out.push_str("New secret findings: none\n");
    } else {
        let _ = writeln!(out, "New secret findings: {}", r.findings.len());
        for f in &r.findings {
            let _ = writeln!(
                out,
                "  #{} {} {} on {}: {}",
                f.id,
                f.severity,
                f.detector,
                f.title.as_deref().or(f.file_path.as_deref()).unwrap_or("?"),
                f.preview
            );
        }
    }
    if !r.scan.ran {
        let _ = writeln!(out, "Scan: {}", r.scan.detail);
    }
    if let Some(id) = r.report_id {
        let _ = writeln!(out, "Stored as daily report {id}.");
    }
    // Page titles and other text from Confluence reach a terminal here: no control character
    // (an escape sequence) other than the line breaks of the layout gets through.
    out.chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

fn colour(s: Status) -> &'static str {
    match s {
        Status::Pass => "#1f7a3a",
        Status::Info => "#2f5f9e",
        Status::Warn => "#9a6a00",
        Status::Fail | Status::Error => "#b3261e",
    }
}

fn badge(s: Status) -> String {
    format!(
        "<span class=\"badge\" style=\"background:{}\">{}</span>",
        colour(s),
        s.label()
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#1d1d1f}\
table{border-collapse:collapse;margin:0.5em 0 1.5em;width:100%}\
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f2f2f2}.badge{color:#fff;border-radius:3px;padding:1px 6px;font-size:0.85em;\
font-weight:bold}code{font-size:0.9em}";

/// The report as one self-contained HTML document.
pub fn render_html(r: &DailyReport) -> String {
    let e = |s: &str| xml_escape(s);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>arkbridge daily compliance audit {}</title><style>{STYLE}</style></head><body>",
        e(&r.generated_at)
    );
    let overall = if r.passed { Status::Pass } else { Status::Fail };
    let _ = write!(
        out,
        "<h1>arkbridge daily compliance audit</h1><p>{} {}</p>\
         <p>Generated {}. Spaces: {}. Leases since {} (last {} h).</p>",
        badge(overall),
        e(&r.headline()),
        e(&r.generated_at),
        e(&r.spaces.join(", ")),
        e(&r.period_start),
        r.lookback_hours
    );
    out.push_str(
        "<h2>Summary</h2><table><tr><th>Check</th><th>SOC 2</th><th>Result</th>\
         <th>Outcome</th></tr>",
    );
    for c in &r.checks {
        let _ = write!(
            out,
            "<tr><td>{}<br><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e(c.title),
            e(c.id),
            e(&criteria(c)),
            badge(c.status),
            e(&c.summary)
        );
    }
    out.push_str("</table><h2>Audit log checkpoint</h2>");
    match &r.checkpoint {
        Some(c) => {
            let _ = write!(
                out,
                "<table><tr><th>Checkpoint</th><th>Tree size</th><th>Root</th><th>Signed</th>\
                 <th>Key</th></tr><tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td>\
                 <td><code>{}+{}</code></td></tr></table>",
                c.id,
                c.tree_size,
                e(&c.root),
                e(&c.time),
                e(&c.origin),
                e(&c.key_id)
            );
        }
        None => out.push_str("<p>No checkpoint is signed yet.</p>"),
    }
    let _ = write!(out, "<h2>New secret findings ({})</h2>", r.findings.len());
    if r.findings.is_empty() {
        out.push_str("<p>None.</p>");
    } else {
        out.push_str(
            "<table><tr><th>Id</th><th>Where</th><th>Detector</th><th>Severity</th>\
             <th>Preview (masked)</th><th>First seen</th></tr>",
        );
        for f in &r.findings {
            let place = match (&f.page_id, &f.file_path) {
                (Some(id), _) => format!("page {id} {}", f.title.as_deref().unwrap_or("")),
                (None, Some(p)) => format!("file {p}"),
                (None, None) => String::new(),
            };
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td>\
                 <td>{}</td></tr>",
                f.id,
                e(&place),
                e(&f.detector),
                e(&f.severity),
                e(&f.preview),
                e(&f.first_seen)
            );
        }
        out.push_str("</table>");
    }
    out.push_str("<h2>Evidence</h2>");
    for c in &r.checks {
        let _ = write!(
            out,
            "<h3>{} {}</h3><p>{} · {}</p>",
            badge(c.status),
            e(c.title),
            e(&criteria(c)),
            e(&c.summary)
        );
        if c.evidence.is_empty() {
            continue;
        }
        out.push_str("<table><tr><th>Subject</th><th>Result</th><th>Detail</th></tr>");
        for ev in &c.evidence {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                e(&ev.subject),
                badge(ev.status),
                e(&ev.detail)
            );
        }
        out.push_str("</table>");
    }
    if !r.scan.ran {
        let _ = write!(out, "<p>Scan: {}</p>", e(&r.scan.detail));
    }
    out.push_str("</body></html>\n");
    out
}
