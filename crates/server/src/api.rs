//! The `/api/v1` endpoints other than runs: a page's runbooks, approvals, explanations and the
//! audit log (records, verification, the latest signed checkpoint).
//!
//! Each handler gets the verified [`Principal`] from the authentication layer and asks the
//! engine, whose policy authorises the call; the audit log is readable in full by the groups of
//! `[policy] approver_groups` and `[server] audit_reader_groups`, and by everybody else for
//! their own records only.

use arkbridge_audit::time::{now_us, parse_when};
use arkbridge_audit::{VerifyOptions, verify_log};
use arkbridge_core::audit::Target;
use arkbridge_store::{AuditFilter, Store, StoreError};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::middleware::AuditTarget;
use crate::{AppState, Principal};

/// The most audit records one call returns.
const MAX_AUDIT_LIMIT: i64 = 1000;

/// A JSON answer with the target its `api.call` record names.
pub(crate) fn answer(status: StatusCode, body: Value, target: Target) -> Response {
    let mut response = (status, Json(body)).into_response();
    response.extensions_mut().insert(AuditTarget(target));
    response
}

/// An error answer with the target its `api.call` record names.
pub(crate) fn failed(e: ApiError, target: Target) -> Response {
    let mut response = e.into_response();
    response.extensions_mut().insert(AuditTarget(target));
    response
}

pub(crate) fn bad_json(rejection: &JsonRejection) -> ApiError {
    ApiError::bad_request(
        "bad_json",
        format!("invalid JSON body: {}", rejection.body_text()),
    )
}

fn bad_query(rejection: &QueryRejection) -> ApiError {
    ApiError::bad_request("bad_query", rejection.body_text())
}

/// The `{page_id, block}` of a run or an approval.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BlockRef {
    pub(crate) page_id: String,
    #[serde(default)]
    pub(crate) block: Option<String>,
}

impl BlockRef {
    pub(crate) fn check(&self) -> Result<(), ApiError> {
        if self.page_id.trim().is_empty() {
            return Err(ApiError::bad_request("bad_request", "page_id is empty"));
        }
        if self.block.as_deref().is_some_and(|b| b.trim().is_empty()) {
            return Err(ApiError::bad_request("bad_request", "block is empty"));
        }
        Ok(())
    }

    pub(crate) fn target(&self) -> Target {
        Target {
            block: self.block.clone(),
            ..Target::page(&self.page_id)
        }
    }
}

/// `GET /api/v1/pages/{page_id}/runbooks`.
pub(crate) async fn page_runbooks(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(page_id): Path<String>,
) -> Response {
    let target = Target::page(&page_id);
    if let Err(e) = principal.check_page(&page_id) {
        return failed(e, target);
    }
    match state.bridge.page_runbooks(&principal.user, &page_id).await {
        Ok(page) => match serde_json::to_value(&page) {
            Ok(body) => answer(StatusCode::OK, body, target),
            Err(e) => failed(ApiError::internal(e.to_string()), target),
        },
        Err(e) => failed(ApiError::from_engine(&e), target),
    }
}

