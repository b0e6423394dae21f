//! Activities: every PVWA retrieval, CCP fetch, credential operation and CPM task is recorded
//! with User, Action, Reason, ClientID and an epoch Date, on the account
//! (`GET /API/Accounts/{id}/Activities`) and in the Vault-wide audit of the admin endpoint.

mod common;

use std::time::Duration;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn retrievals_ccp_fetches_and_changes_are_activities_with_user_reason_client_and_date() {
    let sim = start_with(
        Some(&with_admin_password(arkbridge_sim::DEMO_SEED)),
        Duration::from_millis(20),
    )
    .await;
    let info = sim.info();
    let c = client(info, true);
    let before = jiff::Timestamp::now().as_second();
    let adm = logon(&c, info, "Administrator", ADMIN_PASSWORD, true).await;
    let body = json!({"reason": "incident 12", "TicketingSystem": "Jira", "TicketId": "OPS-1"});
    let (s, _) = pvwa(
        &c,
        info,
        Method::POST,
        "Accounts/21_1/Password/Retrieve",
        &adm,
        Some(body),
    )
    .await;
    assert_eq!(s, 200);
    let r = c
        .get(format!(
            "{}/AIMWebService/api/Accounts?AppID=arkbridge&Safe=Prod-DB&Object=payments-db&Reason=run%2099",
            info.ccp_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (s, _) = pvwa(
        &c,
        info,
        Method::POST,
        "Accounts/21_1/Change",
        &adm,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 200);
    eventually(|| {
        let (c, adm) = (c.clone(), adm.clone());
        async move {
            let (_, a) = pvwa(&c, info, Method::GET, "Accounts/21_1", &adm, None).await;
            a["secretManagement"]["status"] == "success"
        }
    })
    .await;

    let (_, acts) = pvwa(
        &c,
        info,
        Method::GET,
        "Accounts/21_1/Activities/",
        &adm,
        None,
    )
    .await;
    let rows: Vec<(String, String, String, String)> = acts["Activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            assert!(a["Date"].as_i64().unwrap() >= before, "{a}");
            let s = |k: &str| a[k].as_str().unwrap().to_string();
            (s("User"), s("Action"), s("ClientID"), s("Reason"))
        })
        .collect();
    let row = |u: &str, a: &str, c: &str, r: &str| (u.into(), a.into(), c.into(), r.into());
    assert_eq!(
        rows,
        [
            row("PasswordManager", "CPM Change Password", "CPM", ""),
            row("Administrator", "Change password", "PVWA", ""),
            row("arkbridge", "Retrieve password", "AIMWebService", "run 99"),
            row("Administrator", "Retrieve password", "PVWA", "incident 12"),
        ]
    );
    assert!(
        acts["Activities"][3]["MoreInfo"]
            .as_str()
            .unwrap()
            .contains("Jira OPS-1")
    );

    // The same records, with the account they concern, are in the Vault-wide audit after the
    // logon.
    let log: Value = c
        .get(format!("{}/__arkbridge_sim/activities", info.pvwa_url))
        .basic_auth("Administrator", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let all = log["Activities"].as_array().unwrap();
    let actions: Vec<&str> = all.iter().map(|a| a["Action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "CPM Change Password",
            "Change password",
            "Retrieve password",
            "Retrieve password",
            "Logon",
        ]
    );
    assert_eq!(all[2]["AccountID"], "21_1");
    assert_eq!(all[2]["Safe"], "Prod-DB");
    assert_eq!(all[2]["Object"], "payments-db");
    assert_eq!(all[4]["User"], "Administrator");
    sim.handle.shutdown().await;
}
