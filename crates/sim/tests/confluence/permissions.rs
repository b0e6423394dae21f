//! Space permissions and page restrictions decide what each user sees and may change, on every
//! route: v2 lists and reads, CQL search, Data Center content, and writes.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{Api, Auth, results, sim, titles};

const V2: &str = "/wiki/api/v2";

#[tokio::test]
async fn read_restrictions_hide_pages_from_lists_reads_and_searches() {
    let sim = sim().await;
    let alice = Api::basic(&sim, "alice@example.com", "alice-token-1");
    let bob = Api::basic(&sim, "bob@example.com", "bob-token-1");
    let parent = alice.page_id("Admins only").await;
    let child = alice.page_id("Admins child").await;
    for id in [&parent, &child] {
        assert_eq!(alice.get(&format!("{V2}/pages/{id}")).await.0, 200);
        let (s, _, b) = bob.get(&format!("{V2}/pages/{id}")).await;
        assert_eq!(s, 404, "a page Bob may not read does not exist for him");
        assert_eq!(b["errors"][0]["code"], "NOT_FOUND");
    }
    let listed = |api: Api| async move {
        titles(
            &api.ok(&format!("{V2}/pages?limit=250&title=Admins%20child"))
                .await,
        )
    };
    assert_eq!(listed(alice.clone()).await, ["Admins child"]);
    assert!(listed(bob.clone()).await.is_empty());
    let cql = "/wiki/rest/api/search?cql=title%20~%20Admins";
    assert_eq!(titles(&alice.ok(cql).await).len(), 2);
    assert!(titles(&bob.ok(cql).await).is_empty());
    let dc_bob = Api::with(&sim, Auth::Bearer("bob-pat-1".into()));
    assert_eq!(
        dc_bob
            .get(&format!("/confluence/rest/api/content/{child}"))
            .await
            .0,
        404
    );
    assert_eq!(
        bob.get(&format!("{V2}/pages/{child}/ancestors")).await.0,
        404
    );
    assert!(results(&bob.ok(&format!("{V2}/pages/{parent}/children")).await).is_empty());
}

