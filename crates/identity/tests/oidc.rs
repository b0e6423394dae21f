//! OIDC token verification against a provider served over HTTPS: valid ID and access tokens,
//! and each way a token can be wrong, each refused with its own error.

mod common;

use arkbridge_identity::{IdentityError, IdentitySource};
use common::oidc::{API, CLIENT, KID, access_claims, id_claims, setup, setup_with, signed};
use common::{Check, Signer, mint, mint_with_header, now, other_rsa, refused, rsa, with};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

#[tokio::test]
async fn valid_id_token_yields_the_user_with_email_and_groups() {
    let (server, verifier) = setup().await;
    let user = verifier
        .verify_id_token(&signed(&id_claims(&server.base)), Some("n-123"))
        .await
        .unwrap();
    assert_eq!(user.subject, "00u1alice");
    assert_eq!(user.email.as_deref(), Some("alice@example.com"));
    assert_eq!(user.groups, ["ops-admins", "everyone"]);
    assert_eq!(
        user.source,
        IdentitySource::OidcIdToken {
            issuer: server.base.clone()
        }
    );
    assert_eq!(server.discovery_hits(), 1);
    assert_eq!(server.jwks_hits(), 1);
}

#[tokio::test]
async fn valid_access_token_may_be_presented_many_times() {
    let (server, verifier) = setup().await;
    let token = signed(&access_claims(&server.base));
    for _ in 0..3 {
        let user = verifier.verify(&token).await.unwrap();
        assert_eq!(user.subject, "00u1alice");
        assert_eq!(user.groups, ["ops-admins"]);
        assert_eq!(user.email, None);
    }
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    assert_eq!(
        verifier.verify_headers(&headers).await.unwrap().subject,
        "00u1alice"
    );
}

#[tokio::test]
async fn expired_id_token_is_refused() {
    let (server, verifier) = setup().await;
    let c = with(
        with(id_claims(&server.base), "exp", json!(now() - 120)),
        "iat",
        json!(now() - 3720),
    );
    refused(
        verifier.verify_id_token(&signed(&c), None).await,
        |e| matches!(e, IdentityError::Expired { .. }),
        "expired",
    );
}

#[tokio::test]
async fn id_token_not_yet_valid_is_refused() {
    let (server, verifier) = setup().await;
    let c = with(id_claims(&server.base), "nbf", json!(now() + 600));
    refused(
        verifier.verify_id_token(&signed(&c), None).await,
        |e| matches!(e, IdentityError::NotYetValid { claim: "nbf", .. }),
        "not valid yet",
    );
    let c = with(id_claims(&server.base), "iat", json!(now() + 600));
    refused(
        verifier.verify_id_token(&signed(&c), None).await,
        |e| matches!(e, IdentityError::NotYetValid { claim: "iat", .. }),
        "iat",
    );
}

#[tokio::test]
async fn id_token_for_another_client_is_refused() {
    let (server, verifier) = setup().await;
    let c = with(id_claims(&server.base), "aud", json!(["another-client"]));
    refused(
        verifier.verify_id_token(&signed(&c), None).await,
        |e| matches!(e, IdentityError::WrongAudience { .. }),
        "audience",
    );
}

#[tokio::test]
async fn access_token_is_not_accepted_as_an_id_token_and_back() {
    let (server, verifier) = setup().await;
    let access = signed(&access_claims(&server.base));
    refused(
        verifier.verify_id_token(&access, None).await,
        |e| matches!(e, IdentityError::WrongAudience { .. }),
        API,
    );
    let id = signed(&id_claims(&server.base));
    refused(
        verifier.verify_access_token(&id).await,
        |e| matches!(e, IdentityError::WrongAudience { .. }),
        CLIENT,
    );
}

#[tokio::test]
async fn id_token_from_another_issuer_is_refused() {
    let (server, verifier) = setup().await;
    let c = with(
        id_claims(&server.base),
        "iss",
        json!("https://evil.example.com"),
    );
    refused(
        verifier.verify_id_token(&signed(&c), None).await,
        |e| matches!(e, IdentityError::WrongIssuer { .. }),
        "evil.example.com",
    );
}

#[tokio::test]
async fn id_token_with_an_unknown_kid_is_refused() {
    let (server, verifier) = setup().await;
    let token = mint(
        &Signer::Rs256(rsa()),
        "not-published",
        &id_claims(&server.base),
    );
    refused(
        verifier.verify_id_token(&token, None).await,
        |e| matches!(e, IdentityError::UnknownKid { .. }),
        "not-published",
    );
}

#[tokio::test]
async fn id_token_with_a_bad_signature_is_refused() {
    let (server, verifier) = setup().await;
    let token = mint(&Signer::Rs256(other_rsa()), KID, &id_claims(&server.base));
    refused(
        verifier.verify_id_token(&token, None).await,
        |e| matches!(e, IdentityError::BadSignature),
        "signature",
    );
}

#[tokio::test]
async fn unsigned_tokens_are_refused() {
    let (server, verifier) = setup().await;
    let token = mint(&Signer::Unsigned, KID, &id_claims(&server.base));
    refused(
        verifier.verify_id_token(&token, None).await,
        |e| matches!(e, IdentityError::AlgNone),
        "none",
    );
    let token = mint(&Signer::Unsigned, KID, &access_claims(&server.base));
    refused(
        verifier.verify(&token).await,
        |e| matches!(e, IdentityError::AlgNone),
        "none",
    );
}

