//! `arkbridge scan --server URL (--space KEY | --page ID)...`: the Confluence scan through a
//! server's API (`POST /api/v1/scans`) as the user signed in with `arkbridge login --server`,
//! printed as the local scan prints it (`--format text` or `json`), with the same `--fail-on`
//! exit code. The server keeps the findings in its triage memory and answers with each one's
//! triage id and masked preview; no secret value crosses the wire.

use std::process::ExitCode;
use std::time::Duration;

use arkbridge_scanner::Severity;
use serde_json::{Value, json};

use crate::cli::{ScanArgs, ScanFormat};
use crate::remote::{Server, bad_answer, http_error, json_answer, signed_out};
use crate::scan_cmd::deliver;

/// The server stops a scan after 120 s; this leaves room for its answer.
const SCAN_CALL_TIMEOUT: Duration = Duration::from_secs(150);

pub(crate) async fn scan(
    server: &str,
    args: &ScanArgs,
    fail_on: Option<Severity>,
) -> anyhow::Result<ExitCode> {
    if args.path.is_some() {
        anyhow::bail!("--path scans local files: it cannot be used with --server");
    }
    if args.since.is_some() {
        anyhow::bail!("--since is not available with --server (the server scans every page)");
    }
    if !matches!(args.format, ScanFormat::Text | ScanFormat::Json) {
        anyhow::bail!("with --server the formats are text and json");
    }
    if args.space.is_empty() && args.page.is_empty() {
        anyhow::bail!("name what to scan: --space KEY or --page ID");
    }
    let server = Server::new(server, args.remote.ca_cert.as_deref())?;
    let tokens = server.tokens().await?;
    let what = "the scan request";
    let url = server.url("/api/v1/scans");
    let response = server
        .call(reqwest::Method::POST, "/api/v1/scans", &tokens)
        .timeout(SCAN_CALL_TIMEOUT)
        .json(&json!({
            "spaces": args.space, "pages": args.page,
            "history": args.history, "comments": args.comments,
        }))
        .send()
        .await
        .map_err(|e| http_error(what, &url, &e))?;
    let body = json_answer(what, &url, response)
        .await
        .map_err(|e| signed_out(e, &server))?;
    let findings = body["findings"]
        .as_array()
        .ok_or_else(|| bad_answer(what, &url, "the answer has no findings list"))?;
    let failing = findings.iter().filter(|f| fails(f, fail_on)).count();
    let output = match args.format {
        ScanFormat::Json => serde_json::to_string_pretty(&body)? + "\n",
        _ => text(&body, findings),
    };
    deliver(args, &output, failing)
}

/// Whether a finding fails the scan: still in triage state `new` (accepted, false-positive and
/// vaulted ones were decided on) with a severity at or above `--fail-on`.
fn fails(finding: &Value, fail_on: Option<Severity>) -> bool {
    let severity = finding["severity"].as_str().and_then(Severity::parse);
    finding["state"] == "new" && matches!((fail_on, severity), (Some(min), Some(s)) if s >= min)
}

/// The local scan's text: a line per finding with its triage id, state, severity, detector,
/// page and masked preview, then a summary.
fn text(body: &Value, findings: &[Value]) -> String {
    let mut out = String::new();
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    for f in findings {
        let state = if f["new"] == true {
            "new".to_string()
        } else {
            s(&f["state"])
        };
        out.push_str(&format!(
            "#{:<5} {:<14} {:<8} {:<28} page {} v{} {:?} at {} (char {}): {}\n",
            f["id"].as_i64().unwrap_or_default(),
            state,
            s(&f["severity"]),
            s(&f["detector"]),
            f["page_id"].as_str().unwrap_or("-"),
            f["version"].as_u64().unwrap_or(0),
            s(&f["title"]),
            s(&f["element_path"]),
            f["char_offset"].as_u64().unwrap_or(0),
            s(&f["preview"]),
        ));
    }
    let count = |name: &str| body[name].as_u64().unwrap_or(0);
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    out.push_str(&format!(
        "{} finding{} ({} new) on {} document{}, {} bytes\n",
        count("total"),
        plural(count("total")),
        count("new"),
        count("documents"),
        plural(count("documents")),
        count("bytes"),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_new_findings_at_or_above_fail_on_fail_the_scan() {
        let high_new = json!({"state": "new", "severity": "high"});
        let high_accepted = json!({"state": "accepted", "severity": "high"});
        let low_new = json!({"state": "new", "severity": "low"});
        let medium = Severity::parse("medium");
        assert!(fails(&high_new, medium));
        assert!(!fails(&high_accepted, medium));
        assert!(!fails(&low_new, medium));
        assert!(!fails(&high_new, None));
    }

    #[test]
    fn the_text_lists_each_finding_and_a_summary_like_the_local_scan() {
        let body = json!({
            "documents": 3, "bytes": 1200, "total": 1, "new": 1,
            "findings": [{
                "id": 7, "state": "new", "new": true, "severity": "critical",
                "detector": "aws-access-key-id", "page_id": "1001", "version": 2,
                "title": "Legacy notes", "element_path": "/p[2]", "char_offset": 14,
                "preview": "AKIA… (20 chars)",
            }],
        });
        let findings = body["findings"].as_array().unwrap().clone();
        let out = text(&body, &findings);
        assert!(
            out.starts_with("#7     new            critical aws-access-key-id"),
            "{out}"
        );
        assert!(
            out.contains("page 1001 v2 \"Legacy notes\" at /p[2] (char 14): AKIA… (20 chars)"),
            "{out}"
        );
        assert!(
            out.ends_with("1 finding (1 new) on 3 documents, 1200 bytes\n"),
            "{out}"
        );
    }
}
