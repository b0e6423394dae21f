//! The table detector: a cell under a column header, or next to a row header, that says
//! password, secret, token, API key or credentials holds a secret if its value looks like one.
//!
//! Works on the parsed page's element structure (`table` → `thead`/`tbody`/`tfoot` → `tr` →
//! `th`/`td`, `colspan` honoured) and takes each cell's text from the view, so the value maps
//! back to the page like any other finding.

use std::ops::Range;

use arkbridge_core::storage::{NodeKind, Page};

use crate::finding::{Category, Severity};
use crate::view::TextView;

use super::Candidate;
use super::filter::{is_decoy, looks_like_password, looks_random};
use super::rules::DetectorInfo;

pub(crate) const TABLE: DetectorInfo = DetectorInfo {
    id: "table-password",
    description: "Secret in a table cell under or next to a password/secret/token/API key header",
    category: Category::ConfluencePassword,
    severity: Severity::High,
};

/// Header words that name a secret.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwords",
    "passwd",
    "pwd",
    "pw",
    "passphrase",
    "passcode",
    "pass",
    "secret",
    "secrets",
    "token",
    "tokens",
    "credential",
    "credentials",
    "creds",
    "apikey",
    "pin",
];

/// Two-word headers that name a secret.
const SECRET_PAIRS: &[(&str, &str)] = &[
    ("api", "key"),
    ("access", "key"),
    ("private", "key"),
    ("secret", "key"),
    ("app", "key"),
    ("auth", "key"),
];

/// Header words that describe a secret rather than hold it (`Password policy`, `Token expiry`).
const DESCRIPTIVE: &[&str] = &[
    "policy",
    "expiry",
    "expires",
    "expiration",
    "rotation",
    "rotated",
    "changed",
    "owner",
    "length",
    "hint",
    "manager",
    "location",
    "stored",
    "storage",
    "reset",
    "type",
    "name",
    "id",
    "date",
    "age",
    "count",
    "status",
    "rule",
    "rules",
    "requirement",
    "requirements",
    "scope",
    "url",
    "vault",
    "reference",
    "ref",
    "safe",
    "format",
    "last",
    "where",
    "who",
    "how",
];

/// Whether a header cell's text names a secret.
pub(crate) fn is_secret_header(text: &str) -> bool {
    if text.len() > 60 {
        return false;
    }
    let lower = text.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words.iter().any(|w| DESCRIPTIVE.contains(w)) {
        return false;
    }
    words.iter().any(|w| SECRET_WORDS.contains(w))
        || words
            .windows(2)
            .any(|p| SECRET_PAIRS.contains(&(p[0], p[1])))
}

struct Cell {
    node: usize,
    header: bool,
    column: usize,
}

/// Finds secrets in the page's tables.
pub(crate) fn scan(view: &TextView<'_>, out: &mut Vec<Candidate>) {
    let Some(page) = view.page() else { return };
    for (idx, node) in page.nodes().iter().enumerate() {
        if matches!(&node.kind, NodeKind::Start { name, .. } if name == "table") {
            scan_table(view, page, idx, out);
        }
    }
}

fn scan_table(view: &TextView<'_>, page: &Page<'_>, table: usize, out: &mut Vec<Candidate>) {
    let mut rows: Vec<(bool, Vec<Cell>)> = Vec::new();
    for child in page.children(table) {
        match page.name(child) {
            Some("tr") => rows.push((false, cells(page, child))),
            Some(section @ ("thead" | "tbody" | "tfoot")) => {
                for tr in page.children(child).filter(|&r| page.name(r) == Some("tr")) {
                    rows.push((section == "thead", cells(page, tr)));
                }
            }
            _ => {}
        }
    }
    let Some((in_thead, first)) = rows.first() else {
        return;
    };
    let header_row = *in_thead || (!first.is_empty() && first.iter().all(|c| c.header));
    let secret_columns: Vec<usize> = if header_row {
        first
            .iter()
            .filter(|c| {
                cell_text(view, page, c.node)
                    .is_some_and(|t| is_secret_header(view.text()[t].trim()))
            })
            .map(|c| c.column)
            .collect()
    } else {
        Vec::new()
    };
    for (i, (_, row)) in rows.iter().enumerate() {
        if header_row && i == 0 {
            continue;
        }
        // A row header: a `th` first cell, or a short first cell of a key-value table.
        let row_secret = row.len() >= 2
            && cell_text(view, page, row[0].node)
                .is_some_and(|t| is_secret_header(view.text()[t].trim()));
        for (j, cell) in row.iter().enumerate() {
            let under = secret_columns.contains(&cell.column) && !cell.header;
            let beside = row_secret && j > 0 && !cell.header;
            if (under || beside)
                && let Some(range) = cell_text(view, page, cell.node)
            {
                candidate(view, range, out);
            }
        }
    }
}

fn cells(page: &Page<'_>, tr: usize) -> Vec<Cell> {
    let mut column = 0;
    let mut out = Vec::new();
    for c in page.children(tr) {
        let header = match page.name(c) {
            Some("th") => true,
            Some("td") => false,
            _ => continue,
        };
        out.push(Cell {
            node: c,
            header,
            column,
        });
        let span = page
            .attr(c, "colspan")
            .and_then(|a| a.value.trim().parse::<usize>().ok())
            .unwrap_or(1)
            .clamp(1, 1000);
        column += span;
    }
    out
}

/// The view range of a cell's text (attribute values left out), trimmed of whitespace.
fn cell_text(view: &TextView<'_>, page: &Page<'_>, cell: usize) -> Option<Range<usize>> {
    let end = page.element_end(cell);
    let segs = view.segments();
    let lo = segs.partition_point(|s| s.node <= cell);
    let hi = segs.partition_point(|s| s.node < end);
    let inside = segs.get(lo..hi)?;
    let first = inside.iter().find(|s| s.attribute.is_none())?;
    let last = inside.iter().rev().find(|s| s.attribute.is_none())?;
    let text = view.text();
    let mut r = first.text.start..last.text.end;
    let s = text.get(r.clone())?;
    r.start += s.len() - s.trim_start().len();
    r.end -= s.len() - s.trim_end().len();
    (r.start < r.end).then_some(r)
}

fn candidate(view: &TextView<'_>, range: Range<usize>, out: &mut Vec<Candidate>) {
    let Some(v) = view.text().get(range.clone()) else {
        return;
    };
    if v.contains(char::is_whitespace) || is_decoy(v) {
        return;
    }
    if looks_like_password(v) || looks_random(v) {
        out.push(Candidate::new(TABLE, range, 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_headers() {
        for h in [
            "Password",
            "DB password",
            "API Key",
            "Secret",
            "Token",
            "Credentials",
            "PW",
        ] {
            assert!(is_secret_header(h), "{h}");
        }
        for h in [
            "Password policy",
            "Token expiry",
            "Owner",
            "Key",
            "Host",
            "Secret name",
            "Where is the password stored",
        ] {
            assert!(!is_secret_header(h), "{h}");
        }
    }
}
