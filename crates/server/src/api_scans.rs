//! `POST /api/v1/scans`: the secret scan of `arkbridge scan --space/--page` through the server
//! (`arkbridge scan --server URL`), as the caller.
//!
//! A finding says where a secret sits, which is itself worth keeping from everybody else, so a
//! scan is for the same people as the findings pages of the web UI: the audit readers
//! (`[policy] approver_groups` and `[server] audit_reader_groups`); a Forge macro may scan its
//! own page only. The engine scans as it does for the command line: every finding goes into the
//! triage memory, the new ones are audited with the caller as the actor, and the answer carries
//! each finding's masked preview and triage id, never a value.
//!
//! The answer is synchronous, so a scan is bounded by [`SCAN_TIMEOUT`]: one that takes longer is
//! stopped and answered `503 unavailable` (what it found in the spaces it finished is kept), and
//! a large space is better scanned with the local `arkbridge scan`.

use std::time::Duration;

use arkbridge_core::audit::Target;
use arkbridge_engine::{EngineError, ScanReport, ScanRequest};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{answer, bad_json, failed};
use crate::error::ApiError;
use crate::{ApiAuth, AppState, Principal};

/// The longest a scan may run before the call gives up on it.
pub(crate) const SCAN_TIMEOUT: Duration = Duration::from_secs(120);
/// The most spaces and pages one call may name.
const MAX_TARGETS: usize = 100;

/// What to scan: spaces (every page) and pages, with their history and comments if asked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScanBody {
    #[serde(default)]
    spaces: Vec<String>,
    #[serde(default)]
    pages: Vec<String>,
    #[serde(default)]
    history: bool,
    #[serde(default)]
    comments: bool,
}

impl ScanBody {
    /// The audit target: the page when exactly one page is scanned.
    fn target(&self) -> Target {
        match (self.spaces.as_slice(), self.pages.as_slice()) {
            ([], [page]) => Target::page(page),
            _ => Target::default(),
        }
    }

    fn check(&self, principal: &Principal) -> Result<(), ApiError> {
        if self.spaces.is_empty() && self.pages.is_empty() {
            return Err(ApiError::bad_request(
                "bad_request",
                "name what to scan: `spaces` (keys) or `pages` (ids)",
            ));
        }
        if self.spaces.len() + self.pages.len() > MAX_TARGETS {
            return Err(ApiError::bad_request(
                "bad_request",
                format!("one scan takes at most {MAX_TARGETS} spaces and pages"),
            ));
        }
        if self
            .spaces
            .iter()
            .chain(&self.pages)
            .any(|s| s.trim().is_empty())
        {
            return Err(ApiError::bad_request(
                "bad_request",
                "a space key or page id is empty",
            ));
        }
        if matches!(principal.auth, ApiAuth::Forge { .. }) && !self.spaces.is_empty() {
            return Err(ApiError::forbidden(
                "a Forge macro may scan its own page only, not spaces",
            ));
        }
        self.pages.iter().try_for_each(|p| principal.check_page(p))
    }
}

/// `POST /api/v1/scans` with `{spaces, pages, history, comments}`.
pub(crate) async fn start_scan(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    body: Result<Json<ScanBody>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(r) => return failed(bad_json(&r), Target::default()),
    };
    let target = body.target();
    if let Err(e) = body.check(&principal) {
        return failed(e, target);
    }
    if !state.reads_all_audit(&principal) {
        let e = ApiError::forbidden(format!(
            "{} is not in an approver or audit reader group, which scans are for",
            principal.user.email
        ));
        return failed(e, target);
    }
    if state.bridge.config().scanner.fingerprint_key.is_none() {
        let e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "this server cannot scan: its config has no [scanner] fingerprint_key",
        );
        return failed(e, target);
    }
    let request = ScanRequest {
        spaces: body.spaces,
        pages: body.pages,
        history: body.history,
        comments: body.comments,
        ..ScanRequest::default()
    };
    let scan = state.bridge.scan(&principal.user.email, &request, |_| {});
    match tokio::time::timeout(SCAN_TIMEOUT, scan).await {
        Ok(Ok(report)) => answer(StatusCode::OK, summary(&report), target),
        // With the key configured, what the engine calls a setup problem is the request's: a
        // space that does not exist.
        Ok(Err(e @ EngineError::Setup(_))) => {
            failed(ApiError::bad_request("bad_request", e.to_string()), target)
        }
        Ok(Err(e)) => failed(ApiError::from_engine(&e), target),
        Err(_) => failed(
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!(
                    "the scan did not finish within {} s and was stopped (findings of the spaces \
                     it finished are kept); scan fewer spaces at once, or run `arkbridge scan` \
                     with the bridge's config",
                    SCAN_TIMEOUT.as_secs()
                ),
            ),
            target,
        ),
    }
}

/// The answer: counts, then each finding with its triage id, state and masked preview.
pub(crate) fn summary(report: &ScanReport) -> Value {
    let findings: Vec<Value> = report
        .hits
        .iter()
        .map(|hit| {
            let (page, f) = report.of(hit);
            let m = &page.meta;
            json!({
                "id": hit.record.id,
                "state": hit.record.state.as_str(),
                "new": hit.new,
                "severity": f.severity.as_str(),
                "detector": f.detector,
                "page_id": m.page_id,
                "title": m.title,
                "version": m.version,
                "space": m.space_key,
                "element_path": hit.record.finding.element_path,
                "char_offset": f.location.char_offset,
                "preview": f.preview,
            })
        })
        .collect();
    json!({
        "documents": report.report.pages.len(),
        "bytes": report.bytes,
        "total": report.hits.len(),
        "new": report.new_hits().count(),
        "findings": findings,
    })
}
