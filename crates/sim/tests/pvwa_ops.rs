//! PVWA credential operations: exclusive accounts and CheckIn, reason-required platforms,
//! SetNextPassword, Password/Update, Verify, Reconcile and secret versions.

mod common;

use std::time::Duration;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

/// The demo seed plus an `Exclusive` safe (safe 23: `root-otp` on an exclusive platform,
/// `audited` on a reason-required one) and a PVWA user `operator` (`op-pass-1`, read-only).
fn ops_seed() -> String {
    let safe = "  - name: Exclusive\n    accounts:\n      - name: root-otp\n        platformId: UnixSSH-OTP\n        address: host.example.com\n        userName: root\n      - name: audited\n        platformId: AuditedDB\n        userName: auditor\n      - name: override\n        platformId: AuditedDB\n        requireReason: false\n    members:\n      - { name: Administrator, type: user, permissions: full }\n      - { name: operator, type: user, permissions: read-only }\n\n  - name: Integrations\n";
    with_admin_password(arkbridge_sim::DEMO_SEED)
        .replacen("  - name: Integrations\n", safe, 1)
        .replacen(
            "pvwaUsers:\n",
            "platforms:\n  - { id: UnixSSH-OTP, exclusive: true }\n  - { id: AuditedDB, requireReason: true }\n\npvwaUsers:\n  - username: operator\n    password: op-pass-1\n",
            1,
        )
}

async fn retrieve(
    c: &reqwest::Client,
    info: &arkbridge_sim::SimInfo,
    token: &str,
    id: &str,
    body: Value,
) -> (u16, Value) {
    let path = format!("Accounts/{id}/Password/Retrieve");
    pvwa(c, info, Method::POST, &path, token, Some(body)).await
}

async fn wait_status(
    c: &reqwest::Client,
    info: &arkbridge_sim::SimInfo,
    t: &str,
    id: &str,
) -> Value {
    let path = format!("Accounts/{id}");
    eventually(|| {
        let (c, t, path) = (c.clone(), t.to_string(), path.clone());
        async move {
            let (_, a) = pvwa(&c, info, Method::GET, &path, &t, None).await;
            a["secretManagement"]["status"] == "success"
        }
    })
    .await;
    pvwa(c, info, Method::GET, &path, t, None).await.1
}

