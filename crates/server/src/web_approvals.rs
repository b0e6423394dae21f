//! The approvals view at `/ui/approvals?page=ID`: each `write` block of the page with its
//! current script, whether that exact script (by SHA-256) is approved, what changed since the
//! last approved script (a line diff), the block's approval history, and an Approve button for
//! members of the approver groups.
//!
//! The store keeps approved digests, not texts; `web_approvals_model.rs` reads the approved
//! script back from the page version it was approved on and checks its digest, and
//! `web_approvals_diff.rs` renders the diff. Approving goes through the API
//! (`POST /api/v1/approvals`, with the session's CSRF token), where the engine applies every
//! rule (an approver may not approve their own edit, for one) and audits the decision.

use arkbridge_store::ApprovalRecord;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;

use crate::AppState;
use crate::error::ApiError;
use crate::web_approvals_diff::diff_table;
use crate::web_approvals_model::{
    ApprovalState, BlockApprovals, PageApprovals, page_approvals, unrecoverable_text,
};
use crate::web_html::{error_page, escape, page, time_text};
use crate::web_pages::{engine_error_page, require_session};
use crate::web_session::Session;

#[derive(Debug, Deserialize)]
pub(crate) struct ApprovalsQuery {
    #[serde(default)]
    page: Option<String>,
}

/// `GET /ui/approvals?page=ID`.
pub(crate) async fn approvals_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    query: Result<Query<ApprovalsQuery>, QueryRejection>,
) -> Response {
    let here = uri.path_and_query().map_or("/ui/approvals", |p| p.as_str());
    let session = match require_session(&state, &headers, here) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let page_id = match query {
        Ok(Query(q)) => q
            .page
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty()),
        Err(r) => {
            let msg = r.body_text();
            return error_page(StatusCode::BAD_REQUEST, "Approvals", Some(&session), &msg);
        }
    };
    let form = format!(
        "<form method=\"get\" action=\"/ui/approvals\"><label for=\"a-page\">Confluence page id</label> \
         <input id=\"a-page\" name=\"page\" required value=\"{}\"> <button type=\"submit\">Show</button></form>",
        escape(page_id.as_deref().unwrap_or_default())
    );
    let Some(page_id) = page_id else {
        let body = format!(
            "<p>Write blocks run only once an approver has approved their exact script.</p>{form}"
        );
        return page(StatusCode::OK, "Approvals", Some(&session), &body);
    };
    match blocks_view(&state, &session, &page_id).await {
        Ok((title, blocks)) => page(
            StatusCode::OK,
            &format!("Approvals: {title}"),
            Some(&session),
            &format!("{form}{blocks}"),
        ),
        Err(e) => engine_error_page(&session, &e),
    }
}

/// The page's title and the markup of its write blocks.
async fn blocks_view(
    state: &AppState,
    session: &Session,
    page_id: &str,
) -> Result<(String, String), ApiError> {
    let user = &session.principal.user;
    let approvals = page_approvals(state, user, page_id).await?;
    let approver = user
        .groups
        .iter()
        .any(|g| state.bridge.config().policy.approver_groups.contains(g));
    let mut out: String = approvals
        .blocks
        .iter()
        .map(|b| block_markup(&approvals, b, approver))
        .collect();
    if out.is_empty() {
        out.push_str("<p>This page has no write blocks: nothing needs approval.</p>");
    }
    Ok((approvals.title, out))
}

/// The sentence about the last approval of a block whose script changed since.
fn changed_since(last: &ApprovalRecord) -> String {
    format!(
        "Pending: the script changed since the last approval (of <code>{}</code>, page version \
         {}, by {}).",
        escape(&last.script_sha256),
        last.page_version,
        escape(&last.approver)
    )
}

/// The status line and, when there is one, the diff of a block.
fn status_markup(page: &PageApprovals, block: &BlockApprovals) -> String {
    match (&block.state, block.last()) {
        (ApprovalState::Approved, _) => {
            "<p class=\"ok\">This exact script is approved.</p>".to_string()
        }
        (ApprovalState::NeverApproved { .. }, _) | (_, None) => {
            "<p class=\"error\">Pending: this block was never approved.</p>\
             <p class=\"never-approved\">Never approved: the whole script is new; it is shown \
             in full below.</p>"
                .to_string()
        }
        (ApprovalState::Changed { diff }, Some(last)) => {
            let caption = format!(
                "Changes to {} from the script approved on page version {} (removed lines) to \
                 the current script of version {} (added lines)",
                escape(&block.name),
                last.page_version,
                page.page_version
            );
            format!(
                "<p class=\"error\">{}</p>{}",
                changed_since(last),
                diff_table(&caption, diff)
            )
        }
        (ApprovalState::Unrecoverable { version, why }, Some(last)) => {
            let text = unrecoverable_text(*version, why);
            let mut sentence = text[..1].to_uppercase();
            sentence.push_str(&text[1..]);
            format!(
                "<p class=\"error\">{}</p><p class=\"unrecoverable\" role=\"note\">{}. No \
                 diff can be shown: compare the current script below with the approved digest.</p>",
                changed_since(last),
                escape(&sentence)
            )
        }
    }
}

fn block_markup(page: &PageApprovals, block: &BlockApprovals, approver: bool) -> String {
    let i = block.index;
    let approved = matches!(block.state, ApprovalState::Approved);
    let status = status_markup(page, block);
    let button = if !approved && approver {
        format!(
            "<p><button type=\"button\" class=\"approve\" data-page=\"{}\" data-block=\"{}\" \
             data-result=\"ap{i}\">Approve {}</button></p>",
            escape(&page.page_id),
            escape(&block.name),
            escape(&block.name)
        )
    } else if !approved {
        "<p>Only members of the approver groups may approve it.</p>".to_string()
    } else {
        String::new()
    };
    let rows: String = block
        .history
        .iter()
        .rev()
        .map(|a| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                time_text(a.created_micros),
                escape(&a.approver),
                a.page_version,
                escape(&a.script_sha256)
            )
        })
        .collect();
    let table = if rows.is_empty() {
        String::new()
    } else {
        format!(
            "<table><caption>Approvals of this block</caption><thead><tr><th scope=\"col\">When</th>\
             <th scope=\"col\">Approver</th><th scope=\"col\">Page version</th>\
             <th scope=\"col\">Script SHA-256</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    };
    format!(
        "<section class=\"block\" aria-labelledby=\"ab{i}-h\"><h2 id=\"ab{i}-h\">{}</h2>{status}\
         <p>Current script SHA-256: <code>{}</code></p>\
         <pre class=\"note\" aria-label=\"Current script of {}\">{}</pre>{button}\
         <p id=\"ap{i}\" role=\"status\" aria-live=\"polite\" class=\"result\"></p>{table}</section>",
        escape(&block.name),
        escape(&block.script_sha256),
        escape(&block.name),
        escape(&block.script),
    )
}
