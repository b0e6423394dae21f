//! The footer comment posted back on the runbook's page: status, duration, exit code, the tail of
//! the masked output and the audit record, in storage format.

use arkbridge_core::mask::Masker;

use crate::run::RunReport;

/// Lines of output shown in the comment.
const TAIL_LINES: usize = 20;
/// Bytes of output shown in the comment at most.
const TAIL_BYTES: usize = 4000;

/// Builds the comment's storage-format body. `masker` is applied once more to everything that
/// came from the run, so that the comment can never carry a secret even if a caller forgot.
pub(crate) fn render(report: &RunReport, masker: &Masker) -> String {
    let (colour, label) = match report.status.as_str() {
        "succeeded" => ("Green", "SUCCEEDED"),
        "timed-out" => ("Yellow", "TIMED OUT"),
        _ => ("Red", "FAILED"),
    };
    let mut mode = report.mode.clone();
    if report.fallback_used {
        mode.push_str(" (CyberArk was unavailable: read-only fallback credentials)");
    }
    let exit = report
        .exit_code
        .map_or_else(|| "none (killed)".to_string(), |c| c.to_string());
    let rotated = if report.rotated.is_empty() {
        "none".to_string()
    } else {
        report.rotated.join(", ")
    };
    let tail = masker.mask_str(&tail(&report.output));
    format!(
        "<p><strong>arkbridge</strong> ran block <code>{block}</code> (page version {version}) for {user}: \
         <ac:structured-macro ac:name=\"status\" ac:schema-version=\"1\"><ac:parameter ac:name=\"colour\">{colour}</ac:parameter>\
         <ac:parameter ac:name=\"title\">{label}</ac:parameter></ac:structured-macro></p>\
         <p>Mode: {mode}. Exit code: {exit}. Duration: {secs:.1} s. Credentials rotated: {rotated}.</p>\
         <ac:structured-macro ac:name=\"code\" ac:schema-version=\"1\"><ac:parameter ac:name=\"title\">Output (masked, last {TAIL_LINES} lines)</ac:parameter>\
         <ac:plain-text-body><![CDATA[{tail}]]></ac:plain-text-body></ac:structured-macro>\
         <p>Run <code>{run}</code>, audit record {seq}.</p>",
        block = xml_escape(&report.block),
        version = report.page_version,
        user = xml_escape(&report.user),
        mode = xml_escape(&mode),
        secs = report.duration_ms as f64 / 1000.0,
        rotated = xml_escape(&rotated),
        tail = cdata_escape(&tail),
        run = xml_escape(&report.run_id),
        seq = report.audit_seq,
    )
}

fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let mut t = lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n");
    if t.len() > TAIL_BYTES {
        let mut cut = t.len() - TAIL_BYTES;
        while !t.is_char_boundary(cut) {
            cut += 1;
        }
        t = format!("[...]{}", &t[cut..]);
    }
    t
}

pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Splits `]]>` so the text can sit inside one CDATA section, and drops characters XML forbids.
pub(crate) fn cdata_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' && c != '\r' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect::<String>()
        .replace("]]>", "]]]]><![CDATA[>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use arkbridge_core::storage::code_blocks;

    fn report(output: &str) -> RunReport {
        RunReport {
            run_id: "r-1".into(),
            status: "succeeded".into(),
            exit_code: Some(0),
            output: output.into(),
            truncated: false,
            page_id: "1".into(),
            page_version: 2,
            block: "restart<&>".into(),
            user: "alice@example.com".into(),
            mode: "write".into(),
            fallback_used: false,
            rotated: vec!["Prod-DB/payments-db".into()],
            comment_id: None,
            audit_seq: 9,
            duration_ms: 1500,
        }
    }

    #[test]
    fn comment_is_well_formed_and_masked() {
        let masker = Masker::with_default_mask(["hunter2"]);
        let body = render(&report("a\nleak hunter2\nx ]]> y\u{1}"), &masker);
        assert!(!body.contains("hunter2"));
        let blocks = code_blocks(&body).unwrap();
        assert_eq!(blocks[0].body, "a\nleak *****\nx ]]> y\u{fffd}");
        assert!(body.contains("restart&lt;&amp;&gt;"));
        assert!(body.contains("SUCCEEDED") && body.contains("audit record 9"));
    }

    #[test]
    fn tail_keeps_last_lines_and_bytes() {
        let out: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let t = tail(&out);
        assert!(t.starts_with("line 80") && t.ends_with("line 99"), "{t}");
        let long = "é".repeat(5000);
        assert!(tail(&long).len() <= TAIL_BYTES + 8);
    }
}
