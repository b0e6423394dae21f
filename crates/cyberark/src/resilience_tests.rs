//! Retry and circuit-breaker behaviour of the real clients against the local fake server, on
//! paused tokio time: exact request counts at the server, and the waits seen as elapsed paused
//! time (jitter is switched off so the waits are exactly 200 ms, 400 ms ...).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

use crate::fake::{Fake, Reply, TOKEN_JSON, ccp_config, dead_url, pvwa_config, reply};
use crate::{
    BreakerConfig, CcpClient, CcpQuery, CircuitState, CyberArkError, PvwaClient, Resilience,
    RetryPolicy,
};

const ACCOUNT: &str = r#"{"Content":"s3cr3t-hunter","UserName":"payments","Safe":"Prod-DB","Name":"payments-db","PasswordChangeInProcess":"False"}"#;
const NOT_FOUND: &str = r#"{"ErrorCode":"APPAP004E","ErrorMsg":"Password object matching query [Safe=Prod-DB;Folder=Root;Object=x] was not found (Diagnostic Info: 5)."}"#;
const DENIED: &str = r#"{"ErrorCode":"APPAP306E","ErrorMsg":"App failed on authentication check"}"#;
const PVWA_ACCOUNT: &str = r#"{"id":"77_4","name":"payments-db","safeName":"Prod-DB"}"#;

fn resilience(endpoint: &'static str, threshold: u32) -> Resilience {
    Resilience::new(
        endpoint,
        RetryPolicy::default(),
        BreakerConfig {
            failure_threshold: threshold,
            cool_down: Duration::from_secs(30),
        },
    )
    .without_jitter()
}

fn ccp(fake_url: &str, threshold: u32) -> CcpClient {
    CcpClient::with_resilience(&ccp_config(fake_url), resilience("ccp", threshold)).unwrap()
}

fn query() -> CcpQuery {
    CcpQuery::for_account("Prod-DB", "payments-db")
}

async fn pvwa(fake: &Fake, threshold: u32) -> PvwaClient {
    PvwaClient::logon_with(
        &pvwa_config(&fake.url),
        &SecretString::from("pw-hunter2"),
        resilience("pvwa", threshold),
    )
    .await
    .unwrap()
}

