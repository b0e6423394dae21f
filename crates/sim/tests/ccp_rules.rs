//! CCP rules beyond a plain lookup: reason-required platforms, exclusive (check-out) accounts,
//! expired applications and the Provider user's own safe membership.

mod common;

use std::time::Duration;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

/// The demo seed plus a safe `Exclusive` (safe 23) with `root-otp` on an exclusive platform and
/// `audited` on a reason-required one, readable by the bridge's AppID, and an `operator`
/// (`op-pass-1`, read-only there).
fn rules_seed() -> String {
    let safe = "  - name: Exclusive\n    accounts:\n      - name: root-otp\n        platformId: UnixSSH-OTP\n        address: host.example.com\n        userName: root\n      - name: audited\n        platformId: AuditedDB\n        userName: auditor\n    members:\n      - { name: arkbridge, type: app, permissions: [listAccounts, retrieveAccounts] }\n      - { name: arkbridge-svc, type: user, permissions: [listAccounts, initiateCPMAccountManagementOperations] }\n      - { name: Administrator, type: user, permissions: full }\n      - { name: operator, type: user, permissions: read-only }\n\n  - name: Integrations\n";
    with_admin_password(arkbridge_sim::DEMO_SEED)
        .replacen("  - name: Integrations\n", safe, 1)
        .replacen(
            "pvwaUsers:\n",
            "platforms:\n  - { id: UnixSSH-OTP, exclusive: true }\n  - { id: AuditedDB, requireReason: true }\n\npvwaUsers:\n  - username: operator\n    password: op-pass-1\n",
            1,
        )
}

async fn ccp(c: &reqwest::Client, info: &arkbridge_sim::SimInfo, query: &str) -> (u16, Value) {
    let r = c
        .get(format!(
            "{}/AIMWebService/api/Accounts?AppID=arkbridge&{query}",
            info.ccp_url
        ))
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap())
}

