//! The JWKS cache and the replay cache on tokio's paused clock: refetch on an unknown `kid` is
//! rate-limited, the set is refreshed after its TTL, a failing provider is tolerated for the
//! grace period and then verification fails closed, and replay protection lasts exactly as long
//! as the token could be accepted.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arkbridge_identity::{
    Alg, Clock, FetchFuture, IdentityError, JwksCache, JwksFetcher, JwksSettings, JwtRules,
    JwtVerifier,
};
use common::{Signer, mint, other_rsa, rsa};
use serde_json::{Value, json};

/// Unix time at the start of every test.
const T0: i64 = 1_800_000_000;

/// An in-memory key set whose content and failures the test controls.
#[derive(Clone)]
struct Fake {
    doc: Arc<Mutex<Result<Value, String>>>,
    fetches: Arc<AtomicUsize>,
}

impl Fake {
    fn new(keys: Vec<Value>) -> Self {
        Self {
            doc: Arc::new(Mutex::new(Ok(json!({ "keys": keys })))),
            fetches: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn publish(&self, keys: Vec<Value>) {
        *self.doc.lock().unwrap() = Ok(json!({ "keys": keys }));
    }

    fn fail(&self) {
        *self.doc.lock().unwrap() = Err("HTTP status 503".into());
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl JwksFetcher for Fake {
    fn fetch(&self) -> FetchFuture<'_> {
        Box::pin(async move {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            // A slow provider, so that concurrent lookups overlap with the fetch.
            tokio::time::sleep(Duration::from_millis(200)).await;
            match &*self.doc.lock().unwrap() {
                Ok(doc) => Ok(doc.to_string().into_bytes()),
                Err(reason) => Err(IdentityError::Fetch {
                    what: "JWKS",
                    url: "memory".into(),
                    reason: reason.clone(),
                }),
            }
        })
    }

    fn location(&self) -> String {
        "memory".into()
    }
}

const SETTINGS: JwksSettings = JwksSettings {
    ttl: Duration::from_secs(600),
    min_refetch_interval: Duration::from_secs(30),
    stale_grace: Duration::from_secs(600),
};

fn verifier(fake: &Fake, single_use: bool) -> JwtVerifier {
    let rules = JwtRules {
        issuer: "https://idp.test".into(),
        audience: "arkbridge".into(),
        algs: vec![Alg::Rs256],
        skew: Duration::from_secs(5),
        single_use,
        replay_capacity: 1000,
    };
    let jwks = Arc::new(JwksCache::new(fake.clone(), SETTINGS));
    JwtVerifier::new(jwks, rules)
        .unwrap()
        .with_clock(Clock::tokio_anchored(T0))
}

fn token(kid: &str, lifetime: i64, jti: &str) -> String {
    let key = if kid == "b" { other_rsa() } else { rsa() };
    let claims = json!({"iss": "https://idp.test", "aud": "arkbridge", "sub": "alice",
                        "iat": T0, "exp": T0 + lifetime, "jti": jti});
    mint(&Signer::Rs256(key), kid, &claims)
}

#[tokio::test(start_paused = true)]
async fn refetch_on_unknown_kid_is_rate_limited() {
    let fake = Fake::new(vec![rsa().jwk("a")]);
    let v = verifier(&fake, false);
    v.verify(&token("a", 86_400, "1")).await.unwrap();
    assert_eq!(fake.fetches(), 1);

    // "b" is not published yet; a burst of tokens naming it causes no fetch within 30 s.
    for _ in 0..10 {
        let err = v.verify(&token("b", 86_400, "2")).await.unwrap_err();
        assert!(matches!(err, IdentityError::UnknownKid { .. }), "{err:?}");
    }
    assert_eq!(fake.fetches(), 1);

    // Published now, but still within the interval: refused without a fetch.
    fake.publish(vec![rsa().jwk("a"), other_rsa().jwk("b")]);
    tokio::time::advance(Duration::from_secs(20)).await;
    assert!(v.verify(&token("b", 86_400, "3")).await.is_err());
    assert_eq!(fake.fetches(), 1);

    // Past the interval one fetch finds it.
    tokio::time::advance(Duration::from_secs(11)).await;
    v.verify(&token("b", 86_400, "4")).await.unwrap();
    assert_eq!(fake.fetches(), 2);

    // Known keys never cause a fetch.
    for _ in 0..5 {
        v.verify(&token("a", 86_400, "5")).await.unwrap();
    }
    assert_eq!(fake.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn concurrent_lookups_of_a_new_kid_share_one_fetch() {
    let fake = Fake::new(vec![rsa().jwk("a")]);
    let v = Arc::new(verifier(&fake, false));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let v = v.clone();
        tasks.spawn(async move { v.verify(&token("a", 86_400, &i.to_string())).await });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
    }
    assert_eq!(fake.fetches(), 1);
}

#[tokio::test(start_paused = true)]
async fn key_set_is_refreshed_after_its_ttl_and_removed_keys_stop_working() {
    let fake = Fake::new(vec![rsa().jwk("a")]);
    let v = verifier(&fake, false);
    v.verify(&token("a", 86_400, "1")).await.unwrap();
    fake.publish(vec![other_rsa().jwk("b")]);
    tokio::time::advance(Duration::from_secs(599)).await;
    v.verify(&token("a", 86_400, "2")).await.unwrap();
    assert_eq!(fake.fetches(), 1, "still fresh");
    tokio::time::advance(Duration::from_secs(2)).await;
    let err = v.verify(&token("a", 86_400, "3")).await.unwrap_err();
    assert!(matches!(err, IdentityError::UnknownKid { .. }), "{err:?}");
    assert_eq!(fake.fetches(), 2);
    v.verify(&token("b", 86_400, "4")).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn known_keys_serve_without_waiting_while_a_refresh_is_in_flight() {
    let fake = Fake::new(vec![rsa().jwk("a")]);
    let v = Arc::new(verifier(&fake, false));
    v.verify(&token("a", 86_400, "1")).await.unwrap();
    tokio::time::advance(Duration::from_secs(601)).await;
    let refreshing = tokio::spawn({
        let v = v.clone();
        let t = token("a", 86_400, "2");
        async move { v.verify(&t).await }
    });
    // Let the spawned task start the refresh; the fake provider takes 200 ms to answer.
    tokio::task::yield_now().await;
    assert_eq!(fake.fetches(), 2, "the refresh is in flight");
    let started = tokio::time::Instant::now();
    v.verify(&token("a", 86_400, "3")).await.unwrap();
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "served from the stale set at once"
    );
    refreshing.await.unwrap().unwrap();
    assert_eq!(fake.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn failing_provider_is_tolerated_for_the_grace_period_then_fails_closed() {
    let fake = Fake::new(vec![rsa().jwk("a")]);
    let v = verifier(&fake, false);
    v.verify(&token("a", 86_400, "1")).await.unwrap();
    fake.fail();
    tokio::time::advance(Duration::from_secs(601)).await;
    v.verify(&token("a", 86_400, "2")).await.unwrap();
    assert_eq!(fake.fetches(), 2, "the refresh was tried and failed");
    tokio::time::advance(Duration::from_secs(600)).await;
    let err = v.verify(&token("a", 86_400, "3")).await.unwrap_err();
    assert!(matches!(err, IdentityError::Fetch { .. }), "{err:?}");
    assert!(err.to_string().contains("503"), "{err}");
    // The provider recovers: the next permitted fetch restores service.
    fake.publish(vec![rsa().jwk("a")]);
    tokio::time::advance(Duration::from_secs(30)).await;
    v.verify(&token("a", 86_400, "4")).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn unreachable_provider_at_start_is_a_clear_error_and_retried_sparingly() {
    let fake = Fake::new(vec![]);
    fake.fail();
    let v = verifier(&fake, false);
    let err = v.verify(&token("a", 86_400, "1")).await.unwrap_err();
    assert!(matches!(err, IdentityError::Fetch { .. }), "{err:?}");
    assert!(v.verify(&token("a", 86_400, "2")).await.is_err());
    assert_eq!(fake.fetches(), 1);
    fake.publish(vec![rsa().jwk("a")]);
    tokio::time::advance(Duration::from_secs(30)).await;
    v.verify(&token("a", 86_400, "3")).await.unwrap();
    assert_eq!(fake.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn replay_is_refused_for_the_whole_lifetime_and_then_the_token_is_expired() {
    let fake = Fake::new(vec![rsa().jwk("a")]);
    let v = verifier(&fake, true);
    let t = token("a", 25, "fit-1");
    v.verify(&t).await.unwrap();
    tokio::time::advance(Duration::from_secs(29)).await;
    let err = v.verify(&t).await.unwrap_err();
    assert!(matches!(err, IdentityError::Replay), "{err:?}");
    tokio::time::advance(Duration::from_secs(1)).await;
    let err = v.verify(&t).await.unwrap_err();
    assert!(matches!(err, IdentityError::Expired { .. }), "{err:?}");
    // Another token id is a new token.
    let other = token("a", 25, "fit-2");
    let err = v.verify(&other).await.unwrap_err();
    assert!(matches!(err, IdentityError::Expired { .. }), "{err:?}");
    assert!(v.verify(&token("a", 86_400, "fit-2")).await.is_ok());
}