#[tokio::test]
async fn exclusive_accounts_lock_and_check_in_rotates() {
    let sim = start_with(Some(&ops_seed()), Duration::from_millis(20)).await;
    let info = sim.info();
    let c = client(info, false);
    let op = logon(&c, info, "operator", "op-pass-1", true).await;
    let adm = logon(&c, info, "Administrator", ADMIN_PASSWORD, true).await;

    let (s, first) = retrieve(&c, info, &op, "23_1", json!({"reason": "x"})).await;
    assert_eq!(s, 200);
    let (s, b) = retrieve(&c, info, &adm, "23_1", json!({"reason": "x"})).await;
    assert_eq!(s, 400);
    assert_eq!(b["ErrorCode"], "PASWS143E");
    assert_eq!(b["ErrorMessage"], "Password is locked by another user.");
    // The holder may retrieve again.
    assert_eq!(retrieve(&c, info, &op, "23_1", json!({})).await.0, 200);

    // The holder checks in (without CPM permission): unlocked, and the CPM changes it.
    let (s, _) = pvwa(&c, info, Method::POST, "Accounts/23_1/CheckIn", &op, None).await;
    assert_eq!(s, 200);
    wait_status(&c, info, &adm, "23_1").await;
    let (s, after) = retrieve(&c, info, &adm, "23_1", json!({})).await;
    assert_eq!(s, 200);
    assert_ne!(after, first);
    // Now the Administrator holds it.
    assert_eq!(retrieve(&c, info, &op, "23_1", json!({})).await.0, 400);
    let (_, acts) = pvwa(
        &c,
        info,
        Method::GET,
        "Accounts/23_1/Activities",
        &adm,
        None,
    )
    .await;
    let actions: Vec<&str> = acts["Activities"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["Action"].as_str())
        .collect();
    assert!(actions.contains(&"CheckIn"), "{actions:?}");
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn reason_required_platforms_refuse_retrieval_without_reason() {
    let sim = start_with(Some(&ops_seed()), Duration::from_millis(20)).await;
    let info = sim.info();
    let c = client(info, false);
    let op = logon(&c, info, "operator", "op-pass-1", false).await;
    for body in [json!({}), json!({"reason": "  "})] {
        let (s, b) = retrieve(&c, info, &op, "23_2", body).await;
        assert_eq!(s, 400);
        assert_eq!(b["ErrorCode"], "PASWS088E");
        assert_eq!(b["ErrorMessage"], "Missing mandatory parameter - Reason.");
    }
    let (s, v) = retrieve(&c, info, &op, "23_2", json!({"Reason": "incident 42"})).await;
    assert_eq!(s, 200);
    assert!(v.is_string());
    // The account-level override wins over the platform.
    assert_eq!(retrieve(&c, info, &op, "23_3", json!({})).await.0, 200);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn set_next_password_update_and_versions() {
    let sim = start_with(Some(&ops_seed()), Duration::from_millis(20)).await;
    let info = sim.info();
    let c = client(info, false);
    let adm = logon(&c, info, "Administrator", ADMIN_PASSWORD, true).await;
    let svc = logon(&c, info, &info.pvwa_user, &info.pvwa_password, true).await;
    let (_, original) = retrieve(&c, info, &adm, "21_1", json!({})).await;

    // arkbridge-svc may change but not specify the next value.
    let body = json!({"ChangeImmediately": true, "NewCredentials": "Next-Value-1"});
    let path = "Accounts/21_1/SetNextPassword";
    let (s, _) = pvwa(&c, info, Method::POST, path, &svc, Some(body.clone())).await;
    assert_eq!(s, 403);
    let (s, b) = pvwa(&c, info, Method::POST, path, &adm, Some(json!({}))).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (400, Some("PASWS088E")));
    let body = json!({"changeImmediately": true, "newCredentials": "  Next-Value-1 "});
    assert_eq!(
        pvwa(&c, info, Method::POST, path, &adm, Some(body)).await.0,
        200
    );
    wait_status(&c, info, &adm, "21_1").await;
    let (_, now) = retrieve(&c, info, &adm, "21_1", json!({})).await;
    assert_eq!(now, "Next-Value-1");

    // Password/Update changes the Vault value at once.
    let body = json!({"NewCredentials": "Vault-Only-2"});
    let (s, _) = pvwa(
        &c,
        info,
        Method::POST,
        "Accounts/21_1/Password/Update",
        &adm,
        Some(body),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        retrieve(&c, info, &adm, "21_1", json!({})).await.1,
        "Vault-Only-2"
    );
    let (s, _) = pvwa(
        &c,
        info,
        Method::POST,
        "Accounts/21_1/Password/Update",
        &svc,
        Some(json!({"NewCredentials": "nope"})),
    )
    .await;
    assert_eq!(s, 403);

    let (s, v) = pvwa(
        &c,
        info,
        Method::GET,
        "Accounts/21_1/Secret/Versions",
        &adm,
        None,
    )
    .await;
    assert_eq!(s, 200);
    let versions = v["Versions"].as_array().unwrap();
    let ids: Vec<u64> = versions
        .iter()
        .filter_map(|x| x["versionID"].as_u64())
        .collect();
    assert_eq!(ids, [3, 2, 1]);
    assert_eq!(versions[0]["modifiedBy"], "Administrator");
    assert_eq!(versions[1]["modifiedBy"], "PasswordManager");
    assert_eq!(versions[0]["isTemporary"], false);
    assert_eq!(
        retrieve(&c, info, &adm, "21_1", json!({"Version": 1}))
            .await
            .1,
        original
    );
    assert_eq!(
        retrieve(&c, info, &adm, "21_1", json!({"version": "2"}))
            .await
            .1,
        "Next-Value-1"
    );
    let (s, b) = retrieve(&c, info, &adm, "21_1", json!({"Version": 99})).await;
    assert_eq!(
        (s, b["ErrorMessage"].as_str()),
        (404, Some("Content of account was not found."))
    );
    let (s, _) = retrieve(&c, info, &adm, "21_1", json!({"Version": "abc"})).await;
    assert_eq!(s, 400);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn verify_and_reconcile_are_cpm_tasks() {
    let sim = start_with(Some(&ops_seed()), Duration::from_millis(20)).await;
    let info = sim.info();
    let c = client(info, false);
    let svc = logon(&c, info, &info.pvwa_user, &info.pvwa_password, true).await;
    let adm = logon(&c, info, "Administrator", ADMIN_PASSWORD, true).await;
    let (_, before) = retrieve(&c, info, &adm, "21_1", json!({})).await;

    let (s, _) = pvwa(
        &c,
        info,
        Method::POST,
        "Accounts/21_1/Verify",
        &svc,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 200);
    let a = wait_status(&c, info, &svc, "21_1").await;
    assert!(a["secretManagement"]["lastVerifiedTime"].is_i64(), "{a}");
    assert_eq!(retrieve(&c, info, &adm, "21_1", json!({})).await.1, before);

    let (s, _) = pvwa(
        &c,
        info,
        Method::POST,
        "Accounts/21_1/Reconcile",
        &svc,
        None,
    )
    .await;
    assert_eq!(s, 200);
    let a = wait_status(&c, info, &svc, "21_1").await;
    assert!(a["secretManagement"]["lastReconciledTime"].is_i64(), "{a}");
    assert_ne!(retrieve(&c, info, &adm, "21_1", json!({})).await.1, before);

    // operator may not start CPM tasks.
    let op = logon(&c, info, "operator", "op-pass-1", true).await;
    let (s, b) = pvwa(&c, info, Method::POST, "Accounts/23_1/Verify", &op, None).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (403, Some("PASWS041E")));
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn a_running_change_shows_a_temporary_version() {
    // The CPM never finishes within the test.
    let sim = start_with(Some(&ops_seed()), Duration::from_secs(600)).await;
    let info = sim.info();
    let c = client(info, false);
    let adm = logon(&c, info, "Administrator", ADMIN_PASSWORD, true).await;
    let (s, _) = pvwa(&c, info, Method::POST, "Accounts/21_1/Change", &adm, None).await;
    assert_eq!(s, 200);
    eventually(|| {
        let (c, t) = (c.clone(), adm.clone());
        async move {
            let path = "Accounts/21_1/Secret/Versions?showTemporary=true";
            let (_, v) = pvwa(&c, info, Method::GET, path, &t, None).await;
            v["Versions"][0]["isTemporary"] == true
        }
    })
    .await;
    let (_, v) = pvwa(
        &c,
        info,
        Method::GET,
        "Accounts/21_1/Secret/Versions",
        &adm,
        None,
    )
    .await;
    assert_eq!(v["Versions"].as_array().map(Vec::len), Some(1));
    let (_, a) = pvwa(&c, info, Method::GET, "Accounts/21_1", &adm, None).await;
    assert_eq!(a["secretManagement"]["status"], "inProcess");
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn secret_versions_use_the_casing_aiobastion_and_pspas_read() {
    // aiobastion reads `["Versions"]` and `v["versionID"]`; psPAS reads `$result.Versions`
    // (case-insensitive). The reference leaves the casing unverified; the simulator answers
    // with exactly one spelling, as an ASP.NET PVWA would.
    let sim = start_with(Some(&ops_seed()), Duration::from_millis(20)).await;
    let info = sim.info();
    let c = client(info, false);
    let adm = logon(&c, info, "Administrator", ADMIN_PASSWORD, true).await;
    let r = c
        .get(format!(
            "{}/PasswordVault/API/Accounts/21_1/Secret/Versions/",
            info.pvwa_url
        ))
        .header("Authorization", &adm)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["Versions"]);
    let first = v["Versions"][0].as_object().unwrap();
    let mut fields: Vec<&str> = first.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["isTemporary", "modificationDate", "modifiedBy", "versionID"]
    );
    assert_eq!(first["versionID"], 1);
    assert!(first["modificationDate"].is_i64());
    sim.handle.shutdown().await;
}
