//! The daily report as a Confluence page body (storage format): a verdict with a status macro,
//! a summary table with a Green/Red (Yellow for warnings) PASS/FAIL status macro per check and
//! its SOC 2 criteria, the audit checkpoint, the open findings (masked previews) and the
//! evidence of every check. All text is escaped; nothing comes from the page it replaces.

use std::fmt::Write;

use super::report::{CheckResult, DailyReport, Status};
use crate::comment::xml_escape;

/// A `status` macro for a result.
fn status_macro(s: Status) -> String {
    let colour = match s {
        Status::Pass => "Green",
        Status::Info => "Blue",
        Status::Warn => "Yellow",
        Status::Fail | Status::Error => "Red",
    };
    format!(
        "<ac:structured-macro ac:name=\"status\" ac:schema-version=\"1\">\
         <ac:parameter ac:name=\"colour\">{colour}</ac:parameter>\
         <ac:parameter ac:name=\"title\">{}</ac:parameter></ac:structured-macro>",
        s.label()
    )
}

fn row(out: &mut String, cells: &[String]) {
    out.push_str("<tr>");
    for c in cells {
        let _ = write!(out, "<td>{c}</td>");
    }
    out.push_str("</tr>");
}

fn header(out: &mut String, cells: &[&str]) {
    out.push_str("<table><tbody><tr>");
    for c in cells {
        let _ = write!(out, "<th>{c}</th>");
    }
    out.push_str("</tr>");
}

fn criteria(c: &CheckResult) -> String {
    xml_escape(&c.criteria.join(", "))
}

/// The report's storage-format body.
pub fn render_storage(r: &DailyReport) -> String {
    let e = |s: &str| xml_escape(s);
    let mut out = String::new();
    let overall = if r.passed { Status::Pass } else { Status::Fail };
    let _ = write!(
        out,
        "<p>{} <strong>{}</strong></p><p>Daily compliance audit by arkbridge, generated {}. \
         Spaces: {}. Leases since {} (last {} h).{}</p>",
        status_macro(overall),
        e(&r.headline()),
        e(&r.generated_at),
        e(&r.spaces.join(", ")),
        e(&r.period_start),
        r.lookback_hours,
        r.report_id
            .map(|id| format!(" Stored as daily report {id}."))
            .unwrap_or_default()
    );
    out.push_str("<h2>Checks</h2>");
    header(&mut out, &["Check", "SOC 2", "Result", "Outcome"]);
    for c in &r.checks {
        row(
            &mut out,
            &[
                format!("{}<br /><code>{}</code>", e(c.title), e(c.id)),
                criteria(c),
                status_macro(c.status),
                e(&c.summary),
            ],
        );
    }
    out.push_str("</tbody></table><h2>Audit log checkpoint</h2>");
    match &r.checkpoint {
        Some(c) => {
            header(
                &mut out,
                &["Checkpoint", "Tree size", "Root", "Signed", "Key"],
            );
            row(
                &mut out,
                &[
                    c.id.to_string(),
                    c.tree_size.to_string(),
                    format!("<code>{}</code>", e(&c.root)),
                    e(&c.time),
                    format!("<code>{}+{}</code>", e(&c.origin), e(&c.key_id)),
                ],
            );
            out.push_str("</tbody></table>");
        }
        None => out.push_str("<p>No checkpoint is signed yet.</p>"),
    }
    let _ = write!(out, "<h2>New secret findings ({})</h2>", r.findings.len());
    if r.findings.is_empty() {
        out.push_str("<p>None.</p>");
    } else {
        header(
            &mut out,
            &[
                "Id",
                "Where",
                "Detector",
                "Severity",
                "Preview (masked)",
                "First seen",
            ],
        );
        for f in &r.findings {
            let place = match (&f.page_id, &f.file_path) {
                (Some(id), _) => format!("page {id} {}", f.title.as_deref().unwrap_or("")),
                (None, Some(p)) => format!("file {p}"),
                (None, None) => String::new(),
            };
            row(
                &mut out,
                &[
                    f.id.to_string(),
                    e(&place),
                    e(&f.detector),
                    e(&f.severity),
                    format!("<code>{}</code>", e(&f.preview)),
                    e(&f.first_seen),
                ],
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("<h2>Evidence</h2>");
    for c in &r.checks {
        let _ = write!(
            out,
            "<h3>{}</h3><p>{} {} - {}</p>",
            e(c.title),
            status_macro(c.status),
            criteria(c),
            e(&c.summary)
        );
        if c.evidence.is_empty() {
            continue;
        }
        header(&mut out, &["Subject", "Result", "Detail"]);
        for ev in &c.evidence {
            row(
                &mut out,
                &[e(&ev.subject), status_macro(ev.status), e(&ev.detail)],
            );
        }
        out.push_str("</tbody></table>");
    }
    if !r.scan.ran {
        let _ = write!(out, "<p>Scan: {}</p>", e(&r.scan.detail));
    }
    out
}
