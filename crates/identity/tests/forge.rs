//! Forge Invocation Token verification against a JWKS served over HTTPS: a valid token, and each
//! way a token can be wrong, each refused with its own error.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use arkbridge_identity::{FORGE_ISSUER, ForgeConfig, ForgeVerifier, IdentityError, IdentitySource};
use common::{
    Signer, TestServer, mint, mint_with_header, now, other_rsa, refused, rsa, serve, with,
};
use reqwest::header::{HeaderMap, HeaderValue};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

const APP: &str = "2b9d8f3e-1c4a-4f6e-9a1b-0c2d3e4f5a6b";
const ARI: &str = "ari:cloud:ecosystem::app/2b9d8f3e-1c4a-4f6e-9a1b-0c2d3e4f5a6b";
const KID: &str = "forge/invocation-token/test-key-1";
const CLOUD: &str = "c0ffee00-1111-2222-3333-444455556666";

fn jti() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("fit-{}", N.fetch_add(1, Ordering::SeqCst))
}

/// Claims shaped like a real FIT (reference §7.6).
fn claims() -> Value {
    let now = now();
    json!({
        "iss": FORGE_ISSUER,
        "aud": ARI,
        "iat": now,
        "nbf": now,
        "exp": now + 25,
        "jti": jti(),
        "principal": "557058:alice-account",
        "app": {
            "id": ARI,
            "version": "7",
            "installationId": "ari:cloud:ecosystem::installation/inst-1",
            "apiBaseUrl": format!("https://api.atlassian.com/ex/confluence/{CLOUD}"),
            "environment": {"type": "PRODUCTION", "id": "env-1"},
            "module": {"type": "xen:macro", "key": "arkbridge-runbook"}
        },
        "context": {
            "cloudId": CLOUD,
            "moduleKey": "arkbridge-runbook",
            "siteUrl": "https://acme.atlassian.net",
            "environmentId": "env-1",
            "environmentType": "PRODUCTION",
            "extension": {
                "type": "macro",
                "content": {"id": "98765", "type": "page"},
                "space": {"key": "OPS", "id": "131073"},
                "isEditing": false
            },
            "accountType": "licensed",
            "accountId": "557058:alice-account"
        }
    })
}

async fn setup() -> (TestServer, ForgeVerifier) {
    setup_with(ForgeConfig::new(APP)).await
}

async fn setup_with(mut config: ForgeConfig) -> (TestServer, ForgeVerifier) {
    let server = serve(vec![rsa().jwk(KID)]).await;
    config.jwks_url = server.jwks_url();
    config.ca_cert = Some(server.ca_path.clone());
    config.allowed_cloud_ids = vec![CLOUD.to_string()];
    let verifier = ForgeVerifier::new(&config).unwrap();
    (server, verifier)
}

fn signed(claims: &Value) -> String {
    mint(&Signer::Rs256(rsa()), KID, claims)
}

#[tokio::test]
async fn valid_fit_yields_the_verified_invocation() {
    let (_server, verifier) = setup().await;
    let inv = verifier.verify(&signed(&claims())).await.unwrap();
    assert_eq!(inv.principal, "557058:alice-account");
    assert_eq!(inv.cloud_id, CLOUD);
    assert_eq!(inv.site_url.as_deref(), Some("https://acme.atlassian.net"));
    assert_eq!(inv.app_id, ARI);
    assert_eq!(inv.content_id.as_deref(), Some("98765"));
    assert_eq!(inv.content_type.as_deref(), Some("page"));
    assert_eq!(inv.space_key.as_deref(), Some("OPS"));
    assert_eq!(inv.space_id.as_deref(), Some("131073"));
    assert_eq!(inv.module_key.as_deref(), Some("arkbridge-runbook"));
    assert_eq!(
        inv.installation_id.as_deref(),
        Some("ari:cloud:ecosystem::installation/inst-1")
    );
    assert!(inv.system_token.is_none());
    let user = inv.user();
    assert_eq!(user.subject, "557058:alice-account");
    assert_eq!(
        user.source,
        IdentitySource::Forge {
            cloud_id: CLOUD.into()
        }
    );
}

