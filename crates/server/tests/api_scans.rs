//! `POST /api/v1/scans` through `router()`: an approver's scan finds the pasted AWS secret key
//! and answers with masked previews only; bad bodies, unknown spaces and pages, callers outside
//! the approver and audit reader groups, and a Forge macro reaching beyond its page are refused
//! with typed errors.

mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::start;

const AWS_SECRET: &str = "q8Vb3nR2x7KpLm4TzW9cYf6HdJ1sGe5UoAiQw0Ex";
const AWS_KEY_ID: &str = "AKIAZ7QX4N2LPV3KD9RT";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_scans_a_page_and_gets_masked_findings_only() {
    let env = start(true).await;
    let legacy = env.page("Legacy DB notes").await;
    let carol = env.oidc_token("carol@example.com", |_| {}).await;
    let body = json!({"pages": [legacy]}).to_string();

    let a = env
        .call("POST", "/api/v1/scans", Some(&carol), Some(&body))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["documents"], 1, "{}", a.text);
    let findings = a.body["findings"].as_array().unwrap();
    assert_eq!(a.body["total"], findings.len(), "{}", a.text);
    assert_eq!(
        a.body["new"],
        findings.len(),
        "the first scan sees them first"
    );
    let aws: Vec<&Value> = findings
        .iter()
        .filter(|f| f["detector"] == "aws-secret-access-key")
        .collect();
    assert_eq!(aws.len(), 1, "{}", a.text);
    assert_eq!(aws[0]["preview"], "q8Vb… (40 chars)");
    assert_eq!(aws[0]["page_id"], legacy.as_str());
    assert_eq!(aws[0]["state"], "new");
    assert!(aws[0]["id"].as_i64().is_some());
    for secret in [AWS_SECRET, AWS_KEY_ID, "Winter2024!Payments"] {
        assert!(!a.text.contains(secret), "{secret} is in the answer");
    }

    // Scanned again, the same findings keep their ids and are no longer new.
    let again = env
        .call("POST", "/api/v1/scans", Some(&carol), Some(&body))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["new"], 0, "{}", again.text);
    assert_eq!(again.body["total"], a.body["total"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_refuse_bad_bodies_unknown_targets_and_callers_who_may_not_scan() {
    let env = start(true).await;
    let legacy = env.page("Legacy DB notes").await;
    let health = env.page("Payments DB health").await;
    let carol = env.oidc_token("carol@example.com", |_| {}).await;
    let alice = env.oidc_token("alice@example.com", |_| {}).await;
    let too_many: Vec<String> = (0..101).map(|n| n.to_string()).collect();
    let cases: Vec<(&str, String, StatusCode, &str)> = vec![
        (
            &carol,
            "{not json".into(),
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            &carol,
            r#"{"pages":["1"],"x":1}"#.into(),
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (&carol, "{}".into(), StatusCode::BAD_REQUEST, "bad_request"),
        (
            &carol,
            r#"{"pages":[" "]}"#.into(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            &carol,
            json!({ "pages": too_many }).to_string(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            &carol,
            json!({"spaces": ["NOSUCHSPACE"]}).to_string(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            &carol,
            json!({"pages": ["999999999"]}).to_string(),
            StatusCode::NOT_FOUND,
            "unknown_page",
        ),
        (
            &alice,
            json!({"pages": [legacy]}).to_string(),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
    ];
    for (token, body, status, code) in cases {
        let a = env
            .call("POST", "/api/v1/scans", Some(token), Some(&body))
            .await;
        assert_eq!(a.status, status, "{body}: {}", a.text);
        assert_eq!(a.body["code"], code, "{body}: {}", a.text);
    }

    // A Forge macro scans its own page at most: not a space, not another page. (Each call
    // needs its own invocation token: they are single-use.)
    for (body, code) in [
        (json!({"spaces": ["OPS"]}), "forbidden"),
        (json!({"pages": [legacy]}), "wrong_page"),
    ] {
        let fit = env.fit_on("carol@example.com", &health).await;
        let a = env
            .call("POST", "/api/v1/scans", Some(&fit), Some(&body.to_string()))
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{body}: {}", a.text);
        assert_eq!(a.body["code"], code, "{body}: {}", a.text);
    }
}