/// `POST /api/v1/approvals` with `{page_id, block}`.
pub(crate) async fn approve(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    body: Result<Json<BlockRef>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(r) => return failed(bad_json(&r), Target::default()),
    };
    if let Err(e) = body
        .check()
        .and_then(|()| principal.check_page(&body.page_id))
    {
        return failed(e, body.target());
    }
    match state
        .bridge
        .approve(&principal.user, &body.page_id, body.block.as_deref())
        .await
    {
        Ok(report) => {
            let target = Target::block(&report.page_id, report.page_version, &report.block);
            match serde_json::to_value(&report) {
                Ok(v) => answer(StatusCode::CREATED, v, target),
                Err(e) => failed(ApiError::internal(e.to_string()), target),
            }
        }
        Err(e) => failed(ApiError::from_engine(&e), body.target()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExplainQuery {
    page_id: String,
    #[serde(default)]
    block: Option<String>,
}

/// `GET /api/v1/explain?page_id&block`: the caller's own decision, with every rule.
pub(crate) async fn explain(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<ExplainQuery>, QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(r) => return failed(bad_query(&r), Target::default()),
    };
    let block = BlockRef {
        page_id: q.page_id,
        block: q.block,
    };
    if let Err(e) = block
        .check()
        .and_then(|()| principal.check_page(&block.page_id))
    {
        return failed(e, block.target());
    }
    match state
        .bridge
        .explain(&principal.user, &block.page_id, block.block.as_deref())
        .await
    {
        Ok(decision) => {
            let mut body = serde_json::to_value(&decision).unwrap_or(Value::Null);
            body["reasons"] = json!(decision.reasons());
            answer(StatusCode::OK, body, block.target())
        }
        Err(e) => failed(ApiError::from_engine(&e), block.target()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    user: Option<String>,
    page: Option<String>,
    safe: Option<String>,
    action: Option<String>,
    since: Option<String>,
    until: Option<String>,
    #[serde(default)]
    after: Option<i64>,
    limit: Option<i64>,
}

/// `GET /api/v1/audit?user&page&safe&action&since&until&after&limit`.
pub(crate) async fn audit_records(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Response {
    let Query(q) = match query {
        Ok(q) => q,
        Err(r) => return failed(bad_query(&r), Target::default()),
    };
    let target = Target {
        page_id: q.page.clone(),
        safe: q.safe.clone(),
        ..Target::default()
    };
    let filter = match audit_filter(&state, &principal, &q) {
        Ok(f) => f,
        Err(e) => return failed(e, target),
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_AUDIT_LIMIT).contains(&limit) {
        let e = ApiError::bad_request(
            "bad_query",
            format!("limit must be between 1 and {MAX_AUDIT_LIMIT}"),
        );
        return failed(e, target);
    }
    let after = q.after.unwrap_or(0).max(0);
    match state
        .bridge
        .store()
        .audit_query(&filter, after, limit)
        .await
    {
        Ok(records) => {
            let next = records.last().map_or(after, |r| r.seq);
            let records: Vec<Value> = records
                .iter()
                .map(|r| serde_json::from_str(&r.canonical).unwrap_or(Value::Null))
                .collect();
            let body = json!({ "records": records, "next": next, "own_only": !state.reads_all_audit(&principal) });
            answer(StatusCode::OK, body, target)
        }
        Err(e) => failed(store_error(&e), target),
    }
}

fn audit_filter(
    state: &AppState,
    principal: &Principal,
    q: &AuditQuery,
) -> Result<AuditFilter, ApiError> {
    let now = now_us();
    let when = |name: &str, v: &Option<String>| -> Result<Option<i64>, ApiError> {
        v.as_deref()
            .map(|t| parse_when(t, now))
            .transpose()
            .map_err(|e| ApiError::bad_request("bad_query", format!("{name}: {e}")))
    };
    if let Some(action) = &q.action
        && action.parse::<arkbridge_core::audit::Action>().is_err()
    {
        return Err(ApiError::bad_request(
            "bad_query",
            format!("unknown audit action `{action}`"),
        ));
    }
    let user = if state.reads_all_audit(principal) {
        q.user.clone()
    } else {
        // Only one's own records: a `user` naming somebody else finds nothing.
        match &q.user {
            Some(u) if !u.eq_ignore_ascii_case(&principal.user.email) => {
                return Err(ApiError::forbidden(format!(
                    "{} may read only their own audit records (not in an approver or audit \
                     reader group)",
                    principal.user.email
                )));
            }
            _ => Some(principal.user.email.clone()),
        }
    };
    Ok(AuditFilter {
        user,
        page_id: q.page.clone(),
        safe: q.safe.clone(),
        action: q.action.clone(),
        run_id: None,
        since_us: when("since", &q.since)?,
        until_us: when("until", &q.until)?,
    })
}

fn store_error(e: &StoreError) -> ApiError {
    ApiError::internal(format!("store: {e}"))
}

/// `GET /api/v1/audit/verify`: recomputes the tree and checks every stored checkpoint.
pub(crate) async fn audit_verify(State(state): State<AppState>) -> Response {
    let target = Target::default();
    match verify_log(state.bridge.store(), &VerifyOptions::default()).await {
        Ok(Ok(report)) => answer(
            StatusCode::OK,
            json!({
                "ok": true, "records": report.records, "root": report.root_base64(),
                "checkpoints": report.checkpoints,
                "signatures_checked": report.signatures_checked,
                "unsigned_records": report.records.saturating_sub(report.latest_checkpoint_size),
            }),
            target,
        ),
        Ok(Err(failure)) => answer(
            StatusCode::OK,
            json!({ "ok": false, "failure": failure.to_string() }),
            target,
        ),
        Err(e @ StoreError::Corrupt { .. }) => answer(
            StatusCode::OK,
            json!({ "ok": false, "failure": e.to_string() }),
            target,
        ),
        Err(e) => failed(store_error(&e), target),
    }
}

/// `GET /api/v1/audit/checkpoint`: the latest signed checkpoint (a C2SP signed note).
pub(crate) async fn audit_checkpoint(State(state): State<AppState>) -> Response {
    let target = Target::default();
    match state.bridge.store().audit_checkpoints().await {
        Ok(all) => match all.last() {
            Some(c) => answer(
                StatusCode::OK,
                json!({ "id": c.id, "tree_size": c.tree_size, "time_us": c.time_us, "note": c.note }),
                target,
            ),
            None => failed(
                ApiError::not_found("no_checkpoint", "no checkpoint has been signed yet"),
                target,
            ),
        },
        Err(e) => failed(store_error(&e), target),
    }
}
