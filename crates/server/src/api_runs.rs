//! Runs through the API: `POST /api/v1/runs` decides at once (403 with the reasons on a denial)
//! and otherwise starts the run in the background (202 with its id); `GET /api/v1/runs/{id}`
//! reports it; `/output?after=N` hands out masked output by cursor (the Forge macro polls, as a
//! Forge UI cannot hold a request open) and `/events` streams the same chunks as Server-Sent
//! Events, then a `done` event.
//!
//! A run is visible to the user who started it and to the audit readers. Runs not started
//! through this process (the command line's) are reported from the store, without output.

use std::convert::Infallible;
use std::sync::Arc;

use arkbridge_core::audit::Target;
use arkbridge_engine::RunRequest;
use arkbridge_store::{RunRecord, Store};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::Stream;
use serde::Deserialize;
use serde_json::json;

use crate::api::{BlockRef, answer, bad_json, failed};
use crate::error::ApiError;
use crate::runs::RunEntry;
use crate::{AppState, Principal};

/// `POST /api/v1/runs` with `{page_id, block}`.
pub(crate) async fn start_run(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    body: Result<Json<BlockRef>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(r) => return failed(bad_json(&r), Target::default()),
    };
    let target = body.target();
    if let Err(e) = body
        .check()
        .and_then(|()| principal.check_page(&body.page_id))
    {
        return failed(e, target);
    }
    if state.shutting_down() {
        let e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "arkbridge is shutting down and starts no new run",
        );
        return failed(e, target);
    }
    let request = RunRequest {
        page: body.page_id.clone(),
        block: body.block.clone(),
        user: principal.user.clone(),
    };
    let admission = match state.bridge.admit(&request).await {
        Ok(a) => a,
        Err(e) => return failed(ApiError::from_engine(&e), target),
    };
    let target = Target::block(&admission.page_id, admission.page_version, &admission.block);
    if !admission.decision.allowed {
        state.metrics.run_finished("denied");
        let e = ApiError::denied(
            format!("denied: {}", admission.decision.explain()),
            admission.decision.reasons(),
            admission.denial_audit_seq,
        );
        return failed(e, target);
    }
    // Run the block the decision was about, even if the page gains a second block meanwhile.
    let request = RunRequest {
        page: admission.page_id.clone(),
        block: Some(admission.block.clone()),
        ..request
    };
    let (entry, status) = match state.bridge.cluster() {
        // With several replicas the run is queued and whichever replica has room executes it.
        Some(cluster) => {
            let queued = crate::cluster_runs::enqueue(
                &state,
                cluster,
                &request,
                &admission.page_id,
                &admission.block,
            )
            .await;
            match queued {
                Ok(entry) => (entry, "queued"),
                Err(e) => {
                    let e = ApiError::internal(format!("cannot queue the run: {e}"));
                    return failed(e, target);
                }
            }
        }
        None => (
            state.runs.start(
                state.bridge.clone(),
                request,
                admission.page_id,
                admission.block,
                state.metrics.clone(),
            ),
            "running",
        ),
    };
    answer(
        StatusCode::ACCEPTED,
        json!({
            "run_id": entry.id, "status": status,
            "output": format!("/api/v1/runs/{}/output", entry.id),
            "events": format!("/api/v1/runs/{}/events", entry.id),
        }),
        target,
    )
}

