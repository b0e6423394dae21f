//! PVWA safes and safe members: paging, codes 201/200/204, SFWS0002/0007/0012/0013, URL-encoded
//! `safeUrlId`, microsecond `lastModificationTime` and the permission checks.

mod common;

use std::time::Duration;

use common::*;
use reqwest::Method;
use serde_json::json;

async fn admin_sim() -> (Sim, reqwest::Client, String) {
    let sim = start_with(
        Some(&with_admin_password(arkbridge_sim::DEMO_SEED)),
        Duration::from_millis(20),
    )
    .await;
    let c = client(sim.info(), false);
    let t = logon(&c, sim.info(), "Administrator", ADMIN_PASSWORD, true).await;
    (sim, c, t)
}

#[tokio::test]
async fn safes_list_get_add_update_delete() {
    let (sim, c, adm) = admin_sim().await;
    let info = sim.info();
    let (s, all) = pvwa(&c, info, Method::GET, "Safes", &adm, None).await;
    assert_eq!((s, all["count"].as_u64()), (200, Some(4)));
    assert!(all.get("nextLink").is_none());
    let first = &all["value"][0];
    assert_eq!(first["safeName"], "Integrations");
    assert!(first["lastModificationTime"].as_i64().unwrap() > 1_000_000_000_000_000);
    assert!(first["creationTime"].as_i64().unwrap() < 10_000_000_000);
    let (_, p) = pvwa(&c, info, Method::GET, "safes?limit=2", &adm, None).await;
    assert_eq!(p["value"].as_array().map(Vec::len), Some(2));
    assert_eq!(p["nextLink"], "api/Safes?offset=2&limit=2");
    let path = "Safes?offset=18446744073709551615";
    let (s, p) = pvwa(&c, info, Method::GET, path, &adm, None).await;
    assert_eq!((s, p["value"].as_array().map(Vec::len)), (200, Some(0)));
    let (_, p) = pvwa(&c, info, Method::GET, "Safes?search=replica", &adm, None).await;
    assert_eq!(p["value"][0]["safeName"], "Prod-DB-RO");

    let body = json!({"SafeName": "My Safe", "description": "test", "numberOfDaysRetention": 0});
    let (s, safe) = pvwa(&c, info, Method::POST, "Safes", &adm, Some(body.clone())).await;
    assert_eq!(s, 201);
    assert_eq!(safe["safeUrlId"], "My%20Safe");
    assert_eq!(safe["safeNumber"], 25);
    assert_eq!(safe["creator"]["name"], "Administrator");
    assert_eq!(safe["numberOfDaysRetention"], 0);
    let (s, b) = pvwa(&c, info, Method::POST, "Safes", &adm, Some(body)).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (409, Some("SFWS0002")));
    for bad in [
        json!({"safeName": "a.b"}),
        json!({"safeName": "x", "numberOfDaysRetention": 1, "numberOfVersionsRetention": 2}),
    ] {
        assert_eq!(
            pvwa(&c, info, Method::POST, "Safes", &adm, Some(bad))
                .await
                .0,
            400
        );
    }
    let (s, b) = pvwa(&c, info, Method::POST, "Safes", &adm, Some(json!({}))).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (400, Some("PASWS088E")));

    let (s, got) = pvwa(
        &c,
        info,
        Method::GET,
        "Safes/My%20Safe/?includeAccounts=true",
        &adm,
        None,
    )
    .await;
    assert_eq!((s, got["description"].as_str()), (200, Some("test")));
    assert_eq!(got["accounts"], json!([]));
    let (s, up) = pvwa(
        &c,
        info,
        Method::PUT,
        "Safes/My%20Safe",
        &adm,
        Some(json!({"description": "changed", "olacEnabled": true})),
    )
    .await;
    assert_eq!((s, up["description"].as_str()), (200, Some("changed")));
    assert!(up["lastModificationTime"].as_i64() >= safe["lastModificationTime"].as_i64());
    let (s, _) = pvwa(
        &c,
        info,
        Method::PUT,
        "Safes/My%20Safe",
        &adm,
        Some(json!({"olacEnabled": false})),
    )
    .await;
    assert_eq!(s, 400);
    // Rename carries the accounts along.
    let (s, _) = pvwa(
        &c,
        info,
        Method::PUT,
        "Safes/Prod-DB-RO",
        &adm,
        Some(json!({"safeName": "Replicas"})),
    )
    .await;
    assert_eq!(s, 200);
    let (_, a) = pvwa(&c, info, Method::GET, "Accounts/22_1", &adm, None).await;
    assert_eq!(a["safeName"], "Replicas");

    let (s, _) = pvwa(&c, info, Method::DELETE, "Safes/My%20Safe", &adm, None).await;
    assert_eq!(s, 204);
    let (s, b) = pvwa(&c, info, Method::GET, "Safes/My%20Safe", &adm, None).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (404, Some("SFWS0007")));
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn safe_permissions_are_checked() {
    let (sim, c, _) = admin_sim().await;
    let info = sim.info();
    let svc = logon(&c, info, &info.pvwa_user, &info.pvwa_password, true).await;
    // arkbridge-svc is a member of Prod-DB, Prod-DB-RO and Vaulted-Secrets only; Integrations
    // looks missing.
    let (_, all) = pvwa(&c, info, Method::GET, "Safes", &svc, None).await;
    assert_eq!(all["count"], 3);
    let (s, b) = pvwa(&c, info, Method::GET, "Safes/Integrations", &svc, None).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (404, Some("SFWS0007")));
    for (method, path, body) in [
        (Method::POST, "Safes", Some(json!({"safeName": "Mine"}))),
        (
            Method::PUT,
            "Safes/Prod-DB",
            Some(json!({"description": "x"})),
        ),
        (Method::DELETE, "Safes/Prod-DB", None),
        (
            Method::POST,
            "Safes/Prod-DB/Members",
            Some(json!({"memberName": "developers"})),
        ),
    ] {
        let (s, b) = pvwa(&c, info, method, path, &svc, body).await;
        assert_eq!(
            (s, b["ErrorCode"].as_str()),
            (403, Some("PASWS041E")),
            "{path}"
        );
    }
    // The demo's rotation user holds viewSafeMembers (arkbridge reads safe members for its
    // policy's rule 4), so it may list them, but not change them.
    let (s, _) = pvwa(&c, info, Method::GET, "Safes/Prod-DB/Members", &svc, None).await;
    assert_eq!(s, 200);
    // A member may read its own entry.
    let (s, me) = pvwa(
        &c,
        info,
        Method::GET,
        "Safes/Prod-DB/Members/arkbridge-svc/",
        &svc,
        None,
    )
    .await;
    assert_eq!(
        (s, me["permissions"]["listAccounts"].as_bool()),
        (200, Some(true))
    );
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn members_list_add_update_delete() {
    let (sim, c, adm) = admin_sim().await;
    let info = sim.info();
    let (s, list) = pvwa(&c, info, Method::GET, "Safes/Prod-DB/Members", &adm, None).await;
    assert_eq!(s, 200);
    // The demo seed's members of Prod-DB, whatever else it adds there.
    let names: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["memberName"].as_str())
        .collect();
    assert_eq!(list["count"].as_u64(), Some(names.len() as u64));
    for expected in ["Administrator", "arkbridge", "arkbridge-svc"] {
        assert!(names.contains(&expected), "{names:?}");
    }
    let groups_before = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["memberType"] == "Group")
        .count();
    let admin = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["memberName"] == "Administrator")
        .cloned()
        .unwrap();
    let perms = admin["permissions"].as_object().unwrap();
    assert_eq!(perms.len(), 22);
    assert_eq!(perms.values().filter(|v| **v == json!(true)).count(), 21);
    assert_eq!(admin["safeUrlId"], "Prod-DB");
    let (_, p) = pvwa(
        &c,
        info,
        Method::GET,
        "Safes/Prod-DB/Members?limit=1",
        &adm,
        None,
    )
    .await;
    assert_eq!(p["nextLink"], "api/Safes/Prod-DB/Members?offset=1&limit=1");

    let body = json!({"memberName": "developers", "searchIn": "Vault",
                      "permissions": {"ListAccounts": true, "useAccounts": true, "retrieveAccounts": true}});
    let (s, m) = pvwa(
        &c,
        info,
        Method::POST,
        "Safes/Prod-DB/Members",
        &adm,
        Some(body.clone()),
    )
    .await;
    assert_eq!((s, m["memberType"].as_str()), (201, Some("Group")));
    assert_eq!(m["permissions"]["retrieveAccounts"], true);
    assert_eq!(m["permissions"]["manageSafe"], false);
    let (s, b) = pvwa(
        &c,
        info,
        Method::POST,
        "Safes/Prod-DB/Members",
        &adm,
        Some(body),
    )
    .await;
    assert_eq!((s, b["ErrorCode"].as_str()), (409, Some("SFWS0012")));
    let (s, _) = pvwa(
        &c,
        info,
        Method::POST,
        "Safes/Prod-DB/Members",
        &adm,
        Some(json!({"memberName": "nobody"})),
    )
    .await;
    assert_eq!(s, 404);
    let (_, g) = pvwa(
        &c,
        info,
        Method::GET,
        "Safes/Prod-DB/Members?filter=memberType%20eq%20group",
        &adm,
        None,
    )
    .await;
    assert_eq!(g["count"].as_u64(), Some(groups_before as u64 + 1));

    // Granting retrieveAccounts to arkbridge-svc lets it retrieve.
    let svc = logon(&c, info, &info.pvwa_user, &info.pvwa_password, true).await;
    let retrieve = "Accounts/21_1/Password/Retrieve";
    assert_eq!(
        pvwa(&c, info, Method::POST, retrieve, &svc, Some(json!({})))
            .await
            .0,
        403
    );
    let body = json!({"permissions": {"listAccounts": true, "retrieveAccounts": true}});
    let (s, m) = pvwa(
        &c,
        info,
        Method::PUT,
        "Safes/Prod-DB/Members/arkbridge-svc/",
        &adm,
        Some(body),
    )
    .await;
    assert_eq!(
        (s, m["permissions"]["retrieveAccounts"].as_bool()),
        (200, Some(true))
    );
    assert_eq!(
        pvwa(&c, info, Method::POST, retrieve, &svc, Some(json!({})))
            .await
            .0,
        200
    );

    let (s, b) = pvwa(
        &c,
        info,
        Method::PUT,
        "Safes/Prod-DB/Members/Administrator/",
        &adm,
        Some(json!({"permissions": {}})),
    )
    .await;
    assert_eq!((s, b["ErrorCode"].as_str()), (400, Some("SFWS0013")));
    let bad = json!({"permissions": {"listAccounts": "maybe"}});
    assert_eq!(
        pvwa(
            &c,
            info,
            Method::PUT,
            "Safes/Prod-DB/Members/developers/",
            &adm,
            Some(bad)
        )
        .await
        .0,
        400
    );

    let (s, _) = pvwa(
        &c,
        info,
        Method::DELETE,
        "Safes/Prod-DB/Members/developers/",
        &adm,
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, _) = pvwa(
        &c,
        info,
        Method::GET,
        "Safes/Prod-DB/Members/developers/",
        &adm,
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, b) = pvwa(&c, info, Method::GET, "Safes/Nope/Members", &adm, None).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (404, Some("SFWS0007")));
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn empty_safe_location_is_the_root() {
    // aiobastion's `safe.add` sends `"location": ""` unless told otherwise; the Vault puts such a
    // safe at the root, `\`.
    let (sim, c, adm) = admin_sim().await;
    let info = sim.info();
    let body = json!({"SafeName": "Rooted", "location": "", "NumberOfVersionsRetention": 10});
    let (s, safe) = pvwa(&c, info, Method::POST, "Safes", &adm, Some(body)).await;
    assert_eq!((s, safe["location"].as_str()), (201, Some("\\")));
    let body = json!({"safeName": "Rooted", "location": " "});
    let (s, safe) = pvwa(&c, info, Method::PUT, "Safes/Rooted/", &adm, Some(body)).await;
    assert_eq!((s, safe["location"].as_str()), (200, Some("\\")));
    let (_, safe) = pvwa(&c, info, Method::GET, "Safes/Rooted", &adm, None).await;
    assert_eq!(safe["location"], "\\");
}
