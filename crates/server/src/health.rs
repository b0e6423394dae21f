//! The unauthenticated endpoints: `/healthz` (the process answers), `/readyz` (the CCP, the
//! PVWA and Confluence answer; `degraded` when CyberArk does not but runs can go on read-only),
//! `/metrics` (Prometheus) and `/api/v1/openapi.json`.
//!
//! Readiness probes are cached for a few seconds, so a load balancer polling `/readyz` does not
//! turn into a stream of requests to CyberArk and Confluence.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AppState;

/// How long a readiness answer is reused.
const READINESS_TTL: Duration = Duration::from_secs(5);

/// `GET /healthz`.
pub(crate) async fn healthz(State(state): State<AppState>) -> Response {
    let status = if state.shutting_down() {
        "shutting-down"
    } else {
        "ok"
    };
    (StatusCode::OK, Json(json!({ "status": status }))).into_response()
}

/// `GET /readyz`: 200 when ready or degraded (the body says which), 503 otherwise.
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let cached = state
        .readiness
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .filter(|(at, _)| at.elapsed() < READINESS_TTL)
        .map(|(_, r)| r);
    let readiness = match cached {
        Some(r) => r,
        None => {
            let r = state.bridge.readiness().await;
            *state.readiness.lock().unwrap_or_else(|p| p.into_inner()) =
                Some((Instant::now(), r.clone()));
            r
        }
    };
    let mut status = readiness.status();
    if state.shutting_down() {
        status = "shutting-down";
    }
    let code = match status {
        "ready" | "degraded" => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    let mut body = json!({ "status": status, "checks": readiness.checks });
    if status == "degraded" {
        body["detail"] = json!(
            "CyberArk is unavailable: runs go on read-only where their blocks name fallbacks; \
             write blocks without fallbacks are refused"
        );
    }
    (code, Json(body)).into_response()
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    // The engine's own counters (rotations, lease waits ...) follow the server's.
    let engine = arkbridge_engine::METRICS.render();
    let text = state.metrics.render(state.runs.active(), &engine);
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// `GET /api/v1/openapi.json`.
pub(crate) async fn openapi() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        crate::OPENAPI,
    )
        .into_response()
}
