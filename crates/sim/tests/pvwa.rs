//! PVWA simulator: logon tokens and sessions, account listing, retrieval permissions and the
//! CPM change flow.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

#[tokio::test]
async fn logon_returns_a_quoted_token_and_quotes_are_rejected() {
    let sim = start().await;
    let info = sim.info();
    let c = client(info, false);
    let resp = c
        .post(format!(
            "{}/passwordvault/api/Auth/CyberArk/Logon/",
            info.pvwa_url
        ))
        .json(&serde_json::json!({"UserName": info.pvwa_user, "Password": info.pvwa_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let raw = resp.text().await.unwrap();
    assert!(raw.starts_with('"') && raw.ends_with('"'), "{raw}");
    let token: String = serde_json::from_str(&raw).unwrap();
    assert!(token.len() >= 180, "{}", token.len());

    let accounts = format!("{}/PasswordVault/API/Accounts", info.pvwa_url);
    for header in [token.clone(), format!("Bearer {token}")] {
        let r = c
            .get(&accounts)
            .header("Authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    for bad in [raw.clone(), String::new(), "nonsense".into()] {
        let r = c
            .get(&accounts)
            .header("Authorization", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["ErrorCode"], "PASWS006E");
        assert_eq!(
            b["ErrorMessage"],
            "The session token is missing, invalid or expired."
        );
    }
    let r = c.get(&accounts).send().await.unwrap();
    assert_eq!(r.status(), 401);

    // Bad credentials.
    let r = c
        .post(format!(
            "{}/PasswordVault/API/auth/Cyberark/Logon",
            info.pvwa_url
        ))
        .json(&serde_json::json!({"username": "arkbridge-svc", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["ErrorCode"], "ITATS004E");
    assert_eq!(
        b["ErrorMessage"],
        "Authentication failure for User [arkbridge-svc]."
    );

    // Logoff ends the session.
    let r = c
        .post(format!("{}/PasswordVault/API/Auth/Logoff", info.pvwa_url))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .get(&accounts)
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn new_logon_without_concurrent_session_ends_the_old_one() {
    let sim = start().await;
    let info = sim.info();
    let c = client(info, false);
    let accounts = format!("{}/PasswordVault/API/Accounts", info.pvwa_url);
    let status = |t: String| {
        let c = c.clone();
        let url = accounts.clone();
        async move {
            c.get(url)
                .header("Authorization", t)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let a = logon(&c, info, &info.pvwa_user, &info.pvwa_password, true).await;
    let b = logon(&c, info, &info.pvwa_user, &info.pvwa_password, true).await;
    assert_eq!(status(a.clone()).await, 200);
    assert_eq!(status(b.clone()).await, 200);
    let d = logon(&c, info, &info.pvwa_user, &info.pvwa_password, false).await;
    assert_eq!(status(a).await, 401);
    assert_eq!(status(b).await, 401);
    assert_eq!(status(d.clone()).await, 200);

    // Inactivity timeout.
    sim.handle.set_session_timeout(Duration::ZERO);
    assert_eq!(status(d).await, 401);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn lists_pages_and_filters_visible_accounts() {
    let sim = start().await;
    let info = sim.info();
    let c = client(info, false);
    let t = logon(&c, info, &info.pvwa_user, &info.pvwa_password, false).await;
    let get = |q: &'static str| {
        let c = c.clone();
        let url = format!("{}/PasswordVault/API/Accounts{q}", info.pvwa_url);
        let t = t.clone();
        async move {
            let r = c.get(url).header("Authorization", t).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    // arkbridge-svc sees Prod-DB and Prod-DB-RO, not Integrations.
    let (s, all) = get("").await;
    assert_eq!(s, 200);
    assert_eq!(all["count"], 2);
    assert!(all.get("nextLink").is_none());
    let (_, page) = get("?limit=1").await;
    assert_eq!(page["value"].as_array().unwrap().len(), 1);
    assert_eq!(page["count"], 2);
    assert_eq!(page["nextLink"], "api/Accounts?offset=1&limit=1");
    let (_, f) = get("?filter=safeName%20eq%20Prod-DB-RO").await;
    assert_eq!(f["count"], 1);
    assert_eq!(f["value"][0]["userName"], "payments_ro");
    let (_, f) = get("?filter=safeName%20eq%20NoSuchSafe").await;
    assert_eq!(f, serde_json::json!({"value": [], "count": 0}));
    let (_, f) = get("?search=payments-db-ro").await;
    assert_eq!(f["count"], 1);
    let (s, f) = get("?limit=abc").await;
    assert_eq!((s, f["ErrorCode"].as_str()), (400, Some("PASWS018E")));

    let (s, acct) = get("/21_1").await;
    assert_eq!(s, 200);
    assert_eq!(acct["id"], "21_1");
    assert_eq!(acct["name"], "payments-db");
    assert_eq!(acct["safeName"], "Prod-DB");
    assert_eq!(acct["platformId"], "PostgreSQL");
    assert_eq!(acct["secretType"], "password");
    assert_eq!(acct["secretManagement"]["automaticManagementEnabled"], true);
    assert_eq!(acct["platformAccountProperties"]["Port"], "5432");
    // Integrations (safe 23) is invisible: 404.
    let (s, _) = get("/23_1").await;
    assert_eq!(s, 404);

    // List but no retrieve permission.
    let r = c
        .post(format!(
            "{}/PasswordVault/API/Accounts/21_1/Password/Retrieve",
            info.pvwa_url
        ))
        .header("Authorization", &t)
        .json(&serde_json::json!({"reason": "test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["ErrorCode"], "PASWS041E");
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn change_is_carried_out_by_the_cpm() {
    let sim = start().await;
    let info = sim.info();
    let mtls = client(info, true);
    let ccp = format!(
        "{}/AIMWebService/api/Accounts?AppID=arkbridge&Safe=Prod-DB&Object=payments-db",
        info.ccp_url
    );
    let secret = |c: reqwest::Client, url: String| async move {
        let v: Value = c.get(url).send().await.unwrap().json().await.unwrap();
        v["Content"].as_str().unwrap().to_string()
    };
    let before = secret(mtls.clone(), ccp.clone()).await;

    let c = client(info, false);
    let t = logon(&c, info, &info.pvwa_user, &info.pvwa_password, false).await;
    let r = c
        .post(format!(
            "{}/PasswordVault/API/Accounts/21_1/Change",
            info.pvwa_url
        ))
        .header("Authorization", &t)
        .json(&serde_json::json!({"ChangeCredsForGroup": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().is_empty());

    let account = format!("{}/PasswordVault/API/Accounts/21_1", info.pvwa_url);
    eventually(|| {
        let c = c.clone();
        let url = account.clone();
        let t = t.clone();
        async move {
            let v: Value = c
                .get(url)
                .header("Authorization", t)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["secretManagement"]["status"] == "success"
        }
    })
    .await;
    let after = secret(mtls.clone(), ccp.clone()).await;
    assert_ne!(before, after);
    assert_eq!(after.len(), 20);

    let acts: Value = c
        .get(format!("{account}/Activities"))
        .header("Authorization", &t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = acts["Activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["Action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"CPM Change Password"), "{actions:?}");
    assert!(actions.contains(&"Change password"), "{actions:?}");
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn change_without_permission_is_forbidden() {
    let sim = start_with(Some(&extended_seed()), Duration::from_millis(20)).await;
    let info = sim.info();
    let c = client(info, false);
    let t = logon(&c, info, "viewer", "viewer-pass-1", false).await;
    let r = c
        .post(format!(
            "{}/PasswordVault/API/Accounts/21_1/Change",
            info.pvwa_url
        ))
        .header("Authorization", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["ErrorCode"], "PASWS041E");
    assert_eq!(
        b["ErrorMessage"],
        "You are not authorized to perform this action."
    );
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn logins_info_names_the_session_user_until_logoff() {
    // aiobastion's `check_token` (and psPAS Get-PASUserLoginInfo) calls `GET /api/LoginsInfo`
    // to decide whether a token is still good.
    let sim = start().await;
    let info = sim.info();
    let c = client(info, false);
    let before = jiff::Timestamp::now().as_second();
    let token = logon(&c, info, &info.pvwa_user, &info.pvwa_password, true).await;
    let url = format!("{}/passwordvault/api/LoginsInfo/", info.pvwa_url);
    let r = c
        .get(&url)
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["UserName"], info.pvwa_user.as_str());
    assert!(
        b["LastSuccessfulLoginDate"].as_i64().unwrap() >= before,
        "{b}"
    );

    let r = c
        .post(format!("{}/PasswordVault/API/Auth/Logoff", info.pvwa_url))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .get(&url)
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["ErrorCode"], "PASWS006E");
}
