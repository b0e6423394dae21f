//! The web UI's runbook pages: the start page (open a Confluence page by id), and a page's
//! runbook view at `/ui/pages/{page_id}`: each block with its mode, script digest and secret
//! bindings (references only), a Run button when the policy allows the signed-in user, or the
//! denial with every reason when it does not; a live output region the script fills from the
//! API's event stream; and the page's run history from the audit log.
//!
//! Every page needs a session: without one the browser is sent to sign in and brought back.

use arkbridge_core::audit::{Action, AuditRecord};
use arkbridge_store::{AuditFilter, Store};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;

use crate::AppState;
use crate::error::ApiError;
use crate::web_html::{asset, error_page, escape, page, see_other, time_text, url_component};
use crate::web_session::Session;

/// How many past runs the runbook view lists.
const HISTORY: usize = 20;

/// The session of the request, or the redirect to sign in (and back to `uri`).
pub(crate) fn require_session(
    state: &AppState,
    headers: &HeaderMap,
    uri: &str,
) -> Result<Session, Box<Response>> {
    let Some(web) = &state.web else {
        return Err(Box::new(error_page(
            StatusCode::NOT_FOUND,
            "No web UI",
            None,
            "the web UI is not configured",
        )));
    };
    match web.session(headers) {
        Some((_, s)) => Ok(s),
        None => Err(Box::new(see_other(&format!(
            "/auth/login?return_to={}",
            url_component(uri)
        )))),
    }
}

/// `GET /ui`.
pub(crate) async fn index(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let session = match require_session(&state, &headers, uri.path()) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let body = "<section aria-labelledby=\"open-h\"><h2 id=\"open-h\">Open a runbook page</h2>\
        <form method=\"get\" action=\"/ui/open\"><label for=\"page\">Confluence page id or URL</label> \
        <input id=\"page\" name=\"page\" required> <button type=\"submit\">Open</button></form></section>\
        <section aria-labelledby=\"more-h\"><h2 id=\"more-h\">Elsewhere</h2><ul>\
        <li><a href=\"/ui/approvals\">Approvals</a>: write blocks whose current script awaits an approver.</li>\
        <li><a href=\"/ui/findings\">Findings</a> and <a href=\"/ui/reports\">daily reports</a>: for approvers and audit readers.</li>\
        <li><a href=\"/ui/audit\">The audit log</a>: who did what, its verification and the latest checkpoint.</li>\
        </ul></section>";
    page(StatusCode::OK, "Runbooks", Some(&session), body)
}

#[derive(Debug, Deserialize)]
pub(crate) struct OpenQuery {
    page: String,
}

/// `GET /ui/open?page=...`: the runbook view of that page.
pub(crate) async fn open(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<OpenQuery>, QueryRejection>,
) -> Response {
    let session = match require_session(&state, &headers, "/ui") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Some(Query(q)) = query.ok().filter(|q| !q.page.trim().is_empty()) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "No page",
            Some(&session),
            "name a page id or URL",
        );
    };
    let Ok(mut url) = url::Url::parse("http://ui.invalid/ui/pages/") else {
        return error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Error",
            Some(&session),
            "URL setup failed",
        );
    };
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().push(q.page.trim());
    }
    see_other(url.path())
}

/// `GET /ui/pages/{page_id}`.
pub(crate) async fn runbook_view(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Path(page_id): Path<String>,
) -> Response {
    let session = match require_session(&state, &headers, uri.path()) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let user = &session.principal.user;
    let runbooks = match state.bridge.page_runbooks(user, &page_id).await {
        Ok(r) => r,
        Err(e) => return engine_error_page(&session, &ApiError::from_engine(&e)),
    };
    let mut body = format!(
        "<p>Space <strong>{}</strong> · page {} · version {}</p>",
        escape(&runbooks.space),
        escape(&runbooks.page_id),
        runbooks.version
    );
    if runbooks.runbooks.is_empty() {
        body.push_str("<p>This page has no runbook blocks.</p>");
    }
    for (i, rb) in runbooks.runbooks.iter().enumerate() {
        body.push_str(&block_section(i, &runbooks.page_id, rb));
    }
    if runbooks.runbooks.iter().any(|r| r.mode == "write") {
        body.push_str(&format!(
            "<p><a href=\"/ui/approvals?page={}\">Approvals of this page's write blocks</a></p>",
            url_component(&runbooks.page_id)
        ));
    }
    body.push_str(&history(&state, &session, &runbooks.page_id).await);
    page(StatusCode::OK, &runbooks.title, Some(&session), &body)
}

