//! `audit show`'s readable table: one line per record, widths fitted to the rows shown.

use arkbridge_core::audit::{AuditRecord, Target};

use crate::time::format_us;

/// A short description of a target: `Prod-DB/payments-db (12_3)`, `page 1001 v7 restart`.
pub fn target_summary(t: &Target) -> String {
    let mut parts = Vec::new();
    match (&t.safe, &t.object) {
        (Some(s), Some(o)) => parts.push(format!("{s}/{o}")),
        (Some(s), None) => parts.push(s.clone()),
        (None, Some(o)) => parts.push(o.clone()),
        (None, None) => {}
    }
    if let Some(id) = &t.account_id {
        parts.push(format!("({id})"));
    }
    if let Some(p) = &t.page_id {
        parts.push(format!("page {p}"));
    }
    if let Some(v) = t.page_version {
        parts.push(format!("v{v}"));
    }
    if let Some(b) = &t.block {
        parts.push(b.clone());
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(" ")
    }
}

/// Cuts `s` to `max` characters, marking the cut, and keeps it on one line.
fn clip(s: &str, max: usize) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut out: String = one_line.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The table of `records`, header included.
pub fn table(records: &[AuditRecord]) -> String {
    let rows: Vec<[String; 7]> = records
        .iter()
        .map(|r| {
            let e = &r.event;
            let mut time = format_us(e.time_us);
            time.truncate(19);
            [
                r.seq.to_string(),
                time,
                clip(e.actor.name.as_deref().unwrap_or(&e.actor.subject), 32),
                e.action.as_str().to_string(),
                e.outcome.as_str().to_string(),
                clip(&target_summary(&e.target), 48),
                clip(e.reason.as_deref().unwrap_or(""), 60),
            ]
        })
        .collect();
    let header = [
        "SEQ",
        "TIME (UTC)",
        "ACTOR",
        "ACTION",
        "OUTCOME",
        "TARGET",
        "REASON",
    ];
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(cell);
            let pad = widths[i].saturating_sub(cell.chars().count());
            text.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in &rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use arkbridge_core::audit::{Action, AuditEvent, Outcome, encode};

    #[test]
    fn the_table_lines_up_and_stays_on_one_line_per_record() {
        let a = encode(
            1,
            AuditEvent::new(Action::PolicyDecided)
                .at(1_764_504_000_000_000)
                .outcome(Outcome::Denied)
                .target(Target::block("1001", 7, "restart"))
                .reason("no grant\nfor bob"),
        );
        let b = encode(
            12,
            AuditEvent::new(Action::CredentialIssued)
                .target(Target::account("Prod-DB", "payments-db").with_account_id(Some("12_3"))),
        );
        let t = table(&[a, b]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("SEQ  TIME (UTC)"));
        assert!(lines[1].contains("2025-11-30T12:00:00  arkbridge  policy.decided"));
        assert!(
            lines[1].contains("page 1001 v7 restart") && lines[1].ends_with("no grant for bob")
        );
        assert!(lines[2].contains("Prod-DB/payments-db (12_3)"));
        let col = lines[0].find("ACTION").unwrap();
        assert_eq!(&lines[2][col..col + 17], "credential.issued");
    }
}
