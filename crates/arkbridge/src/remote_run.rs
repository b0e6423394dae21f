//! `arkbridge run PAGE --server URL`: starts the run through the server's API
//! (`POST /api/v1/runs`) with the signed-in user's bearer token, prints its masked output as it
//! arrives (the Server-Sent Events of `/api/v1/runs/{id}/events`, resumed after the last chunk
//! seen when the stream breaks), then the summary, and exits as a local run does: 0 when the
//! script succeeded, 1 when it failed, 3 when the policy denied it (with the reasons).

use std::io::Write;
use std::process::ExitCode;

use serde_json::{Value, json};

use crate::cli::RunArgs;
use crate::remote::{
    CALL_TIMEOUT, RemoteError, Server, api_error, bad_answer, http_error, json_answer, signed_out,
    status_and_json, success_body,
};

/// How often a broken event stream is reopened before the run is reported from its record.
const STREAM_ATTEMPTS: u32 = 5;

pub(crate) async fn run(server: &str, args: &RunArgs) -> anyhow::Result<ExitCode> {
    if args.as_user.is_some() {
        anyhow::bail!(
            "--as cannot be used with --server: the server runs as the user signed in with \
             `arkbridge login --server`"
        );
    }
    let server = Server::new(server, args.remote.ca_cert.as_deref())?;
    let tokens = server.tokens().await?;
    let what = "the run request";
    let url = server.url("/api/v1/runs");
    let response = server
        .call(reqwest::Method::POST, "/api/v1/runs", &tokens)
        .timeout(CALL_TIMEOUT)
        .json(&json!({ "page_id": args.page, "block": args.block }))
        .send()
        .await
        .map_err(|e| http_error(what, &url, &e))?;
    let (status, body) = status_and_json(what, &url, response).await?;
    if status == 403 && body["code"] == "denied" {
        return Ok(denied(args.json, &body));
    }
    let body = success_body(what, status, body).map_err(|e| signed_out(e, &server))?;
    let run_id = body["run_id"]
        .as_str()
        .ok_or_else(|| bad_answer(what, &url, "the answer names no run_id"))?
        .to_string();
    if !args.json {
        eprintln!("run {run_id} started on {}", server.name());
    }
    let mut after = 0;
    for attempt in 1..=STREAM_ATTEMPTS {
        // A run may outlast the access token: each call gets fresh tokens.
        let tokens = server.tokens().await?;
        match stream(&server, &tokens, &run_id, &mut after, args.json).await {
            Ok(true) => break,
            Ok(false) => tracing::debug!(attempt, after, "the event stream ended early"),
            Err(e) => tracing::warn!(attempt, after, "the event stream broke: {e}"),
        }
    }
    let what = "the run report request";
    let tokens = server.tokens().await?;
    let path = format!("/api/v1/runs/{run_id}");
    let url = server.url(&path);
    let response = server
        .call(reqwest::Method::GET, &path, &tokens)
        .timeout(CALL_TIMEOUT)
        .send()
        .await
        .map_err(|e| http_error(what, &url, &e))?;
    let record = json_answer(what, &url, response)
        .await
        .map_err(|e| signed_out(e, &server))?;
    if args.json {
        println!("{record}");
    } else {
        eprintln!("{}", summary(&record));
    }
    Ok(match record["status"].as_str() {
        Some("succeeded") => ExitCode::SUCCESS,
        Some("running") => ExitCode::from(2),
        _ => ExitCode::from(1),
    })
}

/// Prints a denial with its reasons; exit code 3, as a local denial.
fn denied(json: bool, body: &Value) -> ExitCode {
    if json {
        println!(
            "{}",
            json!({
                "status": "denied", "error": body["error"], "reasons": body["reasons"],
                "audit_seq": body["audit_seq"],
            })
        );
    } else {
        eprintln!("error: {}", body["error"].as_str().unwrap_or("denied"));
        for reason in body["reasons"].as_array().into_iter().flatten() {
            eprintln!("  - {}", reason.as_str().unwrap_or_default());
        }
        if let Some(seq) = body["audit_seq"].as_i64() {
            eprintln!("audit record {seq}");
        }
    }
    ExitCode::from(3)
}

