//! Authentication of `/api/v1` through `router()`: Forge Invocation Tokens minted by the
//! simulated Forge minter and OIDC tokens signed by the simulated provider are accepted, and
//! every way they can be wrong (none, expired, wrong audience, bad signature, replay, a Forge
//! app that is not configured) is a 401 with a typed body that holds no token.

mod support;

use arkbridge_server::{Authenticator, ServerState};
use axum::http::StatusCode;
use serde_json::json;
use support::{call_state, start, tamper_signature};

const EXPLAIN: &str = "/api/v1/explain?page_id=";

fn assert_refused(a: &support::Answer, code: &str, token: Option<&str>) {
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
    assert_eq!(a.body["code"], code, "{}", a.text);
    assert!(a.body["error"].as_str().is_some_and(|e| !e.is_empty()));
    if let Some(token) = token {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!a.text.contains(signature), "the answer quotes the token");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forge_tokens_are_verified_and_each_failure_has_its_code() {
    let env = start(false).await;
    let page = env.page("Payments DB health").await;
    let uri = format!("{EXPLAIN}{page}");

    let none = env.call("GET", &uri, None, None).await;
    assert_refused(&none, "missing_token", None);
    assert!(none.text.contains("Authorization"));

    let good = env.fit("alice@example.com").await;
    let ok = env.call("GET", &uri, Some(&good), None).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["allowed"], true, "{}", ok.text);
    assert_eq!(ok.body["user"], "alice@example.com");

    // The same token again: a FIT is accepted once.
    let replay = env.call("GET", &uri, Some(&good), None).await;
    assert_refused(&replay, "token_replayed", Some(&good));

    let forged = tamper_signature(&env.fit("alice@example.com").await);
    let bad = env.call("GET", &uri, Some(&forged), None).await;
    assert_refused(&bad, "bad_signature", Some(&forged));

    // A token minted an hour ago (the minter's clock moved back) has expired.
    env.shift_idp_clock(-3600).await;
    let old = env.fit("alice@example.com").await;
    env.shift_idp_clock(3600).await;
    let expired = env.call("GET", &uri, Some(&old), None).await;
    assert_refused(&expired, "token_expired", Some(&old));

    // The same minter, but the bridge expects another Forge app: wrong audience.
    let mut other = env.config.clone();
    other.server.forge = Some(support::forge_section(
        &env.info,
        "00000000-0000-4000-8000-000000000000",
    ));
    let other_state = ServerState::new(
        env.state.bridge.clone(),
        Authenticator::from_config(&other).unwrap(),
    );
    let token = env.fit("alice@example.com").await;
    let wrong = call_state(&other_state, "GET", &uri, Some(&token), None).await;
    assert_refused(&wrong, "wrong_audience", Some(&token));

    // Without [server.forge], Forge tokens are refused as such.
    let mut no_forge = env.config.clone();
    no_forge.server.forge = None;
    let bare = ServerState::new(
        env.state.bridge.clone(),
        Authenticator::from_config(&no_forge).unwrap(),
    );
    let token = env.fit("alice@example.com").await;
    let off = call_state(&bare, "GET", &uri, Some(&token), None).await;
    assert_refused(&off, "forge_not_configured", Some(&token));

    // Under local-trusted, OIDC bearer tokens are not a credential.
    let oidc = env.oidc_token("alice@example.com", |_| {}).await;
    let refused = env.call("GET", &uri, Some(&oidc), None).await;
    assert_refused(&refused, "oidc_not_configured", Some(&oidc));

    let malformed = env.call("GET", &uri, Some("not.a.jwt"), None).await;
    assert_eq!(
        malformed.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        malformed.text
    );
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_bearer_tokens_are_verified_and_forge_principals_need_a_sign_in() {
    let env = start(true).await;
    let page = env.page("Payments DB health").await;
    let uri = format!("{EXPLAIN}{page}");

    // Under OIDC without a directory, a Forge principal is known only from their own sign-in.
    let fit = env.fit("alice@example.com").await;
    let unknown = env.call("GET", &uri, Some(&fit), None).await;
    assert_eq!(unknown.status, StatusCode::FORBIDDEN, "{}", unknown.text);
    assert!(unknown.text.contains("not known"), "{}", unknown.text);

    let token = env.oidc_token("alice@example.com", |_| {}).await;
    let ok = env.call("GET", &uri, Some(&token), None).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["user"], "alice@example.com");
    // Access tokens are bearer tokens: the same one works again.
    let again = env.call("GET", &uri, Some(&token), None).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);

    // A CLI's ID token (audience: the client id) is accepted too.
    let client_id = env.config.identity.oidc.as_ref().unwrap().client_id.clone();
    let id_token = env
        .oidc_token("bob@example.com", |c| c["aud"] = json!(client_id))
        .await;
    let bob = env.call("GET", &uri, Some(&id_token), None).await;
    assert_eq!(bob.status, StatusCode::OK, "{}", bob.text);
    assert_eq!(bob.body["user"], "bob@example.com");
    assert_eq!(bob.body["allowed"], false, "{}", bob.text);

    // Alice signed in, so a FIT naming her account now finds her.
    let fit = env.fit("alice@example.com").await;
    let known = env.call("GET", &uri, Some(&fit), None).await;
    assert_eq!(known.status, StatusCode::OK, "{}", known.text);

    let expired = env
        .oidc_token("alice@example.com", |c| {
            c["exp"] = json!(c["iat"].as_i64().unwrap() - 3600);
            c["iat"] = json!(c["iat"].as_i64().unwrap() - 7200);
            c["nbf"] = c["iat"].clone();
        })
        .await;
    let a = env.call("GET", &uri, Some(&expired), None).await;
    assert_refused(&a, "token_expired", Some(&expired));

    let wrong_aud = env
        .oidc_token("alice@example.com", |c| {
            c["aud"] = json!("api://someone-else")
        })
        .await;
    let a = env.call("GET", &uri, Some(&wrong_aud), None).await;
    assert_refused(&a, "wrong_audience", Some(&wrong_aud));

    let forged = tamper_signature(&env.oidc_token("alice@example.com", |_| {}).await);
    let a = env.call("GET", &uri, Some(&forged), None).await;
    assert_refused(&a, "bad_signature", Some(&forged));

    let wrong_iss = env
        .oidc_token("alice@example.com", |c| {
            c["iss"] = json!("https://evil.example.com")
        })
        .await;
    let a = env.call("GET", &uri, Some(&wrong_iss), None).await;
    assert_refused(&a, "wrong_issuer", Some(&wrong_iss));
    env.sim.shutdown().await;
}
