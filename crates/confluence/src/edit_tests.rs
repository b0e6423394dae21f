//! `edit_page` through the in-memory transport against a tiny page store that enforces
//! `version == current + 1` with the v2 409 envelope (and the v1 one on Data Center), and can
//! slip in a concurrent edit or lose an answer.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::edit::EditError;
use crate::error::ConfluenceError;
use crate::retry::RetryPolicy;
use crate::test_support::{cloud_client, dc_client};

#[derive(Default)]
struct Doc {
    version: u64,
    body: String,
    /// Concurrent edits to make just before the next PUTs are checked.
    interfere: u32,
    /// Apply the next PUT but answer 500, as if the answer were lost.
    lose_answer: bool,
    puts: u32,
    last_put: Value,
}

type Store = Arc<Mutex<Doc>>;

fn store(body: &str) -> Store {
    Arc::new(Mutex::new(Doc {
        version: 3,
        body: body.into(),
        ..Doc::default()
    }))
}

fn page_json(d: &Doc) -> Value {
    json!({"id": "5", "title": "Runbook", "spaceId": "456", "status": "current",
           "space": {"id": 98306, "key": "OPS"},
           "version": {"number": d.version},
           "body": {"storage": {"representation": "storage", "value": d.body}}})
}

async fn read(State(s): State<Store>) -> Response {
    axum::Json(page_json(&s.lock().unwrap())).into_response()
}

async fn write(State(s): State<Store>, axum::Json(put): axum::Json<Value>) -> Response {
    let mut d = s.lock().unwrap();
    d.puts += 1;
    d.last_put = put.clone();
    if d.interfere > 0 {
        d.interfere -= 1;
        d.version += 1;
        d.body.push_str("<p>theirs</p>");
    }
    let sent = put["version"]["number"].as_u64().unwrap();
    if sent != d.version + 1 {
        let title = format!(
            "Version must be incremented when updating a page. Current Version: [{}]. Provided version: [{sent}]",
            d.version
        );
        let body = json!({"errors": [{"status": 409, "code": "CONFLICT", "title": title, "detail": null}]});
        return (StatusCode::CONFLICT, axum::Json(body)).into_response();
    }
    d.version = sent;
    d.body = put["body"]["value"]
        .as_str()
        .or(put["body"]["storage"]["value"].as_str())
        .unwrap()
        .to_string();
    if std::mem::take(&mut d.lose_answer) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "{}").into_response();
    }
    axum::Json(page_json(&d)).into_response()
}

fn app(s: &Store) -> Router {
    Router::new()
        .route("/wiki/api/v2/pages/5", get(read).put(write))
        .route("/confluence/rest/api/content/5", get(read).put(write))
        .with_state(s.clone())
}

fn append_ours(body: &str) -> Result<String, String> {
    Ok(format!("{body}<p>ours</p>"))
}

#[tokio::test]
async fn a_409_refetches_and_reapplies_the_edit_keeping_the_other_change() {
    let s = store("<p>start</p>");
    s.lock().unwrap().interfere = 1;
    let c = cloud_client(app(&s));
    let mut seen = Vec::new();
    let edited = c
        .edit_page("5", "arkbridge: add status", |body: &str| {
            seen.push(body.to_string());
            append_ours(body)
        })
        .await
        .unwrap();
    assert_eq!(
        seen,
        ["<p>start</p>", "<p>start</p><p>theirs</p>"],
        "the edit ran again on the newer body"
    );
    assert_eq!(
        edited.page.body_storage,
        "<p>start</p><p>theirs</p><p>ours</p>"
    );
    assert_eq!(
        (edited.page.version, edited.conflicts, edited.changed),
        (5, 1, true)
    );
    let d = s.lock().unwrap();
    assert_eq!((d.version, d.puts), (5, 2));
    assert_eq!(d.last_put["version"]["message"], "arkbridge: add status");
}

#[tokio::test]
async fn conflicts_that_outlast_the_retries_are_returned() {
    let s = store("<p>start</p>");
    s.lock().unwrap().interfere = 100;
    let policy = RetryPolicy {
        conflict_attempts: 2,
        ..RetryPolicy::default()
    };
    let c = cloud_client(app(&s)).with_retry_policy(policy);
    let err = c.edit_page("5", "m", append_ours).await.unwrap_err();
    match err {
        EditError::Confluence(ConfluenceError::Conflict { current, .. }) => {
            assert_eq!(current, Some(6));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        s.lock().unwrap().puts,
        3,
        "the first try and two re-applications"
    );
}

#[tokio::test]
async fn an_unchanged_body_sends_nothing_and_edit_errors_pass_through() {
    let s = store("<p>clean</p>");
    let c = cloud_client(app(&s));
    let same = c
        .edit_page("5", "m", |b: &str| Ok::<_, String>(b.to_string()))
        .await
        .unwrap();
    assert!(!same.changed);
    let err = c
        .edit_page("5", "m", |_: &str| {
            Err::<String, _>("no code block".to_string())
        })
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "the edit of page 5 failed: no code block");
    assert_eq!(s.lock().unwrap().puts, 0);
}

#[tokio::test(start_paused = true)]
async fn a_landed_update_whose_answer_was_lost_is_not_applied_twice() {
    let s = store("<p>start</p>");
    s.lock().unwrap().lose_answer = true;
    let c = cloud_client(app(&s));
    let mut calls = 0;
    let edited = c
        .edit_page("5", "m", |b: &str| {
            calls += 1;
            append_ours(b)
        })
        .await
        .unwrap();
    // PUT applied + 500, the retried PUT gets 409, the re-read shows our own version.
    assert_eq!(calls, 1);
    assert_eq!(edited.page.body_storage, "<p>start</p><p>ours</p>");
    assert_eq!((edited.page.version, edited.conflicts), (4, 1));
    assert_eq!(s.lock().unwrap().puts, 2);
}

#[tokio::test]
async fn data_center_updates_send_type_space_key_and_nested_storage() {
    let s = store("<p>dc</p>");
    s.lock().unwrap().interfere = 1;
    let c = dc_client(app(&s));
    let edited = c.edit_page("5", "m", append_ours).await.unwrap();
    assert_eq!(
        edited.page.body_storage,
        "<p>dc</p><p>theirs</p><p>ours</p>"
    );
    let put = s.lock().unwrap().last_put.clone();
    assert_eq!(put["type"], "page");
    assert_eq!(put["space"]["key"], "OPS");
    assert_eq!(put["body"]["storage"]["representation"], "storage");
    assert_eq!(put["version"]["number"], 5);
}
