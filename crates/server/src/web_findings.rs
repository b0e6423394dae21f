//! The security team's pages: the secret scanner's findings at `/ui/findings` (filtered by
//! triage state, with a triage form per finding) and the daily audit reports at `/ui/reports`.
//!
//! Both are for the audit readers (`[policy] approver_groups` and `[server]
//! audit_reader_groups`): a finding says where a secret sits, which is itself worth keeping
//! from everybody else. A finding holds no secret value, only a masked preview and a keyed
//! fingerprint. Triage goes through the engine (which audits it) from a form carrying the
//! session's CSRF token; `vaulted` is not offered, as only `arkbridge vault --apply` sets it.

use arkbridge_store::{FindingRecord, FindingState, Store};
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;

use crate::AppState;
use crate::error::ApiError;
use crate::web::constant_time_eq;
use crate::web_html::{error_page, escape, page, see_other, time_text};
use crate::web_pages::{engine_error_page, require_session};
use crate::web_session::Session;

/// How many daily reports the reports page lists.
const REPORTS: i64 = 30;

/// The states a person may set.
const TRIAGE_STATES: [FindingState; 3] = [
    FindingState::New,
    FindingState::Accepted,
    FindingState::FalsePositive,
];

/// The session if it may read the security pages, else the page saying why not.
fn reader(state: &AppState, headers: &HeaderMap, uri: &str) -> Result<Session, Box<Response>> {
    let session = require_session(state, headers, uri)?;
    if state.reads_all_audit(&session.principal) {
        return Ok(session);
    }
    let message = format!(
        "{} is not in an approver or audit reader group, which these pages are for",
        session.principal.user.email
    );
    Err(Box::new(error_page(
        StatusCode::FORBIDDEN,
        "Not for you",
        Some(&session),
        &message,
    )))
}

#[derive(Debug, Deserialize)]
pub(crate) struct FindingsQuery {
    #[serde(default)]
    state: Option<String>,
}

/// `GET /ui/findings?state=new`.
pub(crate) async fn findings_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    query: Result<Query<FindingsQuery>, QueryRejection>,
) -> Response {
    let here = uri.path_and_query().map_or("/ui/findings", |p| p.as_str());
    let session = match reader(&state, &headers, here) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let wanted = match query {
        Ok(Query(q)) => q.state.filter(|s| !s.is_empty()),
        Err(r) => {
            let msg = r.body_text();
            return error_page(StatusCode::BAD_REQUEST, "Findings", Some(&session), &msg);
        }
    };
    let filter = match wanted.as_deref().map(|s| FindingState::parse(s).ok_or(s)) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(s)) => {
            let msg = format!("unknown state `{s}`: new, accepted, false-positive or vaulted");
            return error_page(StatusCode::BAD_REQUEST, "Findings", Some(&session), &msg);
        }
    };
    let findings = match state.bridge.store().findings(filter).await {
        Ok(f) => f,
        Err(e) => {
            let msg = format!("store: {e}");
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Findings",
                Some(&session),
                &msg,
            );
        }
    };
    let links: String = ["new", "accepted", "false-positive", "vaulted"]
        .iter()
        .map(|s| format!(" <a href=\"/ui/findings?state={s}\">{s}</a>"))
        .collect();
    let mut body = format!(
        "<nav aria-label=\"Triage states\"><a href=\"/ui/findings\">all</a>{links}</nav>\
         <p>{} finding(s).</p>",
        findings.len()
    );
    for f in &findings {
        body.push_str(&finding_markup(f, &session.csrf));
    }
    page(StatusCode::OK, "Findings", Some(&session), &body)
}

