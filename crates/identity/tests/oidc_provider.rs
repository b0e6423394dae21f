//! The OIDC provider side: discovery (issuer checks, sparing retries, a configured JWKS URL
//! instead), TLS trust, the algorithm allow-list across key types, and the configurable groups
//! and email claims.

mod common;

use arkbridge_identity::{Alg, IdentityError, OidcConfig, OidcVerifier};
use common::oidc::{CLIENT, KID, id_claims, setup, setup_with, signed};
use common::{EcKey, Signer, mint, refused, rsa, serve, with};
use serde_json::json;

#[tokio::test]
async fn nested_groups_claim_and_unverified_email() {
    let (server, verifier) = setup_with(|c| c.groups_claim = "realm_access.roles".into()).await;
    let c = with(
        id_claims(&server.base),
        "realm_access",
        json!({"roles": ["dba"]}),
    );
    let c = with(c, "email_verified", json!(false));
    let user = verifier.verify_id_token(&signed(&c), None).await.unwrap();
    assert_eq!(user.groups, ["dba"]);
    assert_eq!(user.email, None, "an unverified email is not an identity");
}

#[tokio::test]
async fn groups_of_the_wrong_type_are_refused() {
    let (server, verifier) = setup().await;
    let c = with(id_claims(&server.base), "groups", json!({"ops": true}));
    refused(
        verifier.verify_id_token(&signed(&c), None).await,
        |e| matches!(e, IdentityError::InvalidClaim { .. }),
        "groups",
    );
}

#[tokio::test]
async fn es256_and_ps256_follow_the_allow_list() {
    let ec = EcKey::generate();
    let (server, verifier) =
        setup_with(|c| c.algs = vec![Alg::Rs256, Alg::Es256, Alg::Ps256]).await;
    server.set_jwks(vec![rsa().jwk_any_alg(KID), ec.jwk("ec-1")]);
    let es = mint(&Signer::Es256(&ec), "ec-1", &id_claims(&server.base));
    verifier.verify_id_token(&es, None).await.unwrap();
    let ps = mint(&Signer::Ps256(rsa()), KID, &id_claims(&server.base));
    verifier.verify_id_token(&ps, None).await.unwrap();
    // An ES256 header naming the RSA key cannot pick it.
    let confused = mint(&Signer::Es256(&ec), KID, &id_claims(&server.base));
    refused(
        verifier.verify_id_token(&confused, None).await,
        |e| matches!(e, IdentityError::UnknownKid { .. }),
        KID,
    );

    let (server, rs_only) = setup().await;
    server.set_jwks(vec![rsa().jwk(KID), ec.jwk("ec-1")]);
    let es = mint(&Signer::Es256(&ec), "ec-1", &id_claims(&server.base));
    refused(
        rs_only.verify_id_token(&es, None).await,
        |e| matches!(e, IdentityError::AlgNotAllowed { .. }),
        "ES256",
    );
}

#[tokio::test]
async fn discovery_naming_another_issuer_is_refused_and_retried_sparingly() {
    let (server, verifier) = setup().await;
    *server.served.discovery.lock().unwrap() = Some(json!({
        "issuer": "https://evil.example.com",
        "jwks_uri": server.jwks_url(),
    }));
    let token = signed(&id_claims(&server.base));
    refused(
        verifier.verify_id_token(&token, None).await,
        |e| matches!(e, IdentityError::Discovery { .. }),
        "evil.example.com",
    );
    refused(
        verifier.verify_id_token(&token, None).await,
        |e| matches!(e, IdentityError::Discovery { .. }),
        "retried at most",
    );
    assert_eq!(server.discovery_hits(), 1);
    assert_eq!(server.jwks_hits(), 0);
}

#[tokio::test]
async fn configured_jwks_url_needs_no_discovery() {
    let server = serve(vec![rsa().jwk(KID)]).await;
    let mut config = OidcConfig::new(server.base.clone(), CLIENT);
    config.jwks_url = Some(server.jwks_url());
    config.ca_cert = Some(server.ca_path.clone());
    let verifier = OidcVerifier::new(config).unwrap();
    verifier
        .verify_id_token(&signed(&id_claims(&server.base)), None)
        .await
        .unwrap();
    assert_eq!(server.discovery_hits(), 0);
    let metadata = verifier.metadata().await.unwrap();
    assert_eq!(
        metadata.device_authorization_endpoint,
        Some(format!("{}/device", server.base))
    );
    assert_eq!(server.discovery_hits(), 1);
}

#[tokio::test]
async fn untrusted_server_certificate_is_refused() {
    let server = serve(vec![rsa().jwk(KID)]).await;
    // The Mozilla roots do not know the test CA.
    let verifier = OidcVerifier::new(OidcConfig::new(server.base.clone(), CLIENT)).unwrap();
    let err = verifier
        .verify_id_token(&signed(&id_claims(&server.base)), None)
        .await
        .unwrap_err();
    assert!(matches!(err, IdentityError::Fetch { .. }), "{err:?}");
    assert_eq!(server.discovery_hits(), 0);
}
