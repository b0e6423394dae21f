//! The CLI's cached sign-in verified against a provider served over HTTPS: the Confluence
//! account id is read from the verified ID token, and an expired or altered cached token is
//! refused.

mod common;

use arkbridge_identity::{IdentityError, TokenCache, TokenSet, verify_cached};
use common::oidc::{id_claims, setup_with, signed};
use common::{now, with};
use secrecy::SecretString;
use serde_json::json;

fn cached(id_token: String) -> (tempfile::TempDir, TokenCache) {
    let dir = tempfile::tempdir().unwrap();
    let cache = TokenCache::in_dir(dir.path(), "https://idp.test", "arkbridge-web");
    let set = TokenSet {
        id_token: SecretString::from(id_token),
        access_token: SecretString::from("unused".to_string()),
        refresh_token: None,
        expires_in: None,
    };
    cache.save(&set, now()).unwrap();
    (dir, cache)
}

#[tokio::test]
async fn a_cached_id_token_yields_the_user_and_the_account_claim_many_times() {
    let (server, verifier) = setup_with(|c| c.single_use_id_tokens = false).await;
    let claims = with(
        id_claims(&server.base),
        "atlassian_account_id",
        json!("557058:alice"),
    );
    let (_dir, cache) = cached(signed(&claims));
    let tokens = cache.load().unwrap().unwrap();
    for _ in 0..2 {
        let (user, account) = verify_cached(&verifier, &tokens, Some("atlassian_account_id"))
            .await
            .unwrap();
        assert_eq!(user.subject, "00u1alice");
        assert_eq!(user.email.as_deref(), Some("alice@example.com"));
        assert_eq!(account.as_deref(), Some("557058:alice"));
    }
    let (_, none) = verify_cached(&verifier, &tokens, Some("missing_claim"))
        .await
        .unwrap();
    assert!(none.is_none());
}

#[tokio::test]
async fn an_expired_or_altered_cached_token_is_refused() {
    let (server, verifier) = setup_with(|c| c.single_use_id_tokens = false).await;
    let expired = with(
        with(id_claims(&server.base), "exp", json!(now() - 120)),
        "iat",
        json!(now() - 3720),
    );
    let (_dir, cache) = cached(signed(&expired));
    let tokens = cache.load().unwrap().unwrap();
    let err = verify_cached(&verifier, &tokens, None).await.unwrap_err();
    assert!(matches!(err, IdentityError::Expired { .. }), "{err}");

    let good = signed(&id_claims(&server.base));
    let mut parts: Vec<&str> = good.split('.').collect();
    let other = signed(&with(id_claims(&server.base), "sub", json!("00u1mallory")));
    parts[1] = other.split('.').nth(1).unwrap();
    let (_dir, cache) = cached(parts.join("."));
    let tokens = cache.load().unwrap().unwrap();
    let err = verify_cached(&verifier, &tokens, None).await.unwrap_err();
    assert!(matches!(err, IdentityError::BadSignature), "{err}");
}
