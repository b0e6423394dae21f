//! PVWA lists: the account list's default and maximum page size, `savedfilter`, and nextLinks
//! (accounts, safes, members) that keep the list's parameters.

mod common;

use std::time::Duration;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

/// The demo seed with a known Administrator password and a safe `Bulk` (safe 21) holding
/// `n` accounts `acct-0001`.. that the Administrator may use.
fn bulk_seed(n: usize) -> String {
    let accounts: String = (1..=n)
        .map(|i| format!("      - {{ name: acct-{i:04}, platformId: UnixSSH, address: h{i} }}\n"))
        .collect();
    let safe = format!(
        "safes:\n  - name: Bulk\n    accounts:\n{accounts}    members:\n      - {{ name: Administrator, type: user, permissions: full }}\n\n"
    );
    with_admin_password(arkbridge_sim::DEMO_SEED).replacen("safes:\n", &safe, 1)
}

async fn get(
    c: &reqwest::Client,
    info: &arkbridge_sim::SimInfo,
    t: &str,
    rel: &str,
) -> (u16, Value) {
    let r = c
        .get(format!("{}/PasswordVault/{rel}", info.pvwa_url))
        .header("Authorization", t)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap())
}

#[tokio::test]
async fn account_list_defaults_to_50_and_caps_the_limit_at_1000() {
    let sim = start_with(Some(&bulk_seed(1002)), Duration::from_millis(20)).await;
    let info = sim.info();
    let c = client(info, false);
    let t = logon(&c, info, "Administrator", ADMIN_PASSWORD, true).await;
    let filter = "filter=safeName%20eq%20Bulk";
    let (s, page) = get(&c, info, &t, &format!("API/Accounts?{filter}")).await;
    assert_eq!(s, 200);
    assert_eq!(page["value"].as_array().unwrap().len(), 50);
    assert_eq!(page["count"], 1002);
    assert_eq!(
        page["nextLink"],
        "api/Accounts?offset=50&limit=50&filter=safeName%20eq%20Bulk"
    );
    let (_, page) = get(&c, info, &t, &format!("API/Accounts?{filter}&limit=5000")).await;
    assert_eq!(page["value"].as_array().unwrap().len(), 1000);
    let next = page["nextLink"].as_str().unwrap();
    assert!(
        next.starts_with("api/Accounts?offset=1000&limit=1000&"),
        "{next}"
    );
    // The nextLink is relative to /PasswordVault/ and leads to the rest.
    let (_, last) = get(&c, info, &t, next).await;
    let names: Vec<&str> = last["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acct-1001", "acct-1002"]);
    assert!(last.get("nextLink").is_none());
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn account_next_link_keeps_search_sort_and_filter_but_drops_savedfilter_as_the_pvwa_does() {
    let sim = start_with(Some(&bulk_seed(5)), Duration::from_millis(20)).await;
    let info = sim.info();
    let c = client(info, false);
    let t = logon(&c, info, "Administrator", ADMIN_PASSWORD, true).await;
    let rel = "API/Accounts?search=acct&searchType=startswith&sort=name%20desc\
               &filter=safeName%20eq%20Bulk&savedfilter=Regular&limit=2";
    let (_, page) = get(&c, info, &t, rel).await;
    assert_eq!(
        page["nextLink"],
        "api/Accounts?offset=2&limit=2&search=acct&searchType=startswith&sort=name%20desc\
         &filter=safeName%20eq%20Bulk"
    );
    let mut names = Vec::new();
    let mut next = Some(rel.to_string());
    while let Some(rel) = next.take() {
        let (_, page) = get(&c, info, &t, &rel).await;
        names.extend(
            page["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["name"].clone()),
        );
        next = page["nextLink"].as_str().map(str::to_string);
    }
    assert_eq!(
        names,
        [
            "acct-0005",
            "acct-0004",
            "acct-0003",
            "acct-0002",
            "acct-0001"
        ]
    );
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn savedfilter_locked_and_scheduled_for_change_follow_the_account_state() {
    // A CPM that never finishes in the test keeps the change scheduled.
    let seed = bulk_seed(3).replacen(
        "pvwaUsers:\n",
        "platforms:\n  - { id: UnixSSH, exclusive: true }\n\npvwaUsers:\n",
        1,
    );
    let sim = start_with(Some(&seed), Duration::from_secs(600)).await;
    let info = sim.info();
    let c = client(info, false);
    let t = logon(&c, info, "Administrator", ADMIN_PASSWORD, true).await;
    let ids = |v: &Value| -> Vec<String> {
        v["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, none) = get(&c, info, &t, "API/Accounts?savedfilter=Locked").await;
    assert_eq!(none, json!({"value": [], "count": 0}));
    let retrieve = "Accounts/21_2/Password/Retrieve";
    assert_eq!(
        pvwa(&c, info, Method::POST, retrieve, &t, Some(json!({})))
            .await
            .0,
        200
    );
    let (_, locked) = get(&c, info, &t, "API/Accounts?savedFilter=locked").await;
    assert_eq!(ids(&locked), ["21_2"]);

    assert_eq!(
        pvwa(&c, info, Method::POST, "Accounts/21_3/Change", &t, None)
            .await
            .0,
        200
    );
    assert_eq!(
        pvwa(&c, info, Method::POST, "Accounts/21_1/Verify", &t, None)
            .await
            .0,
        200
    );
    let (_, change) = get(&c, info, &t, "API/Accounts?savedfilter=ScheduledForChange").await;
    assert_eq!(ids(&change), ["21_3"]);
    let (_, verify) = get(&c, info, &t, "API/Accounts?savedfilter=ScheduledForVerify").await;
    assert_eq!(ids(&verify), ["21_1"]);
    // Combined with a search, and with filters for things the simulator never has.
    let (_, both) = get(
        &c,
        info,
        &t,
        "API/Accounts?savedfilter=ScheduledForChange&search=acct-0001",
    )
    .await;
    assert_eq!(both["count"], 0);
    let (_, fav) = get(&c, info, &t, "API/Accounts?savedfilter=Favorites").await;
    assert_eq!(fav["count"], 0);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn unknown_or_unsimulated_savedfilter_is_400() {
    let sim = start_with(Some(&bulk_seed(1)), Duration::from_millis(20)).await;
    let info = sim.info();
    let c = client(info, false);
    let t = logon(&c, info, "Administrator", ADMIN_PASSWORD, true).await;
    for f in ["NoSuchFilter", "New"] {
        let (s, b) = get(&c, info, &t, &format!("API/Accounts?savedfilter={f}")).await;
        assert_eq!(
            (s, b["ErrorCode"].as_str()),
            (400, Some("ARKSIM400E")),
            "{f}"
        );
    }
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn safes_and_members_next_links_keep_their_parameters() {
    let sim = start_with(Some(&bulk_seed(1)), Duration::from_millis(20)).await;
    let info = sim.info();
    let c = client(info, false);
    let t = logon(&c, info, "Administrator", ADMIN_PASSWORD, true).await;
    let (_, page) = get(
        &c,
        info,
        &t,
        "API/Safes?search=Prod&sort=safeName%20desc&limit=1",
    )
    .await;
    assert_eq!(page["count"], 2);
    assert_eq!(page["value"][0]["safeName"], "Prod-DB-RO");
    let next = page["nextLink"].as_str().unwrap();
    assert_eq!(
        next,
        "api/Safes?offset=1&limit=1&search=Prod&sort=safeName%20desc"
    );
    let (_, second) = get(&c, info, &t, next).await;
    assert_eq!(second["value"][0]["safeName"], "Prod-DB");
    assert!(second.get("nextLink").is_none());

    let (_, members) = get(
        &c,
        info,
        &t,
        "API/Safes/Prod-DB/Members?filter=memberType%20eq%20user&limit=1",
    )
    .await;
    assert_eq!(
        members["nextLink"],
        "api/Safes/Prod-DB/Members?offset=1&limit=1&filter=memberType%20eq%20user"
    );
    sim.handle.shutdown().await;
}
