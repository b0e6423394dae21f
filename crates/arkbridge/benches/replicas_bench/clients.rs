//! The benchmark's clients: each loops until the phase's deadline, starting the read-only
//! health check through one replica's API and following the run's `/events` stream to its
//! `done` event before starting the next.
//!
//! Every API call carries a fresh Forge invocation token (they are single-use), minted by the
//! simulator: two per run, both minted before the run's clock starts, so the end-to-end latency
//! does not include them; the runs/s do (a client mints before each run), alike in every phase.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A client stops after this many failures in a row (a dead replica would otherwise be
/// hammered with requests until the deadline).
const MAX_ERRORS_IN_A_ROW: usize = 20;

/// What the clients need, shared by all.
pub(crate) struct Clients {
    /// Talks to the simulator (its CA trusted).
    pub(crate) sim_http: reqwest::Client,
    /// Talks to the replicas.
    pub(crate) http: reqwest::Client,
    pub(crate) fit_url: String,
    pub(crate) page_id: String,
}

/// What one client saw.
#[derive(Debug, Default)]
pub(crate) struct ClientStats {
    /// End-to-end latencies of runs that succeeded: request sent to `done` received.
    pub(crate) latencies: Vec<Duration>,
    /// Runs the API accepted (202).
    pub(crate) accepted: usize,
    /// Failures by kind.
    pub(crate) errors: BTreeMap<&'static str, usize>,
    /// The first message of each kind.
    pub(crate) samples: BTreeMap<&'static str, String>,
    /// Time spent minting tokens.
    pub(crate) minting: Duration,
    /// When the client finished its last run.
    pub(crate) finished_at: Option<Instant>,
}

impl ClientStats {
    fn error(&mut self, kind: &'static str, message: String) {
        *self.errors.entry(kind).or_default() += 1;
        self.samples.entry(kind).or_insert(message);
    }
}

/// One failed step: its kind and what happened.
type Failure = (&'static str, String);

impl Clients {
    /// A single-use Forge invocation token for `email`.
    async fn mint(&self, email: &str) -> Result<String, Failure> {
        let fail = |e: String| ("mint", e);
        let answer = self
            .sim_http
            .post(&self.fit_url)
            .basic_auth("Administrator", Some(crate::setup::ADMIN_PASSWORD))
            .json(&json!({ "email": email }))
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !answer.status().is_success() {
            return Err(fail(format!("status {}", answer.status())));
        }
        let body: Value = answer.json().await.map_err(|e| fail(e.to_string()))?;
        body["token"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| fail(format!("no token in {body}")))
    }

    /// Starts one run on `replica` and follows it to its end; the run's final status.
    async fn one_run(&self, replica: &str, start: &str, follow: &str) -> Result<String, Failure> {
        let started = self
            .http
            .post(format!("{replica}/api/v1/runs"))
            .bearer_auth(start)
            .json(&json!({"page_id": self.page_id, "block": "health"}))
            .send()
            .await
            .map_err(|e| ("start", e.to_string()))?;
        let status = started.status();
        let body = started.text().await.map_err(|e| ("start", e.to_string()))?;
        if status != 202 {
            return Err(("start", format!("status {status}: {body}")));
        }
        let answer: Value = serde_json::from_str(&body).map_err(|e| ("start", e.to_string()))?;
        let id = answer["run_id"]
            .as_str()
            .ok_or_else(|| ("start", format!("no run id in {body}")))?;
        let events = self
            .http
            .get(format!("{replica}/api/v1/runs/{id}/events"))
            .bearer_auth(follow)
            .send()
            .await
            .map_err(|e| ("events", e.to_string()))?;
        let status = events.status();
        let text = events.text().await.map_err(|e| ("events", e.to_string()))?;
        if status != 200 {
            return Err(("events", format!("status {status}: {text}")));
        }
        if text.contains(crate::setup::PLANTED) {
            return Err(("leak", format!("run {id} streamed the planted secret")));
        }
        done_status(&text).ok_or_else(|| ("events", format!("run {id}: no done event")))
    }

    /// A client calling as `email` through `replica` until `deadline`, for at most `limit`
    /// runs.
    pub(crate) async fn run_client(
        &self,
        email: String,
        replica: String,
        deadline: Instant,
        limit: usize,
    ) -> ClientStats {
        let mut stats = ClientStats::default();
        let mut in_a_row = 0;
        while Instant::now() < deadline
            && in_a_row < MAX_ERRORS_IN_A_ROW
            && stats.latencies.len() + stats.errors.values().sum::<usize>() < limit
        {
            let minting = Instant::now();
            let tokens = match self.mint(&email).await {
                Ok(a) => self.mint(&email).await.map(|b| (a, b)),
                Err(e) => Err(e),
            };
            stats.minting += minting.elapsed();
            let (start, follow) = match tokens {
                Ok(t) => t,
                Err((kind, message)) => {
                    stats.error(kind, message);
                    in_a_row += 1;
                    continue;
                }
            };
            let t0 = Instant::now();
            match self.one_run(&replica, &start, &follow).await {
                Ok(status) if status == "succeeded" => {
                    stats.accepted += 1;
                    stats.latencies.push(t0.elapsed());
                    in_a_row = 0;
                }
                Ok(status) => {
                    stats.accepted += 1;
                    stats.error("run", format!("a run ended {status}"));
                    in_a_row += 1;
                }
                Err((kind, message)) => {
                    if kind != "start" {
                        stats.accepted += 1;
                    }
                    stats.error(kind, message);
                    in_a_row += 1;
                }
            }
        }
        stats.finished_at = Some(Instant::now());
        stats
    }
}

/// The `status` of the `done` event in an SSE body.
fn done_status(text: &str) -> Option<String> {
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "event: done" {
            let data = lines.find_map(|l| l.strip_prefix("data:"))?;
            let done: Value = serde_json::from_str(data.trim()).ok()?;
            return done["status"].as_str().map(String::from);
        }
    }
    None
}

/// The `p`-th percentile (nearest rank) of sorted `v`, in milliseconds.
pub(crate) fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}
