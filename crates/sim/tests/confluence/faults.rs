//! Confluence fault injection: 429 bursts with `Retry-After`, a token-bucket rate limit with the
//! `X-RateLimit-*` headers, injected 5xx, slow answers, concurrent edits that make an update
//! meet a 409, and the admin endpoint's `confluence` object.

use std::time::{Duration, Instant};

use arkbridge_sim::parse_fault_spec;
use reqwest::Method;
use serde_json::{Value, json};

use crate::{Api, results, sim};

#[tokio::test]
async fn a_burst_of_429_carries_retry_after_then_clears() {
    let sim = sim().await;
    let api = Api::bridge(&sim);
    sim.handle
        .set_faults(parse_fault_spec("confluence-429-burst=2,confluence-retry-after=3").unwrap())
        .unwrap();
    for path in ["/wiki/api/v2/spaces", "/wiki/rest/api/user/current"] {
        let (s, headers, b) = api.get(path).await;
        assert_eq!(s, 429, "{path}");
        assert_eq!(headers["retry-after"], "3");
        if path.contains("/v2/") {
            assert_eq!(b["errors"][0]["status"], 429);
        } else {
            assert_eq!(b["statusCode"], 429);
        }
    }
    assert_eq!(api.get("/wiki/api/v2/spaces").await.0, 200);
    assert_eq!(
        sim.handle.faults().confluence.burst_429,
        0,
        "the burst is used up"
    );
}

#[tokio::test]
async fn the_rate_limit_refuses_past_the_bucket_with_rate_limit_headers() {
    let sim = sim().await;
    let api = Api::bridge(&sim);
    // One token every 1000 s: the bucket of 2 does not refill while the test runs.
    sim.handle
        .set_faults(
            parse_fault_spec("confluence-rate-limit=0.001,confluence-rate-burst=2").unwrap(),
        )
        .unwrap();
    let (s, headers, _) = api.get("/wiki/api/v2/spaces").await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            headers["x-ratelimit-limit"].to_str().unwrap(),
            headers["x-ratelimit-remaining"].to_str().unwrap()
        ),
        ("2", "1")
    );
    assert_eq!(api.get("/wiki/api/v2/spaces").await.0, 200);
    let (s, headers, _) = api.get("/wiki/api/v2/spaces").await;
    assert_eq!(s, 429);
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((999..=1000).contains(&retry), "{retry}");
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    assert!(headers.contains_key("x-ratelimit-reset"));
    assert_eq!(headers["x-ratelimit-fillrate"], "0.001");
    sim.handle.set_faults(Default::default()).unwrap();
    assert_eq!(api.get("/wiki/api/v2/spaces").await.0, 200);
}

#[tokio::test]
async fn injected_server_errors_and_latency() {
    let sim = sim().await;
    let api = Api::bridge(&sim);
    sim.handle
        .set_faults(
            parse_fault_spec(
                "confluence-error-burst=1,confluence-error-status=503,confluence-retry-after=2",
            )
            .unwrap(),
        )
        .unwrap();
    let (s, headers, _) = api.get("/wiki/api/v2/spaces").await;
    assert_eq!((s, headers["retry-after"].to_str().unwrap()), (503, "2"));
    sim.handle
        .set_faults(
            parse_fault_spec("confluence-error-rate=0.5,confluence-error-status=502").unwrap(),
        )
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(api.get("/wiki/api/v2/spaces").await.0);
    }
    assert_eq!(seen, [200, 502, 200, 502]);
    sim.handle
        .set_faults(parse_fault_spec("confluence-latency=250ms").unwrap())
        .unwrap();
    let t0 = Instant::now();
    assert_eq!(api.get("/wiki/api/v2/spaces").await.0, 200);
    assert!(t0.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn an_edit_race_makes_the_update_conflict_and_the_retry_succeed() {
    let sim = sim().await;
    let api = Api::bridge(&sim);
    let id = api.page_id("Legacy DB notes").await;
    sim.handle
        .set_faults(parse_fault_spec("confluence-edit-race=0.5").unwrap())
        .unwrap();
    let edit = |n: u64| {
        json!({"id": id, "status": "current", "title": "Legacy DB notes",
                               "body": {"representation": "storage", "value": "<p>vaulted</p>"}, "version": {"number": n}})
    };
    let path = format!("/wiki/api/v2/pages/{id}");
    assert_eq!(
        api.call(Method::PUT, &path, Some(edit(2))).await.0,
        200,
        "the first update is not raced"
    );
    let (s, _, b) = api.call(Method::PUT, &path, Some(edit(3))).await;
    assert_eq!(s, 409, "someone else saved version 3 first: {b}");
    let now = api.ok(&format!("{path}?body-format=storage")).await;
    assert_eq!(now["version"]["number"], 3);
    assert!(
        now["body"]["storage"]["value"]
            .as_str()
            .unwrap()
            .contains("Edited concurrently")
    );
    assert_ne!(
        now["version"]["authorId"],
        api.ok("/wiki/rest/api/user/current").await["accountId"]
    );
    assert_eq!(
        api.call(Method::PUT, &path, Some(edit(4))).await.0,
        200,
        "the refetched retry wins"
    );

    assert_eq!(sim.handle.concurrent_edit(&id), Some(5));
    assert_eq!(sim.handle.concurrent_edit("1"), None);
}

#[tokio::test]
async fn the_admin_endpoint_reads_and_sets_confluence_faults() {
    let sim = sim().await;
    let info = sim.info();
    let admin = Api::basic(&sim, "Administrator", crate::common::ADMIN_PASSWORD);
    let admin = Api {
        origin: info.pvwa_url.clone(),
        ..admin
    };
    let url = "/__arkbridge_sim/faults";
    let (s, _, b) = admin
        .call(
            Method::POST,
            url,
            Some(json!({"confluence": {"rate_limit": 100, "burst_429": 1}})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (
            b["confluence"]["rate_limit"].as_f64(),
            b["confluence"]["burst_429"].as_u64()
        ),
        (Some(100.0), Some(1))
    );
    assert_eq!(sim.handle.faults().confluence.rate_limit, Some(100.0));
    let (s, _, b) = admin
        .call(
            Method::POST,
            url,
            Some(json!({"confluence": {"error_status": 418}})),
        )
        .await;
    assert_eq!(s, 400, "{b}");
    let (s, _, b): (u16, _, Value) = admin.call(Method::DELETE, url, None).await;
    assert_eq!((s, b["confluence"]["rate_limit"].is_null()), (200, true));
    let api = Api::bridge(&sim);
    assert!(!results(&api.ok("/wiki/api/v2/spaces").await).is_empty());
}
