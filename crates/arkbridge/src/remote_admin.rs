//! `arkbridge approve --server URL` and `arkbridge audit show --server URL`: the same commands
//! through a server's API (`POST /api/v1/approvals`, `GET /api/v1/audit`) as the user signed in
//! with `arkbridge login --server`, with the local commands' output and exit codes.

use std::collections::VecDeque;
use std::io::Write;
use std::process::ExitCode;

use arkbridge_core::audit::{AuditRecord, canonical::to_canonical, decode};
use serde_json::{Value, json};

use crate::cli::{ApproveArgs, AuditShowArgs};
use crate::remote::{
    CALL_TIMEOUT, RemoteError, Server, bad_answer, http_error, json_answer, signed_out,
    status_and_json, success_body,
};

/// The most records one API call hands out (the server's `limit` bound).
const PAGE: usize = 1000;

pub(crate) async fn approve(args: ApproveArgs) -> anyhow::Result<ExitCode> {
    let Some(server) = args.remote.server.as_deref() else {
        anyhow::bail!("--server is required");
    };
    if args.as_user.is_some() {
        anyhow::bail!(
            "--as cannot be used with --server: the server approves as the user signed in with \
             `arkbridge login --server`"
        );
    }
    let server = Server::new(server, args.remote.ca_cert.as_deref())?;
    let tokens = server.tokens().await?;
    let what = "the approval request";
    let url = server.url("/api/v1/approvals");
    let response = server
        .call(reqwest::Method::POST, "/api/v1/approvals", &tokens)
        .timeout(CALL_TIMEOUT)
        .json(&json!({ "page_id": args.page, "block": args.block }))
        .send()
        .await
        .map_err(|e| http_error(what, &url, &e))?;
    let (status, body) = status_and_json(what, &url, response).await?;
    if status == 403 && body["code"] == "denied" {
        if args.json {
            println!(
                "{}",
                json!({"status": "denied", "error": body["error"], "audit_seq": body["audit_seq"]})
            );
        } else {
            eprintln!("error: {}", body["error"].as_str().unwrap_or("denied"));
            for reason in body["reasons"].as_array().into_iter().flatten() {
                eprintln!("  - {}", reason.as_str().unwrap_or_default());
            }
        }
        return Ok(ExitCode::from(3));
    }
    let body = success_body(what, status, body).map_err(|e| signed_out(e, &server))?;
    if args.json {
        println!("{body}");
    } else {
        let text = |name: &str| match &body[name] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        println!(
            "approved block `{}` of page {} (version {}, sha256 {}) as {}; audit record {}",
            text("block"),
            text("page_id"),
            text("page_version"),
            text("script_sha256"),
            text("approver"),
            text("audit_seq"),
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn audit_show(args: AuditShowArgs) -> anyhow::Result<ExitCode> {
    let Some(server) = args.remote.server.as_deref() else {
        anyhow::bail!("--server is required");
    };
    if args.filter.run.is_some() {
        anyhow::bail!(
            "--run is not available with --server (the API filters by user, page, safe, action \
             and time)"
        );
    }
    let server = Server::new(server, args.remote.ca_cert.as_deref())?;
    let f = &args.filter;
    let mut query: Vec<(&str, String)> = [
        ("user", &f.user),
        ("page", &f.page),
        ("safe", &f.safe),
        ("action", &f.action),
        ("since", &f.since),
        ("until", &f.until),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
    .collect();
    query.push(("limit", PAGE.to_string()));
    let mut out = std::io::stdout().lock();
    let mut latest = VecDeque::new();
    let mut after = 0_i64;
    let mut own_only;
    loop {
        let tokens = server.tokens().await?;
        let (records, next, own) = page(&server, &tokens, &query, after).await?;
        own_only = own;
        let Some(last) = records.last() else { break };
        if next <= after {
            // A cursor that does not move would loop forever; the server broke its contract.
            anyhow::bail!("the server's audit cursor did not advance past {after}");
        }
        after = last.seq.max(next);
        match args.limit {
            Some(limit) => {
                latest.extend(records);
                while latest.len() > limit {
                    latest.pop_front();
                }
            }
            None => print(&mut out, &records, args.json)?,
        }
    }
    if args.limit.is_some() {
        print(&mut out, latest.make_contiguous(), args.json)?;
    }
    if own_only && !args.json {
        eprintln!("(only your own records: reading everyone's needs an audit reader group)");
    }
    Ok(ExitCode::SUCCESS)
}

/// One page of records after `after`: the records, the next cursor, and whether the server
/// limited them to the caller's own.
async fn page(
    server: &Server,
    tokens: &arkbridge_identity::CachedTokens,
    query: &[(&str, String)],
    after: i64,
) -> Result<(Vec<AuditRecord>, i64, bool), RemoteError> {
    let what = "the audit request";
    let url = server.url("/api/v1/audit");
    let response = server
        .call(reqwest::Method::GET, "/api/v1/audit", tokens)
        .timeout(CALL_TIMEOUT)
        .query(query)
        .query(&[("after", after)])
        .send()
        .await
        .map_err(|e| http_error(what, &url, &e))?;
    let body = json_answer(what, &url, response)
        .await
        .map_err(|e| signed_out(e, server))?;
    let records = records(&body).map_err(|reason| bad_answer(what, &url, reason))?;
    Ok((
        records,
        body["next"].as_i64().unwrap_or(after),
        body["own_only"] == true,
    ))
}

/// The answer's records, back in their canonical text (what the local log stores).
fn records(body: &Value) -> Result<Vec<AuditRecord>, String> {
    body["records"]
        .as_array()
        .ok_or("the answer has no records")?
        .iter()
        .map(|r| decode(&to_canonical(r)).map_err(|e| format!("a record does not decode: {e}")))
        .collect()
}

fn print(out: &mut impl Write, records: &[AuditRecord], json: bool) -> anyhow::Result<()> {
    if json {
        for r in records {
            writeln!(out, "{}", r.canonical)?;
        }
    } else if !records.is_empty() {
        write!(out, "{}", arkbridge_audit::show::table(records))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_in_canonical_form_and_bad_ones_are_refused() {
        let record = json!({
            "v": 2, "seq": 7, "time_us": 1_764_504_000_123_456_i64, "action": "run.finished",
            "outcome": "success", "details": {},
            "actor": {"subject": "alice@example.com", "issuer": "https://id", "auth_method": "oidc"},
            "target": {"page_id": "1001"},
        });
        let body = json!({ "records": [record], "next": 7 });
        let decoded = records(&body).unwrap();
        assert_eq!(decoded.len(), 1);
        assert_eq!(decoded[0].seq, 7);
        assert!(arkbridge_core::audit::is_canonical(&decoded[0].canonical));
        assert!(records(&json!({ "records": [{"v": 99}] })).is_err());
        assert!(records(&json!({})).is_err());
    }
}
