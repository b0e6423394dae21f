//! CCP simulator: authentication by client certificate, error codes and bodies, parameter
//! handling and the change-in-progress flag.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

async fn get(c: &reqwest::Client, url: &str) -> (u16, Value) {
    let resp = c.get(url).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn retrieves_with_client_certificate_and_logs_activity() {
    let sim = start().await;
    let info = sim.info();
    let c = client(info, true);
    let (status, body) = get(
        &c,
        &format!(
            "{}/AIMWebService/api/Accounts?AppID=arkbridge&Safe=Prod-DB&Object=payments-db&Reason=run%2042",
            info.ccp_url
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let map = body.as_object().unwrap();
    assert!(
        map.values().all(Value::is_string),
        "all values are strings: {body}"
    );
    assert_eq!(map["Content"].as_str().unwrap().len(), 20);
    for (k, v) in [
        ("UserName", "payments"),
        ("Address", "db.prod.example.com"),
        ("Safe", "Prod-DB"),
        ("Folder", "Root"),
        ("Name", "payments-db"),
        ("PolicyID", "PostgreSQL"),
        ("DeviceType", "Database"),
        ("CreationMethod", "PVWA"),
        ("PasswordChangeInProcess", "False"),
        ("Port", "5432"),
        ("Database", "payments"),
    ] {
        assert_eq!(map[k], v, "{k}");
    }

    // The retrieval is in the account's activity log (AppID, reason, client address).
    let token = logon(&c, info, &info.pvwa_user, &info.pvwa_password, false).await;
    let acts: Value = c
        .get(format!(
            "{}/PasswordVault/API/Accounts/21_1/Activities",
            info.pvwa_url
        ))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = &acts["Activities"][0];
    assert_eq!(first["User"], "arkbridge");
    assert_eq!(first["Action"], "Retrieve password");
    assert_eq!(first["Reason"], "run 42");
    assert!(first["MoreInfo"].as_str().unwrap().contains("127.0.0.1"));
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn without_certificate_is_refused_with_appap306e() {
    let sim = start().await;
    let info = sim.info();
    let (status, body) = get(
        &client(info, false),
        &format!(
            "{}/AIMWebService/api/Accounts?AppID=arkbridge&Safe=Prod-DB&Object=payments-db",
            info.ccp_url
        ),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body["ErrorCode"], "APPAP306E");
    assert!(body.get("ErrorMsg").is_some());
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn not_found_and_not_permitted_are_indistinguishable() {
    let url = |base: &str| {
        format!("{base}/AIMWebService/api/Accounts?AppID=arkbridge&Safe=Hidden&Object=hidden-acct")
    };
    // The account exists, but the AppID is not a member of its safe.
    let with_hidden = start_with(Some(&extended_seed()), Duration::from_millis(20)).await;
    let c1 = client(with_hidden.info(), true);
    let r1 = c1
        .get(url(&with_hidden.info().ccp_url))
        .send()
        .await
        .unwrap();
    let (s1, b1) = (r1.status(), r1.text().await.unwrap());
    // The account does not exist at all.
    let plain = start().await;
    let c2 = client(plain.info(), true);
    let r2 = c2.get(url(&plain.info().ccp_url)).send().await.unwrap();
    let (s2, b2) = (r2.status(), r2.text().await.unwrap());
    assert_eq!(s1, 404);
    assert_eq!((s1, &b1), (s2, &b2));
    let v: Value = serde_json::from_str(&b1).unwrap();
    assert_eq!(v["ErrorCode"], "APPAP004E");
    let msg = v["ErrorMsg"].as_str().unwrap();
    assert!(
        msg.starts_with("Password object matching query [Safe=Hidden;Folder=Root;Object=hidden-acct] was not found (Diagnostic Info: 5)."),
        "{msg}"
    );
    with_hidden.handle.shutdown().await;
    plain.handle.shutdown().await;
}

#[tokio::test]
async fn parameter_errors_case_and_query_override() {
    let sim = start().await;
    let info = sim.info();
    let c = client(info, true);
    let base = format!("{}/AIMWebService/api/Accounts", info.ccp_url);

    let (s, b) = get(&c, &format!("{base}?Safe=Prod-DB&Object=payments-db")).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (400, Some("AIMWS031E")));

    // Lower-case path, trailing slash and parameter names in any case.
    let (s, b) = get(
        &c,
        &format!(
            "{}/aimwebservice/API/accounts/?appid=arkbridge&SAFE=Prod-DB&object=payments-db",
            info.ccp_url
        ),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["Name"], "payments-db");

    // Query overrides the single parameters.
    let (s, b) = get(
        &c,
        &format!("{base}?AppId=arkbridge&Safe=Nope&Object=nope&Query=Safe%3DProd-DB-RO%3BObject%3Dpayments-db-ro"),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["UserName"], "payments_ro");

    // More than one match.
    let (s, b) = get(
        &c,
        &format!(
            "{base}?AppID=arkbridge&Query=Address%3Ddb.prod.example.com%3BDatabase%3Dpayments"
        ),
    )
    .await;
    assert_eq!(s, 200, "only payments-db has that address: {b}");
    let (s, b) = get(
        &c,
        &format!("{base}?AppID=arkbridge&Query=Database%3Dpayments"),
    )
    .await;
    assert_eq!((s, b["ErrorCode"].as_str()), (400, Some("APPAP227E")));

    // Unknown application.
    let (s, b) = get(
        &c,
        &format!("{base}?AppID=nobody&Safe=Prod-DB&Object=payments-db"),
    )
    .await;
    assert_eq!((s, b["ErrorCode"].as_str()), (403, Some("APPAP008E")));

    // Regexp is not supported (yet).
    let (s, b) = get(
        &c,
        &format!("{base}?AppID=arkbridge&Query=Safe%3DProd-DB&QueryFormat=Regexp"),
    )
    .await;
    assert_eq!((s, b["ErrorCode"].as_str()), (400, Some("AIMWS030E")));

    // Vault down switch.
    sim.handle.set_vault_down(true);
    let (s, b) = get(
        &c,
        &format!("{base}?AppID=arkbridge&Safe=Prod-DB&Object=payments-db"),
    )
    .await;
    assert_eq!((s, b["ErrorCode"].as_str()), (400, Some("APPAP007E")));
    sim.handle.set_vault_down(false);
    let (s, _) = get(
        &c,
        &format!("{base}?AppID=arkbridge&Safe=Prod-DB&Object=payments-db"),
    )
    .await;
    assert_eq!(s, 200);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn change_in_progress_is_reported() {
    // A CPM that never finishes during the test keeps the change in progress deterministically.
    let sim = start_with(None, Duration::from_secs(3600)).await;
    let info = sim.info();
    let c = client(info, true);
    let token = logon(&c, info, &info.pvwa_user, &info.pvwa_password, true).await;
    let resp = c
        .post(format!(
            "{}/PasswordVault/API/Accounts/21_1/Change",
            info.pvwa_url
        ))
        .header("Authorization", &token)
        .json(&serde_json::json!({"ChangeEntireGroup": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let base = format!(
        "{}/AIMWebService/api/Accounts?AppID=arkbridge&Safe=Prod-DB&Object=payments-db",
        info.ccp_url
    );
    let (s, b) = get(&c, &base).await;
    assert_eq!(s, 200);
    assert_eq!(b["PasswordChangeInProcess"], "True");
    let (s, b) = get(&c, &format!("{base}&FailRequestOnPasswordChange=true")).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (500, Some("APPAP282E")));
    sim.handle.shutdown().await;
}
