//! Runs when several replicas share a PostgreSQL store. A run started through any replica's
//! API is queued in the store (`api_runs`); every replica's claimer takes queued runs with
//! `FOR UPDATE SKIP LOCKED` up to `[cluster] max_runs` at a time, so exactly one replica
//! executes each. The executing replica copies the run's masked output to the store every
//! `[cluster] poll_millis` and records its end once. Every replica, the executing one
//! included, answers `GET /runs/{id}`, `/output` and `/events` from a mirror of the stored run
//! that a task keeps up to date by polling the store; so a client needs no stickiness.
//!
//! A run a dead replica had claimed is never executed again: the leader
//! (`cluster_node.rs`) gives it its final state (`error`) and the engine's recovery rotates its
//! leases.

use std::sync::Arc;
use std::time::Duration;

use arkbridge_engine::{RunRequest, VerifiedUser};
use arkbridge_store::{Cluster, QueuedRun, StoredChunk};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::runs::RunEntry;

/// The most chunks one poll copies.
const CHUNKS_PER_POLL: i64 = 500;

/// A run request as the queue keeps it: no secret, only who asked for which block.
#[derive(Debug, Serialize, Deserialize)]
struct StoredRequest {
    page: String,
    block: Option<String>,
    email: String,
    groups: Vec<String>,
    verified_by: String,
    confluence_account: Option<String>,
    issuer: String,
    subject: String,
}

/// The `&'static` names the engine gives to how a user was verified.
fn verified_by(name: &str) -> &'static str {
    match name {
        "local-trusted" => "local-trusted",
        "ldap" => "ldap",
        "forge" => "forge",
        "oidc-last-sign-in" => "oidc-last-sign-in",
        _ => "oidc",
    }
}

impl StoredRequest {
    fn from_request(req: &RunRequest) -> StoredRequest {
        StoredRequest {
            page: req.page.clone(),
            block: req.block.clone(),
            email: req.user.email.clone(),
            groups: req.user.groups.clone(),
            verified_by: req.user.verified_by.to_string(),
            confluence_account: req.user.confluence_account.clone(),
            issuer: req.user.issuer.clone(),
            subject: req.user.subject.clone(),
        }
    }

    fn into_request(self) -> RunRequest {
        RunRequest {
            page: self.page,
            block: self.block,
            user: VerifiedUser {
                email: self.email,
                groups: self.groups,
                verified_by: verified_by(&self.verified_by),
                confluence_account: self.confluence_account,
                issuer: self.issuer,
                subject: self.subject,
            },
        }
    }
}

fn micros_now() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

/// Queues a decided run; returns this replica's mirror of it.
pub(crate) async fn enqueue(
    state: &AppState,
    cluster: &Cluster,
    req: &RunRequest,
    page_id: &str,
    block: &str,
) -> Result<Arc<RunEntry>, arkbridge_store::StoreError> {
    let id = uuid::Uuid::new_v4().to_string();
    let request = serde_json::to_string(&StoredRequest::from_request(req)).unwrap_or_default();
    cluster
        .enqueue_run(&QueuedRun {
            id: id.clone(),
            owner: req.user.email.clone(),
            page_id: page_id.into(),
            block: block.into(),
            request,
            state: "queued".into(),
            status: "queued".into(),
            replica_id: None,
            created_micros: micros_now(),
            finished_micros: None,
            last_seq: 0,
            dropped: 0,
            record: None,
        })
        .await?;
    state.wake_claimer();
    let (entry, _) = mirror_of(
        state,
        cluster,
        &id,
        &req.user.email,
        page_id,
        block,
        "queued",
    );
    Ok(entry)
}

/// This replica's mirror of a stored run, or `None` if the store has no run `id` that
/// `may_see` (given the run's owner) lets the caller see: nobody else's request starts a mirror.
pub(crate) async fn find(
    state: &AppState,
    cluster: &Cluster,
    id: &str,
    may_see: impl FnOnce(&str) -> bool,
) -> Result<Option<Arc<RunEntry>>, arkbridge_store::StoreError> {
    if let Some(entry) = state.runs.get(id) {
        return Ok(Some(entry));
    }
    let Some(run) = cluster.api_run(id).await? else {
        return Ok(None);
    };
    if !may_see(&run.owner) {
        return Ok(None);
    }
    let (entry, _) = mirror_of(
        state,
        cluster,
        &run.id,
        &run.owner,
        &run.page_id,
        &run.block,
        &run.status,
    );
    Ok(Some(entry))
}

