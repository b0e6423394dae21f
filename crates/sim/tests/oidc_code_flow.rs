//! The simulated OIDC provider's browser login, end to end over HTTPS: discovery, the sign-in
//! form, the authorization code with PKCE, client authentication, and the tokens checked by
//! arkbridge-identity's `OidcVerifier`, configured from `SimInfo` alone.

mod common;
mod oidc_common;

use oidc_common::*;
use serde_json::Value;

#[tokio::test]
async fn discovery_names_every_endpoint_and_the_verifier_accepts_it() {
    let sim = start().await;
    let info = sim.info();
    let issuer = &info.identity.oidc_issuer;
    assert!(issuer.starts_with("https://localhost:") && issuer.ends_with("/oauth2/default"));
    let metadata = oidc_verifier(info, |_| {}).metadata().await.unwrap();
    assert_eq!(&metadata.issuer, issuer);
    assert_eq!(metadata.jwks_uri, format!("{issuer}/v1/keys"));
    assert_eq!(
        metadata.device_authorization_endpoint.as_deref(),
        Some(format!("{issuer}/v1/device/authorize").as_str())
    );
    assert_eq!(metadata.code_challenge_methods_supported, ["S256"]);
    assert_eq!(metadata.id_token_signing_alg_values_supported, ["RS256"]);
    let jwks: Value = browser(info)
        .get(&metadata.jwks_uri)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["alg"].as_str()),
        (Some("RSA"), Some("RS256"))
    );
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn authorization_code_with_pkce_gives_tokens_the_verifier_accepts() {
    let sim = start().await;
    let info = sim.info();
    let c = browser(info);
    let (code, verifier) = code_for(&c, info, "alice@example.com").await;
    let (status, body) = exchange(&c, info, &code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "openid email profile");
    let id_token = body["id_token"].as_str().unwrap();
    let access_token = body["access_token"].as_str().unwrap();

    let alice = user(info, "alice@example.com");
    let v = oidc_verifier(info, |_| {});
    let from_id = v.verify_id_token(id_token, Some("n-42")).await.unwrap();
    assert_eq!(from_id.subject, alice.sub);
    assert_eq!(from_id.email.as_deref(), Some("alice@example.com"));
    assert_eq!(from_id.groups, ["platform-admins"]);
    let from_access = v.verify_access_token(access_token).await.unwrap();
    assert_eq!(
        from_access.subject, "alice@example.com",
        "Okta's access token sub is the login"
    );
    assert_eq!(from_access.groups, ["platform-admins"]);

    let (header, claims) = decode(id_token);
    assert_eq!(header["alg"], "RS256");
    assert!(header["kid"].is_string());
    assert_eq!(claims["aud"], WEB);
    assert_eq!(claims["nonce"], "n-42");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "Alice Martin");
    let account = alice.account_id.as_deref().unwrap();
    assert_eq!(claims["atlassian_account_id"], account);
    assert!(claims["nbf"].is_i64() && claims["jti"].as_str().unwrap().starts_with("ID."));
    let (_, access) = decode(access_token);
    assert_eq!(access["aud"], "api://arkbridge");
    assert_eq!(
        (access["cid"].as_str(), access["uid"].as_str()),
        (Some(WEB), Some(alice.sub.as_str()))
    );
    assert_eq!(access["atlassian_account_id"], account);

    let userinfo: Value = c
        .get(format!("{}/v1/userinfo", info.identity.oidc_issuer))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["sub"], alice.sub.as_str());
    assert_eq!(userinfo["email"], "alice@example.com");
    assert_eq!(userinfo["groups"][0], "platform-admins");
}

#[tokio::test]
async fn a_public_client_signs_in_on_any_loopback_port_without_a_secret() {
    let sim = start().await;
    let info = sim.info();
    let c = browser(info);
    assert_eq!(secret(info, CLI), None);
    let (verifier, challenge) = pkce();
    let redirect = "http://127.0.0.1:49321/callback";
    let params = auth_params(CLI, redirect, &challenge);
    let carol = user(info, "carol@example.com");
    let (status, location) = sign_in(&c, info, &params, "CAROL@example.com", &carol.password).await;
    assert_eq!(status, 302);
    let location = location.unwrap();
    assert_eq!(location.port(), Some(49321));
    let code = param(&location, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", CLI),
        ("code", &code),
        ("redirect_uri", redirect),
        ("code_verifier", &verifier),
    ];
    let (status, body) = token(&c, info, &form, None).await;
    assert_eq!(status, 200, "{body}");
    let (_, claims) = decode(body["id_token"].as_str().unwrap());
    assert_eq!(claims["aud"], CLI);
    assert_eq!(claims["groups"][0], "change-approvers");
}

