//! Fault injection: the `SimHandle` switches, the `--fault` spec and the PVWA admin endpoint
//! `/__arkbridge_sim/faults` (basic auth as `Administrator`).

mod common;

use std::time::{Duration, Instant};

use arkbridge_sim::{Faults, SimError, parse_fault_spec};
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

fn ccp_url(info: &arkbridge_sim::SimInfo) -> String {
    format!(
        "{}/AIMWebService/api/Accounts?AppID=arkbridge&Safe=Prod-DB&Object=payments-db",
        info.ccp_url
    )
}

async fn admin(
    c: &reqwest::Client,
    info: &arkbridge_sim::SimInfo,
    method: Method,
    user: &str,
    pw: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = c
        .request(method, format!("{}/__arkbridge_sim/faults", info.pvwa_url))
        .basic_auth(user, Some(pw));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn handle_faults_latency_errors_and_vault_down() {
    let sim = start().await;
    let info = sim.info();
    let mtls = client(info, true);
    let status = |c: reqwest::Client, url: String| async move {
        let r = c.get(url).send().await.unwrap();
        let s = r.status().as_u16();
        (s, r.json::<Value>().await.unwrap())
    };

    sim.handle
        .set_faults(parse_fault_spec("latency=300ms").unwrap())
        .unwrap();
    let t0 = Instant::now();
    assert_eq!(status(mtls.clone(), ccp_url(info)).await.0, 200);
    assert!(t0.elapsed() >= Duration::from_millis(300));

    // Every second request fails, deterministically.
    sim.handle
        .set_faults(parse_fault_spec("error-rate=0.5").unwrap())
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..4 {
        let (s, body) = status(mtls.clone(), ccp_url(info)).await;
        if s == 500 {
            assert_eq!(body["ErrorCode"], "ARKSIM500E");
            assert!(body["ErrorMsg"].is_string());
        }
        seen.push(s);
    }
    assert_eq!(seen, [200, 500, 200, 500]);

    sim.handle
        .set_faults(parse_fault_spec("vault-down").unwrap())
        .unwrap();
    assert!(sim.handle.faults().vault_down);
    let (s, body) = status(mtls.clone(), ccp_url(info)).await;
    assert_eq!((s, body["ErrorCode"].as_str()), (400, Some("APPAP007E")));
    let c = client(info, false);
    let r = c
        .post(format!(
            "{}/PasswordVault/API/auth/Cyberark/Logon",
            info.pvwa_url
        ))
        .json(&json!({"username": info.pvwa_user, "password": info.pvwa_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["ErrorCode"], "CAWS00001E");

    // The old switch still works and shows in `faults()`.
    sim.handle.set_faults(Faults::default()).unwrap();
    sim.handle.set_vault_down(true);
    assert!(sim.handle.faults().vault_down);
    sim.handle.set_vault_down(false);
    assert_eq!(status(mtls, ccp_url(info)).await.0, 200);

    let bad = Faults {
        error_rate: 1.5,
        ..Faults::default()
    };
    assert!(matches!(
        sim.handle.set_faults(bad),
        Err(SimError::FaultSpec(_))
    ));
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn dropped_connections_malformed_bodies_and_killed_sessions() {
    let sim = start_with(
        Some(&with_admin_password(arkbridge_sim::DEMO_SEED)),
        Duration::from_millis(20),
    )
    .await;
    let info = sim.info();
    let c = client(info, false);
    let t = logon(&c, info, &info.pvwa_user, &info.pvwa_password, true).await;

    sim.handle
        .set_faults(parse_fault_spec("drop-connection").unwrap())
        .unwrap();
    let r = c
        .get(format!("{}/PasswordVault/API/Accounts", info.pvwa_url))
        .header("Authorization", &t)
        .send()
        .await;
    assert!(r.is_err(), "{r:?}");
    // The admin endpoint is never subject to faults.
    let (s, state) = admin(&c, info, Method::GET, "Administrator", ADMIN_PASSWORD, None).await;
    assert_eq!((s, state["drop_connection"].as_bool()), (200, Some(true)));

    sim.handle
        .set_faults(parse_fault_spec("malformed-body").unwrap())
        .unwrap();
    let r = c
        .get(format!("{}/PasswordVault/API/Accounts", info.pvwa_url))
        .header("Authorization", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let raw = r.bytes().await.unwrap();
    assert!(!raw.is_empty());
    assert!(serde_json::from_slice::<Value>(&raw).is_err());

    sim.handle.set_faults(Faults::default()).unwrap();
    let (s, _) = pvwa(&c, info, Method::GET, "Accounts", &t, None).await;
    assert_eq!(s, 200);
    assert!(sim.handle.kill_sessions() >= 1);
    let (s, b) = pvwa(&c, info, Method::GET, "Accounts", &t, None).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (401, Some("PASWS006E")));
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn admin_endpoint_needs_the_administrator() {
    let sim = start_with(
        Some(&with_admin_password(arkbridge_sim::DEMO_SEED)),
        Duration::from_millis(20),
    )
    .await;
    let info = sim.info();
    let c = client(info, false);
    let url = format!("{}/__arkbridge_sim/faults", info.pvwa_url);
    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    for (u, p) in [
        ("Administrator", "wrong"),
        (info.pvwa_user.as_str(), info.pvwa_password.as_str()),
    ] {
        assert_eq!(admin(&c, info, Method::GET, u, p, None).await.0, 401);
    }
    let (s, b) = admin(&c, info, Method::GET, "Administrator", ADMIN_PASSWORD, None).await;
    assert_eq!(s, 200);
    // The CyberArk fields; the Confluence simulator's faults sit beside them under
    // `confluence` (tested with the Confluence simulator).
    let cyberark: serde_json::Map<String, Value> = b
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "confluence")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(
        Value::Object(cyberark),
        json!({"latency_ms": 0, "error_rate": 0.0, "vault_down": false,
               "drop_connection": false, "malformed_body": false, "cpm_failure_rate": 0.0})
    );

    // POST changes only the fields it names.
    let body = json!({"latency_ms": 10, "vault_down": true});
    let (s, b) = admin(
        &c,
        info,
        Method::POST,
        "administrator",
        ADMIN_PASSWORD,
        Some(body),
    )
    .await;
    assert_eq!((s, b["latency_ms"].as_u64()), (200, Some(10)));
    let body = json!({"error_rate": 0.25});
    let (_, b) = admin(
        &c,
        info,
        Method::POST,
        "Administrator",
        ADMIN_PASSWORD,
        Some(body),
    )
    .await;
    assert_eq!(
        (b["vault_down"].as_bool(), b["error_rate"].as_f64()),
        (Some(true), Some(0.25))
    );
    assert_eq!(sim.handle.faults().latency, Duration::from_millis(10));
    let mtls = client(info, true);
    let r = mtls.get(ccp_url(info)).send().await.unwrap();
    assert_eq!(r.status(), 400);

    for bad in [
        json!({"error_rate": 2}),
        json!({"colour": "red"}),
        json!([1]),
    ] {
        let (s, b) = admin(
            &c,
            info,
            Method::POST,
            "Administrator",
            ADMIN_PASSWORD,
            Some(bad),
        )
        .await;
        assert_eq!((s, b["ErrorCode"].as_str()), (400, Some("ARKSIM400E")));
    }

    // kill_sessions through the API.
    let (s, _) = admin(
        &c,
        info,
        Method::DELETE,
        "Administrator",
        ADMIN_PASSWORD,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(sim.handle.faults(), Faults::default());
    let t = logon(&c, info, &info.pvwa_user, &info.pvwa_password, false).await;
    assert_eq!(
        pvwa(&c, info, Method::GET, "Accounts", &t, None).await.0,
        200
    );
    let body = json!({"kill_sessions": true});
    let (s, _) = admin(
        &c,
        info,
        Method::POST,
        "Administrator",
        ADMIN_PASSWORD,
        Some(body),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        pvwa(&c, info, Method::GET, "Accounts", &t, None).await.0,
        401
    );
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn cpm_failure_rate_fails_changes() {
    let sim = start().await;
    let info = sim.info();
    sim.handle
        .set_faults(parse_fault_spec("cpm-failure-rate=1").unwrap())
        .unwrap();
    let c = client(info, false);
    let t = logon(&c, info, &info.pvwa_user, &info.pvwa_password, false).await;
    let (s, _) = pvwa(
        &c,
        info,
        Method::POST,
        "Accounts/21_1/Change",
        &t,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 200);
    eventually(|| {
        let (c, t) = (c.clone(), t.clone());
        async move {
            let (_, a) = pvwa(&c, info, Method::GET, "Accounts/21_1", &t, None).await;
            a["secretManagement"]["status"] == "failure"
        }
    })
    .await;
    let (_, acts) = pvwa(&c, info, Method::GET, "Accounts/21_1/Activities", &t, None).await;
    assert_eq!(
        acts["Activities"][0]["Action"],
        "CPM Change Password Failed"
    );
    assert_eq!(acts["Activities"][0]["Alert"], true);
    sim.handle.shutdown().await;
}