#[tokio::test]
async fn ccp_needs_a_reason_for_reason_required_platforms_and_audits_it() {
    let sim = start_with(Some(&rules_seed()), Duration::from_millis(20)).await;
    let info = sim.info();
    let c = client(info, true);
    for q in [
        "Safe=Exclusive&Object=audited",
        "Safe=Exclusive&Object=audited&Reason=%20%20",
    ] {
        let (s, b) = ccp(&c, info, q).await;
        assert_eq!(
            (s, b["ErrorCode"].as_str()),
            (400, Some("ARKSIM400E")),
            "{q}"
        );
        assert!(
            b["ErrorMsg"]
                .as_str()
                .unwrap()
                .contains("requires a reason")
        );
    }
    // Any case of the parameter name works, as for every CCP parameter.
    let (s, b) = ccp(&c, info, "Safe=Exclusive&Object=audited&reason=run%207").await;
    assert_eq!(s, 200, "{b}");
    let adm = logon(&c, info, "Administrator", ADMIN_PASSWORD, true).await;
    let (_, acts) = pvwa(
        &c,
        info,
        Method::GET,
        "Accounts/23_2/Activities",
        &adm,
        None,
    )
    .await;
    let first = &acts["Activities"][0];
    assert_eq!(
        (&first["User"], &first["ClientID"], &first["Reason"]),
        (
            &json!("arkbridge"),
            &json!("AIMWebService"),
            &json!("run 7")
        )
    );
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn ccp_checks_exclusive_accounts_out_to_the_application_until_check_in() {
    let sim = start_with(Some(&rules_seed()), Duration::from_millis(20)).await;
    let info = sim.info();
    let c = client(info, true);
    let q = "Safe=Exclusive&Object=root-otp";
    let (s, first) = ccp(&c, info, q).await;
    assert_eq!(s, 200, "{first}");
    // The application holds it: it may fetch again, a PVWA user may not retrieve it.
    assert_eq!(ccp(&c, info, q).await.0, 200);
    let op = logon(&c, info, "operator", "op-pass-1", true).await;
    let retrieve = "Accounts/23_1/Password/Retrieve";
    let (s, b) = pvwa(&c, info, Method::POST, retrieve, &op, Some(json!({}))).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (400, Some("PASWS143E")));
    // It shows as locked.
    let (_, locked) = pvwa(
        &c,
        info,
        Method::GET,
        "Accounts?savedfilter=Locked",
        &op,
        None,
    )
    .await;
    assert_eq!(locked["value"][0]["id"], "23_1");
    // The bridge's PVWA user checks it in: unlocked, and the CPM changes the password.
    let svc = logon(&c, info, &info.pvwa_user, &info.pvwa_password, true).await;
    let (s, _) = pvwa(&c, info, Method::POST, "Accounts/23_1/CheckIn", &svc, None).await;
    assert_eq!(s, 200);
    eventually(|| {
        let (c, svc) = (c.clone(), svc.clone());
        async move {
            let (_, a) = pvwa(&c, info, Method::GET, "Accounts/23_1", &svc, None).await;
            a["secretManagement"]["status"] == "success"
        }
    })
    .await;
    let (s, after) = pvwa(&c, info, Method::POST, retrieve, &op, Some(json!({}))).await;
    assert_eq!(s, 200);
    assert_ne!(after, first["Content"]);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn ccp_refuses_an_exclusive_account_a_pvwa_user_holds() {
    let sim = start_with(Some(&rules_seed()), Duration::from_millis(20)).await;
    let info = sim.info();
    let c = client(info, true);
    let op = logon(&c, info, "operator", "op-pass-1", true).await;
    let retrieve = "Accounts/23_1/Password/Retrieve";
    assert_eq!(
        pvwa(&c, info, Method::POST, retrieve, &op, Some(json!({})))
            .await
            .0,
        200
    );
    let (s, b) = ccp(&c, info, "Safe=Exclusive&Object=root-otp").await;
    assert_eq!((s, b["ErrorCode"].as_str()), (400, Some("ARKSIM400E")));
    assert!(
        b["ErrorMsg"]
            .as_str()
            .unwrap()
            .contains("locked by another user")
    );
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn expired_application_is_refused_with_appap008e() {
    let seed = arkbridge_sim::DEMO_SEED.replacen(
        "    certSubjectCN: arkbridge\n",
        "    certSubjectCN: arkbridge\n  - name: old-app\n    expirationDate: 2001-01-01\n  - name: future-app\n    expirationDate: 2999-01-01\n",
        1,
    );
    let seed = seed.replacen(
        "      - { name: arkbridge, type: app, permissions: [listAccounts, retrieveAccounts] }\n",
        "      - { name: arkbridge, type: app, permissions: [listAccounts, retrieveAccounts] }\n      - { name: old-app, type: app, permissions: [listAccounts, retrieveAccounts] }\n      - { name: future-app, type: app, permissions: [listAccounts, retrieveAccounts] }\n",
        1,
    );
    let sim = start_with(Some(&seed), Duration::from_millis(20)).await;
    let info = sim.info();
    let c = client(info, true);
    let url = |app: &str| {
        format!(
            "{}/AIMWebService/api/Accounts?AppID={app}&Safe=Prod-DB&Object=payments-db",
            info.ccp_url
        )
    };
    let r = c.get(url("old-app")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["ErrorCode"], "APPAP008E");
    assert!(b["ErrorMsg"].as_str().unwrap().contains("expired"), "{b}");
    assert_eq!(c.get(url("future-app")).send().await.unwrap().status(), 200);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn ccp_needs_the_provider_user_in_the_safe_too() {
    // Prod-DB lists the Provider user, Prod-DB-RO does not: only Prod-DB answers, and the
    // refusal is the same 404 APPAP004E as a missing account.
    let seed = arkbridge_sim::DEMO_SEED
        .replacen("pvwaUsers:\n", "providerUser: Prov_sim\n\npvwaUsers:\n", 1)
        .replacen(
            "      - { name: arkbridge, type: app, permissions: [listAccounts, retrieveAccounts] }\n",
            "      - { name: arkbridge, type: app, permissions: [listAccounts, retrieveAccounts] }\n      - { name: Prov_sim, type: provider, permissions: [listAccounts, retrieveAccounts] }\n",
            1,
        );
    let sim = start_with(Some(&seed), Duration::from_millis(20)).await;
    let info = sim.info();
    let c = client(info, true);
    let (s, _) = ccp(&c, info, "Safe=Prod-DB&Object=payments-db").await;
    assert_eq!(s, 200);
    let (s, b) = ccp(&c, info, "Safe=Prod-DB-RO&Object=payments-db-ro").await;
    assert_eq!((s, b["ErrorCode"].as_str()), (404, Some("APPAP004E")));
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn seeds_with_inconsistent_new_fields_are_refused() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    for (from, to, needle) in [
        (
            "    certSubjectCN: arkbridge\n",
            "    certSubjectCN: arkbridge\n    expirationDate: someday\n",
            "expirationDate",
        ),
        (
            "  - username: Administrator\n",
            "  - username: Administrator\n    radiusOtp: \"123456\"\n",
            "radiusOtp",
        ),
        (
            "  - username: arkbridge-svc\n",
            "  - username: arkbridge-svc\n    authType: LDAP\n",
            "authType",
        ),
        (
            "      - { name: Administrator, type: user, permissions: full }\n",
            "      - { name: Administrator, type: user, permissions: full }\n      - { name: Prov_x, type: provider, permissions: full }\n",
            "Prov_x",
        ),
    ] {
        let seed = arkbridge_sim::DEMO_SEED.replacen(from, to, 1);
        assert_ne!(seed, arkbridge_sim::DEMO_SEED, "{from}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed.yaml");
        std::fs::write(&path, seed).unwrap();
        let err = arkbridge_sim::start(arkbridge_sim::SimOptions {
            dir: dir.path().join("sim"),
            seed: Some(path),
            cpm_delay: Duration::from_millis(20),
        })
        .await
        .expect_err("the seed is refused");
        assert!(err.to_string().contains(needle), "{err}");
    }
}

#[tokio::test]
async fn disabled_apps_foreign_machines_and_wrong_serials_are_refused() {
    let apps = "  - name: off-app\n    disabled: true\n  - name: far-app\n    allowedMachines: [10.9.9.9]\n  - name: serial-app\n    certSerial: \"0A:0B:0C\"\n";
    let member = |n: &str| {
        format!(
            "      - {{ name: {n}, type: app, permissions: [listAccounts, retrieveAccounts] }}\n"
        )
    };
    let anchor =
        "      - { name: arkbridge, type: app, permissions: [listAccounts, retrieveAccounts] }\n";
    let seed = arkbridge_sim::DEMO_SEED
        .replacen(
            "    certSubjectCN: arkbridge\n",
            &format!("    certSubjectCN: arkbridge\n{apps}"),
            1,
        )
        .replacen(
            anchor,
            &format!(
                "{anchor}{}{}{}",
                member("off-app"),
                member("far-app"),
                member("serial-app")
            ),
            1,
        );
    let sim = start_with(Some(&seed), Duration::from_millis(20)).await;
    let info = sim.info();
    let c = client(info, true);
    let get = |app: &str| {
        let url = format!(
            "{}/AIMWebService/api/Accounts?AppID={app}&Safe=Prod-DB&Object=payments-db",
            info.ccp_url
        );
        let c = c.clone();
        async move {
            let r = c.get(url).send().await.unwrap();
            let s = r.status().as_u16();
            let b: Value = r.json().await.unwrap();
            (s, b["ErrorCode"].as_str().unwrap_or("").to_string())
        }
    };
    assert_eq!(get("off-app").await, (403, "APPAP008E".to_string()));
    assert_eq!(get("far-app").await, (403, "APPAP306E".to_string()));
    assert_eq!(get("serial-app").await, (403, "APPAP306E".to_string()));
    // The bridge's own application still works from the same connection.
    assert_eq!(get("arkbridge").await, (200, String::new()));
    sim.handle.shutdown().await;
}
