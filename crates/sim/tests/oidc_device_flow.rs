//! The simulated OIDC provider's device authorization grant (RFC 8628), as the CLI signs in:
//! polling answers, approval by the admin call or on the activation page, denial and expiry.
//! Time moves through the identity services' admin clock, never by sleeping.

mod common;
mod oidc_common;

use serde_json::{Value, json};

use oidc_common::*;

/// Starts a device authorization for the public CLI client.
async fn device_code(c: &reqwest::Client, info: &arkbridge_sim::SimInfo) -> Value {
    let resp = c
        .post(format!("{}/v1/device/authorize", info.identity.oidc_issuer))
        .header("content-type", FORM)
        .body(form_body(&[("client_id", CLI), ("scope", "openid email")]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    resp.json().await.unwrap()
}

/// One poll of the token endpoint; returns the status and the body.
async fn poll(c: &reqwest::Client, info: &arkbridge_sim::SimInfo, device: &Value) -> (u16, Value) {
    let code = device["device_code"].as_str().unwrap();
    let params = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", CLI),
        ("device_code", code),
    ];
    token(c, info, &params, None).await
}

fn error(answer: &(u16, Value)) -> (u16, &str) {
    (answer.0, answer.1["error"].as_str().unwrap_or_default())
}

#[tokio::test]
async fn device_flow_is_pending_then_slowed_down_then_gives_tokens_once_approved() {
    let sim = start().await;
    let info = sim.info();
    let c = browser(info);
    let device = device_code(&c, info).await;
    let user_code = device["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 8);
    assert_eq!(device["interval"], 5);
    assert_eq!(device["expires_in"], 600);
    let activate = format!("{}/activate", info.identity.idp_url);
    assert_eq!(device["verification_uri"], activate.as_str());
    assert_eq!(
        device["verification_uri_complete"],
        format!("{activate}?user_code={user_code}").as_str()
    );

    advance_clock(&c, info, 5).await;
    assert_eq!(
        error(&poll(&c, info, &device).await),
        (400, "authorization_pending")
    );
    // Polling again within the interval is too fast, and the interval grows by 5 s.
    let fast = poll(&c, info, &device).await;
    assert_eq!(error(&fast), (400, "slow_down"));
    assert!(
        fast.1["error_description"]
            .as_str()
            .unwrap()
            .contains("10 seconds")
    );
    advance_clock(&c, info, 10).await;
    assert_eq!(
        error(&poll(&c, info, &device).await),
        (400, "authorization_pending")
    );

    let dashed = format!("{}-{}", &user_code[..4], user_code[4..].to_lowercase());
    let approve = json!({"user_code": dashed, "email": "alice@example.com"});
    let (status, body) = admin(&c, info, "/__arkbridge_sim/device", approve.clone()).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("approved")),
        "{body}"
    );
    let (status, _) = admin(&c, info, "/__arkbridge_sim/device", approve).await;
    assert_eq!(status, 404, "a decided code cannot be decided again");

    advance_clock(&c, info, 10).await;
    let (status, tokens) = poll(&c, info, &device).await;
    assert_eq!(status, 200, "{tokens}");
    // The verifier runs at the identity services' clock, moved 25 s ahead.
    let now = arkbridge_identity::system_unix() + 25;
    let v = oidc_verifier(info, |cfg| cfg.client_id = CLI.into())
        .with_clock(arkbridge_identity::Clock::tokio_anchored(now));
    let alice = v
        .verify_id_token(tokens["id_token"].as_str().unwrap(), None)
        .await
        .unwrap();
    assert_eq!(alice.email.as_deref(), Some("alice@example.com"));
    assert_eq!(alice.groups, ["platform-admins"]);
    let access = v
        .verify_access_token(tokens["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(access.subject, "alice@example.com");
    // The device code yields tokens once.
    assert_eq!(
        error(&poll(&c, info, &device).await),
        (400, "invalid_grant")
    );
}

#[tokio::test]
async fn the_activation_page_signs_the_user_in_and_a_denial_is_told_to_the_client() {
    let sim = start().await;
    let info = sim.info();
    let c = browser(info);
    let activate = format!("{}/activate", info.identity.idp_url);
    let submit = |code: String, user: &str, password: String, action: &str| {
        let c = c.clone();
        let url = activate.clone();
        let body = form_body(&[
            ("user_code", code.as_str()),
            ("username", user),
            ("password", password.as_str()),
            ("action", action),
        ]);
        async move {
            let r = c
                .post(url)
                .header("content-type", FORM)
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let bob = user(info, "bob@example.com").password.clone();

    let device = device_code(&c, info).await;
    let code = device["user_code"].as_str().unwrap().to_string();
    let page = c
        .get(device["verification_uri_complete"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("value=\"{code}\"")), "{page}");
    let (status, _) = submit(code.clone(), "bob@example.com", "wrong".into(), "approve").await;
    assert_eq!(status, 401);
    let (status, _) = submit("BBBBBBBB".into(), "bob@example.com", bob.clone(), "approve").await;
    assert_eq!(status, 400, "an unknown code");
    let (status, page) = submit(code, "bob@example.com", bob.clone(), "approve").await;
    assert_eq!(status, 200, "{page}");
    advance_clock(&c, info, 5).await;
    let (status, tokens) = poll(&c, info, &device).await;
    assert_eq!(status, 200, "{tokens}");
    let (_, claims) = decode(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["email"], "bob@example.com");
    assert_eq!(claims["groups"][0], "developers");

    let denied = device_code(&c, info).await;
    let code = denied["user_code"].as_str().unwrap().to_string();
    let (status, _) = submit(code, "bob@example.com", bob, "deny").await;
    assert_eq!(status, 200);
    advance_clock(&c, info, 5).await;
    assert_eq!(
        error(&poll(&c, info, &denied).await),
        (400, "access_denied")
    );
}

#[tokio::test]
async fn an_expired_device_code_is_refused() {
    let sim = start().await;
    let info = sim.info();
    let c = browser(info);
    let device = device_code(&c, info).await;
    advance_clock(&c, info, 601).await;
    assert_eq!(
        error(&poll(&c, info, &device).await),
        (400, "expired_token")
    );
    let late = json!({"user_code": device["user_code"], "email": "alice@example.com"});
    let (status, _) = admin(&c, info, "/__arkbridge_sim/device", late).await;
    assert_eq!(status, 404, "an expired code cannot be approved");
    let params = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", CLI),
        ("device_code", "no-such-code"),
    ];
    assert_eq!(
        error(&token(&c, info, &params, None).await),
        (400, "invalid_grant")
    );
}

#[tokio::test]
async fn the_admin_calls_need_the_vault_administrator() {
    let sim = start().await;
    let info = sim.info();
    let c = browser(info);
    for path in ["/__arkbridge_sim/device", "/__arkbridge_sim/clock"] {
        let url = format!("{}{path}", info.identity.idp_url);
        let anonymous = c.post(&url).json(&json!({})).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "{path}");
        assert!(anonymous.headers().contains_key("www-authenticate"));
        let wrong = c
            .post(&url)
            .basic_auth("Administrator", Some("wrong"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{path}");
    }
    let (status, body) = admin(
        &c,
        info,
        "/__arkbridge_sim/clock",
        json!({"advance_secs": "x"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let device = device_code(&c, info).await;
    let stranger = json!({"user_code": device["user_code"], "email": "mallory@example.com"});
    let (status, _) = admin(&c, info, "/__arkbridge_sim/device", stranger).await;
    assert_eq!(status, 400);
}
