//! Every way an OIDC token can be wrong, minted in Rust with the simulator's own signing key (the
//! file `sim.json` names) or deliberately without it, and refused with a clear error: by
//! arkbridge-identity's `OidcVerifier` (configured from `SimInfo`, keys from the simulator's
//! JWKS) and by the simulator's UserInfo endpoint, as Okta's would.

mod common;
mod oidc_common;

use arkbridge_identity::{IdentityError, system_unix};
use serde_json::{Value, json};

use oidc_common::*;

/// A real token pair from the simulator for alice.
async fn tokens(c: &reqwest::Client, info: &arkbridge_sim::SimInfo) -> Value {
    let (code, verifier) = code_for(c, info, "alice@example.com").await;
    let (status, body) = exchange(c, info, &code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The claims with some replaced (and a fresh `jti`, so that replay is not what refuses them).
fn with(claims: &Value, changes: Value) -> Value {
    let mut out = claims.clone();
    out["jti"] = json!(format!("ID.test-{}", rand::random::<u64>()));
    for (k, v) in changes.as_object().unwrap() {
        out[k] = v.clone();
    }
    out
}

async fn userinfo_status(
    c: &reqwest::Client,
    info: &arkbridge_sim::SimInfo,
    token: &str,
) -> (u16, String) {
    let r = c
        .get(format!("{}/v1/userinfo", info.identity.oidc_issuer))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (r.status().as_u16(), challenge)
}

#[tokio::test]
async fn tokens_signed_with_the_simulators_key_verify_and_every_flaw_is_refused() {
    let sim = start().await;
    let info = sim.info();
    let c = browser(info);
    let body = tokens(&c, info).await;
    let (_, id_claims) = decode(body["id_token"].as_str().unwrap());
    let (_, access_claims) = decode(body["access_token"].as_str().unwrap());
    let jwks_url = format!("{}/v1/keys", info.identity.oidc_issuer);
    let (kid, public_der) = first_key(&c, &jwks_url).await;
    let (forge_kid, _) = first_key(&c, &info.identity.forge_jwks_url).await;
    let own = info.identity.oidc_signing_key.as_path();
    // The Forge key is a real RSA key this provider does not publish.
    let other = info.identity.forge_signing_key.as_path();
    let now = system_unix();
    let v = oidc_verifier(info, |_| {});

    // The simulator's key file really is the key its JWKS publishes.
    let valid = mint(Sig::Rs256(own), &kid, &with(&id_claims, json!({})));
    let user = v.verify_id_token(&valid, Some("n-42")).await.unwrap();
    assert_eq!(user.email.as_deref(), Some("alice@example.com"));
    let valid_access = mint(Sig::Rs256(own), &kid, &with(&access_claims, json!({})));
    assert_eq!(userinfo_status(&c, info, &valid_access).await.0, 200);

    type Check = fn(&IdentityError) -> bool;
    let cases: Vec<(&str, Sig<'_>, String, Value, Check)> = vec![
        (
            "expired",
            Sig::Rs256(own),
            kid.clone(),
            json!({"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}),
            |e| matches!(e, IdentityError::Expired { .. }),
        ),
        (
            "not yet valid",
            Sig::Rs256(own),
            kid.clone(),
            json!({"iat": now + 600, "nbf": now + 600, "exp": now + 4200}),
            |e| matches!(e, IdentityError::NotYetValid { .. }),
        ),
        (
            "wrong aud",
            Sig::Rs256(own),
            kid.clone(),
            json!({"aud": "someone-else"}),
            |e| matches!(e, IdentityError::WrongAudience { .. }),
        ),
        (
            "wrong iss",
            Sig::Rs256(own),
            kid.clone(),
            json!({"iss": "https://evil.example.com"}),
            |e| matches!(e, IdentityError::WrongIssuer { .. }),
        ),
        (
            "unknown kid",
            Sig::Rs256(other),
            forge_kid.clone(),
            json!({}),
            |e| matches!(e, IdentityError::UnknownKid { .. }),
        ),
        (
            "bad signature",
            Sig::Rs256(other),
            kid.clone(),
            json!({}),
            |e| matches!(e, IdentityError::BadSignature),
        ),
        ("alg none", Sig::None, kid.clone(), json!({}), |e| {
            matches!(e, IdentityError::AlgNone)
        }),
        (
            "HS256 with the public key",
            Sig::Hs256(&public_der),
            kid.clone(),
            json!({}),
            |e| matches!(e, IdentityError::AlgNotAllowed { .. }),
        ),
    ];
    for (name, sig, key_id, changes, expected) in cases {
        let id_token = mint(sig, &key_id, &with(&id_claims, changes.clone()));
        let err = v
            .verify_id_token(&id_token, Some("n-42"))
            .await
            .unwrap_err();
        assert!(expected(&err), "{name}: refused for another reason: {err}");
        assert!(!err.to_string().is_empty());
        // The simulator's UserInfo refuses the same flaw in an access token (an ID token's
        // audience is not the API's, so that case is checked with the API audience replaced).
        let access_changes = match name {
            "wrong aud" => json!({"aud": "api://someone-else"}),
            _ => changes,
        };
        let access = mint(sig, &key_id, &with(&access_claims, access_changes));
        let (status, challenge) = userinfo_status(&c, info, &access).await;
        assert_eq!(status, 401, "{name}");
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{name}: {challenge}"
        );
    }

    // Replay: an ID token is exchanged for one session, so a second presentation is refused.
    let once = mint(Sig::Rs256(own), &kid, &with(&id_claims, json!({})));
    v.verify_id_token(&once, Some("n-42")).await.unwrap();
    let err = v.verify_id_token(&once, Some("n-42")).await.unwrap_err();
    assert!(matches!(err, IdentityError::Replay), "{err}");
    // The login's nonce must match.
    let err = v
        .verify_id_token(
            &mint(Sig::Rs256(own), &kid, &with(&id_claims, json!({}))),
            Some("other"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, IdentityError::InvalidClaim { .. }), "{err}");
    // An access token is not an ID token (its audience is the API).
    let err = v
        .verify_id_token(body["access_token"].as_str().unwrap(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, IdentityError::WrongAudience { .. }), "{err}");
}

#[tokio::test]
async fn tokens_issued_while_the_clock_was_behind_are_expired() {
    let sim = start().await;
    let info = sim.info();
    let c = browser(info);
    let (status, _) = admin(
        &c,
        info,
        "/__arkbridge_sim/clock",
        json!({"offset_secs": -7200}),
    )
    .await;
    assert_eq!(status, 200);
    let body = tokens(&c, info).await;
    let err = oidc_verifier(info, |_| {})
        .verify_access_token(body["access_token"].as_str().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, IdentityError::Expired { .. }), "{err}");
    let (status, _) = admin(
        &c,
        info,
        "/__arkbridge_sim/clock",
        json!({"offset_secs": 0}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, challenge) =
        userinfo_status(&c, info, body["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("expired"), "{challenge}");
}

#[tokio::test]
async fn userinfo_needs_a_bearer_token_with_scope_openid() {
    let sim = start().await;
    let info = sim.info();
    let c = browser(info);
    let url = format!("{}/v1/userinfo", info.identity.oidc_issuer);
    assert_eq!(c.get(&url).send().await.unwrap().status(), 401);
    let body = tokens(&c, info).await;
    let (_, claims) = decode(body["access_token"].as_str().unwrap());
    let (kid, _) = first_key(&c, &format!("{}/v1/keys", info.identity.oidc_issuer)).await;
    let no_openid = mint(
        Sig::Rs256(&info.identity.oidc_signing_key),
        &kid,
        &with(&claims, json!({"scp": ["email"]})),
    );
    let r = c.get(&url).bearer_auth(no_openid).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
}
