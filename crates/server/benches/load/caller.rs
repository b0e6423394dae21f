//! One caller of the load test: it starts a run through `POST /api/v1/runs`, times the start
//! (request sent → `202` with the run id read), then follows the run's Server-Sent Events to
//! the `done` event before starting the next. Only the HTTP API is used, so the test does not
//! depend on how the server executes runs.
//!
//! Every `/api/v1` answer other than 401 and 429 is audited by the server as `api.call` before
//! the answer is sent; [`Tally`] counts them, so the audit check knows how many to expect.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::world::{BLOCK, PLANTED, User};

/// The longest a run may take from its start to its `done` event.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Calls the server audits, and calls whose fate is unknown (the connection failed).
#[derive(Debug, Default)]
pub(crate) struct Tally {
    audited: AtomicU64,
    unknown: AtomicU64,
}

impl Tally {
    /// Counts an answer with `status`: every one but 401 and 429 is an `api.call` record.
    pub(crate) fn answered(&self, status: u16) {
        if status != 401 && status != 429 {
            self.audited.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn failed(&self) {
        self.unknown.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn audited(&self) -> u64 {
        self.audited.load(Ordering::Relaxed)
    }

    pub(crate) fn unknown(&self) -> u64 {
        self.unknown.load(Ordering::Relaxed)
    }
}

/// The API client shared by the callers.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) page_id: String,
}

/// What one run came to.
#[derive(Debug, Clone)]
pub(crate) struct RunResult {
    /// Request sent → `202` read; `None` when the run did not start.
    pub(crate) start: Option<Duration>,
    /// Request sent → the first output chunk read (the script has printed).
    pub(crate) first_output: Option<Duration>,
    /// Request sent → `done` event read.
    pub(crate) total: Option<Duration>,
    /// Why the run counts as an error.
    pub(crate) error: Option<String>,
}

impl Api {
    /// `GET path` as `user`; the status and the JSON body.
    pub(crate) async fn get_json(
        &self,
        tally: &Tally,
        user: &User,
        path: &str,
    ) -> Result<(u16, Value), String> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(user.token.expose_secret())
            .send()
            .await
            .map_err(|e| {
                tally.failed();
                format!("GET {path}: {e}")
            })?;
        let status = response.status().as_u16();
        tally.answered(status);
        let body = response.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// One run as `user`: start, then follow to the end; checks that the output is masked.
    pub(crate) async fn run_once(&self, tally: &Tally, user: &User) -> RunResult {
        let sent = Instant::now();
        let started = self
            .http
            .post(format!("{}/api/v1/runs", self.base))
            .bearer_auth(user.token.expose_secret())
            .json(&json!({"page_id": self.page_id, "block": BLOCK}))
            .send()
            .await;
        let response = match started {
            Ok(r) => r,
            Err(e) => {
                tally.failed();
                return failed(None, format!("start: transport ({})", kind_of(&e)));
            }
        };
        let status = response.status().as_u16();
        tally.answered(status);
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let start = sent.elapsed();
        let Some(run_id) = body["run_id"].as_str().filter(|_| status == 202) else {
            let code = body["code"].as_str().unwrap_or("no code");
            return failed(None, format!("start: HTTP {status} {code}"));
        };
        let followed = self.follow(tally, user, run_id, sent);
        match tokio::time::timeout(RUN_TIMEOUT, followed).await {
            Ok(Ok((status, output, first_output))) => {
                let total = Some(sent.elapsed());
                let error = if output.contains(PLANTED) {
                    Some("output: the planted secret leaked".to_string())
                } else if !output.contains("with password *****") {
                    Some("output: no masked password line".to_string())
                } else if status != "succeeded" {
                    Some(format!("run: {status}"))
                } else {
                    None
                };
                RunResult {
                    start: Some(start),
                    first_output,
                    total,
                    error,
                }
            }
            Ok(Err(e)) => failed(Some(start), e),
            Err(_) => failed(Some(start), "follow: no `done` within the timeout".into()),
        }
    }

    /// Reads `/events` of `run_id` up to `done`; the run's status, its masked output, and when
    /// (since `sent`) its first output arrived.
    async fn follow(
        &self,
        tally: &Tally,
        user: &User,
        run_id: &str,
        sent: Instant,
    ) -> Result<(String, String, Option<Duration>), String> {
        let mut response = self
            .http
            .get(format!("{}/api/v1/runs/{run_id}/events", self.base))
            .bearer_auth(user.token.expose_secret())
            .send()
            .await
            .map_err(|e| {
                tally.failed();
                format!("follow: transport ({})", kind_of(&e))
            })?;
        let status = response.status().as_u16();
        tally.answered(status);
        if status != 200 {
            return Err(format!("follow: HTTP {status}"));
        }
        let mut buffer = String::new();
        let mut output = String::new();
        let mut first_output = None;
        loop {
            let chunk = response
                .chunk()
                .await
                .map_err(|e| format!("follow: stream ({})", kind_of(&e)))?;
            let Some(chunk) = chunk else {
                return Err("follow: the stream ended before `done`".into());
            };
            buffer.push_str(&String::from_utf8_lossy(&chunk).replace('\r', ""));
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                match parse_event(&event) {
                    Some(("output", data)) => {
                        first_output.get_or_insert_with(|| sent.elapsed());
                        let chunk: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                        output.push_str(chunk["text"].as_str().unwrap_or_default());
                    }
                    Some(("done", data)) => {
                        let done: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                        let status = done["status"].as_str().unwrap_or("unknown").to_string();
                        return Ok((status, output, first_output));
                    }
                    _ => {}
                }
            }
        }
    }
}

fn failed(start: Option<Duration>, error: String) -> RunResult {
    RunResult {
        start,
        first_output: None,
        total: None,
        error: Some(error),
    }
}

/// A transport error's kind, without its text (which may name URLs, never secrets, but is
/// long).
fn kind_of(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "request"
    }
}

/// The event name and data of one Server-Sent Event (`None` for a keep-alive comment).
fn parse_event(text: &str) -> Option<(&str, String)> {
    let mut name = None;
    let mut data: Vec<&str> = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            name = Some(v.trim_start());
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    name.map(|n| (n, data.join("\n")))
}

/// Starts runs as `users` (the next one each time, round robin) until `until`; every run is
/// followed to its end, so the last one may end after `until`.
pub(crate) async fn caller(
    api: Api,
    tally: Arc<Tally>,
    users: Vec<Arc<User>>,
    until: Instant,
) -> Vec<RunResult> {
    let mut results = Vec::new();
    for user in users.iter().cycle() {
        if Instant::now() >= until {
            break;
        }
        results.push(api.run_once(&tally, user).await);
    }
    results
}

/// Counts of errors by kind.
pub(crate) fn errors_by_kind(results: &[RunResult]) -> BTreeMap<String, u64> {
    let mut kinds = BTreeMap::new();
    for e in results.iter().filter_map(|r| r.error.as_ref()) {
        *kinds.entry(e.clone()).or_insert(0) += 1;
    }
    kinds
}
