//! A self-contained HTML report (inline CSS, no scripts, no external resources). Every piece of
//! text from a page or its metadata is escaped.

use std::fmt::Write as _;

use crate::{Report, Severity};

use super::{TOOL_NAME, TOOL_VERSION};

/// Escapes text for HTML element content and double-quoted attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#172b4d}\
table{border-collapse:collapse;width:100%}th,td{border:1px solid #dfe1e6;padding:.4rem;text-align:left;vertical-align:top}\
th{background:#f4f5f7}code{font-family:ui-monospace,monospace}.sev{font-weight:bold;border-radius:3px;padding:0 .3rem;color:#fff}\
.fp{word-break:break-all;font-size:.8em;max-width:22rem}.path{word-break:break-all}.critical{background:#bf2600}.high{background:#de350b}.medium{background:#ff8b00}.low{background:#6b778c}";

/// The report as one HTML document.
pub fn html(report: &Report) -> String {
    let mut out = String::new();
    let n = report.findings().count();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Secret scan report</title><style>{STYLE}</style></head><body><h1>Secret scan report</h1><p>{} {} &middot; {} page(s) &middot; {n} finding(s)",
        escape(TOOL_NAME),
        escape(TOOL_VERSION),
        report.pages.len(),
    );
    for s in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ] {
        let k = report.findings().filter(|(_, f)| f.severity == s).count();
        if k > 0 {
            let _ = write!(out, " &middot; <span class=\"sev {s}\">{s}</span> {k}");
        }
    }
    out.push_str("</p>");
    if n > 0 {
        out.push_str("<table><thead><tr><th>Page</th><th>Severity</th><th>Detector</th><th>Location</th><th>Preview</th><th>Fingerprint</th></tr></thead><tbody>");
        for (page, f) in report.findings() {
            let m = &page.meta;
            let mut where_ = escape(&m.artifact_uri());
            if let Some(t) = &m.title {
                let _ = write!(where_, "<br>{}", escape(t));
            }
            let mut details = Vec::new();
            if let Some(id) = &m.page_id {
                details.push(format!("id {}", escape(id)));
            }
            if let Some(v) = m.version {
                details.push(format!("v{v}"));
            }
            if let Some(a) = &m.author {
                details.push(format!("by {}", escape(a)));
            }
            if !details.is_empty() {
                let _ = write!(where_, "<br><small>{}</small>", details.join(", "));
            }
            let _ = write!(
                out,
                "<tr><td>{where_}</td><td><span class=\"sev {sev}\">{sev}</span></td><td>{det}<br><small>{cat}</small></td><td><code class=\"path\">{path}</code><br><small>char {off}, {len} chars</small></td><td><code>{prev}</code></td><td class=\"fp\"><code>{fp}</code></td></tr>",
                sev = f.severity,
                det = escape(&f.detector),
                cat = f.category.as_str(),
                path = escape(&f.location.element_path),
                off = f.location.char_offset,
                len = f.location.char_length,
                prev = escape(&f.preview),
                fp = escape(&f.fingerprint),
            );
        }
        out.push_str("</tbody></table>");
    } else {
        out.push_str("<p>No secrets found.</p>");
    }
    let malformed: Vec<String> = report
        .pages
        .iter()
        .filter(|p| !p.well_formed)
        .map(|p| escape(&p.meta.artifact_uri()))
        .collect();
    if !malformed.is_empty() {
        let _ = write!(
            out,
            "<p>Not well-formed storage format, scanned as raw text: {}</p>",
            malformed.join(", ")
        );
    }
    out.push_str("</body></html>\n");
    out
}
