//! `GET /api/v1/approvals?page=ID`: the approvals view as JSON, for the remote CLI and the
//! macro. Each write block of the page with its digest, whether that exact script is approved,
//! its approvals and, while it is pending, the line diff against the last approved script
//! (`[{op: "same"|"add"|"del", line}]`; every line `add` for a block never approved), or a
//! `note` when the approved script could not be recovered from its page version.
//!
//! Anybody who may view the page may read this (the engine checks, as for the page's
//! runbooks); a Forge caller only for the page its macro sits on.

use arkbridge_core::audit::Target;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use crate::api::{answer, failed};
use crate::error::ApiError;
use crate::web_approvals_model::{page_approvals, page_json};
use crate::{AppState, Principal};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    page: String,
}

/// `GET /api/v1/approvals?page=ID`.
pub(crate) async fn list_approvals(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let page_id = match query {
        Ok(Query(q)) => q.page.trim().to_string(),
        Err(r) => {
            let e = ApiError::bad_request("bad_query", r.body_text());
            return failed(e, Target::default());
        }
    };
    let target = Target::page(&page_id);
    if page_id.is_empty() {
        return failed(ApiError::bad_request("bad_query", "page is empty"), target);
    }
    if let Err(e) = principal.check_page(&page_id) {
        return failed(e, target);
    }
    match page_approvals(&state, &principal.user, &page_id).await {
        Ok(page) => answer(
            StatusCode::OK,
            page_json(&page),
            Target::page(&page.page_id),
        ),
        Err(e) => failed(e, target),
    }
}
