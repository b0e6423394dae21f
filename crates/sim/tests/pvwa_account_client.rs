//! The PVWA account administration endpoints driven exactly as arkbridge's own client
//! (`crates/cyberark/src/pvwa_admin.rs`: `add_account`, `update_account`, `delete_account`)
//! sends its requests: logon at `API/auth/Cyberark/Logon` with `concurrentSession: true`, the
//! raw token in `Authorization`, `Accept: application/json`, a JSON body with
//! `Content-Type: application/json`, and the fields the client reads back from the account.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

/// The client's request: the application base `{pvwa}/PasswordVault/` joined with `rel`.
async fn call(
    c: &reqwest::Client,
    info: &arkbridge_sim::SimInfo,
    token: &str,
    method: Method,
    rel: &str,
    body: Option<&Value>,
) -> (u16, Vec<u8>) {
    let mut req = c
        .request(method, format!("{}/PasswordVault/{rel}", info.pvwa_url))
        .header("Authorization", token)
        .header("Accept", "application/json");
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(b).unwrap());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.bytes().await.unwrap().to_vec())
}

/// The client's logon: `{username, password, concurrentSession: true}`, token as a JSON string.
async fn client_logon(c: &reqwest::Client, info: &arkbridge_sim::SimInfo) -> String {
    let resp = c
        .post(format!(
            "{}/PasswordVault/API/auth/Cyberark/Logon",
            info.pvwa_url
        ))
        .header("Content-Type", "application/json")
        .body(
            serde_json::to_vec(&json!({
                "username": "Administrator",
                "password": ADMIN_PASSWORD,
                "concurrentSession": true,
            }))
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    serde_json::from_slice::<String>(&resp.bytes().await.unwrap()).unwrap()
}

/// The fields the client's `Account` reads (id must be a non-empty string).
fn assert_client_account(v: &Value) {
    assert!(v["id"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    for key in ["name", "safeName", "userName", "address", "platformId"] {
        assert!(v[key].is_string(), "{key}: {v}");
    }
    assert!(v["secretManagement"]["automaticManagementEnabled"].is_boolean());
    assert!(v["secretManagement"]["lastModifiedTime"].is_i64());
}

#[tokio::test]
async fn account_admin_requests_as_the_arkbridge_client_sends_them() {
    let sim = start_with(
        Some(&with_admin_password(arkbridge_sim::DEMO_SEED)),
        std::time::Duration::from_millis(20),
    )
    .await;
    let info = sim.info();
    let c = client(info, false);
    let token = client_logon(&c, info).await;

    // NewAccount::to_body: safeName, platformId, name, address, userName, secretType, secret,
    // platformAccountProperties, secretManagement.
    let body = json!({
        "safeName": "Prod-DB",
        "platformId": "PostgreSQL",
        "name": "reporting-db",
        "address": "reporting.prod.example.com",
        "userName": "reporting",
        "secretType": "password",
        "secret": "Client-Secret-1",
        "platformAccountProperties": {"Port": "5432", "Database": "reporting"},
        "secretManagement": {"automaticManagementEnabled": false, "manualManagementReason": "owned by BI"},
    });
    let (s, bytes) = call(&c, info, &token, Method::POST, "API/Accounts", Some(&body)).await;
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&bytes));
    let added: Value = serde_json::from_slice(&bytes).unwrap();
    assert_client_account(&added);
    assert_eq!(added["id"], "21_2");
    assert_eq!(added["name"], "reporting-db");
    assert_eq!(added["platformAccountProperties"]["Database"], "reporting");
    assert_eq!(
        added["secretManagement"]["manualManagementReason"],
        "owned by BI"
    );
    assert!(added.get("secret").is_none(), "the secret is never echoed");

    // The bridge's AppID is a member of Prod-DB, so the new account is there for the CCP too.
    let ccp: Value = client(info, true)
        .get(format!(
            "{}/AIMWebService/api/Accounts?AppID=arkbridge&Safe=Prod-DB&Object=reporting-db",
            info.ccp_url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ccp["Content"], "Client-Secret-1");
    assert_eq!(ccp["CPMDisabled"], "owned by BI");

    // The same add again: the client reports 409 PASWS027E as a refusal with that code.
    let (s, bytes) = call(&c, info, &token, Method::POST, "API/Accounts", Some(&body)).await;
    let err: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!((s, err["ErrorCode"].as_str()), (409, Some("PASWS027E")));
    assert!(!String::from_utf8_lossy(&bytes).contains("Client-Secret-1"));

    // update_account: PatchOp::replace on a top-level and a nested path.
    let ops = json!([
        {"op": "replace", "path": "/address", "value": "reporting2.prod.example.com"},
        {"op": "replace", "path": "/secretManagement/automaticManagementEnabled", "value": true},
    ]);
    let (s, bytes) = call(
        &c,
        info,
        &token,
        Method::PATCH,
        "API/Accounts/21_2",
        Some(&ops),
    )
    .await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&bytes));
    let updated: Value = serde_json::from_slice(&bytes).unwrap();
    assert_client_account(&updated);
    assert_eq!(updated["address"], "reporting2.prod.example.com");
    assert_eq!(
        updated["secretManagement"]["automaticManagementEnabled"],
        true
    );

    // delete_account: 204 with an empty body; the account is gone.
    let (s, bytes) = call(&c, info, &token, Method::DELETE, "API/Accounts/21_2", None).await;
    assert_eq!((s, bytes.len()), (204, 0));
    let (s, _) = call(&c, info, &token, Method::GET, "API/Accounts/21_2", None).await;
    assert_eq!(s, 404);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn find_account_paging_keeps_the_client_filter_and_search() {
    // find_account sends `filter=safeName eq S&search=NAME` and follows nextLink: every page
    // must keep both, or the second page would list other safes' accounts.
    let mut seed = with_admin_password(arkbridge_sim::DEMO_SEED);
    let extra: String = (1..=3)
        .map(|i| format!("      - {{ name: web-{i}, platformId: PostgreSQL, address: w{i} }}\n"))
        .collect();
    seed = seed.replacen(
        "    accounts:\n      - name: payments-db\n",
        &format!("    accounts:\n{extra}      - name: payments-db\n"),
        1,
    );
    let sim = start_with(Some(&seed), std::time::Duration::from_millis(20)).await;
    let info = sim.info();
    let c = client(info, false);
    let token = client_logon(&c, info).await;
    let mut rel = "API/Accounts?filter=safeName%20eq%20Prod-DB&search=web&limit=1".to_string();
    let mut names = Vec::new();
    for _ in 0..10 {
        let (s, bytes) = call(&c, info, &token, Method::GET, &rel, None).await;
        assert_eq!(s, 200);
        let page: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(page["count"], 3);
        names.extend(
            page["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["name"].clone()),
        );
        match page["nextLink"].as_str() {
            Some(link) => {
                assert!(link.starts_with("api/Accounts?offset="), "{link}");
                assert!(link.contains("filter=safeName%20eq%20Prod-DB"), "{link}");
                assert!(link.contains("search=web"), "{link}");
                rel = link.to_string();
            }
            None => break,
        }
    }
    assert_eq!(names, ["web-1", "web-2", "web-3"]);
    sim.handle.shutdown().await;
}
