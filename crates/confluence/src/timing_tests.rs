//! Retry and pacing timing on tokio's paused clock, through the in-memory transport: the time a
//! call actually waited is compared with the announced `Retry-After` (plus its jitter bound),
//! with the backoff bounds, and with the rate cap. Paused time advances only while every task
//! sleeps, so the measured durations are exact.

use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::json;
use tokio::time::Instant;

use crate::pacing::RateLimit;
use crate::retry::{RetryPolicy, retry_after_spread};
use crate::test_support::{Hits, cloud_client};

fn page(id: &str) -> serde_json::Value {
    json!({"id": id, "title": "T", "spaceId": "456", "version": {"number": 1}})
}

/// The first `n` requests get `status` with `Retry-After: retry_after` (if any), then 200.
fn refuse_first(n: usize, status: StatusCode, retry_after: Option<String>, hits: Hits) -> Router {
    let handler = move |State(hits): State<Hits>| {
        let retry_after = retry_after.clone();
        async move {
            if hits.hit() < n {
                let mut resp = (status, "{}").into_response();
                if let Some(v) = retry_after {
                    resp.headers_mut().insert("retry-after", v.parse().unwrap());
                }
                return resp;
            }
            axum::Json(page("1")).into_response()
        }
    };
    Router::new()
        .route("/wiki/api/v2/pages/1", get(handler.clone()))
        .route("/wiki/api/v2/footer-comments", post(handler))
        .with_state(hits)
}

fn between(d: Duration, low: Duration, high: Duration) -> bool {
    d >= low && d <= high
}

#[tokio::test(start_paused = true)]
async fn waits_the_announced_retry_after_seconds_plus_bounded_jitter() {
    let hits = Hits::new();
    let c = cloud_client(refuse_first(
        1,
        StatusCode::TOO_MANY_REQUESTS,
        Some("7".into()),
        hits.clone(),
    ));
    let start = Instant::now();
    c.get_page("1").await.unwrap();
    let waited = start.elapsed();
    let ra = Duration::from_secs(7);
    assert!(
        between(waited, ra, ra + retry_after_spread(ra)),
        "{waited:?}"
    );
    assert_eq!(
        hits.times()[1],
        waited,
        "the retry went out when the wait ended"
    );
    let s = c.stats();
    assert_eq!((s.requests, s.throttled, s.retries), (2, 1, 1));
}

#[tokio::test(start_paused = true)]
async fn waits_until_an_http_date_retry_after() {
    let hits = Hits::new();
    // HTTP dates have whole seconds, so the announced wait is between 9 and 10 seconds.
    let when = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(10));
    let c = cloud_client(refuse_first(
        1,
        StatusCode::SERVICE_UNAVAILABLE,
        Some(when),
        hits.clone(),
    ));
    let start = Instant::now();
    c.get_page("1").await.unwrap();
    let waited = start.elapsed();
    let high = Duration::from_secs(10) + retry_after_spread(Duration::from_secs(10));
    assert!(between(waited, Duration::from_secs(9), high), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn absurd_retry_after_is_clamped() {
    let hits = Hits::new();
    let c = cloud_client(refuse_first(
        1,
        StatusCode::TOO_MANY_REQUESTS,
        Some("9223372036854775807".into()),
        hits,
    ));
    let start = Instant::now();
    c.get_page("1").await.unwrap();
    let cap = RetryPolicy::default().retry_after_cap;
    let waited = start.elapsed();
    assert!(
        between(waited, cap, cap + retry_after_spread(cap)),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn server_errors_back_off_exponentially_within_jitter_bounds() {
    let hits = Hits::new();
    let c = cloud_client(refuse_first(3, StatusCode::BAD_GATEWAY, None, hits.clone()));
    c.get_page("1").await.unwrap();
    let t = hits.times();
    assert_eq!(t.len(), 4);
    // Backoff before retry n is in [c/2, c] with c = 500 ms * 2^(n-1).
    let ms = Duration::from_millis;
    for (i, full) in [(1, ms(500)), (2, ms(1000)), (3, ms(2000))] {
        let gap = t[i] - t[i - 1];
        assert!(between(gap, full / 2, full), "gap {i}: {gap:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn exhausted_rate_limiting_is_unavailable_after_max_attempts() {
    let hits = Hits::new();
    let c = cloud_client(refuse_first(
        100,
        StatusCode::TOO_MANY_REQUESTS,
        Some("2".into()),
        hits.clone(),
    ));
    let err = c.get_page("1").await.unwrap_err();
    assert!(err.is_unavailable() && err.status() == Some(429), "{err:?}");
    assert_eq!(hits.count(), 5);
    let t = hits.times();
    for pair in t.windows(2) {
        let gap = pair[1] - pair[0];
        let ra = Duration::from_secs(2);
        assert!(between(gap, ra, ra + retry_after_spread(ra)), "{gap:?}");
    }
    assert_eq!(c.stats().max_consecutive_throttled, 5);
}

#[tokio::test(start_paused = true)]
async fn a_refused_create_is_retried_but_a_failed_one_is_not() {
    let hits = Hits::new();
    let c = cloud_client(refuse_first(
        1,
        StatusCode::SERVICE_UNAVAILABLE,
        Some("1".into()),
        hits.clone(),
    ));
    // 503 proves the comment was not created: one retry, after the announced second.
    c.create_footer_comment("1", "<p>r</p>").await.unwrap();
    assert_eq!(hits.count(), 2);
    assert!(hits.times()[1] >= Duration::from_secs(1));

    let hits = Hits::new();
    let c = cloud_client(refuse_first(
        1,
        StatusCode::INTERNAL_SERVER_ERROR,
        None,
        hits.clone(),
    ));
    // 500 may come after the comment was stored: never sent twice.
    let err = c.create_footer_comment("1", "<p>r</p>").await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert_eq!(hits.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_429_pauses_other_requests_of_every_clone() {
    let hits = Hits::new();
    let c = cloud_client(refuse_first(
        1,
        StatusCode::TOO_MANY_REQUESTS,
        Some("3".into()),
        hits.clone(),
    ));
    let first = {
        let c = c.clone();
        tokio::spawn(async move { c.get_page("1").await })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    // This clone asks one second into the pause and must not be sent before it ends.
    let second = c.clone().get_page("1").await;
    assert!(second.is_ok() && first.await.unwrap().is_ok());
    let t = hits.times();
    assert_eq!(t.len(), 3, "{t:?}");
    assert!(t[1..].iter().all(|d| *d >= Duration::from_secs(3)), "{t:?}");
    assert_eq!(c.stats().throttled, 1, "no second refusal");
}

#[tokio::test(start_paused = true)]
async fn the_rate_cap_spaces_requests() {
    let hits = Hits::new();
    let c = cloud_client(refuse_first(0, StatusCode::OK, None, hits.clone()));
    c.set_rate_limit(Some(RateLimit::new(10.0, 1).unwrap()));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let c = c.clone();
        tasks.spawn(async move { c.get_page("1").await.map(|_| ()) });
    }
    for r in tasks.join_all().await {
        r.unwrap();
    }
    let t = hits.times();
    let want: Vec<Duration> = (0..20).map(|i| Duration::from_millis(100 * i)).collect();
    assert_eq!(t, want);
    assert_eq!(c.rate_limit().unwrap().per_second(), 10.0);
}