#[tokio::test]
async fn hs256_tokens_signed_with_the_rsa_public_key_are_refused() {
    let (server, verifier) = setup().await;
    for secret in [rsa().public_pem.as_bytes().to_vec(), rsa().public_der()] {
        let token = mint(&Signer::Hs256(&secret), KID, &id_claims(&server.base));
        refused(
            verifier.verify_id_token(&token, None).await,
            |e| matches!(e, IdentityError::AlgNotAllowed { .. }),
            "HS256",
        );
        let token = mint(&Signer::Hs256(&secret), KID, &access_claims(&server.base));
        refused(
            verifier.verify(&token).await,
            |e| matches!(e, IdentityError::AlgNotAllowed { .. }),
            "HS256",
        );
    }
}

#[tokio::test]
async fn replayed_id_token_is_refused() {
    let (server, verifier) = setup().await;
    let token = signed(&id_claims(&server.base));
    verifier.verify_id_token(&token, None).await.unwrap();
    refused(
        verifier.verify_id_token(&token, None).await,
        |e| matches!(e, IdentityError::Replay),
        "replay",
    );
}

#[tokio::test]
async fn replayed_access_token_is_refused_when_single_use_is_on() {
    let (server, verifier) = setup_with(|c| c.single_use_access_tokens = true).await;
    let token = signed(&access_claims(&server.base));
    verifier.verify(&token).await.unwrap();
    refused(
        verifier.verify(&token).await,
        |e| matches!(e, IdentityError::Replay),
        "replay",
    );
}

#[tokio::test]
async fn wrong_or_missing_nonce_is_refused() {
    let (server, verifier) = setup().await;
    let token = signed(&id_claims(&server.base));
    refused(
        verifier.verify_id_token(&token, Some("other")).await,
        |e| matches!(e, IdentityError::InvalidClaim { claim, .. } if claim == "nonce"),
        "nonce",
    );
    // A token refused for its nonce was not consumed: the real login can still use it.
    verifier
        .verify_id_token(&token, Some("n-123"))
        .await
        .unwrap();
    let c = with(id_claims(&server.base), "nonce", Value::Null);
    refused(
        verifier.verify_id_token(&signed(&c), Some("n-123")).await,
        |e| matches!(e, IdentityError::MissingClaim("nonce")),
        "nonce",
    );
}

#[tokio::test]
async fn id_token_authorised_for_another_party_is_refused() {
    let (server, verifier) = setup().await;
    let c = with(id_claims(&server.base), "aud", json!([CLIENT, "other"]));
    refused(
        verifier.verify_id_token(&signed(&c), None).await,
        |e| matches!(e, IdentityError::InvalidClaim { .. }),
        "azp",
    );
    let c = with(c, "azp", json!("other"));
    refused(
        verifier.verify_id_token(&signed(&c), None).await,
        |e| matches!(e, IdentityError::InvalidClaim { .. }),
        "azp",
    );
    let c = with(id_claims(&server.base), "aud", json!([CLIENT, "other"]));
    let c = with(c, "azp", json!(CLIENT));
    verifier.verify_id_token(&signed(&c), None).await.unwrap();
}

#[tokio::test]
async fn access_token_typed_as_such_is_not_an_id_token() {
    let (server, verifier) = setup().await;
    let token = mint_with_header(
        &Signer::Rs256(rsa()),
        KID,
        json!({"typ": "at+jwt"}),
        &id_claims(&server.base),
    );
    refused(
        verifier.verify_id_token(&token, None).await,
        |e| matches!(e, IdentityError::InvalidClaim { .. }),
        "access token",
    );
}

#[tokio::test]
async fn access_tokens_are_refused_for_every_defect() {
    let (server, verifier) = setup().await;
    let base = || access_claims(&server.base);
    let now = now();
    let cases: Vec<(&str, String, Check)> = vec![
        (
            "expired",
            signed(&with(
                with(base(), "exp", json!(now - 60)),
                "iat",
                json!(now - 3660),
            )),
            |e| matches!(e, IdentityError::Expired { .. }),
        ),
        (
            "not valid yet",
            signed(&with(base(), "nbf", json!(now + 600))),
            |e| matches!(e, IdentityError::NotYetValid { .. }),
        ),
        (
            "audience",
            signed(&with(base(), "aud", json!("api://someone-else"))),
            |e| matches!(e, IdentityError::WrongAudience { .. }),
        ),
        (
            "issuer",
            signed(&with(base(), "iss", json!("https://evil.example.com"))),
            |e| matches!(e, IdentityError::WrongIssuer { .. }),
        ),
        (
            "kid",
            mint(&Signer::Rs256(rsa()), "unpublished", &base()),
            |e| matches!(e, IdentityError::UnknownKid { .. }),
        ),
        (
            "signature",
            mint(&Signer::Rs256(other_rsa()), KID, &base()),
            |e| matches!(e, IdentityError::BadSignature),
        ),
        ("sub", signed(&with(base(), "sub", Value::Null)), |e| {
            matches!(e, IdentityError::MissingClaim("sub"))
        }),
    ];
    for (word, token, ok) in cases {
        refused(verifier.verify(&token).await, ok, word);
    }
}