#[tokio::test]
async fn expired_fit_is_refused() {
    let (_server, verifier) = setup().await;
    let now = now();
    let c = with(
        with(
            with(claims(), "exp", json!(now - 60)),
            "iat",
            json!(now - 85),
        ),
        "nbf",
        json!(now - 85),
    );
    refused(
        verifier.verify(&signed(&c)).await,
        |e| matches!(e, IdentityError::Expired { .. }),
        "expired",
    );
}

#[tokio::test]
async fn fit_not_yet_valid_is_refused() {
    let (_server, verifier) = setup().await;
    let c = with(claims(), "nbf", json!(now() + 120));
    refused(
        verifier.verify(&signed(&c)).await,
        |e| matches!(e, IdentityError::NotYetValid { claim: "nbf", .. }),
        "not valid yet",
    );
}

#[tokio::test]
async fn fit_for_another_app_is_refused() {
    let (_server, verifier) = setup().await;
    let c = with(
        claims(),
        "aud",
        json!("ari:cloud:ecosystem::app/someone-else"),
    );
    refused(
        verifier.verify(&signed(&c)).await,
        |e| matches!(e, IdentityError::WrongAudience { .. }),
        "audience",
    );
}

#[tokio::test]
async fn fit_from_another_issuer_is_refused() {
    let (_server, verifier) = setup().await;
    let c = with(claims(), "iss", json!("forge/not-an-invocation-token"));
    refused(
        verifier.verify(&signed(&c)).await,
        |e| matches!(e, IdentityError::WrongIssuer { .. }),
        "issuer",
    );
}

#[tokio::test]
async fn fit_with_an_unknown_kid_is_refused() {
    let (server, verifier) = setup().await;
    let token = mint(
        &Signer::Rs256(rsa()),
        "forge/invocation-token/unknown",
        &claims(),
    );
    refused(
        verifier.verify(&token).await,
        |e| matches!(e, IdentityError::UnknownKid { .. }),
        "kid",
    );
    // The unknown kid caused one fetch; the next attempts within the interval cause none.
    assert_eq!(server.jwks_hits(), 1);
    assert!(verifier.verify(&token).await.is_err());
    assert_eq!(server.jwks_hits(), 1);
}

#[tokio::test]
async fn fit_signed_by_another_key_is_refused() {
    let (_server, verifier) = setup().await;
    let token = mint(&Signer::Rs256(other_rsa()), KID, &claims());
    refused(
        verifier.verify(&token).await,
        |e| matches!(e, IdentityError::BadSignature),
        "signature",
    );
}

#[tokio::test]
async fn fit_with_a_changed_payload_is_refused() {
    let (_server, verifier) = setup().await;
    let token = signed(&claims());
    let forged = signed(&with(claims(), "principal", json!("557058:mallory")));
    // Mallory's payload under the signature of Alice's token.
    let parts: Vec<&str> = token.split('.').collect();
    let forged_payload = forged.split('.').nth(1).unwrap();
    let spliced = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    refused(
        verifier.verify(&spliced).await,
        |e| matches!(e, IdentityError::BadSignature),
        "signature",
    );
}

#[tokio::test]
async fn unsigned_fit_is_refused() {
    let (_server, verifier) = setup().await;
    let token = mint(&Signer::Unsigned, KID, &claims());
    refused(
        verifier.verify(&token).await,
        |e| matches!(e, IdentityError::AlgNone),
        "none",
    );
}

#[tokio::test]
async fn hs256_fit_signed_with_the_rsa_public_key_is_refused() {
    let (server, verifier) = setup().await;
    let jwk = rsa().jwk(KID);
    let n = jwk["n"].as_str().unwrap().as_bytes().to_vec();
    for secret in [rsa().public_pem.as_bytes().to_vec(), rsa().public_der(), n] {
        let token = mint(&Signer::Hs256(&secret), KID, &claims());
        refused(
            verifier.verify(&token).await,
            |e| matches!(e, IdentityError::AlgNotAllowed { alg, .. } if alg == "HS256"),
            "HS256",
        );
    }
    // Refused from the header alone: no key was even fetched.
    assert_eq!(server.jwks_hits(), 0);
}