/// A PVWA fake: logon succeeds, everything else answers `other`.
async fn pvwa_fake(other: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Fake {
    Fake::start(move |req, n| {
        if req.path.ends_with("/Logon") {
            reply(200, TOKEN_JSON)
        } else {
            other(n)
        }
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn ccp_retries_503_then_succeeds() {
    let fake = Fake::start(|_, n| match n {
        0 => reply(503, "<html>Service Unavailable</html>"),
        _ => reply(200, ACCOUNT),
    })
    .await;
    let start = Instant::now();
    let account = ccp(&fake.url, 5).get(&query()).await.unwrap();
    assert_eq!(account.content().expose_secret(), "s3cr3t-hunter");
    assert_eq!(fake.count("/AIMWebService/api/Accounts"), 2);
    assert!(
        fake.seen()[1]
            .query
            .starts_with("AppID=arkbridge&Safe=Prod-DB")
    );
    assert_eq!(start.elapsed(), Duration::from_millis(200));
}

#[tokio::test(start_paused = true)]
async fn ccp_does_not_retry_404_appap004e() {
    let fake = Fake::start(|_, _| reply(404, NOT_FOUND)).await;
    let start = Instant::now();
    let err = ccp(&fake.url, 5).get(&query()).await.unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(404), Some("APPAP004E")));
    assert_eq!(fake.seen().len(), 1);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn ccp_does_not_retry_403_or_a_change_in_progress() {
    let fake = Fake::start(|_, _| reply(403, DENIED)).await;
    let err = ccp(&fake.url, 5).get(&query()).await.unwrap_err();
    assert!(!err.is_unavailable());
    assert_eq!(fake.seen().len(), 1);
    let fake = Fake::start(|_, _| {
        reply(
            500,
            r#"{"ErrorCode":"APPAP282E","ErrorMsg":"being changed by the CPM"}"#,
        )
    })
    .await;
    let err = ccp(&fake.url, 5).get(&query()).await.unwrap_err();
    assert!(
        matches!(err, CyberArkError::ChangeInProgress { .. }),
        "{err:?}"
    );
    assert_eq!(fake.seen().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn ccp_retries_vault_unreachable_appap007e() {
    let fake = Fake::start(|_, n| match n {
        0 | 1 => reply(
            400,
            r#"{"ErrorCode":"APPAP007E","ErrorMsg":"Connection to the Vault has failed"}"#,
        ),
        _ => reply(200, ACCOUNT),
    })
    .await;
    let start = Instant::now();
    ccp(&fake.url, 5).get(&query()).await.unwrap();
    assert_eq!(fake.seen().len(), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(600));
}

#[tokio::test(start_paused = true)]
async fn retry_exhaustion_returns_the_last_unavailable_error() {
    let fake = Fake::start(|_, n| {
        reply(
            503,
            &format!(r#"{{"ErrorCode":"X","ErrorMsg":"attempt {n}"}}"#),
        )
    })
    .await;
    let start = Instant::now();
    let err = ccp(&fake.url, 10).get(&query()).await.unwrap_err();
    assert!(err.is_unavailable());
    assert!(err.to_string().contains("attempt 2"), "{err}");
    assert_eq!(fake.seen().len(), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(600));
}

#[tokio::test(start_paused = true)]
async fn ccp_connection_refused_is_retried() {
    let url = dead_url().await;
    let start = Instant::now();
    let err = ccp(&url, 10).get(&query()).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(err.to_string().contains("connection failed"), "{err}");
    assert_eq!(start.elapsed(), Duration::from_millis(600));
}

#[tokio::test(start_paused = true)]
async fn breaker_opens_fails_fast_half_opens_and_closes() {
    let up = Arc::new(AtomicBool::new(false));
    let flag = up.clone();
    let fake = Fake::start(move |_, _| {
        if flag.load(Ordering::SeqCst) {
            reply(200, ACCOUNT)
        } else {
            reply(503, "")
        }
    })
    .await;
    let client = ccp(&fake.url, 5);
    let clone = client.clone();
    // 3 attempts, then 2 more: the fifth failure opens the circuit mid-retry.
    assert!(client.get(&query()).await.unwrap_err().is_unavailable());
    let err = client.get(&query()).await.unwrap_err();
    assert!(
        err.is_unavailable() && err.to_string().contains("circuit open"),
        "{err}"
    );
    assert_eq!(fake.seen().len(), 5);
    assert_eq!(client.resilience().breaker().state(), CircuitState::Open);
    // Open: fails fast on every clone, without a request and without waiting.
    let before = Instant::now();
    let err = clone.get(&query()).await.unwrap_err();
    assert!(
        err.is_unavailable() && err.to_string().contains("circuit open"),
        "{err}"
    );
    assert_eq!((fake.seen().len(), before.elapsed()), (5, Duration::ZERO));
    // After the cool-down one trial goes through; it fails, so the circuit reopens.
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(clone.resilience().breaker().state(), CircuitState::HalfOpen);
    assert!(client.get(&query()).await.unwrap_err().is_unavailable());
    assert_eq!(fake.seen().len(), 6);
    assert!(client.get(&query()).await.is_err());
    assert_eq!(fake.seen().len(), 6);
    // Next cool-down: the trial succeeds and closes the circuit.
    up.store(true, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(30)).await;
    client.get(&query()).await.unwrap();
    assert_eq!(client.resilience().breaker().state(), CircuitState::Closed);
    clone.get(&query()).await.unwrap();
    assert_eq!(fake.seen().len(), 8);
}

#[tokio::test(start_paused = true)]
async fn refusals_do_not_open_the_breaker() {
    let fake = Fake::start(|_, _| reply(404, NOT_FOUND)).await;
    let client = ccp(&fake.url, 2);
    for _ in 0..4 {
        assert!(!client.get(&query()).await.unwrap_err().is_unavailable());
    }
    assert_eq!(fake.seen().len(), 4);
    assert_eq!(client.resilience().breaker().state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn pvwa_logon_and_get_are_retried() {
    let fake = Fake::start(|req, n| match (req.path.ends_with("/Logon"), n) {
        (true, 0) => reply(502, ""),
        (true, _) => reply(200, TOKEN_JSON),
        (false, 2) => reply(503, ""),
        (false, _) => reply(200, PVWA_ACCOUNT),
    })
    .await;
    let start = Instant::now();
    let client = pvwa(&fake, 5).await;
    assert_eq!(fake.count("/Logon"), 2);
    let account = client.get_account("77_4").await.unwrap();
    assert_eq!(account.id, "77_4");
    assert_eq!(fake.count("/Accounts/77_4"), 2);
    assert_eq!(start.elapsed(), Duration::from_millis(400));
}

#[tokio::test(start_paused = true)]
async fn pvwa_does_not_retry_403() {
    let fake = pvwa_fake(|_| {
        reply(403, r#"{"ErrorCode":"PASWS041E","ErrorMessage":"You are not authorized to perform this action."}"#)
    })
    .await;
    let client = pvwa(&fake, 5).await;
    let err = client.get_account("77_4").await.unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(403), Some("PASWS041E")));
    assert_eq!(fake.count("/Accounts/77_4"), 1);
}

#[tokio::test(start_paused = true)]
async fn pvwa_change_is_not_retried_after_an_answer_or_a_timeout() {
    let fake = pvwa_fake(|_| reply(503, "")).await;
    let client = pvwa(&fake, 10).await;
    assert!(client.change("77_4").await.unwrap_err().is_unavailable());
    assert!(client.check_in("77_4").await.unwrap_err().is_unavailable());
    assert_eq!((fake.count("/Change"), fake.count("/CheckIn")), (1, 1));

    let fake = pvwa_fake(|_| Reply::Hang).await;
    let client = pvwa(&fake, 10).await;
    let start = Instant::now();
    let err = client.change("77_4").await.unwrap_err();
    assert!(
        err.is_unavailable() && err.to_string().contains("timed out"),
        "{err}"
    );
    assert_eq!(fake.count("/Change"), 1);
    assert_eq!(start.elapsed(), Duration::from_secs(60));
    // A GET that times out is retried.
    let start = Instant::now();
    assert!(
        client
            .get_account("77_4")
            .await
            .unwrap_err()
            .is_unavailable()
    );
    assert_eq!(fake.count("/Accounts/77_4"), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(180_600));
}

#[tokio::test(start_paused = true)]
async fn pvwa_change_is_retried_when_the_connection_was_refused() {
    let url = dead_url().await;
    let client = PvwaClient::build(
        &pvwa_config(&url),
        &SecretString::from("pw"),
        resilience("pvwa", 10),
    )
    .unwrap();
    let start = Instant::now();
    let err = client.change("77_4").await.unwrap_err();
    assert!(err.to_string().contains("connection failed"), "{err}");
    // Three attempts: waits of 200 and 400 ms between them.
    assert_eq!(start.elapsed(), Duration::from_millis(600));
}

#[tokio::test(start_paused = true)]
async fn pvwa_breaker_is_shared_by_clones() {
    let fake = pvwa_fake(|_| reply(500, "")).await;
    let client = pvwa(&fake, 3).await;
    let clone = client.clone();
    assert!(client.get_account("77_4").await.is_err());
    assert_eq!(fake.count("/Accounts/77_4"), 3);
    let err = clone.change("77_4").await.unwrap_err();
    assert!(err.to_string().contains("circuit open"), "{err}");
    assert_eq!(fake.count("/Change"), 0);
    assert!(!format!("{clone:?}").contains("hunter2"));
}