/// The run `id` if the caller may see it.
async fn visible_run(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<Arc<RunEntry>, ApiError> {
    let found = match state.bridge.cluster() {
        Some(cluster) => crate::cluster_runs::find(state, cluster, id, |owner| {
            owner.eq_ignore_ascii_case(&principal.user.email) || state.reads_all_audit(principal)
        })
        .await
        .map_err(|e| ApiError::internal(format!("store: {e}")))?,
        None => state.runs.get(id),
    };
    let entry = found.ok_or_else(|| unknown_run(id))?;
    if entry.owner.eq_ignore_ascii_case(&principal.user.email) || state.reads_all_audit(principal) {
        Ok(entry)
    } else {
        // The same answer as for a run that does not exist: ids of others' runs are not news.
        Err(unknown_run(id))
    }
}

fn unknown_run(id: &str) -> ApiError {
    ApiError::not_found(
        "unknown_run",
        format!("no run with id `{id}` visible to you"),
    )
}

fn run_target(entry: &RunEntry) -> Target {
    Target {
        block: Some(entry.block.clone()),
        ..Target::page(&entry.page_id)
    }
}

fn stored_view(run: &RunRecord) -> serde_json::Value {
    json!({
        "id": run.id, "status": run.status.as_str(), "page_id": run.page_id,
        "page_version": run.page_version, "block": run.block, "user": run.user_email,
        "mode": run.mode, "exit_code": run.exit_code, "started_us": run.started_micros,
        "finished_us": run.finished_micros, "comment_id": run.comment_id,
    })
}

/// `GET /api/v1/runs/{id}`.
pub(crate) async fn get_run(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    match visible_run(&state, &principal, &id).await {
        Ok(entry) => answer(StatusCode::OK, entry.record(), run_target(&entry)),
        Err(not_here) => match state.bridge.store().get_run(&id).await {
            Ok(Some(run))
                if run.user_email.eq_ignore_ascii_case(&principal.user.email)
                    || state.reads_all_audit(&principal) =>
            {
                let target = Target::block(
                    &run.page_id,
                    u64::try_from(run.page_version).unwrap_or(0),
                    &run.block,
                );
                answer(StatusCode::OK, stored_view(&run), target)
            }
            Ok(_) => failed(not_here, Target::default()),
            Err(e) => failed(ApiError::internal(format!("store: {e}")), Target::default()),
        },
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Cursor {
    #[serde(default)]
    after: Option<u64>,
}

/// `GET /api/v1/runs/{id}/output?after=N`.
pub(crate) async fn run_output(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    cursor: Result<Query<Cursor>, QueryRejection>,
) -> Response {
    let Query(cursor) = match cursor {
        Ok(c) => c,
        Err(r) => {
            let e = ApiError::bad_request("bad_query", r.body_text());
            return failed(e, Target::default());
        }
    };
    match visible_run(&state, &principal, &id).await {
        Ok(entry) => {
            let page = entry.output(cursor.after.unwrap_or(0));
            let body = serde_json::to_value(page).unwrap_or_default();
            answer(StatusCode::OK, body, run_target(&entry))
        }
        Err(e) => failed(e, Target::default()),
    }
}

/// `GET /api/v1/runs/{id}/events`: the masked chunks as `output` events (id = seq), then one
/// `done` event with the status. Resumes after `Last-Event-ID` or `?after=N`.
pub(crate) async fn run_events(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    cursor: Result<Query<Cursor>, QueryRejection>,
) -> Response {
    let Query(cursor) = match cursor {
        Ok(c) => c,
        Err(r) => {
            let e = ApiError::bad_request("bad_query", r.body_text());
            return failed(e, Target::default());
        }
    };
    let entry = match visible_run(&state, &principal, &id).await {
        Ok(e) => e,
        Err(e) => return failed(e, Target::default()),
    };
    let last_event = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let after = last_event.or(cursor.after).unwrap_or(0);
    let target = run_target(&entry);
    let stream = events(entry, after, state.streams_end_signal());
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response();
    response
        .extensions_mut()
        .insert(crate::middleware::AuditTarget(target));
    response
}

/// Where an event stream stands.
struct Feed {
    entry: Arc<RunEntry>,
    after: u64,
    changes: tokio::sync::watch::Receiver<u64>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    pending: std::collections::VecDeque<Event>,
    finished: bool,
}

fn events(
    entry: Arc<RunEntry>,
    after: u64,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    let feed = Feed {
        changes: entry.subscribe(),
        entry,
        after,
        shutdown,
        pending: Default::default(),
        finished: false,
    };
    futures_util::stream::unfold(feed, |mut feed| async move {
        loop {
            if let Some(event) = feed.pending.pop_front() {
                return Some((Ok(event), feed));
            }
            if feed.finished {
                return None;
            }
            // Mark the current state seen before reading it, so no change is missed.
            feed.changes.borrow_and_update();
            let page = feed.entry.output(feed.after);
            for chunk in &page.chunks {
                let data = serde_json::to_string(chunk).unwrap_or_default();
                feed.pending.push_back(
                    Event::default()
                        .event("output")
                        .id(chunk.seq.to_string())
                        .data(data),
                );
            }
            feed.after = page.next;
            if page.done {
                let data = json!({
                    "status": page.status, "exit_code": page.exit_code, "mode": page.mode,
                });
                feed.pending
                    .push_back(Event::default().event("done").data(data.to_string()));
                feed.finished = true;
                continue;
            }
            if !feed.pending.is_empty() {
                continue;
            }
            if *feed.shutdown.borrow() {
                return None;
            }
            tokio::select! {
                changed = feed.changes.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                _ = feed.shutdown.changed() => {}
            }
        }
    })
}
