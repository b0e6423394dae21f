//! The Cloud REST v1 routes without a v2 equivalent: users and groups by account and group id,
//! label writes (read back over v2), attachments (upload needs the XSRF header) and the v2
//! `users-bulk` lookup.

use reqwest::Method;
use serde_json::json;

use crate::{Api, Auth, results, sim};

#[tokio::test]
async fn users_and_groups_by_account_id_and_group_id() {
    let sim = sim().await;
    let api = Api::bridge(&sim);
    let me = api.ok("/wiki/rest/api/user/current").await;
    assert_eq!(
        (me["type"].as_str(), me["email"].as_str()),
        (Some("known"), Some("arkbridge@example.com"))
    );
    let alice_id = Api::basic(&sim, "alice@example.com", "alice-token-1")
        .ok("/wiki/rest/api/user/current")
        .await["accountId"]
        .as_str()
        .unwrap()
        .to_string();
    let alice = api
        .ok(&format!("/wiki/rest/api/user?accountId={alice_id}"))
        .await;
    assert_eq!(alice["displayName"], "Alice Martin");
    assert_eq!(
        api.get("/wiki/rest/api/user?accountId=557058:nobody")
            .await
            .0,
        404
    );
    assert_eq!(
        api.get("/wiki/rest/api/user?username=alice").await.0,
        400,
        "usernames are gone on Cloud"
    );

    let groups = api
        .ok(&format!(
            "/wiki/rest/api/user/memberof?accountId={alice_id}"
        ))
        .await;
    let names: Vec<String> = results(&groups)
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        names.iter().any(|n| n == "platform-admins")
            && names.iter().any(|n| n == "confluence-users"),
        "{names:?}"
    );
    let admins = results(&groups)
        .into_iter()
        .find(|g| g["name"] == "platform-admins")
        .unwrap();
    let gid = admins["id"].as_str().unwrap();
    assert_eq!(
        api.ok(&format!("/wiki/rest/api/group/by-id?id={gid}"))
            .await["name"],
        "platform-admins"
    );
    let members = api
        .ok(&format!(
            "/wiki/rest/api/group/{gid}/membersByGroupId?shouldReturnTotalSize=true"
        ))
        .await;
    assert_eq!(
        (
            members["totalSize"].as_u64(),
            results(&members)[0]["accountId"].as_str()
        ),
        (Some(1), Some(alice_id.as_str()))
    );
    assert_eq!(
        api.get(&format!(
            "/wiki/rest/api/group/{gid}/membersByGroupId?limit=201"
        ))
        .await
        .0,
        400
    );
    let all = api.ok("/wiki/rest/api/group").await;
    assert!(all["size"].as_u64().unwrap() >= 4);

    let (s, _, bulk) = api
        .call(
            Method::POST,
            "/wiki/api/v2/users-bulk",
            Some(json!({"accountIds": [alice_id, "557058:nobody"]})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(results(&bulk).len(), 1);
    assert_eq!(results(&bulk)[0]["accountStatus"], "active");
    assert_eq!(
        api.call(
            Method::POST,
            "/wiki/api/v2/users-bulk",
            Some(json!({"accountIds": []}))
        )
        .await
        .0,
        400
    );
}

#[tokio::test]
async fn labels_are_added_over_v1_and_read_over_v2() {
    let sim = sim().await;
    let api = Api::bridge(&sim);
    let id = api.page_id("Legacy DB notes").await;
    let path = format!("/wiki/rest/api/content/{id}/label");
    let (s, _, b) = api
        .call(Method::POST, &path, Some(json!([{"prefix": "global", "name": "secrets-found"}, {"prefix": "global", "name": "legacy"}])))
        .await;
    assert_eq!((s, b["size"].as_u64()), (200, Some(2)), "{b}");
    let (s, _, b) = api
        .call(
            Method::POST,
            &path,
            Some(json!({"prefix": "global", "name": "has space"})),
        )
        .await;
    assert_eq!((s, b["statusCode"].as_u64()), (400, Some(400)));
    let v2 = api
        .ok(&format!("/wiki/api/v2/pages/{id}/labels?sort=name"))
        .await;
    let names: Vec<String> = results(&v2)
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["legacy", "secrets-found"]);
    let found = api
        .ok("/wiki/rest/api/search?cql=label%3Dsecrets-found")
        .await;
    assert_eq!(found["totalSize"], 1);
    assert_eq!(
        api.call(Method::DELETE, &format!("{path}/legacy"), None)
            .await
            .0,
        204
    );
    assert_eq!(
        api.call(Method::DELETE, &format!("{path}?name=secrets-found"), None)
            .await
            .0,
        204
    );
    assert_eq!(
        api.call(Method::DELETE, &format!("{path}?name=secrets-found"), None)
            .await
            .0,
        404
    );
    assert_eq!(api.ok(&path).await["size"], 0);
}

#[tokio::test]
async fn attachments_upload_with_the_xsrf_header_and_list() {
    let sim = sim().await;
    let api = Api::bridge(&sim);
    let id = api.page_id("Legacy DB notes").await;
    let url = format!("{}/wiki/rest/api/content/{id}/child/attachment", api.origin);
    let Auth::Basic(user, token) = api.auth.clone() else {
        unreachable!()
    };
    // A multipart/form-data body as browsers and clients send it.
    let form = "--sim-boundary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"db.conf\"\r\n\
                Content-Type: text/plain\r\n\r\nhost=db\npassword=x\r\n--sim-boundary\r\n\
                Content-Disposition: form-data; name=\"comment\"\r\n\r\nlegacy config\r\n--sim-boundary--\r\n";
    let post = |method: Method, xsrf: bool| {
        let mut req = api
            .c
            .request(method, &url)
            .basic_auth(&user, Some(&token))
            .header("Content-Type", "multipart/form-data; boundary=sim-boundary")
            .body(form);
        if xsrf {
            req = req.header("X-Atlassian-Token", "nocheck");
        }
        req.send()
    };
    let r = post(Method::POST, false).await.unwrap();
    assert_eq!(
        r.status(),
        403,
        "the XSRF check refuses uploads without X-Atlassian-Token"
    );
    let send = |method: Method| post(method, true);
    let r = send(Method::POST).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["results"][0]["title"], "db.conf");
    assert_eq!(body["results"][0]["extensions"]["comment"], "legacy config");
    assert_eq!(
        send(Method::POST).await.unwrap().status(),
        400,
        "same file name"
    );
    let r = send(Method::PUT).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["results"][0]["version"]["number"], 2);
    let listed = api
        .ok(&format!(
            "/wiki/rest/api/content/{id}/child/attachment?filename=db.conf"
        ))
        .await;
    assert_eq!(listed["size"], 1);
    let hits = api
        .ok("/wiki/rest/api/search?cql=type%3Dattachment%20and%20text~password")
        .await;
    assert_eq!(hits["results"][0]["content"]["title"], "db.conf");
}
