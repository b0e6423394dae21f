//! The audit browser at `/ui/audit`: records filtered by user, page, action and time
//! (`since`, as the command line reads it: `24h`, `2026-01-31`, an RFC 3339 time), paged by
//! sequence number; the verification status of the whole log; and the latest signed
//! checkpoint. The same reading rule as the API: the approver and audit reader groups see
//! every record, everybody else only their own.

use arkbridge_audit::time::{now_us, parse_when};
use arkbridge_audit::{VerifyOptions, verify_log};
use arkbridge_store::{AuditFilter, Store};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;

use crate::AppState;
use crate::web_html::{error_page, escape, page, time_text, url_component};
use crate::web_pages::require_session;

/// Records per page of the browser.
const PAGE_SIZE: i64 = 100;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct AuditForm {
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    after: Option<i64>,
}

/// An empty form field is no filter.
fn field(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `GET /ui/audit?user&page&action&since&after`.
pub(crate) async fn audit_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    query: Result<Query<AuditForm>, QueryRejection>,
) -> Response {
    let here = uri.path_and_query().map_or("/ui/audit", |p| p.as_str());
    let session = match require_session(&state, &headers, here) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let bad = |msg: String| error_page(StatusCode::BAD_REQUEST, "Audit log", Some(&session), &msg);
    let form = match query {
        Ok(Query(q)) => q,
        Err(r) => return bad(r.body_text()),
    };
    let principal = &session.principal;
    let all = state.reads_all_audit(principal);
    let user = match (all, field(&form.user)) {
        (true, u) => u,
        (false, Some(u)) if !u.eq_ignore_ascii_case(&principal.user.email) => {
            return error_page(
                StatusCode::FORBIDDEN,
                "Audit log",
                Some(&session),
                &format!(
                    "{} may read only their own audit records (not in an approver or audit reader group)",
                    principal.user.email
                ),
            );
        }
        (false, _) => Some(principal.user.email.clone()),
    };
    let action = field(&form.action);
    if let Some(a) = &action
        && a.parse::<arkbridge_core::audit::Action>().is_err()
    {
        return bad(format!("unknown audit action `{a}`"));
    }
    let since_us = match field(&form.since)
        .map(|t| parse_when(&t, now_us()))
        .transpose()
    {
        Ok(s) => s,
        Err(e) => return bad(format!("since: {e}")),
    };
    let filter = AuditFilter {
        user: user.clone(),
        page_id: field(&form.page),
        action: action.clone(),
        since_us,
        ..AuditFilter::default()
    };
    let after = form.after.unwrap_or(0).max(0);
    let records = match state
        .bridge
        .store()
        .audit_query(&filter, after, PAGE_SIZE)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Audit log",
                Some(&session),
                &format!("store: {e}"),
            );
        }
    };
    let mut body = filter_form(&form, all);
    body.push_str(&status_section(&state).await);
    body.push_str(&records_table(&records));
    if records.len() as i64 == PAGE_SIZE
        && let Some(last) = records.last()
    {
        let mut next = format!("/ui/audit?after={}", last.seq);
        for (k, v) in [
            ("user", &form.user),
            ("page", &form.page),
            ("action", &form.action),
            ("since", &form.since),
        ] {
            if let Some(v) = field(v) {
                next.push_str(&format!("&{k}={}", url_component(&v)));
            }
        }
        body.push_str(&format!(
            "<p><a href=\"{}\">Later records</a></p>",
            escape(&next)
        ));
    }
    page(StatusCode::OK, "Audit log", Some(&session), &body)
}

fn filter_form(form: &AuditForm, all: bool) -> String {
    let value = |v: &Option<String>| escape(v.as_deref().unwrap_or_default());
    let scope = if all {
        "You may read every record."
    } else {
        "You see your own records only."
    };
    format!(
        "<form method=\"get\" action=\"/ui/audit\" class=\"filters\" aria-label=\"Filter the audit log\">\
         <label for=\"f-user\">User</label><input id=\"f-user\" name=\"user\" value=\"{}\">\
         <label for=\"f-page\">Page id</label><input id=\"f-page\" name=\"page\" value=\"{}\">\
         <label for=\"f-action\">Action</label><input id=\"f-action\" name=\"action\" value=\"{}\" placeholder=\"run.finished\">\
         <label for=\"f-since\">Since</label><input id=\"f-since\" name=\"since\" value=\"{}\" placeholder=\"24h\">\
         <button type=\"submit\">Filter</button></form><p>{scope}</p>",
        value(&form.user),
        value(&form.page),
        value(&form.action),
        value(&form.since),
    )
}

/// Whether the log verifies, and its latest checkpoint.
async fn status_section(state: &AppState) -> String {
    let store = state.bridge.store();
    let verified = match verify_log(store, &VerifyOptions::default()).await {
        Ok(Ok(r)) => format!(
            "<p class=\"ok\">The log verifies: {} records, {} checkpoints checked, root <code>{}</code>.</p>",
            r.records,
            r.checkpoints,
            escape(&r.root_base64())
        ),
        Ok(Err(failure)) => format!(
            "<p class=\"error\">The log does NOT verify: {}</p>",
            escape(&failure.to_string())
        ),
        Err(e) => format!(
            "<p class=\"error\">The log cannot be verified: {}</p>",
            escape(&e.to_string())
        ),
    };
    let checkpoint = match store.audit_checkpoints().await {
        Ok(all) => match all.last() {
            Some(c) => format!(
                "<p>Latest checkpoint: tree size {} at {}.</p><pre class=\"note\">{}</pre>",
                c.tree_size,
                time_text(c.time_us),
                escape(&c.note)
            ),
            None => "<p>No checkpoint has been signed yet.</p>".to_string(),
        },
        Err(e) => format!(
            "<p class=\"error\">Checkpoints cannot be read: {}</p>",
            escape(&e.to_string())
        ),
    };
    format!(
        "<section aria-labelledby=\"verify-h\" aria-live=\"polite\"><h2 id=\"verify-h\">Verification</h2>{verified}{checkpoint}</section>"
    )
}

fn records_table(records: &[arkbridge_core::audit::AuditRecord]) -> String {
    if records.is_empty() {
        return "<section aria-labelledby=\"rec-h\"><h2 id=\"rec-h\">Records</h2><p>No records match.</p></section>".into();
    }
    let rows: String = records
        .iter()
        .map(|r| {
            let e = &r.event;
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                r.seq,
                time_text(e.time_us),
                escape(e.actor.name.as_deref().unwrap_or(&e.actor.subject)),
                escape(e.action.as_str()),
                escape(e.outcome.as_str()),
                escape(e.target.page_id.as_deref().unwrap_or_default()),
                escape(e.target.block.as_deref().unwrap_or_default()),
                escape(e.reason.as_deref().unwrap_or_default()),
            )
        })
        .collect();
    format!(
        "<section aria-labelledby=\"rec-h\"><h2 id=\"rec-h\">Records</h2><table><thead><tr>\
         <th scope=\"col\">#</th><th scope=\"col\">When</th><th scope=\"col\">Who</th>\
         <th scope=\"col\">Action</th><th scope=\"col\">Outcome</th><th scope=\"col\">Page</th>\
         <th scope=\"col\">Block</th><th scope=\"col\">Why</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )
}
