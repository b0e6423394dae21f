//! Runs started through the API: each proceeds in a background task, its masked output kept in
//! memory (bounded per run, oldest chunks dropped first) for cursor polling and Server-Sent
//! Events, and its end recorded with the engine's report.
//!
//! The output arrives masked: it comes from the runner's masked sink, the only output the engine
//! hands out. Finished runs are kept up to `[server] keep_finished_runs`, then the oldest go.
//! With several replicas (`cluster_runs.rs`) the runs this replica claimed run here too, and
//! every replica lists a mirror of each run it is asked about, fed from the store.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use arkbridge_engine::{Bridge, EngineError, RunReport, RunRequest};
use arkbridge_runner::Stream;
use serde::Serialize;
use tokio::sync::watch;

use crate::metrics::Metrics;

/// One piece of masked output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chunk {
    /// 1, 2, 3, ... per run.
    pub seq: u64,
    /// `stdout` or `stderr`.
    pub stream: &'static str,
    pub text: String,
}

/// What a run's buffer holds now.
#[derive(Debug, Default)]
struct RunState {
    chunks: VecDeque<Chunk>,
    bytes: usize,
    next_seq: u64,
    /// Chunks dropped to stay under the limit.
    dropped: u64,
    /// Bytes of an incomplete UTF-8 character at the end of each stream, kept for the next call.
    carry: [Vec<u8>; 2],
    status: String,
    report: Option<RunReport>,
    error: Option<String>,
    reasons: Option<Vec<String>>,
    finished_us: Option<i64>,
    /// For a run another replica executes: its final record as that replica stored it.
    stored_record: Option<serde_json::Value>,
    exit_code: Option<i32>,
    mode: Option<String>,
}

/// One API run.
#[derive(Debug)]
pub struct RunEntry {
    pub id: String,
    pub owner: String,
    pub page_id: String,
    pub block: String,
    pub started_us: i64,
    limit: usize,
    state: Mutex<RunState>,
    /// Bumped on every change, so that streams wake up.
    changed: watch::Sender<u64>,
}

/// A page of output from a cursor.
#[derive(Debug, Clone, Serialize)]
pub struct OutputPage {
    pub chunks: Vec<Chunk>,
    /// The cursor for the next call (`after=next`).
    pub next: u64,
    /// The run has ended and every chunk up to `next` was handed out.
    pub done: bool,
    /// Chunks before the first one returned that were dropped to keep memory bounded.
    pub dropped: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// A run's status as `GET /api/v1/runs/{id}` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    pub id: String,
    pub status: String,
    pub page_id: String,
    pub block: String,
    pub user: String,
    pub started_us: i64,
    pub finished_us: Option<i64>,
    /// The engine's report (the engine's own run id, masked output, rotations, comment).
    pub report: Option<RunReport>,
    pub error: Option<String>,
    pub reasons: Option<Vec<String>>,
}

/// The most chunks one poll returns.
const MAX_CHUNKS_PER_PAGE: usize = 500;

fn micros_now() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