fn mirror_of(
    state: &AppState,
    cluster: &Cluster,
    id: &str,
    owner: &str,
    page_id: &str,
    block: &str,
    status: &str,
) -> (Arc<RunEntry>, bool) {
    let (entry, created) = state.runs.mirror(id, owner, page_id, block, status);
    if created {
        let poll = state.cluster_poll();
        tokio::spawn(follow(cluster.clone(), entry.clone(), poll));
    }
    (entry, created)
}

/// Keeps a mirror up to date until its run has ended and every chunk is copied.
async fn follow(cluster: Cluster, entry: Arc<RunEntry>, poll: Duration) {
    loop {
        match cluster.api_run(&entry.id).await {
            Ok(Some(run)) => {
                let mut complete = true;
                match cluster
                    .output_after(&entry.id, entry.last_seq() as i64, CHUNKS_PER_POLL)
                    .await
                {
                    Ok(chunks) => {
                        complete = chunks.len() < CHUNKS_PER_POLL as usize;
                        for c in chunks {
                            entry.push_stored(c.seq as u64, &c.stream, c.text);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(run = %entry.id, error = %e, "cannot read a run's output")
                    }
                }
                if run.state == "finished" && complete && entry.last_seq() as i64 >= run.last_seq {
                    let record = run
                        .record
                        .as_deref()
                        .and_then(|r| serde_json::from_str(r).ok())
                        .unwrap_or_else(|| serde_json::json!({"id": run.id, "status": run.status}));
                    entry.finish_stored(&run.status, record, run.finished_micros.unwrap_or(0));
                    return;
                }
                entry.set_stored_status(&run.status);
                if !complete {
                    continue;
                }
            }
            Ok(None) => return,
            Err(e) => tracing::warn!(run = %entry.id, error = %e, "cannot read a run"),
        }
        tokio::time::sleep(poll).await;
    }
}

/// Claims queued runs while this replica has room, until shutdown.
pub(crate) async fn claim_loop(state: AppState, cluster: Cluster) {
    let poll = state.cluster_poll();
    let max = i64::from(state.bridge.config().cluster.max_runs);
    let replica = state.bridge.replica().id.clone();
    let mut wake = state.claimer_wakeups();
    // Runs queued on other replicas wake this one through `LISTEN`; polling covers the rest.
    let listener = match cluster.listen_queue().await {
        Ok(mut listener) => {
            let state = state.clone();
            Some(tokio::spawn(async move {
                loop {
                    match listener.next().await {
                        Ok(()) => state.wake_claimer(),
                        Err(e) => {
                            tracing::warn!(error = %e, "lost the queue's notifications; polling");
                            return;
                        }
                    }
                }
            }))
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for queued runs; polling");
            None
        }
    };
    let _listener = AbortOnDrop(listener);
    let mut last_check = tokio::time::Instant::now();
    loop {
        if state.shutting_down() {
            return;
        }
        if last_check.elapsed() >= ORPHAN_CHECK {
            last_check = tokio::time::Instant::now();
            end_orphans(&state, &cluster, &replica).await;
        }
        let room = max - state.runs.active() as i64;
        match cluster.claim_runs(&replica, room, micros_now()).await {
            Ok(runs) => {
                for run in runs {
                    execute(&state, &cluster, run);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot claim queued runs"),
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = wake.changed() => {}
        }
    }
}

/// How often a replica looks for runs the store says it claimed but that it does not execute.
const ORPHAN_CHECK: Duration = Duration::from_secs(5);

/// Ends runs the store has as claimed by this replica that it does not execute: a claim whose
/// answer was lost on the way back (the claim committed, the replica saw an error). They were
/// never started, and never will be.
async fn end_orphans(state: &AppState, cluster: &Cluster, replica: &str) {
    let Ok(runs) = cluster.running_runs_of(replica).await else {
        return;
    };
    let executing = state.runs.claimed_ids();
    for run in runs.into_iter().filter(|r| !executing.contains(&r.id)) {
        let record = serde_json::json!({
            "id": run.id, "status": "error", "page_id": run.page_id, "block": run.block,
            "user": run.owner,
            "error": "the run was claimed but the claim's answer was lost; it was not executed",
        });
        if let Ok(true) = cluster
            .finish_api_run(&run.id, "error", &record.to_string(), micros_now())
            .await
        {
            state.metrics.run_finished("error");
            tracing::warn!(run = %run.id, "ended a run whose claim was lost");
        }
    }
}

/// Stops a task when the loop that started it ends.
struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

/// Executes a claimed run and copies its output and end to the store.
fn execute(state: &AppState, cluster: &Cluster, run: QueuedRun) {
    let request = match serde_json::from_str::<StoredRequest>(&run.request) {
        Ok(r) => r.into_request(),
        Err(e) => {
            let cluster = cluster.clone();
            tokio::spawn(async move {
                let record = serde_json::json!({
                    "id": run.id, "status": "error",
                    "error": format!("the queued request cannot be read: {e}"),
                });
                if let Err(e) = cluster
                    .finish_api_run(&run.id, "error", &record.to_string(), micros_now())
                    .await
                {
                    tracing::error!(run = %run.id, error = %e, "cannot record a run's end");
                }
            });
            return;
        }
    };
    tracing::info!(run = %run.id, page = %run.page_id, block = %run.block, "executing a claimed run");
    let entry = state.runs.start_claimed(
        run.id.clone(),
        state.bridge.clone(),
        request,
        run.page_id,
        run.block,
        state.metrics.clone(),
    );
    let limit = state.bridge.config().server.output_limit_bytes.max(1);
    tokio::spawn(copy_out(
        state.clone(),
        cluster.clone(),
        entry,
        state.cluster_poll(),
        limit,
    ));
}

/// Copies an executing run's output to the store as it comes, then its end. A batch the
/// store refused is sent again (the cursor moves only once it is stored), and the end is
/// recorded however long the store takes to come back: a run never stays `running`.
async fn copy_out(
    state: AppState,
    cluster: Cluster,
    entry: Arc<RunEntry>,
    poll: Duration,
    limit: usize,
) {
    let mut changes = entry.subscribe();
    let mut after = 0u64;
    // What the store holds of this run, oldest first, to keep it within the output limit.
    let mut stored: std::collections::VecDeque<(i64, usize)> = Default::default();
    let mut bytes = 0usize;
    let mut failures = 0u32;
    loop {
        let finished = entry.is_finished();
        let mut copied = true;
        loop {
            let page = entry.output(after);
            if page.chunks.is_empty() {
                break;
            }
            let chunks: Vec<StoredChunk> = page
                .chunks
                .iter()
                .map(|c| StoredChunk {
                    seq: c.seq as i64,
                    stream: c.stream.into(),
                    text: c.text.clone(),
                })
                .collect();
            // What the store will hold if this batch goes in, trimmed from the front.
            let mut kept = stored.clone();
            let mut kept_bytes = bytes;
            for c in &chunks {
                kept.push_back((c.seq, c.text.len()));
                kept_bytes += c.text.len();
            }
            let mut trim = None;
            while kept_bytes > limit && kept.len() > 1 {
                if let Some((seq, len)) = kept.pop_front() {
                    kept_bytes -= len;
                    let count = trim.map_or(0, |(_, n)| n) + 1;
                    trim = Some((seq, count));
                }
            }
            match cluster.append_output(&entry.id, &chunks, trim).await {
                Ok(()) => {
                    (stored, bytes, after) = (kept, kept_bytes, page.next);
                    failures = 0;
                }
                Err(e) => {
                    tracing::warn!(run = %entry.id, error = %e, "cannot store a run's output; trying again");
                    copied = false;
                    break;
                }
            }
        }
        if finished && copied {
            let record = entry.record();
            let status = entry.view().status;
            match cluster
                .finish_api_run(&entry.id, &status, &record.to_string(), micros_now())
                .await
            {
                Ok(_) => {
                    state.runs.claimed_done(&entry.id);
                    return;
                }
                Err(e) => {
                    tracing::warn!(run = %entry.id, error = %e, "cannot record a run's end; trying again");
                    copied = false;
                }
            }
        }
        if !copied {
            failures = failures.saturating_add(1);
            let wait = poll
                .saturating_mul(2u32.saturating_pow(failures.min(6)))
                .min(Duration::from_secs(5));
            tokio::time::sleep(wait).await;
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = changes.changed() => {
                // Batch what arrives within one poll period into one transaction; a run that
                // just ended is stored at once.
                if !entry.is_finished() {
                    tokio::time::sleep(poll).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_request_gives_back_the_same_request() {
        let req = RunRequest {
            page: "65601".into(),
            block: Some("restart".into()),
            user: VerifiedUser {
                email: "alice@example.com".into(),
                groups: vec!["oncall".into()],
                verified_by: "ldap",
                confluence_account: Some("557058:alice".into()),
                issuer: "https://idp.example.com".into(),
                subject: "00u1".into(),
            },
        };
        let text = serde_json::to_string(&StoredRequest::from_request(&req)).unwrap();
        let back = serde_json::from_str::<StoredRequest>(&text)
            .unwrap()
            .into_request();
        assert_eq!(back.page, req.page);
        assert_eq!(back.block, req.block);
        assert_eq!(back.user, req.user);
    }
}
