//! PVWA account administration: `POST /API/Accounts` (201, ids, validation, duplicates),
//! `PATCH /API/Accounts/{id}` (JSON-patch operations) and `DELETE /API/Accounts/{id}` (204),
//! each with the safe permission the Vault requires.

mod common;

use std::time::Duration;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

/// The demo seed with a known Administrator password, a read-only `operator`
/// (`op-pass-1`), an `editor` (`ed-pass-1`) who may update properties but not rename or
/// delete, and an exclusive platform.
fn admin_seed() -> String {
    with_admin_password(arkbridge_sim::DEMO_SEED)
        .replacen(
            "pvwaUsers:\n",
            "platforms:\n  - { id: UnixSSH-OTP, exclusive: true }\n\npvwaUsers:\n  - username: operator\n    password: op-pass-1\n  - username: editor\n    password: ed-pass-1\n",
            1,
        )
        .replacen(
            "      - { name: Administrator, type: user, permissions: full }\n",
            "      - { name: Administrator, type: user, permissions: full }\n      - { name: operator, type: user, permissions: read-only }\n      - { name: editor, type: user, permissions: [listAccounts, updateAccountProperties] }\n",
            1,
        )
}

async fn setup() -> (Sim, reqwest::Client, String) {
    let sim = start_with(Some(&admin_seed()), Duration::from_millis(20)).await;
    let c = client(sim.info(), false);
    let t = logon(&c, sim.info(), "Administrator", ADMIN_PASSWORD, true).await;
    (sim, c, t)
}

fn new_account(name: Option<&str>) -> Value {
    let mut v = json!({
        "safeName": "Prod-DB",
        "platformId": "PostgreSQL",
        "address": "db2.example.com",
        "userName": "app",
        "secret": "S3cret-Value",
    });
    if let Some(n) = name {
        v["name"] = json!(n);
    }
    v
}