/// One block: facts, bindings, Run or the denial, and the output region.
fn block_section(i: usize, page_id: &str, rb: &arkbridge_engine::RunbookSummary) -> String {
    let mut out = format!(
        "<section class=\"block\" aria-labelledby=\"b{i}-h\"><h2 id=\"b{i}-h\">{}</h2>\
         <dl><dt>Mode</dt><dd>{}</dd><dt>Language</dt><dd>{}</dd><dt>Timeout</dt><dd>{}</dd>\
         <dt>Script SHA-256</dt><dd><code>{}</code></dd></dl>",
        escape(&rb.name),
        escape(&rb.mode),
        escape(&rb.language),
        rb.timeout_secs
            .map_or_else(|| "default".to_string(), |t| format!("{t} s")),
        escape(&rb.script_sha256),
    );
    if !rb.bindings.is_empty() {
        out.push_str(&format!(
            "<table><caption>Secrets this block uses (references, never values)</caption>\
             <thead><tr><th scope=\"col\">Variable</th><th scope=\"col\">Kind</th>\
             <th scope=\"col\">Reference</th></tr></thead><tbody>{}</tbody></table>",
            rb.bindings
                .iter()
                .map(|b| format!(
                    "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td></tr>",
                    escape(&b.name),
                    escape(b.kind),
                    escape(&b.reference)
                ))
                .collect::<String>()
        ));
    }
    let reasons = rb
        .reasons
        .iter()
        .map(|r| format!("<li>{}</li>", escape(r)))
        .collect::<String>();
    if rb.allowed {
        out.push_str(&format!(
            "<p><button type=\"button\" class=\"run\" data-page=\"{}\" data-block=\"{}\" \
             data-output=\"out{i}\" data-result=\"res{i}\">Run {}</button></p>",
            escape(page_id),
            escape(&rb.name),
            escape(&rb.name)
        ));
    } else {
        out.push_str(&format!(
            "<div class=\"denied\" role=\"alert\" id=\"denied{i}\"><h3>You may not run this block</h3>\
             <p>The policy denies it, because:</p><ul>{reasons}</ul></div>"
        ));
    }
    if rb.allowed {
        // Only a block the user may run gets the live region its output will fill.
        out.push_str(&format!(
            "<h3 id=\"out{i}-h\">Output</h3><pre id=\"out{i}\" class=\"output\" \
             aria-labelledby=\"out{i}-h\" aria-live=\"polite\" tabindex=\"0\"></pre>\
             <p id=\"res{i}\" role=\"status\" class=\"result\"></p>"
        ));
    }
    out.push_str("</section>");
    out
}

/// The page's runs (the user's own unless they read the whole audit log), newest first.
async fn history(state: &AppState, session: &Session, page_id: &str) -> String {
    let principal = &session.principal;
    let filter = AuditFilter {
        user: (!state.reads_all_audit(principal)).then(|| principal.user.email.clone()),
        page_id: Some(page_id.to_string()),
        action: Some(Action::RunFinished.as_str().to_string()),
        ..AuditFilter::default()
    };
    let records = match state.bridge.store().audit_query(&filter, 0, 1000).await {
        Ok(r) => r,
        Err(e) => {
            return format!(
                "<p role=\"alert\">The run history cannot be read: {}</p>",
                escape(&e.to_string())
            );
        }
    };
    let rows: String = records
        .iter()
        .rev()
        .take(HISTORY)
        .map(history_row)
        .collect();
    if rows.is_empty() {
        return "<section aria-labelledby=\"hist-h\"><h2 id=\"hist-h\">History</h2><p>No runs of this page yet.</p></section>".into();
    }
    format!(
        "<section aria-labelledby=\"hist-h\"><h2 id=\"hist-h\">History</h2><table>\
         <thead><tr><th scope=\"col\">When</th><th scope=\"col\">Who</th><th scope=\"col\">Block</th>\
         <th scope=\"col\">Outcome</th><th scope=\"col\">Run</th><th scope=\"col\">Why</th></tr></thead>\
         <tbody>{rows}</tbody></table></section>"
    )
}

fn history_row(r: &AuditRecord) -> String {
    let e = &r.event;
    format!(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
        time_text(e.time_us),
        escape(e.actor.name.as_deref().unwrap_or(&e.actor.subject)),
        escape(e.target.block.as_deref().unwrap_or_default()),
        escape(e.outcome.as_str()),
        escape(e.run_id.as_deref().unwrap_or_default()),
        escape(e.reason.as_deref().unwrap_or_default()),
    )
}

/// An engine refusal as a page: the message and, for a denial, each reason.
pub(crate) fn engine_error_page(session: &Session, e: &ApiError) -> Response {
    let mut body = format!(
        "<div role=\"alert\" class=\"error\"><p>{}</p>",
        escape(&e.error)
    );
    if let Some(reasons) = &e.reasons {
        body.push_str("<ul>");
        for r in reasons {
            body.push_str(&format!("<li>{}</li>", escape(r)));
        }
        body.push_str("</ul>");
    }
    body.push_str("</div>");
    let title = if e.code == "denied" {
        "Denied"
    } else {
        "Cannot show this page"
    };
    page(e.status_code(), title, Some(session), &body)
}

/// `GET /ui/static/app.js`.
pub(crate) async fn app_js() -> Response {
    asset(include_str!("web/app.js"), "text/javascript; charset=utf-8")
}

/// `GET /ui/static/style.css`.
pub(crate) async fn style_css() -> Response {
    asset(include_str!("web/style.css"), "text/css; charset=utf-8")
}