impl RunEntry {
    fn lock(&self) -> MutexGuard<'_, RunState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds masked output; complete UTF-8 only, the tail of a split character waits.
    fn push(&self, stream: Stream, bytes: &[u8]) {
        let (index, name) = match stream {
            Stream::Stdout => (0, "stdout"),
            Stream::Stderr => (1, "stderr"),
        };
        let mut state = self.lock();
        let mut data = std::mem::take(&mut state.carry[index]);
        data.extend_from_slice(bytes);
        let complete = match std::str::from_utf8(&data) {
            Ok(_) => data.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => data.len(),
        };
        state.carry[index] = data.split_off(complete);
        if data.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&data).into_owned();
        state.next_seq += 1;
        let seq = state.next_seq;
        self.append(state, seq, name, text);
    }

    /// Appends a chunk, drops the oldest ones beyond the limit, and wakes the streams.
    fn append(
        &self,
        mut state: MutexGuard<'_, RunState>,
        seq: u64,
        stream: &'static str,
        text: String,
    ) {
        state.bytes += text.len();
        state.chunks.push_back(Chunk { seq, stream, text });
        while state.bytes > self.limit && state.chunks.len() > 1 {
            if let Some(old) = state.chunks.pop_front() {
                state.bytes -= old.text.len();
                state.dropped += 1;
            }
        }
        drop(state);
        self.changed.send_modify(|v| *v += 1);
    }

    fn finish(&self, result: Result<RunReport, EngineError>) -> String {
        let mut state = self.lock();
        // Flush what was held back as an incomplete character: the run will not complete it.
        for (index, name) in [(0, "stdout"), (1, "stderr")] {
            let rest = std::mem::take(&mut state.carry[index]);
            if !rest.is_empty() {
                state.next_seq += 1;
                let seq = state.next_seq;
                state.chunks.push_back(Chunk {
                    seq,
                    stream: name,
                    text: String::from_utf8_lossy(&rest).into_owned(),
                });
            }
        }
        match result {
            Ok(report) => {
                state.status = report.status.clone();
                state.exit_code = report.exit_code;
                state.mode = Some(report.mode.clone());
                state.report = Some(report);
            }
            Err(e) => {
                state.status = match e {
                    EngineError::Denied { .. } | EngineError::UnknownUser { .. } => "denied",
                    _ => "error",
                }
                .into();
                if let EngineError::Denied { reasons, .. } = &e {
                    state.reasons = Some(reasons.split("; ").map(str::to_string).collect());
                }
                state.error = Some(e.to_string());
            }
        }
        state.finished_us = Some(micros_now());
        let status = state.status.clone();
        drop(state);
        self.changed.send_modify(|v| *v += 1);
        status
    }

    pub fn is_finished(&self) -> bool {
        self.lock().finished_us.is_some()
    }

    /// Output after cursor `after`.
    pub fn output(&self, after: u64) -> OutputPage {
        let state = self.lock();
        let chunks: Vec<Chunk> = state
            .chunks
            .iter()
            .filter(|c| c.seq > after)
            .take(MAX_CHUNKS_PER_PAGE)
            .cloned()
            .collect();
        let first_kept = state.chunks.front().map_or(state.next_seq + 1, |c| c.seq);
        let dropped = first_kept.saturating_sub(after + 1).min(state.dropped);
        // The cursor never goes back: the last seq handed out, or the caller's own.
        let next = chunks.last().map_or(after, |c| c.seq);
        let done = state.finished_us.is_some() && next >= state.next_seq;
        OutputPage {
            chunks,
            next,
            done,
            dropped,
            status: done.then(|| state.status.clone()),
            exit_code: state.exit_code,
            mode: state.mode.clone(),
        }
    }

    pub fn view(&self) -> RunView {
        let state = self.lock();
        RunView {
            id: self.id.clone(),
            status: state.status.clone(),
            page_id: self.page_id.clone(),
            block: self.block.clone(),
            user: self.owner.clone(),
            started_us: self.started_us,
            finished_us: state.finished_us,
            report: state.report.clone(),
            error: state.error.clone(),
            reasons: state.reasons.clone(),
        }
    }

    /// The run record as `GET /api/v1/runs/{id}` answers it: the engine's report fields at the
    /// top (as `arkbridge run --json` prints them; `run_id` is the engine's id) and the API's
    /// own (`id`, `status`, `started_us`, `finished_us`, `error`, `reasons`).
    pub fn record(&self) -> serde_json::Value {
        if let Some(stored) = self.lock().stored_record.clone() {
            return stored;
        }
        let view = self.view();
        let mut record = view
            .report
            .as_ref()
            .and_then(|r| serde_json::to_value(r).ok())
            .unwrap_or_else(|| serde_json::json!({}));
        record["id"] = serde_json::json!(view.id);
        record["status"] = serde_json::json!(view.status);
        record["page_id"] = serde_json::json!(view.page_id);
        record["block"] = serde_json::json!(view.block);
        record["user"] = serde_json::json!(view.user);
        record["started_us"] = serde_json::json!(view.started_us);
        record["finished_us"] = serde_json::json!(view.finished_us);
        record["error"] = serde_json::json!(view.error);
        record["reasons"] = serde_json::json!(view.reasons);
        record
    }

    /// A receiver that sees every later change of this run.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

/// Every API run of this process.
#[derive(Debug)]
pub struct RunRegistry {
    runs: Mutex<Registry>,
    limit: usize,
    keep_finished: usize,
    /// The number of runs still going, for shutdown.
    active: watch::Sender<usize>,
    /// Set to stop every run still going.
    stop: watch::Sender<bool>,
    /// Runs this replica claimed whose end is not yet in the store (`cluster_runs.rs`).
    claimed: watch::Sender<std::collections::HashSet<String>>,
}

#[derive(Debug, Default)]
struct Registry {
    by_id: HashMap<String, Arc<RunEntry>>,
    /// Ids in start order, for evicting the oldest finished runs.
    order: VecDeque<String>,
}