/// Reads the run's event stream from chunk `after` on, printing each chunk (unless `quiet`);
/// `Ok(true)` once the `done` event came.
async fn stream(
    server: &Server,
    tokens: &arkbridge_identity::CachedTokens,
    run_id: &str,
    after: &mut u64,
    quiet: bool,
) -> Result<bool, RemoteError> {
    let what = "the run's event stream";
    let path = format!("/api/v1/runs/{run_id}/events?after={after}");
    let url = server.url(&path);
    let mut response = server
        .call(reqwest::Method::GET, &path, tokens)
        .header(reqwest::header::ACCEPT, "text/event-stream")
        .send()
        .await
        .map_err(|e| http_error(what, &url, &e))?;
    if !response.status().is_success() {
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or_default();
        return Err(signed_out(api_error(what, status, &body), server));
    }
    let mut parser = SseParser::default();
    while let Some(bytes) = response
        .chunk()
        .await
        .map_err(|e| http_error(what, &url, &e))?
    {
        for event in parser.feed(&bytes) {
            match event.name.as_str() {
                "output" => {
                    let chunk: Value = serde_json::from_str(&event.data).unwrap_or_default();
                    if let Some(seq) = chunk["seq"].as_u64() {
                        *after = seq;
                    }
                    if !quiet {
                        print_chunk(&chunk);
                    }
                }
                "done" => return Ok(true),
                _ => {}
            }
        }
    }
    Ok(false)
}

fn print_chunk(chunk: &Value) {
    let text = chunk["text"].as_str().unwrap_or_default().as_bytes();
    let _ = if chunk["stream"] == "stderr" {
        std::io::stderr().write_all(text)
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(text).and_then(|()| out.flush())
    };
}

/// One Server-Sent Event: its `event:` name (`message` when none) and its joined `data:` lines.
#[derive(Debug, PartialEq, Eq)]
struct SseEvent {
    name: String,
    data: String,
}

/// Splits a byte stream into events (the WHATWG event-stream format: `field: value` lines, an
/// empty line ends an event, `:` lines are comments such as keep-alives).
#[derive(Debug, Default)]
struct SseParser {
    buffer: Vec<u8>,
    name: Option<String>,
    data: Option<String>,
}

impl SseParser {
    fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if let Some(data) = self.data.take() {
                    events.push(SseEvent {
                        name: self.name.take().unwrap_or_else(|| "message".into()),
                        data,
                    });
                }
                self.name = None;
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => self.name = Some(value.to_string()),
                "data" => match &mut self.data {
                    Some(d) => {
                        d.push('\n');
                        d.push_str(value);
                    }
                    None => self.data = Some(value.to_string()),
                },
                _ => {}
            }
        }
        events
    }
}

/// The one-line summary of a finished run's record, as a local run prints it.
fn summary(r: &Value) -> String {
    let mut s = format!(
        "run {}: {} (exit code {})",
        r["id"].as_str().unwrap_or("?"),
        r["status"].as_str().unwrap_or("unknown"),
        r["exit_code"]
            .as_i64()
            .map_or_else(|| "none".into(), |c| c.to_string()),
    );
    if let Some(ms) = r["duration_ms"].as_u64() {
        s.push_str(&format!(" in {:.1} s", ms as f64 / 1000.0));
    }
    if let Some(mode) = r["mode"].as_str() {
        s.push_str(&format!(", mode {mode}"));
    }
    if r["fallback_used"] == true {
        s.push_str(" (CyberArk unavailable: read-only fallback credentials used)");
    }
    let rotated: Vec<&str> = r["rotated"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !rotated.is_empty() {
        s.push_str(&format!("; rotated {}", rotated.join(", ")));
    }
    if let Some(c) = r["comment_id"].as_str() {
        s.push_str(&format!("; comment {c} posted"));
    }
    if let Some(e) = r["error"].as_str() {
        s.push_str(&format!("; error: {e}"));
    }
    if let Some(seq) = r["audit_seq"].as_i64() {
        s.push_str(&format!("; audit record {seq}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_parser_joins_split_lines_and_skips_comments() {
        let mut p = SseParser::default();
        assert!(p.feed(b": keep-alive\n\nevent: out").is_empty());
        let events =
            p.feed(b"put\nid: 1\ndata: {\"seq\":1}\r\n\nevent: done\ndata: a\ndata: b\n\n");
        assert_eq!(
            events,
            vec![
                SseEvent {
                    name: "output".into(),
                    data: "{\"seq\":1}".into()
                },
                SseEvent {
                    name: "done".into(),
                    data: "a\nb".into()
                },
            ]
        );
        assert_eq!(
            p.feed(b"data: plain\n\n"),
            vec![SseEvent {
                name: "message".into(),
                data: "plain".into()
            }]
        );
    }

    #[test]
    fn summary_names_status_exit_code_rotation_and_audit_record() {
        let r = json!({
            "id": "r1", "status": "failed", "exit_code": 4, "duration_ms": 1500,
            "mode": "write", "rotated": ["db-admin"], "audit_seq": 12, "error": null,
        });
        assert_eq!(
            summary(&r),
            "run r1: failed (exit code 4) in 1.5 s, mode write; rotated db-admin; audit record 12"
        );
    }

    #[test]
    fn a_denial_exits_3() {
        let body = json!({"error": "denied: no grant", "code": "denied", "reasons": ["x"]});
        assert_eq!(denied(true, &body), ExitCode::from(3));
    }
}
