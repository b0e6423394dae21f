//! The outputs of a [`Report`]: plain text for a terminal, JSON, SARIF 2.1.0 for code-scanning
//! tools, and a self-contained HTML page. None of them carries a secret: a finding only has its
//! masked preview and fingerprint.

mod html;
mod sarif;

use std::fmt::Write as _;

use crate::Report;

pub use html::html;
pub use sarif::sarif;

/// The scanner's name and version, as the reports give them.
pub const TOOL_NAME: &str = "arkbridge-scanner";
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// One line per finding, then a summary line.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    for (page, f) in report.findings() {
        let m = &page.meta;
        let title = m.title.as_deref().unwrap_or("");
        let version = m.version.map(|v| format!(" v{v}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "{} {}{version} {title:?}: [{}] {} at {} (char {}, {} chars): {} {}",
            m.artifact_uri(),
            m.page_id.as_deref().unwrap_or("-"),
            f.severity,
            f.detector,
            if f.location.element_path.is_empty() {
                "-"
            } else {
                &f.location.element_path
            },
            f.location.char_offset,
            f.location.char_length,
            f.preview,
            f.fingerprint,
        );
    }
    let n = report.findings().count();
    let malformed = report.pages.iter().filter(|p| !p.well_formed).count();
    let _ = write!(
        out,
        "{n} finding{} on {} page{}",
        plural(n),
        report.pages.len(),
        plural(report.pages.len())
    );
    if malformed > 0 {
        let _ = write!(out, " ({malformed} not well-formed, scanned as raw text)");
    }
    out.push('\n');
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The report as pretty JSON: `{"tool": {...}, "pages": [{"meta", "chars", "well_formed",
/// "findings": [...]}]}`.
pub fn json(report: &Report) -> String {
    let value = serde_json::json!({
        "tool": { "name": TOOL_NAME, "version": TOOL_VERSION },
        "pages": report.pages,
    });
    serde_json::to_string_pretty(&value).unwrap_or_default()
}
