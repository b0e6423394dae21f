//! The approvals view and `GET /api/v1/approvals` through `router()` against the simulators:
//! a block edited after its approval shows the removed and added lines (recovered from the
//! approved page version in the Confluence simulator), a block never approved is shown whole as
//! new, an approval whose version does not hold its script says so instead of diffing, and the
//! error codes a session meets are the ones the served OpenAPI document lists.

mod support;
mod web_support;

use arkbridge_core::audit::{Action, AuditEvent};
use arkbridge_store::{NewApproval, Store as _};
use axum::http::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use support::{Env, PLANTED, call_state};
use web_support::{approve, get, send, sign_in, start};

/// The restart block's last line in the demo seed, and what the test edit makes of it.
const OLD_LINE: &str = "echo \"payments-api restarted\"";
const NEW_LINES: &str = "echo \"payments-api restarted and checked\"\necho \"health: ok\"";

/// Replaces the restart block's last line through the bridge's Confluence client (a new page
/// version, as an author's edit would make).
async fn edit_restart_block(env: &Env, page_id: &str) -> u64 {
    let edited = env
        .state
        .bridge
        .confluence()
        .edit_page(page_id, "test: change the restart script", |body| {
            let marker = format!("{OLD_LINE}]]>");
            if body.contains(&marker) {
                Ok(body.replacen(&marker, &format!("{NEW_LINES}]]>"), 1))
            } else {
                Err("the restart block's last line is not on the page".to_string())
            }
        })
        .await
        .unwrap();
    assert!(edited.changed);
    edited.page.version
}

/// Records an approval straight in the store, as one made on `page_version` of `sha256`.
async fn plant_approval(env: &Env, page_id: &str, page_version: i64, sha256: String) {
    let now = jiff::Timestamp::now().as_microsecond();
    let approval = NewApproval {
        page_id: page_id.to_string(),
        block: "restart".into(),
        script_sha256: sha256,
        page_version,
        approver: "carol@example.com".into(),
        approver_groups: vec!["change-approvers".into()],
        created_micros: now,
    };
    env.state
        .bridge
        .store()
        .record_approval(&approval, AuditEvent::new(Action::ApprovalGranted).at(now))
        .await
        .unwrap();
}