#[tokio::test]
async fn ps256_fit_is_refused_because_forge_signs_rs256_only() {
    let (_server, verifier) = setup().await;
    let token = mint(&Signer::Ps256(rsa()), KID, &claims());
    refused(
        verifier.verify(&token).await,
        |e| matches!(e, IdentityError::AlgNotAllowed { .. }),
        "PS256",
    );
}

#[tokio::test]
async fn replayed_fit_is_refused() {
    let (_server, verifier) = setup().await;
    let token = signed(&claims());
    verifier.verify(&token).await.unwrap();
    refused(
        verifier.verify(&token).await,
        |e| matches!(e, IdentityError::Replay),
        "replay",
    );
}

#[tokio::test]
async fn fit_without_jti_is_refused() {
    let (_server, verifier) = setup().await;
    let c = with(claims(), "jti", Value::Null);
    refused(
        verifier.verify(&signed(&c)).await,
        |e| matches!(e, IdentityError::MissingClaim("jti")),
        "jti",
    );
}

#[tokio::test]
async fn fit_from_another_site_is_refused() {
    let (_server, verifier) = setup().await;
    let mut c = claims();
    c["context"]["cloudId"] = json!("another-site");
    refused(
        verifier.verify(&signed(&c)).await,
        |e| matches!(e, IdentityError::SiteNotAllowed { .. }),
        "another-site",
    );
}

#[tokio::test]
async fn fit_with_crit_header_is_refused() {
    let (_server, verifier) = setup().await;
    let token = mint_with_header(
        &Signer::Rs256(rsa()),
        KID,
        json!({"crit": ["b64"], "b64": false}),
        &claims(),
    );
    refused(
        verifier.verify(&token).await,
        |e| matches!(e, IdentityError::CriticalHeader),
        "crit",
    );
}

#[tokio::test]
async fn verify_headers_reads_the_bearer_token_and_the_system_token() {
    let (_server, verifier) = setup().await;
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {}", signed(&claims()))).unwrap(),
    );
    headers.insert(
        "x-forge-oauth-system",
        HeaderValue::from_static("SYSTEM-TOKEN-SENTINEL"),
    );
    let inv = verifier.verify_headers(&headers).await.unwrap();
    let system = inv.system_token.as_ref().unwrap();
    assert_eq!(system.expose_secret(), "SYSTEM-TOKEN-SENTINEL");
    assert!(
        !format!("{inv:?}").contains("SENTINEL"),
        "Debug must redact the system token"
    );

    refused(
        verifier.verify_headers(&HeaderMap::new()).await,
        |e| matches!(e, IdentityError::MissingHeader("authorization")),
        "authorization",
    );
}

#[tokio::test]
async fn rotated_key_is_fetched_on_its_first_use() {
    // No spacing between fetches here; the rate limit has its own tests (tests/jwks.rs).
    let mut config = ForgeConfig::new(APP);
    config.jwks.min_refetch_interval = std::time::Duration::ZERO;
    let (server, verifier) = setup_with(config).await;
    verifier.verify(&signed(&claims())).await.unwrap();
    assert_eq!(server.jwks_hits(), 1);
    server.set_jwks(vec![
        rsa().jwk(KID),
        other_rsa().jwk("forge/invocation-token/rotated"),
    ]);
    let token = mint(
        &Signer::Rs256(other_rsa()),
        "forge/invocation-token/rotated",
        &claims(),
    );
    verifier.verify(&token).await.unwrap();
    assert_eq!(server.jwks_hits(), 2);
}

#[tokio::test]
async fn errors_never_quote_the_token() {
    let (_server, verifier) = setup().await;
    let token = mint(&Signer::Rs256(other_rsa()), KID, &claims());
    let sig = token.rsplit('.').next().unwrap();
    let err = verifier.verify(&token).await.unwrap_err().to_string();
    assert!(!err.contains(sig) && !err.contains(&token[..20]), "{err}");
}
