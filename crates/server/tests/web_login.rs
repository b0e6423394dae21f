//! Signing in and out of the web UI through `router()` against the simulated OIDC provider: the
//! authorization code round trip with PKCE as the confidential `arkbridge-web` client, a forged
//! or refused callback, the session cookie as an API credential with its CSRF rule, sign-out,
//! and session expiry.

mod support;
mod web_support;

use arkbridge_identity::Clock;
use arkbridge_server::AppState;
use arkbridge_store::Store as _;
use axum::http::{StatusCode, header};
use serde_json::{Value, json};
use web_support::{send, sign_in, start, start_with_clock};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_round_trip_sets_a_strict_cookie_and_returns_to_the_page() {
    let (env, state) = start().await;
    let health = env.page("Payments DB health").await;
    let (alice, back) = sign_in(
        &env,
        &state,
        "alice@example.com",
        &format!("/ui/pages/{health}"),
    )
    .await;
    assert_eq!(back, format!("/ui/pages/{health}"));
    assert!(
        alice.set_cookie.contains("; HttpOnly"),
        "{}",
        alice.set_cookie
    );
    assert!(alice.set_cookie.contains("; SameSite=Lax"));
    assert!(alice.set_cookie.contains("; Path=/"));
    // The public URL is plain http here, so the cookie cannot be Secure.
    assert!(!alice.set_cookie.contains("Secure"));
    assert_eq!(alice.cookie.len(), 43);
    // The sign-in is audited as `login` with the provider's subject.
    let records = env
        .state
        .bridge
        .store()
        .audit_records(0, 10_000)
        .await
        .unwrap();
    let login = records
        .iter()
        .rev()
        .find(|r| r.event.action.as_str() == "login")
        .expect("the sign-in is audited");
    assert_eq!(login.event.actor.name.as_deref(), Some("alice@example.com"));
    assert_eq!(login.event.actor.auth_method.as_str(), "oidc");
    // Without a session, a page sends the browser to sign in and back.
    let anonymous = send(
        &state,
        "GET",
        &format!("/ui/pages/{health}"),
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(
        anonymous.header(header::LOCATION),
        format!("/auth/login?return_to=%2Fui%2Fpages%2F{health}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_with_an_unknown_or_replayed_state_is_refused() {
    let (env, state) = start().await;
    let forged = send(
        &state,
        "GET",
        "/auth/callback?code=abc&state=forged",
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    assert!(
        forged.text.contains("this sign-in is unknown"),
        "{}",
        forged.text
    );
    assert!(forged.header(header::SET_COOKIE).is_empty());
    let refused = send(
        &state,
        "GET",
        "/auth/callback?error=access_denied&error_description=%3Cb%3Enope%3C%2Fb%3E&state=x",
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(
        refused
            .text
            .contains("access_denied &lt;b&gt;nope&lt;/b&gt;"),
        "{}",
        refused.text
    );
    drop(env);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_authenticates_api_calls_and_needs_the_csrf_token_to_change_state() {
    let (env, state) = start().await;
    let health = env.page("Payments DB health").await;
    let (alice, _) = sign_in(&env, &state, "alice@example.com", "/ui").await;
    let listed = send(
        &state,
        "GET",
        &format!("/api/v1/pages/{health}/runbooks"),
        Some(&alice.cookie),
        &[],
        None,
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let run = json!({"page_id": health, "block": "health"}).to_string();
    let json_body = || Some(("application/json", run.clone()));
    let without = send(
        &state,
        "POST",
        "/api/v1/runs",
        Some(&alice.cookie),
        &[],
        json_body(),
    )
    .await;
    assert_eq!(without.status, StatusCode::FORBIDDEN, "{}", without.text);
    let body: Value = serde_json::from_str(&without.text).unwrap();
    assert_eq!(body["code"], "csrf");
    let wrong = send(
        &state,
        "POST",
        "/api/v1/runs",
        Some(&alice.cookie),
        &[("x-csrf-token", "not-the-token")],
        json_body(),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let started = send(
        &state,
        "POST",
        "/api/v1/runs",
        Some(&alice.cookie),
        &[("x-csrf-token", &alice.csrf)],
        json_body(),
    )
    .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
    let run_id = serde_json::from_str::<Value>(&started.text).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    // The API call is audited with the session as its credential.
    let entry = state.runs.get(&run_id).unwrap();
    let mut changes = entry.subscribe();
    while !entry.output(0).done {
        changes.changed().await.unwrap();
    }
    let output = entry.output(0);
    let text: String = output.chunks.iter().map(|c| c.text.as_str()).collect();
    assert!(!text.contains(support::PLANTED), "output is masked");
    let records = env
        .state
        .bridge
        .store()
        .audit_records(0, 10_000)
        .await
        .unwrap();
    let call = records
        .iter()
        .rev()
        .find(|r| {
            r.event.action.as_str() == "api.call" && r.event.details["route"] == "/api/v1/runs"
        })
        .unwrap();
    assert_eq!(call.event.details["auth"], "session");
    assert!(call.event.actor.session_id.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_ends_the_session_for_pages_and_the_api() {
    let (env, state) = start().await;
    let (alice, _) = sign_in(&env, &state, "alice@example.com", "/ui").await;
    let form = |csrf: &str| Some(("application/x-www-form-urlencoded", format!("csrf={csrf}")));
    let forged = send(
        &state,
        "POST",
        "/auth/logout",
        Some(&alice.cookie),
        &[],
        form("wrong"),
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let still = send(&state, "GET", "/ui", Some(&alice.cookie), &[], None).await;
    assert_eq!(
        still.status,
        StatusCode::OK,
        "a forged sign-out changes nothing"
    );
    let out = send(
        &state,
        "POST",
        "/auth/logout",
        Some(&alice.cookie),
        &[],
        form(&alice.csrf),
    )
    .await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.text);
    assert!(out.header(header::SET_COOKIE).contains("Max-Age=0"));
    let page = send(&state, "GET", "/ui", Some(&alice.cookie), &[], None).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_session_expired_for_the_api(&state, &alice.cookie).await;
}

/// The sessions' clock follows tokio's: once signed in (on real time, as the provider needs),
/// the test pauses tokio's clock and moves it past the session's lifetime.
#[tokio::test]
async fn an_expired_session_sends_pages_to_sign_in_and_the_api_answers_401() {
    let clock = Clock::tokio_anchored(arkbridge_identity::system_unix());
    let (env, state) = start_with_clock(clock).await;
    let (alice, _) = sign_in(&env, &state, "alice@example.com", "/ui").await;
    let live = send(&state, "GET", "/ui/audit", Some(&alice.cookie), &[], None).await;
    assert_eq!(live.status, StatusCode::OK);
    tokio::time::pause();
    tokio::time::advance(std::time::Duration::from_secs(3600 + 1)).await;
    let page = send(&state, "GET", "/ui/audit", Some(&alice.cookie), &[], None).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        page.header(header::LOCATION),
        "/auth/login?return_to=%2Fui%2Faudit"
    );
    assert_session_expired_for_the_api(&state, &alice.cookie).await;
}

/// The API refuses `cookie` as a session that no longer holds (`401 session_expired`).
async fn assert_session_expired_for_the_api(state: &AppState, cookie: &str) {
    let api = send(state, "GET", "/api/v1/audit", Some(cookie), &[], None).await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
    let body: Value = serde_json::from_str(&api.text).unwrap();
    assert_eq!(body["code"], "session_expired");
}