/// The approvals of `page_id` as `email` reads them through the API with a bearer token.
async fn api_approvals(
    env: &Env,
    state: &arkbridge_server::AppState,
    email: &str,
    page_id: &str,
) -> Value {
    let token = env.oidc_token(email, |_| {}).await;
    let uri = format!("/api/v1/approvals?page={page_id}");
    let answer = call_state(state, "GET", &uri, Some(&token), None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_after_an_approval_shows_the_removed_and_added_lines() {
    let (env, state) = start().await;
    let restart = env.page("Restart payments API").await;
    let (carol, _) = sign_in(&env, &state, "carol@example.com", "/ui").await;
    let approved = approve(&state, &carol, &restart, "restart").await;
    let approved_version: Value = serde_json::from_str(&approved.text).unwrap();
    let approved_version = approved_version["page_version"].as_u64().unwrap();
    let current_version = edit_restart_block(&env, &restart).await;
    assert!(current_version > approved_version);

    let uri = format!("/ui/approvals?page={restart}");
    let view = get(&state, &uri, &carol).await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.text);
    let html = &view.text;
    assert!(
        html.contains("Pending: the script changed since the last approval"),
        "{html}"
    );
    assert!(html.contains(&format!(
        "from the script approved on page version {approved_version} (removed lines) to the \
         current script of version {current_version} (added lines)"
    )));
    // Each changed line is marked by its element, its words and its row's class.
    assert!(
        html.contains(
            "<td class=\"change\">\u{2212} removed</td><td class=\"code\">\
         <del>echo &quot;payments-api restarted&quot;</del>"
        ),
        "{html}"
    );
    assert!(html.contains("<ins>echo &quot;payments-api restarted and checked&quot;</ins>"));
    assert!(html.contains("<ins>echo &quot;health: ok&quot;</ins>"));
    assert_eq!(html.matches("<tr class=\"diff-add\">").count(), 2);
    assert_eq!(html.matches("<tr class=\"diff-del\">").count(), 1);
    assert!(html.contains("<th scope=\"col\">Change</th>"));
    assert!(html.contains("unchanged lines not shown"));
    assert!(
        html.contains("class=\"approve\""),
        "carol may approve the edit"
    );
    assert!(!html.contains(PLANTED));

    let api = api_approvals(&env, &state, "carol@example.com", &restart).await;
    let block = &api["blocks"][0];
    assert_eq!(block["name"], "restart");
    assert_eq!(block["status"], "changed");
    assert_eq!(block["approved"], false);
    assert_eq!(block["last_approval"]["page_version"], approved_version);
    assert_eq!(block["last_approval"]["approver"], "carol@example.com");
    let diff = block["diff"].as_array().unwrap();
    let changed: Vec<&Value> = diff.iter().filter(|d| d["op"] != "same").collect();
    assert_eq!(
        changed,
        [
            &json!({"op": "del", "line": OLD_LINE}),
            &json!({"op": "add", "line": "echo \"payments-api restarted and checked\""}),
            &json!({"op": "add", "line": "echo \"health: ok\""}),
        ]
    );
    assert_eq!(
        diff[0],
        json!({"op": "same", "line": "#!/usr/bin/env bash"})
    );
    assert!(!api.to_string().contains(PLANTED));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_never_approved_is_shown_whole_as_new() {
    let (env, state) = start().await;
    let restart = env.page("Restart payments API").await;
    let (bob, _) = sign_in(&env, &state, "bob@example.com", "/ui").await;
    let view = get(&state, &format!("/ui/approvals?page={restart}"), &bob).await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.text);
    assert!(
        view.text
            .contains("Never approved: the whole script is new")
    );
    assert!(
        view.text
            .contains("# arkbridge: secret DB_PASSWORD cyberark://Prod-DB/payments-db")
    );
    assert!(
        !view.text.contains("<table class=\"diff\">"),
        "no diff against nothing"
    );
    assert!(!view.text.contains(PLANTED));

    let api = api_approvals(&env, &state, "bob@example.com", &restart).await;
    let block = &api["blocks"][0];
    assert_eq!(block["status"], "never_approved");
    assert_eq!(block["last_approval"], Value::Null);
    assert_eq!(block["approvals"], json!([]));
    let diff = block["diff"].as_array().unwrap();
    assert_eq!(diff.len(), 6, "{diff:?}");
    assert!(diff.iter().all(|d| d["op"] == "add"));
    assert_eq!(diff[5]["line"], OLD_LINE);

    // A call without the page is refused with a code the document lists.
    let token = env.oidc_token("bob@example.com", |_| {}).await;
    let bad = call_state(&state, "GET", "/api/v1/approvals", Some(&token), None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["code"], "bad_query");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_whose_version_does_not_hold_its_script_is_reported_unrecoverable() {
    let (env, state) = start().await;
    let restart = env.page("Restart payments API").await;
    let (carol, _) = sign_in(&env, &state, "carol@example.com", "/ui").await;
    let uri = format!("/ui/approvals?page={restart}");
    // An approval of some other text, said to be made on version 1 (which holds the seed's).
    let other = hex_sha256("echo something else");
    plant_approval(&env, &restart, 1, other).await;
    let view = get(&state, &uri, &carol).await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.text);
    assert!(
        view.text.contains(
            "The approved script could not be recovered from version 1: block `restart` on \
             that version is not the approved text (its SHA-256 differs)"
        ),
        "{}",
        view.text
    );
    assert!(!view.text.contains("<table class=\"diff\">"));
    assert!(
        view.text.contains("<pre class=\"note\""),
        "the current script is shown"
    );

    // An approval on a version the page never had.
    plant_approval(&env, &restart, 99, hex_sha256("echo gone")).await;
    let view = get(&state, &uri, &carol).await;
    assert!(
        view.text
            .contains("The approved script could not be recovered from version 99: Confluence did not return it"),
        "{}",
        view.text
    );
    assert!(!view.text.contains(PLANTED));
    let api = api_approvals(&env, &state, "carol@example.com", &restart).await;
    let block = &api["blocks"][0];
    assert_eq!(block["status"], "unrecoverable");
    assert!(block.get("diff").is_none());
    assert!(
        block["note"]
            .as_str()
            .unwrap()
            .starts_with("the approved script could not be recovered from version 99")
    );
    assert_eq!(block["approvals"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_codes_a_session_is_refused_with_are_in_the_served_document() {
    let (env, state) = start().await;
    let restart = env.page("Restart payments API").await;
    let spec = call_state(&state, "GET", "/api/v1/openapi.json", None, None).await;
    let codes = &spec.body["components"]["schemas"]["Error"]["properties"]["code"]["enum"];
    let (carol, _) = sign_in(&env, &state, "carol@example.com", "/ui").await;
    let body = json!({"page_id": restart, "block": "restart"}).to_string();
    let no_csrf = send(
        &state,
        "POST",
        "/api/v1/approvals",
        Some(&carol.cookie),
        &[],
        Some(("application/json", body)),
    )
    .await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    let code: Value = serde_json::from_str(&no_csrf.text).unwrap();
    assert_eq!(code["code"], "csrf");
    assert!(codes.as_array().unwrap().contains(&code["code"]));
    let ended = send(
        &state,
        "GET",
        "/api/v1/audit",
        Some("no-such-session"),
        &[],
        None,
    )
    .await;
    assert_eq!(ended.status, StatusCode::UNAUTHORIZED);
    let code: Value = serde_json::from_str(&ended.text).unwrap();
    assert_eq!(code["code"], "session_expired");
    assert!(codes.as_array().unwrap().contains(&code["code"]));
}

fn hex_sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
