//! The verifiers are shared by the server's request handlers and the engine: they must be
//! `Send + Sync`, and the futures of their `verify` calls `Send`, so they can live in an `Arc`
//! and be awaited inside spawned tasks. Building one makes no request.

use std::sync::Arc;

use arkbridge_identity::{
    Alg, DcWebhookVerifier, ForgeConfig, ForgeVerifier, JwksCache, JwksSettings, JwtRules,
    JwtVerifier, OidcConfig, OidcVerifier, https_client,
};
use reqwest::header::HeaderMap;
use secrecy::SecretString;

fn shareable<T: Send + Sync + 'static>(_: &T) {}
fn sendable<F: std::future::Future + Send>(_: F) {}

#[test]
fn verifiers_are_shareable_and_their_futures_sendable() {
    let forge =
        ForgeVerifier::new(&ForgeConfig::new("2b9d8f3e-1c4a-4f6e-9a1b-0c2d3e4f5a6b")).unwrap();
    shareable(&forge);
    sendable(forge.verify("a.b.c"));
    let headers = HeaderMap::new();
    sendable(forge.verify_headers(&headers));

    let oidc = OidcVerifier::new(OidcConfig::new("https://idp.example.com", "client")).unwrap();
    shareable(&oidc);
    sendable(oidc.verify("a.b.c"));
    sendable(oidc.verify_id_token("a.b.c", None));
    sendable(oidc.metadata());

    let jwks = Arc::new(JwksCache::https(
        https_client(None).unwrap(),
        "https://idp.example.com/keys".parse().unwrap(),
        JwksSettings::default(),
    ));
    let rules = JwtRules {
        issuer: "https://idp.example.com".into(),
        audience: "a".into(),
        algs: vec![Alg::Rs256],
        skew: std::time::Duration::from_secs(5),
        single_use: false,
        replay_capacity: 10,
    };
    let jwt = JwtVerifier::new(jwks, rules).unwrap();
    shareable(&jwt);
    sendable(jwt.verify("a.b.c"));

    let hook = DcWebhookVerifier::new(&SecretString::from("s")).unwrap();
    shareable(&hook);
}

#[test]
fn unusable_rules_are_refused_at_construction() {
    let jwks = Arc::new(JwksCache::https(
        https_client(None).unwrap(),
        "https://idp.example.com/keys".parse().unwrap(),
        JwksSettings::default(),
    ));
    let mut rules = JwtRules {
        issuer: "https://idp.example.com".into(),
        audience: "a".into(),
        algs: vec![],
        skew: std::time::Duration::from_secs(5),
        single_use: false,
        replay_capacity: 10,
    };
    assert!(JwtVerifier::new(jwks.clone(), rules.clone()).is_err());
    rules.algs = vec![Alg::Rs256];
    rules.audience = String::new();
    assert!(JwtVerifier::new(jwks.clone(), rules.clone()).is_err());
    let mut forge = ForgeConfig::new("not a uuid");
    assert!(ForgeVerifier::new(&forge).is_err());
    forge.app_id = "2b9d8f3e-1c4a-4f6e-9a1b-0c2d3e4f5a6b".into();
    forge.jwks_url = "http://forge.example.com/jwks.json".into();
    let err = ForgeVerifier::new(&forge).unwrap_err().to_string();
    assert!(err.contains("https"), "{err}");
}