fn finding_markup(f: &FindingRecord, csrf: &str) -> String {
    let n = &f.finding;
    let place = match (&n.page_id, &n.file_path) {
        (Some(page), _) => format!(
            "page <a href=\"/ui/pages/{0}\">{0}</a> ({1}, space {2})",
            escape(page),
            escape(n.title.as_deref().unwrap_or_default()),
            escape(n.space.as_deref().unwrap_or_default())
        ),
        (None, Some(file)) => format!("file <code>{}</code>", escape(file)),
        (None, None) => escape(&n.location_key),
    };
    let options: String = TRIAGE_STATES
        .iter()
        .map(|s| {
            let selected = if *s == f.state { " selected" } else { "" };
            format!("<option value=\"{0}\"{selected}>{0}</option>", s.as_str())
        })
        .collect();
    let form = if f.state == FindingState::Vaulted {
        format!(
            "<p>Vaulted as <code>{}</code>.</p>",
            escape(f.vaulted_ref.as_deref().unwrap_or_default())
        )
    } else {
        format!(
            "<form method=\"post\" action=\"/ui/findings/{id}/triage\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label for=\"st{id}\">State</label> <select id=\"st{id}\" name=\"state\">{options}</select> \
             <label for=\"nt{id}\">Note</label> <input id=\"nt{id}\" name=\"note\" value=\"{note}\"> \
             <button type=\"submit\">Save triage</button></form>\
             <p>To move the value into CyberArk: <code>arkbridge vault {id} --safe SAFE --config FILE</code> (a plan; add <code>--apply</code>).</p>",
            id = f.id,
            csrf = escape(csrf),
            note = escape(f.triage_note.as_deref().unwrap_or_default()),
        )
    };
    format!(
        "<section class=\"block\" aria-labelledby=\"f{id}-h\"><h2 id=\"f{id}-h\">#{id} {severity} \
         {category}: {detector}</h2><p>In {place}, at <code>{element}</code>; preview \
         <code>{preview}</code>.</p><p>State <strong>{state}</strong>{by}; first seen {first}, last \
         seen {last}.</p>{form}</section>",
        id = f.id,
        severity = escape(&n.severity),
        category = escape(&n.category),
        detector = escape(&n.detector),
        element = escape(&n.element_path),
        preview = escape(&n.preview),
        state = f.state.as_str(),
        by = f
            .triaged_by
            .as_deref()
            .map(|b| format!(" (by {})", escape(b)))
            .unwrap_or_default(),
        first = time_text(f.first_seen_micros),
        last = time_text(f.last_seen_micros),
    )
}

/// `POST /ui/findings/{id}/triage` with the form fields `csrf`, `state` and `note`.
pub(crate) async fn triage(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let session = match reader(&state, &headers, "/ui/findings") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let field = |name: &str| {
        url::form_urlencoded::parse(&body)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    if !constant_time_eq(field("csrf").as_bytes(), session.csrf.as_bytes()) {
        let msg = "the form's CSRF token is missing or wrong; triage from the findings page";
        return error_page(StatusCode::FORBIDDEN, "Triage refused", Some(&session), msg);
    }
    let wanted = field("state");
    let Some(new_state) = FindingState::parse(&wanted).filter(|s| TRIAGE_STATES.contains(s)) else {
        let msg = format!("`{wanted}` is not a state to set: new, accepted or false-positive");
        return error_page(
            StatusCode::BAD_REQUEST,
            "Triage refused",
            Some(&session),
            &msg,
        );
    };
    let note = field("note");
    let note = Some(note.trim()).filter(|n| !n.is_empty());
    let actor = &session.principal.user.email;
    match state
        .bridge
        .triage_finding(actor, id, new_state, note)
        .await
    {
        Ok(_) => see_other(&format!("/ui/findings#f{id}-h")),
        Err(e) => engine_error_page(&session, &ApiError::from_engine(&e)),
    }
}

/// `GET /ui/reports`: the latest daily audit reports, newest first.
pub(crate) async fn reports_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let session = match reader(&state, &headers, "/ui/reports") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let reports = match state.bridge.store().daily_reports(REPORTS).await {
        Ok(r) => r,
        Err(e) => {
            let msg = format!("store: {e}");
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Daily reports",
                Some(&session),
                &msg,
            );
        }
    };
    if reports.is_empty() {
        let body = "<p>No daily audit has run yet (<code>arkbridge audit daily</code>).</p>";
        return page(StatusCode::OK, "Daily reports", Some(&session), body);
    }
    let body: String = reports
        .iter()
        .map(|r| {
            // The stored JSON, pretty-printed when it parses.
            let text = serde_json::from_str::<serde_json::Value>(&r.report)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or_else(|| r.report.clone());
            format!(
                "<section class=\"block\" aria-labelledby=\"r{id}-h\"><h2 id=\"r{id}-h\">{when}: {verdict}</h2>\
                 <details><summary>The report</summary><pre class=\"note\">{text}</pre></details></section>",
                id = r.id,
                when = time_text(r.created_micros),
                verdict = if r.passed { "passed" } else { "FAILED" },
                text = escape(&text),
            )
        })
        .collect();
    page(StatusCode::OK, "Daily reports", Some(&session), &body)
}
