//! Client tests against a tiny plain-HTTP axum server on loopback, over real sockets: the
//! authentication header, retries (429 with `Retry-After: 0`, 503, no retry of a failed POST),
//! pagination through the `Link` header and `_links.next`, 404 and 409 mapping, connection
//! failures. Backoff is shortened to 1 ms; the timing itself is tested on the paused clock in
//! `timing_tests.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap as AxHeaders, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use arkbridge_core::config::ConfluenceConfig;
use secrecy::SecretString;
use serde_json::Value;

use crate::{ConfluenceClient, ConfluenceError, Page, RetryPolicy};

#[derive(Default)]
struct Hits {
    flaky: AtomicUsize,
    down: AtomicUsize,
    post: AtomicUsize,
}

const EXPECTED_AUTH: &str = "Basic Ym90QGV4YW1wbGUuY29tOnRvay1odW50ZXIy"; // bot@example.com:tok-hunter2

fn page(id: &str, version: u64) -> Value {
    json!({"id": id, "title": "Restart payments API", "spaceId": "456",
           "version": {"number": version, "authorId": "a1"},
           "body": {"storage": {"representation": "storage", "value": "<p>x</p>"}},
           "_links": {"webui": format!("/spaces/OPS/pages/{id}/Restart")}})
}

async fn flaky(State(h): State<Arc<Hits>>, headers: AxHeaders) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(EXPECTED_AUTH) {
        return (StatusCode::UNAUTHORIZED, "{}").into_response();
    }
    if h.flaky.fetch_add(1, Ordering::SeqCst) < 2 {
        return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "0")], "{}").into_response();
    }
    axum::Json(page("1", 3)).into_response()
}

async fn down(State(h): State<Arc<Hits>>) -> Response {
    h.down.fetch_add(1, Ordering::SeqCst);
    (StatusCode::SERVICE_UNAVAILABLE, "<html>maintenance</html>").into_response()
}

async fn comment_fails(State(h): State<Arc<Hits>>) -> Response {
    h.post.fetch_add(1, Ordering::SeqCst);
    (StatusCode::INTERNAL_SERVER_ERROR, "{}").into_response()
}

async fn list(Query(q): Query<std::collections::HashMap<String, String>>) -> Response {
    match q.get("cursor").map(String::as_str) {
        None => (
            [("link", "</wiki/api/v2/pages?cursor=c2>; rel=\"next\"")],
            axum::Json(json!({"results": [page("10", 1)], "_links": {}})),
        )
            .into_response(),
        Some("c2") => axum::Json(json!({"results": [page("11", 1)],
            "_links": {"next": "/wiki/api/v2/pages?cursor=c3"}}))
        .into_response(),
        Some("c3") => axum::Json(json!({"results": [], "_links": {}})).into_response(),
        Some(_) => (StatusCode::BAD_REQUEST, "{}").into_response(),
    }
}

async fn conflict() -> Response {
    let body = json!({"errors": [{"status": 409, "code": "CONFLICT",
        "title": "Version must be incremented when updating a page. Current Version: [9]. Provided version: [4]",
        "detail": null}]});
    (StatusCode::CONFLICT, axum::Json(body)).into_response()
}

async fn missing() -> Response {
    let body = json!({"errors": [{"status": 404, "code": "NOT_FOUND", "title": "Not Found", "detail": null}]});
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

async fn serve() -> (String, Arc<Hits>) {
    let hits = Arc::new(Hits::default());
    let app = Router::new()
        .route("/wiki/api/v2/pages/1", get(flaky))
        .route("/wiki/api/v2/pages/2", get(down).put(conflict))
        .route("/wiki/api/v2/pages/3", get(missing))
        .route("/wiki/api/v2/pages", get(list))
        .route("/wiki/api/v2/footer-comments", post(comment_fails))
        .with_state(hits.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.ok();
    });
    (format!("http://{addr}"), hits)
}

fn client(url: &str) -> ConfluenceClient {
    let cfg = crate::test_support::cloud_config(url);
    let policy = RetryPolicy {
        base: Duration::from_millis(1),
        cap: Duration::from_millis(2),
        ..RetryPolicy::default()
    };
    ConfluenceClient::new(&cfg, SecretString::from("tok-hunter2"))
        .unwrap()
        .with_retry_policy(policy)
}

#[tokio::test]
async fn retries_429_then_succeeds_with_basic_auth() {
    let (url, hits) = serve().await;
    let c = client(&url);
    let p = c.get_page("1").await.unwrap();
    assert_eq!((p.id.as_str(), p.version), ("1", 3));
    assert_eq!(hits.flaky.load(Ordering::SeqCst), 3);
    assert_eq!(
        c.page_url(&p).unwrap(),
        format!("{url}/wiki/spaces/OPS/pages/1/Restart")
    );
}