#[tokio::test]
async fn a_wrong_code_verifier_is_refused_and_spends_the_code() {
    let sim = start().await;
    let info = sim.info();
    let c = browser(info);
    let (code, verifier) = code_for(&c, info, "bob@example.com").await;
    let (other, _) = pkce();
    let (status, body) = exchange(&c, info, &code, &other).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(body["error_description"], "PKCE verification failed.");
    let (status, body) = exchange(&c, info, &code, &verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn a_reused_code_is_refused_and_revokes_the_tokens_it_gave() {
    let sim = start().await;
    let info = sim.info();
    let c = browser(info);
    let (code, verifier) = code_for(&c, info, "bob@example.com").await;
    let (status, first) = exchange(&c, info, &code, &verifier).await;
    assert_eq!(status, 200);
    let userinfo = |token: String| {
        let c = c.clone();
        let url = format!("{}/v1/userinfo", info.identity.oidc_issuer);
        async move { c.get(url).bearer_auth(token).send().await.unwrap() }
    };
    let access = first["access_token"].as_str().unwrap().to_string();
    assert_eq!(userinfo(access.clone()).await.status(), 200);
    let (status, again) = exchange(&c, info, &code, &verifier).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let refused = userinfo(access).await;
    assert_eq!(refused.status(), 401);
    let challenge = refused.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.contains("invalid_token") && challenge.contains("revoked"),
        "{challenge}"
    );
}

#[tokio::test]
async fn bad_authorization_requests_get_an_error_page_or_an_error_redirect() {
    let sim = start().await;
    let info = sim.info();
    let c = browser(info);
    let (_, challenge) = pkce();
    let authorize = format!("{}/v1/authorize", info.identity.oidc_issuer);
    let get = |params: Vec<(&'static str, String)>| {
        let c = c.clone();
        let url = authorize.clone();
        async move { c.get(url).query(&params).send().await.unwrap() }
    };
    let base = |client: &str, redirect: &str| -> Vec<(&'static str, String)> {
        auth_params("x", "x", &challenge)
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .map(|(k, v)| match k {
                "client_id" => (k, client.to_string()),
                "redirect_uri" => (k, redirect.to_string()),
                _ => (k, v),
            })
            .collect()
    };
    let good = base(WEB, "http://127.0.0.1/auth/callback");
    let page = get(good.clone()).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("name=\"password\""));

    // An unknown client or an unregistered redirect URI is never redirected to.
    for (client, redirect) in [
        ("nobody", "http://127.0.0.1/auth/callback"),
        (WEB, "https://evil.example.com/cb"),
    ] {
        let r = get(base(client, redirect)).await;
        assert_eq!(r.status(), 400);
        assert!(r.headers().get("location").is_none());
    }
    // Other errors go back to the client with the state.
    let cases: [(&str, Option<&str>, &str); 4] = [
        ("code_challenge", None, "invalid_request"),
        ("code_challenge_method", Some("plain"), "invalid_request"),
        ("response_type", Some("token"), "unsupported_response_type"),
        ("scope", Some("openid admin"), "invalid_scope"),
    ];
    for (name, value, error) in cases {
        let params: Vec<_> = good
            .iter()
            .filter(|(k, _)| *k != name || value.is_some())
            .map(|(k, v)| {
                (
                    *k,
                    if *k == name {
                        value.unwrap().to_string()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect();
        let r = get(params).await;
        assert_eq!(r.status(), 302, "{name}");
        let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
        assert_eq!(param(&location, "error").as_deref(), Some(error), "{name}");
        assert_eq!(param(&location, "state").as_deref(), Some("st-42"));
        assert!(param(&location, "code").is_none());
    }
    let no_state: Vec<_> = good
        .iter()
        .filter(|(k, _)| *k != "state")
        .cloned()
        .collect();
    let r = get(no_state).await;
    let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("invalid_request")
    );

    // A wrong password shows the form again, with no redirect.
    let params = auth_params(WEB, "http://127.0.0.1/auth/callback", &challenge);
    let (status, location) = sign_in(&c, info, &params, "alice@example.com", "wrong").await;
    assert_eq!((status, location), (401, None));
}

#[tokio::test]
async fn client_authentication_is_enforced_at_the_token_endpoint() {
    let sim = start().await;
    let info = sim.info();
    let c = browser(info);
    let (code, verifier) = code_for(&c, info, "alice@example.com").await;
    let form = |extra: &[(&'static str, &'static str)]| {
        let mut f: Vec<(&str, String)> = vec![
            ("grant_type", "authorization_code".into()),
            ("code", code.clone()),
            ("redirect_uri", "http://127.0.0.1/auth/callback".into()),
            ("code_verifier", verifier.clone()),
        ];
        f.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        f
    };
    let send = |f: Vec<(&'static str, String)>, basic: Option<(String, String)>| {
        let c = c.clone();
        let url = format!("{}/v1/token", info.identity.oidc_issuer);
        async move {
            let mut req = c.post(url).header("content-type", FORM).body(form_body(&f));
            if let Some((id, secret)) = basic {
                req = req.basic_auth(id, Some(secret));
            }
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let challenge = r.headers().get("www-authenticate").is_some();
            let body: Value = r.json().await.unwrap();
            (
                status,
                body["error"].as_str().unwrap_or_default().to_string(),
                challenge,
            )
        }
    };
    // A confidential client without its secret, with a wrong one, or a public client with one.
    let no_secret = send(form(&[("client_id", WEB)]), None).await;
    assert_eq!(no_secret, (401, "invalid_client".into(), true));
    let wrong = send(form(&[]), Some((WEB.into(), "nope".into()))).await;
    assert_eq!(wrong.1, "invalid_client");
    let public_with_secret = send(form(&[("client_id", CLI), ("client_secret", "x")]), None).await;
    assert_eq!(public_with_secret.1, "invalid_client");
    let both = send(
        form(&[("client_secret", "x")]),
        Some((WEB.into(), "x".into())),
    )
    .await;
    assert_eq!(both.1, "invalid_request");
    // client_secret_post works, and the code is still unspent after the refusals above.
    let secret = secret(info, WEB).unwrap();
    let mut posted = form(&[("client_id", WEB)]);
    posted.push(("client_secret", secret.clone()));
    let ok = send(posted, None).await;
    assert_eq!(ok.0, 200, "{ok:?}");
    let password_grant = vec![("grant_type", "password".to_string())];
    let unsupported = send(password_grant, Some((WEB.into(), secret))).await;
    assert_eq!(unsupported.1, "unsupported_grant_type");
}

#[tokio::test]
async fn a_seeded_password_signs_in_and_login_hint_fills_the_form() {
    let seed = common::with_admin_password(arkbridge_sim::DEMO_SEED).replacen(
        "identityProvider:\n",
        "identityProvider:\n  users:\n    - { email: bob@example.com, password: bob-idp-pass-1, sub: 00ubob }\n",
        1,
    );
    let sim = start_with(&seed).await;
    let info = sim.info();
    let bob = user(info, "bob@example.com");
    assert_eq!(
        (bob.password.as_str(), bob.sub.as_str()),
        ("bob-idp-pass-1", "00ubob")
    );
    assert_eq!(bob.groups, ["developers"]);
    assert!(
        info.identity
            .users
            .iter()
            .all(|u| u.email != "arkbridge@example.com")
    );
    let c = browser(info);
    let (verifier, challenge) = pkce();
    let mut params = auth_params(WEB, "http://127.0.0.1/auth/callback", &challenge);
    params.push(("login_hint", "bob@example.com"));
    let page = c
        .get(format!("{}/v1/authorize", info.identity.oidc_issuer))
        .query(&params)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("value=\"bob@example.com\""), "{page}");
    params.pop();
    let (status, location) = sign_in(&c, info, &params, "bob@example.com", "bob-idp-pass-1").await;
    assert_eq!(status, 302);
    let code = param(&location.unwrap(), "code").unwrap();
    let (status, body) = exchange(&c, info, &code, &verifier).await;
    assert_eq!(status, 200);
    let user = oidc_verifier(info, |_| {})
        .verify_id_token(body["id_token"].as_str().unwrap(), Some("n-42"))
        .await
        .unwrap();
    assert_eq!(user.subject, "00ubob");
}