impl RunRegistry {
    pub fn new(output_limit_bytes: usize, keep_finished: usize) -> RunRegistry {
        RunRegistry {
            runs: Mutex::default(),
            limit: output_limit_bytes.max(1),
            keep_finished: keep_finished.max(1),
            active: watch::channel(0).0,
            stop: watch::channel(false).0,
            claimed: watch::channel(Default::default()).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, id: &str) -> Option<Arc<RunEntry>> {
        self.lock().by_id.get(id).cloned()
    }

    /// How many runs are still going.
    pub fn active(&self) -> usize {
        *self.active.borrow()
    }

    fn new_entry(
        &self,
        id: String,
        owner: String,
        page_id: String,
        block: String,
        status: &str,
    ) -> Arc<RunEntry> {
        Arc::new(RunEntry {
            id,
            owner,
            page_id,
            block,
            started_us: micros_now(),
            limit: self.limit,
            state: Mutex::new(RunState {
                status: status.into(),
                ..RunState::default()
            }),
            changed: watch::channel(0).0,
        })
    }

    /// Starts `req` in the background; returns its entry at once.
    pub fn start(
        &self,
        bridge: Arc<Bridge>,
        req: RunRequest,
        page_id: String,
        block: String,
        metrics: Arc<Metrics>,
    ) -> Arc<RunEntry> {
        let id = uuid::Uuid::new_v4().to_string();
        let entry = self.new_entry(id, req.user.email.clone(), page_id, block, "running");
        self.launch(&entry, bridge, req, metrics);
        self.register(&entry);
        entry
    }

    /// Starts a run this replica claimed from the cluster's queue, under the queue's id. The
    /// entry is not listed: every replica, this one included, shows it through a mirror of
    /// the stored run (`cluster_runs.rs`).
    pub(crate) fn start_claimed(
        &self,
        id: String,
        bridge: Arc<Bridge>,
        req: RunRequest,
        page_id: String,
        block: String,
        metrics: Arc<Metrics>,
    ) -> Arc<RunEntry> {
        self.claimed.send_modify(|ids| {
            ids.insert(id.clone());
        });
        let entry = self.new_entry(id, req.user.email.clone(), page_id, block, "running");
        self.launch(&entry, bridge, req, metrics);
        entry
    }

    fn register(&self, entry: &Arc<RunEntry>) {
        let mut registry = self.lock();
        registry.order.push_back(entry.id.clone());
        registry.by_id.insert(entry.id.clone(), entry.clone());
        self.evict(&mut registry);
    }

    fn launch(
        &self,
        entry: &Arc<RunEntry>,
        bridge: Arc<Bridge>,
        req: RunRequest,
        metrics: Arc<Metrics>,
    ) {
        self.active.send_modify(|n| *n += 1);
        let task_entry = entry.clone();
        let active = self.active.clone();
        let mut stop = self.stop.subscribe();
        let handle = tokio::runtime::Handle::current();
        // The run is polled on a thread of its own, inside the server's runtime (its timers
        // and sockets): the engine's run future is not provably `Send`, so it cannot be
        // spawned as a task, and `Handle::block_on` never moves it between threads.
        let spawned = std::thread::Builder::new()
            .name(format!("run-{}", &entry.id[..8]))
            .spawn(move || {
                handle.block_on(async move {
                    // One id names the run in the API, the store and the audit log.
                    let run_id = task_entry.id.clone();
                    let sink_entry = task_entry.clone();
                    let mut sink =
                        move |stream: Stream, bytes: &[u8]| sink_entry.push(stream, bytes);
                    let result = tokio::select! {
                        r = bridge.run_as(run_id, &req, &mut sink) => r,
                        // Dropping the run kills its process group and removes its folder.
                        _ = stop.wait_for(|s| *s) => Err(EngineError::Setup(
                            "the run was stopped: arkbridge shut down before it finished".into(),
                        )),
                    };
                    if let Err(e) = &result {
                        tracing::warn!(run = %task_entry.id, error = %e, "API run ended with an error");
                    }
                    let status = task_entry.finish(result);
                    metrics.run_finished(&status);
                    active.send_modify(|n| *n = n.saturating_sub(1));
                });
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a thread for a run");
            entry.finish(Err(EngineError::Setup(format!(
                "cannot start the run: {e}"
            ))));
            self.active.send_modify(|n| *n = n.saturating_sub(1));
        }
    }

    /// Drops the oldest finished runs beyond the configured number.
    fn evict(&self, registry: &mut Registry) {
        let finished = registry
            .order
            .iter()
            .filter(|id| registry.by_id.get(*id).is_some_and(|e| e.is_finished()))
            .count();
        let mut excess = finished.saturating_sub(self.keep_finished);
        let mut kept = VecDeque::with_capacity(registry.order.len());
        while let Some(id) = registry.order.pop_front() {
            let done = registry.by_id.get(&id).is_some_and(|e| e.is_finished());
            if done && excess > 0 {
                registry.by_id.remove(&id);
                excess -= 1;
            } else {
                kept.push_back(id);
            }
        }
        registry.order = kept;
    }

    /// Waits until no run is going, or `grace` has passed; returns how many still are.
    pub async fn wait_idle(&self, grace: std::time::Duration) -> usize {
        let mut active = self.active.subscribe();
        let idle = active.wait_for(|n| *n == 0);
        match tokio::time::timeout(grace, idle).await {
            Ok(_) => 0,
            Err(_) => self.active(),
        }
    }

    /// Stops every run still going and waits until they have ended: dropping a run kills its
    /// process group and removes its private directory; its leases are settled by the
    /// engine's recovery afterwards.
    pub async fn stop_all(&self) {
        self.stop.send_replace(true);
        let mut active = self.active.subscribe();
        let _ = active.wait_for(|n| *n == 0).await;
    }
}

#[path = "runs_stored.rs"]
mod stored;

#[cfg(test)]
#[path = "runs_tests.rs"]
mod tests;
