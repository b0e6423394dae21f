//! The simulated OIDC provider's refresh tokens: issued only with scope `offline_access`,
//! rotated on every use, refused to another client or for wider scopes, and a spent one
//! presented again revokes its whole family, including the access tokens it yielded.

mod common;
mod oidc_common;

use serde_json::Value;

use oidc_common::*;

/// Signs alice in through the web client with `scope` and exchanges the code.
async fn sign_in_with(c: &reqwest::Client, info: &arkbridge_sim::SimInfo, scope: &str) -> Value {
    let (verifier, challenge) = pkce();
    let mut params = auth_params(WEB, "http://127.0.0.1/auth/callback", &challenge);
    for p in params.iter_mut() {
        if p.0 == "scope" {
            p.1 = scope;
        }
    }
    let password = user(info, "alice@example.com").password.clone();
    let (status, location) = sign_in(c, info, &params, "alice@example.com", &password).await;
    assert_eq!(status, 302);
    let code = param(&location.unwrap(), "code").unwrap();
    let (status, tokens) = exchange(c, info, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

/// One refresh through the web client; returns the status and the body.
async fn refresh(
    c: &reqwest::Client,
    info: &arkbridge_sim::SimInfo,
    token: &str,
    scope: Option<&str>,
) -> (u16, Value) {
    let secret = secret(info, WEB).unwrap();
    let mut params = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    if let Some(scope) = scope {
        params.push(("scope", scope));
    }
    oidc_common::token(c, info, &params, Some((WEB, &secret))).await
}

async fn userinfo_status(c: &reqwest::Client, info: &arkbridge_sim::SimInfo, access: &str) -> u16 {
    c.get(format!("{}/v1/userinfo", info.identity.oidc_issuer))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn text<'a>(body: &'a Value, name: &str) -> &'a str {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name}: {body}"))
}

#[tokio::test]
async fn refresh_tokens_come_with_offline_access_only_and_rotate_on_every_use() {
    let sim = start().await;
    let info = sim.info();
    let c = browser(info);
    let discovery: Value = c
        .get(format!(
            "{}/.well-known/openid-configuration",
            info.identity.oidc_issuer
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        discovery["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "refresh_token"),
        "{discovery}"
    );

    let without = sign_in_with(&c, info, "openid email").await;
    assert!(without["refresh_token"].is_null(), "{without}");

    let first = sign_in_with(&c, info, "openid email groups offline_access").await;
    let rt1 = text(&first, "refresh_token").to_string();
    let (status, second) = refresh(&c, info, &rt1, None).await;
    assert_eq!(status, 200, "{second}");
    let rt2 = text(&second, "refresh_token").to_string();
    assert_ne!(rt1, rt2, "the refresh token rotates");
    assert_ne!(text(&first, "access_token"), text(&second, "access_token"));
    assert_eq!(second["scope"], "openid email groups offline_access");
    let v = oidc_verifier(info, |_| {});
    let alice = v
        .verify_id_token(text(&second, "id_token"), None)
        .await
        .unwrap();
    assert_eq!(alice.email.as_deref(), Some("alice@example.com"));
    assert_eq!(
        userinfo_status(&c, info, text(&second, "access_token")).await,
        200
    );

    // A narrower scope is granted; a wider one is refused without spending the token.
    let (status, body) = refresh(&c, info, &rt2, Some("openid email admin")).await;
    assert_eq!((status, text(&body, "error")), (400, "invalid_scope"));
    let (status, narrower) = refresh(&c, info, &rt2, Some("openid offline_access")).await;
    assert_eq!(status, 200, "{narrower}");
    assert_eq!(narrower["scope"], "openid offline_access");
}

#[tokio::test]
async fn a_spent_refresh_token_presented_again_revokes_its_whole_family() {
    let sim = start().await;
    let info = sim.info();
    let c = browser(info);
    let first = sign_in_with(&c, info, "openid email offline_access").await;
    let rt1 = text(&first, "refresh_token").to_string();
    let (status, second) = refresh(&c, info, &rt1, None).await;
    assert_eq!(status, 200, "{second}");
    let rt2 = text(&second, "refresh_token").to_string();
    let access2 = text(&second, "access_token").to_string();
    assert_eq!(userinfo_status(&c, info, &access2).await, 200);

    // Someone replays the spent first token: refused, and the family goes with it.
    let (status, body) = refresh(&c, info, &rt1, None).await;
    assert_eq!((status, text(&body, "error")), (400, "invalid_grant"));
    let (status, body) = refresh(&c, info, &rt2, None).await;
    assert_eq!((status, text(&body, "error")), (400, "invalid_grant"));
    assert_eq!(userinfo_status(&c, info, &access2).await, 401);

    // An unknown token and another client's token are refused alike.
    let (status, body) = refresh(&c, info, "not-a-refresh-token", None).await;
    assert_eq!((status, text(&body, "error")), (400, "invalid_grant"));
    let other = sign_in_with(&c, info, "openid offline_access").await;
    let params = [
        ("grant_type", "refresh_token"),
        ("refresh_token", text(&other, "refresh_token")),
        ("client_id", CLI),
    ];
    let (status, body) = oidc_common::token(&c, info, &params, None).await;
    assert_eq!((status, text(&body, "error")), (400, "invalid_grant"));
    let (status, body) = refresh(&c, info, text(&other, "refresh_token"), None).await;
    assert_eq!(
        status, 200,
        "a refusal to another client does not spend it: {body}"
    );
}
