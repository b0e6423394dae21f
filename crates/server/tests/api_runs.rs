//! Runs through the API with the simulators: alice starts the read-only health check, polls its
//! output to the end and finds the planted secret masked (also in the event stream and the
//! run's report); bob is denied with the policy's reasons; carol approves the write block
//! `restart`, bob may not, and alice then runs it; every call is on the audit log as `api.call`.

mod support;

use arkbridge_core::audit::Action;
use arkbridge_store::{AuditFilter, Store};
use axum::http::StatusCode;
use serde_json::json;
use support::{PLANTED, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_runs_through_the_api_and_polls_masked_output_to_done() {
    let env = start(false).await;
    let health = env.page("Payments DB health").await;

    let token = env.fit("alice@example.com").await;
    let listed = env
        .call(
            "GET",
            &format!("/api/v1/pages/{health}/runbooks"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let block = &listed.body["runbooks"][0];
    assert_eq!(block["name"], "health");
    assert_eq!(block["allowed"], true, "{}", listed.text);
    assert_eq!(block["language"], "bash");
    assert_eq!(
        block["bindings"],
        json!([
            {"name": "DB_PASSWORD", "reference": "cyberark://Prod-DB/payments-db", "kind": "secret"},
            {"name": "DB_PASSWORD", "reference": "cyberark://Prod-DB-RO/payments-db-ro", "kind": "fallback"},
        ])
    );
    assert!(!listed.text.contains(PLANTED));

    let token = env.fit("alice@example.com").await;
    let body = json!({"page_id": health, "block": "health"}).to_string();
    let started = env
        .call("POST", "/api/v1/runs", Some(&token), Some(&body))
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
    let run_id = started.body["run_id"].as_str().unwrap().to_string();

    let (output, last) = env.poll_to_done("alice@example.com", &run_id).await;
    assert!(
        output.contains("checking payments DB as read with password *****"),
        "{output}"
    );
    assert!(!output.contains(PLANTED), "the secret leaked: {output}");
    assert_eq!(last["status"], "succeeded", "{last}");
    assert_eq!(last["exit_code"], 0);
    assert_eq!(last["mode"], "read");

    let token = env.fit("alice@example.com").await;
    let run = env
        .call("GET", &format!("/api/v1/runs/{run_id}"), Some(&token), None)
        .await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.text);
    assert_eq!(run.body["status"], "succeeded");
    assert_eq!(run.body["block"], "health");
    assert_eq!(run.body["mode"], "read");
    assert_eq!(run.body["exit_code"], 0);
    assert!(run.body["duration_ms"].is_u64(), "{}", run.text);
    assert!(run.body["audit_seq"].as_i64().unwrap() > 0);
    // One id names the run in the API, on the audit log and in the page comment.
    assert_eq!(run.body["run_id"], run.body["id"]);
    assert!(!run.text.contains(PLANTED));

    // The event stream of a finished run replays its chunks, then `done`.
    let token = env.fit("alice@example.com").await;
    let events = env
        .call(
            "GET",
            &format!("/api/v1/runs/{run_id}/events"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(events.status, StatusCode::OK);
    assert!(events.text.contains("event: output"), "{}", events.text);
    assert!(events.text.contains("*****"), "{}", events.text);
    assert!(events.text.contains("event: done"), "{}", events.text);
    assert!(!events.text.contains(PLANTED));

    // A macro acts on its own page only.
    let restart = env.page("Restart payments API").await;
    let token = env.fit_on("alice@example.com", &restart).await;
    let elsewhere = env
        .call("POST", "/api/v1/runs", Some(&token), Some(&body))
        .await;
    assert_eq!(
        elsewhere.status,
        StatusCode::FORBIDDEN,
        "{}",
        elsewhere.text
    );
    assert_eq!(elsewhere.body["code"], "wrong_page");
    let token = env.fit_on("alice@example.com", &health).await;
    let own = env
        .call(
            "GET",
            &format!("/api/v1/pages/{health}/runbooks"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text);

    // Bob cannot see alice's run: it does not exist for him.
    let token = env.fit("bob@example.com").await;
    let hidden = env
        .call(
            "GET",
            &format!("/api/v1/runs/{run_id}/output"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    assert_eq!(hidden.body["code"], "unknown_run");

    // Bob is denied the health check (his grant does not cover Prod-DB), with the reasons.
    let token = env.fit("bob@example.com").await;
    let denied = env
        .call("POST", "/api/v1/runs", Some(&token), Some(&body))
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.text);
    assert_eq!(denied.body["code"], "denied");
    let reasons: Vec<&str> = denied.body["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("[grant DENIED]") && r.contains("Prod-DB")),
        "{reasons:?}"
    );
    assert!(denied.body["audit_seq"].as_i64().unwrap() > 0);

    let store = env.state.bridge.store();
    let calls = store
        .audit_query(
            &AuditFilter {
                action: Some(Action::ApiCall.as_str().into()),
                ..AuditFilter::default()
            },
            0,
            1000,
        )
        .await
        .unwrap();
    let denied_call = calls
        .iter()
        .find(|r| {
            r.event.details["route"] == "/api/v1/runs"
                && r.event.details["status"] == 403
                && r.event.actor.name.as_deref() == Some("bob@example.com")
        })
        .expect("the denied call is audited");
    assert_eq!(denied_call.event.actor.auth_method.as_str(), "forge");
    assert_eq!(denied_call.event.outcome.as_str(), "denied");
    assert_eq!(denied_call.event.target.block.as_deref(), Some("health"));
    let finished = store
        .audit_query(
            &AuditFilter {
                action: Some(Action::RunFinished.as_str().into()),
                ..AuditFilter::default()
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(finished.len(), 1, "one run ran");
    env.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carol_approves_restart_bob_may_not_and_alice_then_runs_it() {
    let env = start(false).await;
    let restart = env.page("Restart payments API").await;
    let body = json!({"page_id": restart, "block": "restart"}).to_string();

    let token = env.fit("alice@example.com").await;
    let before = env
        .call("POST", "/api/v1/runs", Some(&token), Some(&body))
        .await;
    assert_eq!(before.status, StatusCode::FORBIDDEN, "{}", before.text);
    assert!(before.text.contains("approval DENIED"), "{}", before.text);

    let token = env.fit("bob@example.com").await;
    let bob = env
        .call("POST", "/api/v1/approvals", Some(&token), Some(&body))
        .await;
    assert_eq!(bob.status, StatusCode::FORBIDDEN, "{}", bob.text);
    assert!(
        bob.text.contains("not in an approver group"),
        "{}",
        bob.text
    );

    let token = env.fit("carol@example.com").await;
    let carol = env
        .call("POST", "/api/v1/approvals", Some(&token), Some(&body))
        .await;
    assert_eq!(carol.status, StatusCode::CREATED, "{}", carol.text);
    assert_eq!(carol.body["approver"], "carol@example.com");

    let token = env.fit("alice@example.com").await;
    let explain = env
        .call(
            "GET",
            &format!("/api/v1/explain?page_id={restart}&block=restart"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(explain.body["allowed"], true, "{}", explain.text);

    let token = env.fit("alice@example.com").await;
    let started = env
        .call("POST", "/api/v1/runs", Some(&token), Some(&body))
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
    let run_id = started.body["run_id"].as_str().unwrap().to_string();
    let (output, last) = env.poll_to_done("alice@example.com", &run_id).await;
    assert!(output.contains("DB_PASSWORD=*****"), "{output}");
    assert!(!output.contains(PLANTED));
    assert_eq!(last["status"], "succeeded", "{last}");
    assert_eq!(last["mode"], "write");
    let run = env.state.runs.get(&run_id).unwrap().view();
    assert_eq!(run.report.unwrap().rotated, ["Prod-DB/payments-db"]);

    // The audit log through the API: carol (an approver) sees everything, bob only his own.
    let token = env.fit("carol@example.com").await;
    let all = env
        .call(
            "GET",
            "/api/v1/audit?action=run.finished",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert_eq!(all.body["own_only"], false);
    assert_eq!(all.body["records"].as_array().unwrap().len(), 1);
    let token = env.fit("bob@example.com").await;
    let own = env
        .call(
            "GET",
            "/api/v1/audit?action=run.finished",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(own.body["own_only"], true);
    assert!(
        own.body["records"].as_array().unwrap().is_empty(),
        "{}",
        own.text
    );
    let token = env.fit("bob@example.com").await;
    let other = env
        .call(
            "GET",
            "/api/v1/audit?user=alice@example.com",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);

    let token = env.fit("bob@example.com").await;
    let verify = env
        .call("GET", "/api/v1/audit/verify", Some(&token), None)
        .await;
    assert_eq!(verify.status, StatusCode::OK, "{}", verify.text);
    assert_eq!(verify.body["ok"], true, "{}", verify.text);
    env.sim.shutdown().await;
}