#[tokio::test]
async fn space_permissions_decide_who_sees_a_space_and_who_may_edit() {
    let sim = sim().await;
    let alice = Api::basic(&sim, "alice@example.com", "alice-token-1");
    let bob = Api::basic(&sim, "bob@example.com", "bob-token-1");
    let carol = Api::basic(&sim, "carol@example.com", "");
    assert_eq!(
        carol.get(&format!("{V2}/spaces")).await.0,
        401,
        "Carol has no API token"
    );
    let bridge = Api::bridge(&sim);
    let keys = |b: Value| {
        results(&b)
            .iter()
            .map(|s| s["key"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(!keys(bridge.ok(&format!("{V2}/spaces")).await).contains(&"SEC".to_string()));
    assert!(keys(bob.ok(&format!("{V2}/spaces")).await).contains(&"SEC".to_string()));
    let sec = &results(&alice.ok(&format!("{V2}/spaces?keys=SEC")).await)[0];
    let sec_id = sec["id"].as_str().unwrap();
    assert_eq!(bridge.get(&format!("{V2}/spaces/{sec_id}")).await.0, 404);
    let perms = alice.ok(&format!("{V2}/spaces/{sec_id}/permissions")).await;
    let ops: Vec<(String, String, String)> = results(&perms)
        .iter()
        .map(|p| {
            (
                p["principal"]["type"].as_str().unwrap().to_string(),
                p["operation"]["key"].as_str().unwrap().to_string(),
                p["operation"]["targetType"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(ops.contains(&("group".into(), "read".into(), "space".into())));
    assert!(ops.contains(&("user".into(), "read".into(), "space".into())));
    assert!(ops.contains(&("group".into(), "create".into(), "page".into())));

    let page = alice.page_id("Incident keys").await;
    let edit = json!({"id": page, "status": "current", "title": "Incident keys",
                      "body": {"representation": "storage", "value": "<p>x</p>"}, "version": {"number": 2}});
    let (s, _, b) = bob
        .call(
            Method::PUT,
            &format!("{V2}/pages/{page}"),
            Some(edit.clone()),
        )
        .await;
    assert_eq!(s, 403, "Bob may view SEC but not edit in it: {b}");
    assert_eq!(
        alice
            .call(Method::PUT, &format!("{V2}/pages/{page}"), Some(edit))
            .await
            .0,
        200
    );
    let (s, _, _) = bob
        .call(
            Method::POST,
            &format!("{V2}/pages"),
            Some(json!({"spaceId": sec_id, "title": "Bob's page"})),
        )
        .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn update_restrictions_stop_other_editors() {
    let sim = sim().await;
    let alice = Api::basic(&sim, "alice@example.com", "alice-token-1");
    let bob = Api::basic(&sim, "bob@example.com", "bob-token-1");
    let id = alice.page_id("Locked runbook").await;
    assert_eq!(
        bob.get(&format!("{V2}/pages/{id}")).await.0,
        200,
        "update restrictions do not hide a page"
    );
    let edit = |n: u64| {
        json!({"id": id, "status": "current", "title": "Locked runbook",
                               "body": {"representation": "storage", "value": "<p>y</p>"}, "version": {"number": n}})
    };
    assert_eq!(
        bob.call(Method::PUT, &format!("{V2}/pages/{id}"), Some(edit(2)))
            .await
            .0,
        403
    );
    assert_eq!(
        alice
            .call(Method::PUT, &format!("{V2}/pages/{id}"), Some(edit(2)))
            .await
            .0,
        200
    );
    let (s, _, _) = bob
        .call(
            Method::POST,
            &format!("/wiki/rest/api/content/{id}/label"),
            Some(json!([{"prefix": "global", "name": "mine"}])),
        )
        .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn restrictions_are_read_changed_and_checked_over_v1() {
    let sim = sim().await;
    let alice = Api::basic(&sim, "alice@example.com", "alice-token-1");
    let bob = Api::basic(&sim, "bob@example.com", "bob-token-1");
    let id = alice.page_id("Payments DB health").await;
    let base = format!("/wiki/rest/api/content/{id}/restriction");
    let by_op = alice.ok(&format!("{base}/byOperation")).await;
    assert_eq!(by_op["read"]["restrictions"]["user"]["size"], 0);

    let alice_id = alice.ok("/wiki/rest/api/user/current").await["accountId"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!([{"operation": "read", "restrictions": {"user": [{"type": "known", "accountId": alice_id}], "group": []}}]);
    let (s, _, arr) = alice.call(Method::PUT, &base, Some(body)).await;
    assert_eq!(s, 200, "{arr}");
    assert_eq!(
        arr["results"][0]["restrictions"]["user"]["results"][0]["accountId"],
        alice_id.as_str()
    );
    assert!(arr["restrictionsHash"].is_string());
    assert_eq!(
        bob.get(&format!("{V2}/pages/{id}")).await.0,
        404,
        "now hidden from Bob"
    );

    let bob_id = bob.ok("/wiki/rest/api/user/current").await["accountId"]
        .as_str()
        .unwrap()
        .to_string();
    let check =
        |who: &str| json!({"subject": {"type": "user", "identifier": who}, "operation": "read"});
    let (_, _, yes) = alice
        .call(
            Method::POST,
            &format!("/wiki/rest/api/content/{id}/permission/check"),
            Some(check(&alice_id)),
        )
        .await;
    assert_eq!(yes["hasPermission"], true);
    let (_, _, no) = alice
        .call(
            Method::POST,
            &format!("/wiki/rest/api/content/{id}/permission/check"),
            Some(check(&bob_id)),
        )
        .await;
    assert_eq!(no["hasPermission"], false);
    assert_eq!(
        no["errors"][0]["translation"],
        "User does not have permission to the content"
    );

    let user_entry = format!("{base}/byOperation/read/user?accountId={bob_id}");
    assert_eq!(
        alice.get(&user_entry).await.0,
        404,
        "Bob is not in the restriction"
    );
    assert_eq!(alice.call(Method::PUT, &user_entry, None).await.0, 200);
    assert_eq!(alice.get(&user_entry).await.0, 200);
    assert_eq!(
        bob.get(&format!("{V2}/pages/{id}")).await.0,
        200,
        "Bob is let in"
    );

    let groups = alice.ok("/wiki/rest/api/group").await;
    let admins = results(&groups)
        .into_iter()
        .find(|g| g["name"] == "platform-admins")
        .unwrap();
    let group_entry = format!(
        "{base}/byOperation/update/byGroupId/{}",
        admins["id"].as_str().unwrap()
    );
    assert_eq!(alice.call(Method::PUT, &group_entry, None).await.0, 200);
    let update = alice.ok(&format!("{base}/byOperation/update")).await;
    assert_eq!(
        update["restrictions"]["group"]["results"][0]["name"],
        "platform-admins"
    );
    assert_eq!(alice.call(Method::DELETE, &base, None).await.0, 200);
    let cleared = alice.ok(&format!("{base}/byOperation")).await;
    assert_eq!(cleared["read"]["restrictions"]["user"]["size"], 0);
}
