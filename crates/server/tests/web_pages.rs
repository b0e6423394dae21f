//! The web UI's pages through `router()`: the runbook view (Run for alice, the denial with its
//! reasons for bob), the audit browser's escaping and privacy, approvals by an approver, and the
//! audit readers' findings and daily reports.

mod support;
mod web_support;

use arkbridge_store::Store as _;
use axum::http::{StatusCode, header};
use web_support::{approve, get, send, sign_in, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runbook_view_offers_run_to_alice_and_explains_the_denial_to_bob() {
    let (env, state) = start().await;
    let health = env.page("Payments DB health").await;
    let (alice, _) = sign_in(&env, &state, "alice@example.com", "/ui").await;
    let view = get(&state, &format!("/ui/pages/{health}"), &alice).await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.text);
    assert!(view.text.contains("<h1>Payments DB health</h1>"));
    assert!(view.text.contains("class=\"run\""), "alice may run it");
    assert!(view.text.contains("aria-live=\"polite\""));
    assert!(
        view.text.contains("cyberark://"),
        "bindings are shown by reference"
    );
    assert!(!view.text.contains(support::PLANTED));
    assert!(
        view.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let (bob, _) = sign_in(&env, &state, "bob@example.com", "/ui").await;
    let view = get(&state, &format!("/ui/pages/{health}"), &bob).await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.text);
    assert!(
        !view.text.contains("class=\"run\""),
        "bob gets no Run button"
    );
    let denial = view
        .text
        .split("class=\"denied\"")
        .nth(1)
        .expect("the denial is shown");
    assert!(denial.contains("role=\"alert\""));
    assert!(denial.contains("<li>"), "with its reasons: {denial}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_browser_escapes_what_it_echoes_and_keeps_others_records_private() {
    let (env, state) = start().await;
    let (bob, _) = sign_in(&env, &state, "bob@example.com", "/ui").await;
    let hostile = "/ui/audit?page=%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    let page = get(&state, hostile, &bob).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(!page.text.contains("<script>alert(1)"));
    assert!(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.text.contains("You see your own records only."));
    assert!(page.text.contains("Verification"));
    let other = get(&state, "/ui/audit?user=alice%40example.com", &bob).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let bad = get(&state, "/ui/audit?action=nope", &bob).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("unknown audit action `nope`"));
    let own = get(&state, "/ui/audit?action=login", &bob).await;
    assert!(own.text.contains("bob@example.com"), "{}", own.text);
    assert!(!own.text.contains("alice@example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_show_the_pending_script_and_an_approver_approves_it_through_the_session() {
    let (env, state) = start().await;
    let restart = env.page("Restart payments API").await;
    let uri = format!("/ui/approvals?page={restart}");
    let (bob, _) = sign_in(&env, &state, "bob@example.com", "/ui").await;
    let view = get(&state, &uri, &bob).await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.text);
    assert!(
        view.text
            .contains("Pending: this block was never approved.")
    );
    assert!(
        !view.text.contains("class=\"approve\""),
        "bob is no approver"
    );
    assert!(view.text.contains("Only members of the approver groups"));
    let (carol, _) = sign_in(&env, &state, "carol@example.com", "/ui").await;
    let view = get(&state, &uri, &carol).await;
    assert!(view.text.contains("class=\"approve\""), "{}", view.text);
    // The current script is shown, escaped.
    assert!(view.text.contains("<pre class=\"note\""));
    approve(&state, &carol, &restart, "restart").await;
    let view = get(&state, &uri, &carol).await;
    assert!(
        view.text.contains("This exact script is approved."),
        "{}",
        view.text
    );
    assert!(view.text.contains("carol@example.com"));
    assert!(!view.text.contains("class=\"approve\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_and_daily_reports_are_for_audit_readers_who_triage_with_the_csrf_token() {
    let (env, state) = start().await;
    let store = env.state.bridge.store();
    let finding = arkbridge_store::NewFinding {
        fingerprint: "ab".repeat(32),
        location_key: "page:123".into(),
        page_id: Some("123".into()),
        page_version: Some(1),
        title: Some("<b>Ops</b> notes".into()),
        author: Some("bob@example.com".into()),
        space: Some("OPS".into()),
        file_path: None,
        element_path: "p[2]".into(),
        char_offset: 10,
        char_length: 12,
        detector: "password-assignment".into(),
        category: "password".into(),
        severity: "high".into(),
        preview: "pass****".into(),
    };
    let (row, _) = store.record_finding(&finding, 1_000_000).await.unwrap();
    store
        .save_daily_report(2_000_000, false, r#"{"checks":["<script>x</script>"]}"#)
        .await
        .unwrap();
    let (bob, _) = sign_in(&env, &state, "bob@example.com", "/ui").await;
    for path in ["/ui/findings", "/ui/reports"] {
        let refused = get(&state, path, &bob).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path}");
    }
    let (carol, _) = sign_in(&env, &state, "carol@example.com", "/ui").await;
    let list = get(&state, "/ui/findings?state=new", &carol).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert!(
        list.text.contains("&lt;b&gt;Ops&lt;/b&gt; notes"),
        "escaped title"
    );
    assert!(list.text.contains("pass****"));
    let path = format!("/ui/findings/{}/triage", row.id);
    let form = |csrf: &str| {
        Some((
            "application/x-www-form-urlencoded",
            format!("csrf={csrf}&state=false-positive&note=test+fixture"),
        ))
    };
    let forged = send(&state, "POST", &path, Some(&carol.cookie), &[], form("x")).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let saved = send(
        &state,
        "POST",
        &path,
        Some(&carol.cookie),
        &[],
        form(&carol.csrf),
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text);
    let row = store.finding(row.id).await.unwrap().unwrap();
    assert_eq!(row.state.as_str(), "false-positive");
    assert_eq!(row.triaged_by.as_deref(), Some("carol@example.com"));
    assert_eq!(row.triage_note.as_deref(), Some("test fixture"));
    let bad = get(&state, "/ui/findings?state=gone", &carol).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let reports = get(&state, "/ui/reports", &carol).await;
    assert_eq!(reports.status, StatusCode::OK);
    assert!(reports.text.contains("FAILED"));
    assert!(reports.text.contains("&lt;script&gt;x&lt;/script&gt;"));
    assert!(!reports.text.contains("<script>x"));
}