#[tokio::test]
async fn gives_up_after_max_attempts() {
    let (url, hits) = serve().await;
    let err = client(&url).get_page("2").await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert_eq!(err.status(), Some(503));
    assert!(err.to_string().contains("503"), "{err}");
    assert_eq!(
        hits.down.load(Ordering::SeqCst) as u32,
        RetryPolicy::default().max_attempts
    );
}

#[tokio::test]
async fn failed_post_is_not_retried() {
    let (url, hits) = serve().await;
    let err = client(&url)
        .create_footer_comment("5", "<p>r</p>")
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert_eq!(hits.post.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn follows_link_header_then_body_links() {
    let (url, _) = serve().await;
    let pages = client(&url)
        .find_pages("Restart payments API", Some("456"))
        .await
        .unwrap();
    let ids: Vec<&str> = pages.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["10", "11"]);
}

#[tokio::test]
async fn conflict_and_not_found() {
    let (url, _) = serve().await;
    let c = client(&url);
    let stale = Page::from_value(&page("2", 4)).unwrap();
    match c
        .update_page(&stale, "<p>new</p>", "edit")
        .await
        .unwrap_err()
    {
        ConfluenceError::Conflict { current, .. } => assert_eq!(current, Some(9)),
        other => panic!("{other:?}"),
    }
    let err = c.get_page("3").await.unwrap_err();
    assert!(
        matches!(err, ConfluenceError::NotFound { ref what } if what == "page 3"),
        "{err:?}"
    );
}

#[tokio::test]
async fn connection_refused_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = client(&format!("http://{addr}"))
        .get_page("1")
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(!err.to_string().contains("hunter2"));
}

#[test]
fn local_input_checks() {
    let c = client("https://x.atlassian.net");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for bad in ["", "12a", "../1"] {
        let err = rt.block_on(c.get_page(bad)).unwrap_err();
        assert!(matches!(err, ConfluenceError::Invalid(_)), "{bad}");
    }
    assert!(rt.block_on(c.space_by_key(" ")).is_err());
    assert!(rt.block_on(c.find_pages("t", Some("OPS"))).is_err());
}

#[test]
fn debug_and_config_checks() {
    let c = client("https://x.atlassian.net/wiki/");
    assert_eq!(c.site_url(), "https://x.atlassian.net");
    let dbg = format!("{c:?}");
    assert!(
        dbg.contains("bot@example.com") && !dbg.contains("hunter2") && !dbg.contains("Ym90"),
        "{dbg}"
    );
    let cfg = |user: &str, url: &str| ConfluenceConfig {
        user: user.into(),
        ..crate::test_support::cloud_config(url)
    };
    assert!(ConfluenceClient::new(&cfg("a:b", "https://x"), SecretString::from("t")).is_err());
    assert!(ConfluenceClient::new(&cfg("a", "https://x"), SecretString::from("")).is_err());
    assert!(ConfluenceClient::new(&cfg("a", "x"), SecretString::from("t")).is_err());
    let pat_on_cloud = ConfluenceConfig {
        auth: arkbridge_core::config::ConfluenceAuth::Pat,
        ..cfg("", "https://x")
    };
    let err = ConfluenceClient::new(&pat_on_cloud, SecretString::from("t")).unwrap_err();
    assert!(err.to_string().contains("Data Center"), "{err}");
    let oauth_on_site = ConfluenceConfig {
        auth: arkbridge_core::config::ConfluenceAuth::Oauth,
        ..cfg("", "https://x")
    };
    let err = ConfluenceClient::new(&oauth_on_site, SecretString::from("t")).unwrap_err();
    assert!(err.to_string().contains("cloud_id"), "{err}");
}

#[tokio::test]
async fn data_center_pat_goes_over_the_wire_as_bearer() {
    let app = Router::new().route(
        "/rest/api/content/7",
        get(|headers: AxHeaders| async move {
            if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer pat-hunter2") {
                return (StatusCode::UNAUTHORIZED, "{}").into_response();
            }
            axum::Json(json!({"id": "7", "type": "page", "title": "T", "space": {"id": 1, "key": "OPS"},
                "version": {"number": 2}, "body": {"storage": {"value": "<p/>", "representation": "storage"}}}))
            .into_response()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.ok();
    });
    let cfg = crate::test_support::dc_config(&format!("http://{addr}"));
    let c = ConfluenceClient::new(&cfg, SecretString::from("pat-hunter2")).unwrap();
    let page = c.get_page("7").await.unwrap();
    assert_eq!((page.version, page.space_key.as_deref()), (2, Some("OPS")));
    let bad = ConfluenceClient::new(&cfg, SecretString::from("wrong")).unwrap();
    let err = bad.get_page("7").await.unwrap_err();
    assert!(
        matches!(err, ConfluenceError::Refused { status: 401, .. }),
        "{err:?}"
    );
}