#[tokio::test]
async fn add_account_is_201_with_the_next_object_id_of_the_safe() {
    let (sim, c, t) = setup().await;
    let info = sim.info();
    let (s, a) = pvwa(
        &c,
        info,
        Method::POST,
        "Accounts",
        &t,
        Some(new_account(Some("app-db"))),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["id"], "21_2");
    assert_eq!(a["safeName"], "Prod-DB");
    assert_eq!(a["secretType"], "password");
    assert_eq!(a["secretManagement"]["automaticManagementEnabled"], true);
    assert_eq!(
        a["remoteMachinesAccess"]["accessRestrictedToRemoteMachines"],
        false
    );
    // Without a name the PVWA derives one: DeviceType-platformId-address-userName.
    let (s, b) = pvwa(
        &c,
        info,
        Method::POST,
        "Accounts",
        &t,
        Some(new_account(None)),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["id"], "21_3");
    assert_eq!(b["name"], "Database-PostgreSQL-db2.example.com-app");
    // The new account has its first secret version, by its creator.
    let (_, v) = pvwa(
        &c,
        info,
        Method::GET,
        "Accounts/21_2/Secret/Versions",
        &t,
        None,
    )
    .await;
    assert_eq!(v["Versions"][0]["modifiedBy"], "Administrator");
    let (s, secret) = pvwa(
        &c,
        info,
        Method::POST,
        "Accounts/21_2/Password/Retrieve",
        &t,
        Some(json!({})),
    )
    .await;
    assert_eq!((s, secret), (200, json!("S3cret-Value")));
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn add_account_without_add_permission_is_403() {
    let (sim, c, _) = setup().await;
    let info = sim.info();
    let op = logon(&c, info, "operator", "op-pass-1", true).await;
    let (s, b) = pvwa(
        &c,
        info,
        Method::POST,
        "Accounts",
        &op,
        Some(new_account(Some("x"))),
    )
    .await;
    assert_eq!((s, b["ErrorCode"].as_str()), (403, Some("PASWS041E")));
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn add_account_validation_errors_are_400_and_unknown_safes_404() {
    let (sim, c, t) = setup().await;
    let info = sim.info();
    let mut cases = Vec::new();
    let mut no_safe = new_account(Some("x"));
    no_safe.as_object_mut().unwrap().remove("safeName");
    cases.push((no_safe, 400, "PASWS088E"));
    let mut no_platform = new_account(Some("x"));
    no_platform["platformId"] = json!("  ");
    cases.push((no_platform, 400, "PASWS088E"));
    let mut bad_type = new_account(Some("x"));
    bad_type["secretType"] = json!("token");
    cases.push((bad_type, 400, "ARKSIM400E"));
    cases.push((new_account(Some("a/b")), 400, "ARKSIM400E"));
    let mut bad_props = new_account(Some("x"));
    bad_props["platformAccountProperties"] = json!({"Port": {"nested": 1}});
    cases.push((bad_props, 400, "ARKSIM400E"));
    let mut no_such_safe = new_account(Some("x"));
    no_such_safe["safeName"] = json!("No-Such-Safe");
    cases.push((no_such_safe, 404, "SFWS0007"));
    for (body, status, code) in cases {
        let (s, b) = pvwa(&c, info, Method::POST, "Accounts", &t, Some(body.clone())).await;
        assert_eq!((s, b["ErrorCode"].as_str()), (status, Some(code)), "{body}");
    }
    let (s, b) = pvwa(
        &c,
        info,
        Method::POST,
        "Accounts",
        &t,
        Some(json!(["not", "an", "object"])),
    )
    .await;
    assert_eq!((s, b["ErrorCode"].as_str()), (400, Some("CAWS00001E")));
    // Nothing was added.
    let (_, list) = pvwa(
        &c,
        info,
        Method::GET,
        "Accounts?filter=safeName%20eq%20Prod-DB",
        &t,
        None,
    )
    .await;
    assert_eq!(list["count"], 1);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn add_account_with_a_name_the_safe_already_has_is_409_pasws027e() {
    let (sim, c, t) = setup().await;
    let info = sim.info();
    let (s, b) = pvwa(
        &c,
        info,
        Method::POST,
        "Accounts",
        &t,
        Some(new_account(Some("PAYMENTS-DB"))),
    )
    .await;
    assert_eq!((s, b["ErrorCode"].as_str()), (409, Some("PASWS027E")));
    // The same name in another safe is fine.
    let mut other = new_account(Some("payments-db"));
    other["safeName"] = json!("Prod-DB-RO");
    let (s, _) = pvwa(&c, info, Method::POST, "Accounts", &t, Some(other)).await;
    assert_eq!(s, 201);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn deleted_account_ids_are_never_reused() {
    let (sim, c, t) = setup().await;
    let info = sim.info();
    let (_, a) = pvwa(
        &c,
        info,
        Method::POST,
        "Accounts",
        &t,
        Some(new_account(Some("one"))),
    )
    .await;
    assert_eq!(a["id"], "21_2");
    let (s, _) = pvwa(&c, info, Method::DELETE, "Accounts/21_2", &t, None).await;
    assert_eq!(s, 204);
    let (_, b) = pvwa(
        &c,
        info,
        Method::POST,
        "Accounts",
        &t,
        Some(new_account(Some("two"))),
    )
    .await;
    assert_eq!(b["id"], "21_3");
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn patch_account_replaces_adds_and_removes_on_the_documented_paths() {
    let (sim, c, t) = setup().await;
    let info = sim.info();
    let ops = json!([
        {"op": "replace", "path": "/address", "value": "db9.example.com"},
        {"op": "add", "path": "/platformAccountProperties/Owner", "value": "team-a"},
        {"op": "remove", "path": "/platformAccountProperties/Database"},
        {"op": "replace", "path": "/platformAccountProperties/port", "value": 6432},
        {"op": "replace", "path": "/secretmanagement/automaticManagementEnabled", "value": false},
        {"op": "replace", "path": "/secretManagement/manualManagementReason", "value": "migration"},
        {"op": "replace", "path": "/remoteMachinesAccess/remoteMachines", "value": "jump1;jump2"},
        {"op": "replace", "path": "/name", "value": "payments-db-v2"},
    ]);
    let (s, a) = pvwa(&c, info, Method::PATCH, "Accounts/21_1/", &t, Some(ops)).await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["address"], "db9.example.com");
    assert_eq!(a["name"], "payments-db-v2");
    assert_eq!(
        a["platformAccountProperties"],
        json!({"Owner": "team-a", "Port": "6432"})
    );
    assert_eq!(a["secretManagement"]["automaticManagementEnabled"], false);
    assert_eq!(a["secretManagement"]["manualManagementReason"], "migration");
    assert_eq!(a["remoteMachinesAccess"]["remoteMachines"], "jump1;jump2");
    let (_, again) = pvwa(&c, info, Method::GET, "Accounts/21_1", &t, None).await;
    assert_eq!(again, a);
    // A bad operation changes nothing (all or nothing).
    let ops = json!([
        {"op": "replace", "path": "/address", "value": "other.example.com"},
        {"op": "replace", "path": "/safeName", "value": "Prod-DB-RO"},
    ]);
    let (s, b) = pvwa(&c, info, Method::PATCH, "Accounts/21_1", &t, Some(ops)).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (400, Some("ARKSIM400E")));
    let (_, after) = pvwa(&c, info, Method::GET, "Accounts/21_1", &t, None).await;
    assert_eq!(after["address"], "db9.example.com");
    // The activity log names the operations, never their values.
    let (_, acts) = pvwa(&c, info, Method::GET, "Accounts/21_1/Activities", &t, None).await;
    let update = &acts["Activities"][0];
    assert_eq!(update["Action"], "Update account properties");
    assert!(
        update["MoreInfo"]
            .as_str()
            .unwrap()
            .contains("replace /name")
    );
    assert!(!update["MoreInfo"].as_str().unwrap().contains("migration"));
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn patch_account_without_update_permission_is_403() {
    let (sim, c, _) = setup().await;
    let info = sim.info();
    let op = logon(&c, info, "operator", "op-pass-1", true).await;
    let ops = json!([{"op": "replace", "path": "/address", "value": "x"}]);
    let (s, b) = pvwa(&c, info, Method::PATCH, "Accounts/21_1", &op, Some(ops)).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (403, Some("PASWS041E")));
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn patch_account_name_needs_the_rename_permission_too() {
    let (sim, c, _) = setup().await;
    let info = sim.info();
    let ed = logon(&c, info, "editor", "ed-pass-1", true).await;
    let rename = json!([{"op": "replace", "path": "/name", "value": "renamed"}]);
    let (s, b) = pvwa(&c, info, Method::PATCH, "Accounts/21_1", &ed, Some(rename)).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (403, Some("PASWS041E")));
    let address = json!([{"op": "replace", "path": "/address", "value": "x.example.com"}]);
    let (s, a) = pvwa(&c, info, Method::PATCH, "Accounts/21_1", &ed, Some(address)).await;
    assert_eq!((s, a["address"].as_str()), (200, Some("x.example.com")));
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn patch_account_to_a_name_the_safe_already_has_is_409() {
    let (sim, c, t) = setup().await;
    let info = sim.info();
    let (_, _) = pvwa(
        &c,
        info,
        Method::POST,
        "Accounts",
        &t,
        Some(new_account(Some("second"))),
    )
    .await;
    let ops = json!([{"op": "replace", "path": "/name", "value": "Payments-DB"}]);
    let (s, b) = pvwa(&c, info, Method::PATCH, "Accounts/21_2", &t, Some(ops)).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (409, Some("PASWS027E")));
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn patch_to_an_exclusive_platform_makes_the_account_exclusive() {
    let (sim, c, t) = setup().await;
    let info = sim.info();
    let op = logon(&c, info, "operator", "op-pass-1", true).await;
    let ops = json!([{"op": "replace", "path": "/platformId", "value": "UnixSSH-OTP"}]);
    let (s, _) = pvwa(&c, info, Method::PATCH, "Accounts/21_1", &t, Some(ops)).await;
    assert_eq!(s, 200);
    let retrieve = "Accounts/21_1/Password/Retrieve";
    assert_eq!(
        pvwa(&c, info, Method::POST, retrieve, &op, Some(json!({})))
            .await
            .0,
        200
    );
    let (s, b) = pvwa(&c, info, Method::POST, retrieve, &t, Some(json!({}))).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (400, Some("PASWS143E")));
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn delete_account_is_204_and_the_account_is_gone_everywhere() {
    let (sim, c, t) = setup().await;
    let info = sim.info();
    let r = c
        .delete(format!(
            "{}/PasswordVault/api/accounts/21_1/",
            info.pvwa_url
        ))
        .header("Authorization", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.bytes().await.unwrap().is_empty());
    let (s, _) = pvwa(&c, info, Method::GET, "Accounts/21_1", &t, None).await;
    assert_eq!(s, 404);
    let (s, _) = pvwa(&c, info, Method::DELETE, "Accounts/21_1", &t, None).await;
    assert_eq!(s, 404);
    let ccp = client(info, true)
        .get(format!(
            "{}/AIMWebService/api/Accounts?AppID=arkbridge&Safe=Prod-DB&Object=payments-db",
            info.ccp_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(ccp.status(), 404);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn delete_account_without_delete_permission_is_403() {
    let (sim, c, _) = setup().await;
    let info = sim.info();
    for (user, pw) in [("operator", "op-pass-1"), ("editor", "ed-pass-1")] {
        let t = logon(&c, info, user, pw, true).await;
        let (s, b) = pvwa(&c, info, Method::DELETE, "Accounts/21_1", &t, None).await;
        assert_eq!(
            (s, b["ErrorCode"].as_str()),
            (403, Some("PASWS041E")),
            "{user}"
        );
    }
    sim.handle.shutdown().await;
}
