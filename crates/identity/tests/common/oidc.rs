//! OIDC fixtures: a provider on the loopback HTTPS server, a verifier configured for it, and
//! the claims of an Okta-style ID token and access token.

use std::sync::atomic::{AtomicU64, Ordering};

use arkbridge_identity::{OidcConfig, OidcVerifier};
use serde_json::{Value, json};

use super::{Signer, TestServer, mint, now, rsa, serve};

pub const KID: &str = "okta-key-1";
pub const CLIENT: &str = "arkbridge-web";
pub const API: &str = "api://arkbridge";

pub fn jti() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("id-{}", N.fetch_add(1, Ordering::SeqCst))
}

pub fn id_claims(issuer: &str) -> Value {
    let now = now();
    json!({
        "iss": issuer, "aud": CLIENT, "sub": "00u1alice", "iat": now, "exp": now + 3600,
        "jti": jti(), "email": "alice@example.com", "email_verified": true,
        "groups": ["ops-admins", "everyone"], "nonce": "n-123"
    })
}

pub fn access_claims(issuer: &str) -> Value {
    let now = now();
    json!({
        "iss": issuer, "aud": API, "sub": "00u1alice", "cid": CLIENT, "iat": now,
        "exp": now + 3600, "jti": jti(), "scp": ["openid"], "groups": ["ops-admins"]
    })
}

pub async fn setup() -> (TestServer, OidcVerifier) {
    setup_with(|_| {}).await
}

pub async fn setup_with(adjust: impl FnOnce(&mut OidcConfig)) -> (TestServer, OidcVerifier) {
    let server = serve(vec![rsa().jwk(KID)]).await;
    let mut config = OidcConfig::new(server.base.clone(), CLIENT);
    config.api_audience = Some(API.into());
    config.ca_cert = Some(server.ca_path.clone());
    adjust(&mut config);
    let verifier = OidcVerifier::new(config).unwrap();
    (server, verifier)
}

pub fn signed(claims: &Value) -> String {
    mint(&Signer::Rs256(rsa()), KID, claims)
}
