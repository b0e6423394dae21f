//! Every endpoint's error paths through `router()` (unknown run, bad JSON, unknown page or
//! block, bad queries, unknown routes and methods), every route answering (never "no route"),
//! health, readiness and metrics, and the graceful shutdown that waits for a running run.

mod support;

use std::time::Duration;

use arkbridge_server::{api_routes, public_routes, serve};
use axum::http::StatusCode;
use serde_json::json;
use support::start;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_bad_input_with_a_typed_error() {
    let env = start(false).await;
    let health = env.page("Payments DB health").await;

    // Every route is routed: without a credential, each API route says 401, never "no route".
    for (path, method, _) in api_routes() {
        let uri = path
            .replace("{page_id}", &health)
            .replace("{id}", "00000000-0000-0000-0000-000000000000");
        let a = env.call(method.as_str(), &uri, None, None).await;
        assert_eq!(
            a.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {}",
            a.text
        );
        assert_eq!(a.body["code"], "missing_token", "{method} {path}");
    }
    for (path, method, _) in public_routes() {
        let a = env.call(method.as_str(), path, None, None).await;
        assert_eq!(a.status, StatusCode::OK, "{method} {path}: {}", a.text);
    }

    let cases: Vec<(&str, String, Option<String>, StatusCode, &str)> = vec![
        (
            "GET",
            "/api/v1/runs/no-such-run".into(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_run",
        ),
        (
            "GET",
            "/api/v1/runs/no-such-run/output?after=3".into(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_run",
        ),
        (
            "GET",
            "/api/v1/runs/no-such-run/events".into(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_run",
        ),
        (
            "GET",
            "/api/v1/runs/x/output?after=-1".into(),
            None,
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            "POST",
            "/api/v1/runs".into(),
            Some("{not json".into()),
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            "POST",
            "/api/v1/runs".into(),
            Some(r#"{"block":"health"}"#.into()),
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            "POST",
            "/api/v1/runs".into(),
            Some(r#"{"page_id":"1","extra":1}"#.into()),
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            "POST",
            "/api/v1/runs".into(),
            Some(r#"{"page_id":" "}"#.into()),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/runs".into(),
            Some(json!({"page_id": "999999999"}).to_string()),
            StatusCode::NOT_FOUND,
            "unknown_page",
        ),
        (
            "POST",
            "/api/v1/runs".into(),
            Some(json!({"page_id": health, "block": "nope"}).to_string()),
            StatusCode::NOT_FOUND,
            "unknown_block",
        ),
        (
            "POST",
            "/api/v1/runs".into(),
            Some(json!({"page_id": "../etc"}).to_string()),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/approvals".into(),
            Some("[]".into()),
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            "POST",
            "/api/v1/approvals".into(),
            Some(json!({"page_id": "999999999"}).to_string()),
            StatusCode::NOT_FOUND,
            "unknown_page",
        ),
        (
            "GET",
            "/api/v1/explain".into(),
            None,
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            "GET",
            "/api/v1/explain?page_id=999999999".into(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_page",
        ),
        (
            "GET",
            format!("/api/v1/explain?page_id={health}&block=nope"),
            None,
            StatusCode::NOT_FOUND,
            "unknown_block",
        ),
        (
            "GET",
            "/api/v1/pages/999999999/runbooks".into(),
            None,
            StatusCode::NOT_FOUND,
            "unknown_page",
        ),
        (
            "GET",
            "/api/v1/audit?limit=0".into(),
            None,
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            "GET",
            "/api/v1/audit?action=no.such".into(),
            None,
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            "GET",
            "/api/v1/audit?since=yesterday-ish".into(),
            None,
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            "GET",
            "/api/v1/audit?bogus=1".into(),
            None,
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            "GET",
            "/api/v1/audit/checkpoint".into(),
            None,
            StatusCode::NOT_FOUND,
            "no_checkpoint",
        ),
        (
            "GET",
            "/api/v1/nothing-here".into(),
            None,
            StatusCode::NOT_FOUND,
            "no_route",
        ),
        (
            "DELETE",
            "/api/v1/runs".into(),
            None,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ];
    for (method, uri, body, status, code) in cases {
        let token = env.fit("carol@example.com").await;
        let a = env.call(method, &uri, Some(&token), body.as_deref()).await;
        assert_eq!(a.status, status, "{method} {uri}: {}", a.text);
        assert_eq!(a.body["code"], code, "{method} {uri}: {}", a.text);
        assert!(
            a.body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{uri}"
        );
    }
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics_answer_without_credentials() {
    let env = start(false).await;
    let a = env.call("GET", "/healthz", None, None).await;
    assert_eq!(a.body["status"], "ok");
    let ready = env.call("GET", "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text);
    assert_eq!(ready.body["status"], "ready", "{}", ready.text);
    assert_eq!(ready.body["checks"].as_array().unwrap().len(), 3);

    // A request for an unknown run is counted by its route template, never its id.
    let page = env.page("Payments DB health").await;
    let token = env.fit("alice@example.com").await;
    let _ = env
        .call("GET", &format!("/api/v1/runs/{page}"), Some(&token), None)
        .await;
    let metrics = env.call("GET", "/metrics", None, None).await;
    assert!(
        metrics
            .text
            .contains("arkbridge_runs_total{outcome=\"succeeded\"} 0")
    );
    assert!(
        metrics
            .text
            .contains("route=\"/api/v1/runs/{id}\",status=\"404\""),
        "{}",
        metrics.text
    );
    assert!(!metrics.text.contains(&page), "a label holds a page id");
    assert!(
        metrics
            .text
            .contains("# TYPE arkbridge_rotations_total counter"),
        "the engine's counters are missing: {}",
        metrics.text
    );

    let spec: serde_json::Value = env
        .call("GET", "/api/v1/openapi.json", None, None)
        .await
        .body;
    assert_eq!(spec["openapi"], "3.0.3");
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_says_degraded_when_cyberark_is_down_but_runs_can_go_read_only() {
    let env = start(false).await;
    // A second bridge on the same simulators, with the read-only fallback cache on.
    let mut config = env.config.clone();
    config.cyberark.fallback_cache = Some(arkbridge_core::config::FallbackCacheConfig::default());
    let (bridge, _) = arkbridge_engine::Bridge::connect(config).await.unwrap();
    let with_fallback = arkbridge_server::ServerState::new(
        std::sync::Arc::new(bridge),
        arkbridge_server::Authenticator::default(),
    );
    env.sim.set_vault_down(true);
    let degraded = support::call_state(&with_fallback, "GET", "/readyz", None, None).await;
    assert_eq!(degraded.status, StatusCode::OK, "{}", degraded.text);
    assert_eq!(degraded.body["status"], "degraded", "{}", degraded.text);
    assert!(
        degraded.body["detail"]
            .as_str()
            .unwrap()
            .contains("read-only")
    );
    let ccp = &degraded.body["checks"][0];
    assert_eq!(
        (ccp["service"].as_str(), ccp["reachable"].as_bool()),
        (Some("ccp"), Some(false))
    );
    // Without a fallback, the same outage is not ready.
    let down = env.call("GET", "/readyz", None, None).await;
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        down.text
    );
    assert_eq!(down.body["status"], "unavailable");
    env.sim.set_vault_down(false);
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_a_running_run_and_refuses_new_ones() {
    let env = start(false).await;
    let health = env.page("Payments DB health").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The server and the client side run side by side in this task: the shutdown path holds
    // the engine's recovery, whose future is not `Send`.
    let serving = serve(
        listener,
        env.state.clone(),
        Duration::from_secs(60),
        async move {
            let _ = stopped.await;
        },
    );
    let body = json!({"page_id": health, "block": "health"}).to_string();
    let client = async {
        let token = env.fit("alice@example.com").await;
        let started = env
            .call("POST", "/api/v1/runs", Some(&token), Some(&body))
            .await;
        assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
        stop.send(()).unwrap();
        started.body["run_id"].as_str().unwrap().to_string()
    };
    let (report, run_id) = tokio::join!(serving, client);
    let report = report.unwrap();
    assert_eq!(report.stopped_runs, 0);
    // Shutdown returned only after the run had finished.
    let run = env.state.runs.get(&run_id).unwrap().view();
    assert_eq!(run.status, "succeeded", "{run:?}");
    let token = env.fit("alice@example.com").await;
    let refused = env
        .call("POST", "/api/v1/runs", Some(&token), Some(&body))
        .await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.body["code"], "shutting_down");
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_after_the_grace_period_stops_the_run_and_settles_its_leases() {
    let env = start(false).await;
    let health = env.page("Payments DB health").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // No grace at all: whatever is running when the signal comes is stopped.
    let serving = serve(listener, env.state.clone(), Duration::ZERO, async move {
        let _ = stopped.await;
    });
    let body = json!({"page_id": health, "block": "health"}).to_string();
    let client = async {
        let token = env.fit("alice@example.com").await;
        let started = env
            .call("POST", "/api/v1/runs", Some(&token), Some(&body))
            .await;
        assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
        stop.send(()).unwrap();
        started.body["run_id"].as_str().unwrap().to_string()
    };
    let (report, run_id) = tokio::join!(serving, client);
    assert_eq!(report.unwrap().stopped_runs, 1);
    let run = env.state.runs.get(&run_id).unwrap().view();
    assert_eq!(run.status, "error", "{run:?}");
    assert!(
        run.error.as_deref().unwrap().contains("shut down"),
        "{run:?}"
    );
    assert_eq!(env.state.runs.active(), 0);
    // Whatever the run had leased was settled by the recovery before serve returned.
    let open = arkbridge_store::Store::open_leases(env.state.bridge.store())
        .await
        .unwrap();
    assert!(open.is_empty(), "{open:?}");
    env.sim.shutdown().await;
}
