//! The simulated Forge token minter: Forge Invocation Tokens for seeded Confluence accounts,
//! verified by arkbridge-identity's `ForgeVerifier` against the simulator's Forge JWKS (configured
//! from `SimInfo` alone), and every way such a token can be wrong refused with a clear error.

mod common;
mod oidc_common;

use arkbridge_identity::{Clock, IdentityError, system_unix};
use serde_json::{Value, json};

use oidc_common::*;

/// The id and space id of the demo page "Restart payments API", read from the simulated site.
async fn restart_page(info: &arkbridge_sim::SimInfo) -> (String, String) {
    let c = common::client(info, false);
    let body: Value = c
        .get(format!("{}/wiki/api/v2/pages", info.confluence_url))
        .query(&[("title", "Restart payments API")])
        .basic_auth(&info.confluence_user, Some(&info.confluence_token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page = &body["results"][0];
    (
        page["id"].as_str().unwrap().to_string(),
        page["spaceId"].as_str().unwrap().to_string(),
    )
}

fn alice_account(info: &arkbridge_sim::SimInfo) -> String {
    user(info, "alice@example.com").account_id.clone().unwrap()
}

#[tokio::test]
async fn a_minted_fit_carries_forges_claims_and_the_verifier_accepts_it_once() {
    let sim = start().await;
    let info = sim.info();
    let c = browser(info);
    let (page_id, space_id) = restart_page(info).await;
    let account = alice_account(info);
    let request = json!({"accountId": account, "contentId": page_id, "spaceKey": "OPS",
                         "moduleKey": "arkbridge-runbook"});
    let (status, minted) = mint_fit(&c, info, request).await;
    assert_eq!(status, 200, "{minted}");
    let token = minted["token"].as_str().unwrap();

    let (header, claims) = decode(token);
    assert_eq!(header["alg"], "RS256");
    assert!(
        header["kid"]
            .as_str()
            .unwrap()
            .starts_with("forge/invocation-token/")
    );
    let app = format!("ari:cloud:ecosystem::app/{}", info.identity.forge_app_id);
    assert_eq!(claims["iss"], "forge/invocation-token");
    assert_eq!(claims["aud"], app.as_str());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        25
    );
    assert_eq!(claims["nbf"], claims["iat"]);
    assert_eq!(claims["jti"].as_str().unwrap().len(), 40);
    assert_eq!(claims["app"]["module"]["type"], "xen:macro");
    let cloud = &info.confluence_cloud_id;
    assert_eq!(info.identity.forge_cloud_id, *cloud);
    assert_eq!(
        claims["app"]["apiBaseUrl"],
        format!("{}/ex/confluence/{cloud}", info.confluence_url).as_str()
    );
    assert!(
        claims["app"]["installationId"]
            .as_str()
            .unwrap()
            .starts_with("ari:cloud:ecosystem::installation/")
    );
    assert_eq!(
        claims["context"]["extension"]["space"]["id"],
        space_id.as_str()
    );

    let v = forge_verifier(info, |_| {});
    let inv = v.verify(token).await.unwrap();
    assert_eq!(inv.principal, account);
    assert_eq!(inv.cloud_id, *cloud);
    assert_eq!(inv.site_url.as_deref(), Some(info.confluence_url.as_str()));
    assert_eq!(inv.content_id.as_deref(), Some(page_id.as_str()));
    assert_eq!(inv.content_type.as_deref(), Some("page"));
    assert_eq!(inv.space_key.as_deref(), Some("OPS"));
    assert_eq!(inv.module_key.as_deref(), Some("arkbridge-runbook"));
    assert_eq!(inv.environment_type.as_deref(), Some("PRODUCTION"));
    assert_eq!(inv.account_type.as_deref(), Some("licensed"));
    assert_eq!(inv.token_id, minted["jti"].as_str().unwrap());
    // A FIT is accepted once.
    let err = v.verify(token).await.unwrap_err();
    assert!(matches!(err, IdentityError::Replay), "{err}");
}

#[tokio::test]
async fn a_fit_expires_after_25_seconds_and_names_one_app_and_site() {
    let sim = start().await;
    let info = sim.info();
    let c = browser(info);
    let by_email = json!({"email": "bob@example.com", "spaceKey": "ops"});
    let (status, minted) = mint_fit(&c, info, by_email).await;
    assert_eq!(status, 200, "{minted}");
    let token = minted["token"].as_str().unwrap();
    let (_, claims) = decode(token);
    assert_eq!(claims["context"]["extension"]["space"]["key"], "OPS");
    assert!(claims["context"]["extension"].get("content").is_none());

    // 25 s of life and the verifier's 10 s of skew are over a minute later.
    let later = forge_verifier(info, |_| {}).with_clock(Clock::tokio_anchored(system_unix() + 60));
    let err = later.verify(token).await.unwrap_err();
    assert!(matches!(err, IdentityError::Expired { .. }), "{err}");
    let other_app = forge_verifier(info, |cfg| {
        cfg.app_id = "11111111-2222-4333-8444-555555555555".into()
    });
    let err = other_app.verify(token).await.unwrap_err();
    assert!(matches!(err, IdentityError::WrongAudience { .. }), "{err}");
    let other_site = forge_verifier(info, |cfg| {
        cfg.allowed_cloud_ids = vec!["another-site".into()]
    });
    let err = other_site.verify(token).await.unwrap_err();
    assert!(matches!(err, IdentityError::SiteNotAllowed { .. }), "{err}");
    // The accepting verifier still takes it: the refusals above did not consume its jti.
    assert!(forge_verifier(info, |_| {}).verify(token).await.is_ok());
}

#[tokio::test]
async fn forged_fits_are_refused() {
    let sim = start().await;
    let info = sim.info();
    let c = browser(info);
    let (status, minted) = mint_fit(&c, info, json!({"accountId": alice_account(info)})).await;
    assert_eq!(status, 200);
    let (_, claims) = decode(minted["token"].as_str().unwrap());
    let (kid, public_der) = first_key(&c, &info.identity.forge_jwks_url).await;
    let (oidc_kid, _) = first_key(&c, &format!("{}/v1/keys", info.identity.oidc_issuer)).await;
    let own = info.identity.forge_signing_key.as_path();
    let other = info.identity.oidc_signing_key.as_path();
    let now = system_unix();
    let fresh = |changes: Value| {
        let mut out = claims.clone();
        out["jti"] = json!(format!("{:040x}", rand::random::<u128>()));
        for (k, v) in changes.as_object().unwrap() {
            out[k] = v.clone();
        }
        out
    };
    let v = forge_verifier(info, |_| {});
    // The key file is the key the JWKS publishes.
    assert!(
        v.verify(&mint(Sig::Rs256(own), &kid, &fresh(json!({}))))
            .await
            .is_ok()
    );

    type Check = fn(&IdentityError) -> bool;
    let cases: Vec<(&str, Sig<'_>, &str, Value, Check)> = vec![
        (
            "expired",
            Sig::Rs256(own),
            &kid,
            json!({"iat": now - 100, "nbf": now - 100, "exp": now - 75}),
            |e| matches!(e, IdentityError::Expired { .. }),
        ),
        (
            "not yet valid",
            Sig::Rs256(own),
            &kid,
            json!({"iat": now + 100, "nbf": now + 100, "exp": now + 125}),
            |e| matches!(e, IdentityError::NotYetValid { .. }),
        ),
        (
            "wrong iss",
            Sig::Rs256(own),
            &kid,
            json!({"iss": "forge/other"}),
            |e| matches!(e, IdentityError::WrongIssuer { .. }),
        ),
        (
            "principal differs from context",
            Sig::Rs256(own),
            &kid,
            json!({"principal": "557058:x"}),
            |e| matches!(e, IdentityError::InvalidClaim { .. }),
        ),
        (
            "unknown kid",
            Sig::Rs256(other),
            &oidc_kid,
            json!({}),
            |e| matches!(e, IdentityError::UnknownKid { .. }),
        ),
        ("bad signature", Sig::Rs256(other), &kid, json!({}), |e| {
            matches!(e, IdentityError::BadSignature)
        }),
        ("alg none", Sig::None, &kid, json!({}), |e| {
            matches!(e, IdentityError::AlgNone)
        }),
        (
            "HS256 with the public key",
            Sig::Hs256(&public_der),
            &kid,
            json!({}),
            |e| matches!(e, IdentityError::AlgNotAllowed { .. }),
        ),
    ];
    for (name, sig, key_id, changes, expected) in cases {
        let err = v
            .verify(&mint(sig, key_id, &fresh(changes)))
            .await
            .unwrap_err();
        assert!(expected(&err), "{name}: refused for another reason: {err}");
    }
}

#[tokio::test]
async fn minting_needs_the_administrator_and_a_seeded_account_and_content() {
    let sim = start().await;
    let info = sim.info();
    let c = browser(info);
    let body = json!({"accountId": alice_account(info)});
    let anonymous = c
        .post(&info.identity.forge_fit_url)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let (page_id, _) = restart_page(info).await;
    let refused = [
        (json!({"accountId": "557058:nobody"}), 404),
        (json!({}), 400),
        (
            json!({"accountId": alice_account(info), "contentId": "999999999"}),
            404,
        ),
        (
            json!({"accountId": alice_account(info), "spaceKey": "NOPE"}),
            404,
        ),
        (
            json!({"accountId": alice_account(info), "contentId": page_id, "spaceKey": "OTHER"}),
            400,
        ),
    ];
    for (request, status) in refused {
        let (got, answer) = mint_fit(&c, info, request.clone()).await;
        assert_eq!(got, status, "{request} → {answer}");
        assert!(answer["ErrorMessage"].is_string());
    }
    let jwks: Value = c
        .get(&info.identity.forge_jwks_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "RS256");
}
