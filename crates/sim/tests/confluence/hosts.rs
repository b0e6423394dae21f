//! The three doors of the simulated Confluence: the Cloud site (`/wiki`, classic API tokens),
//! the API gateway (`/ex/confluence/{cloudId}/wiki`, scoped tokens and OAuth, scope checks,
//! 410 for removed v1 paths) and Data Center (`/confluence/rest/api`, PATs or passwords,
//! `start`/`limit`/`size` paging, `content/scan`).

use reqwest::Method;
use serde_json::json;

use crate::{Api, Auth, results, sim, titles};

#[tokio::test]
async fn the_site_takes_classic_tokens_only() {
    let sim = sim().await;
    let info = sim.info();
    let none = Api::with(&sim, Auth::None);
    let (s, _, b) = none.get("/wiki/api/v2/pages").await;
    assert_eq!((s, b["errors"][0]["status"].as_u64()), (401, Some(401)));
    let (s, _, b) = none.get("/wiki/rest/api/user/current").await;
    assert_eq!((s, b["statusCode"].as_u64()), (401, Some(401)));
    for auth in [
        Auth::Basic(info.confluence_user.clone(), "wrong".into()),
        Auth::Basic(info.confluence_user.clone(), "scoped-all-1".into()),
        Auth::Bearer("oauth-search-1".into()),
    ] {
        assert_eq!(
            Api::with(&sim, auth).get("/wiki/api/v2/spaces").await.0,
            401
        );
    }
    let tenant = none.ok("/_edge/tenant_info").await;
    assert_eq!(tenant["cloudId"], info.confluence_cloud_id.as_str());
    assert_eq!(
        info.confluence_dc_url,
        format!("{}/confluence", info.confluence_url)
    );
}

#[tokio::test]
async fn the_gateway_takes_scoped_and_oauth_tokens_and_checks_scopes() {
    let sim = sim().await;
    let info = sim.info();
    let gw = format!("/ex/confluence/{}/wiki", info.confluence_cloud_id);
    let user = info.confluence_user.clone();
    let all = Api::basic(&sim, &user, "scoped-all-1");
    let pages = all.ok(&format!("{gw}/api/v2/pages?limit=1")).await;
    let next = pages["_links"]["next"].as_str().unwrap();
    assert!(
        next.starts_with("/wiki/api/v2/pages?"),
        "next links keep the site path: {next}"
    );
    let again = all
        .ok(&format!(
            "/ex/confluence/{}{next}",
            info.confluence_cloud_id
        ))
        .await;
    assert_ne!(again["results"][0]["id"], pages["results"][0]["id"]);
    assert_eq!(
        Api::bridge(&sim).get(&format!("{gw}/api/v2/pages")).await.0,
        401,
        "classic tokens do not work here"
    );

    let read_only = Api::basic(&sim, &user, "scoped-read-1");
    assert_eq!(read_only.get(&format!("{gw}/api/v2/pages")).await.0, 200);
    let (s, headers, b) = read_only.get(&format!("{gw}/api/v2/spaces")).await;
    assert_eq!(s, 401);
    assert_eq!(
        b,
        json!({"code": 401, "message": "Unauthorized; scope does not match"})
    );
    assert_eq!(headers["x-failure-category"], "FAILURE_CLIENT_SCOPE_CHECK");

    let oauth = Api::with(&sim, Auth::Bearer("oauth-search-1".into()));
    let hits = oauth
        .ok(&format!("{gw}/rest/api/search?cql=label%3Drunbook"))
        .await;
    assert!(!titles(&hits).is_empty());
    let spaces = oauth.ok(&format!("{gw}/api/v2/spaces")).await;
    assert!(results(&spaces).iter().any(|s| s["key"] == "OPS"));
    assert_eq!(
        oauth.get(&format!("{gw}/api/v2/pages")).await.0,
        401,
        "no read:page scope"
    );

    let bogus = "/ex/confluence/00000000-0000-0000-0000-000000000000/wiki/api/v2/pages";
    assert_eq!(all.get(bogus).await.0, 404);
}

#[tokio::test]
async fn the_gateway_answers_removed_v1_paths_with_410() {
    let sim = sim().await;
    let info = sim.info();
    let gw = format!("/ex/confluence/{}/wiki/rest/api", info.confluence_cloud_id);
    let all = Api::basic(&sim, &info.confluence_user, "scoped-all-1");
    let site = Api::bridge(&sim);
    let id = site.page_id("Legacy DB notes").await;
    for path in [
        format!("/content/{id}"),
        "/content".into(),
        "/space".into(),
        format!("/content/{id}/child/comment"),
    ] {
        let (s, _, b) = all.get(&format!("{gw}{path}")).await;
        assert_eq!(s, 410, "{path}");
        assert_eq!(b["statusCode"], 410);
        assert_eq!(b["data"]["authorized"], true);
        assert!(b["message"].as_str().unwrap().contains("GoneException"));
    }
    assert_eq!(
        all.get(&format!("{gw}/content/{id}/restriction/byOperation"))
            .await
            .0,
        200,
        "restrictions live on"
    );
    let legacy = site
        .ok(&format!(
            "/wiki/rest/api/content/{id}?expand=body.storage,version"
        ))
        .await;
    assert_eq!(
        legacy["version"]["number"], 1,
        "the site still serves v1 content to basic auth"
    );
}

#[tokio::test]
async fn data_center_pages_with_start_limit_and_size_and_takes_pats() {
    let sim = sim().await;
    let alice = Api::with(&sim, Auth::Bearer("alice-pat-1".into()));
    let (s, headers, _) = Api::with(&sim, Auth::Bearer("nope".into()))
        .get("/confluence/rest/api/content")
        .await;
    assert_eq!(s, 401);
    assert_eq!(headers["x-seraph-loginreason"], "AUTHENTICATED_FAILED");
    assert_eq!(
        Api::basic(&sim, "alice", "alice-pass-1")
            .get("/confluence/rest/api/user/current")
            .await
            .0,
        200
    );

    let mut start = 0;
    let mut seen = 0;
    loop {
        let b = alice.ok(&format!("/confluence/rest/api/content?spaceKey=BULK&type=page&limit=200&start={start}&expand=version")).await;
        let size = b["size"].as_u64().unwrap() as usize;
        assert_eq!(
            (b["start"].as_u64(), b["limit"].as_u64()),
            (Some(start as u64), Some(200))
        );
        assert_eq!(b["_links"]["context"], "/confluence");
        seen += size;
        if size < 200 {
            assert!(b["_links"].get("next").is_none());
            break;
        }
        let next = b["_links"]["next"].as_str().unwrap();
        assert!(
            next.starts_with("/rest/api/content?")
                && next.contains(&format!("start={}", start + 200)),
            "{next}"
        );
        start += 200;
    }
    assert_eq!(seen, 301);

    let id = alice
        .ok("/confluence/rest/api/content?title=Incident%20keys&spaceKey=SEC")
        .await["results"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let edit = |n: u64| {
        json!({"id": id, "type": "page", "title": "Incident keys", "space": {"key": "SEC"},
                               "body": {"storage": {"value": "<p>dc</p>", "representation": "storage"}}, "version": {"number": n}})
    };
    let (s, _, b) = alice
        .call(
            Method::PUT,
            &format!("/confluence/rest/api/content/{id}"),
            Some(edit(1)),
        )
        .await;
    assert_eq!(
        (s, b["message"].as_str()),
        (
            409,
            Some("Version must be incremented on update. Current version is: 1")
        )
    );
    let (s, _, b) = alice
        .call(
            Method::PUT,
            &format!("/confluence/rest/api/content/{id}"),
            Some(edit(2)),
        )
        .await;
    assert_eq!((s, b["version"]["number"].as_u64()), (200, Some(2)));
    assert_eq!(b["version"]["by"]["username"], "alice");
    let old = alice
        .ok(&format!(
            "/confluence/rest/api/content/{id}?version=1&status=historical&expand=body.storage"
        ))
        .await;
    assert_eq!(
        old["body"]["storage"]["value"],
        "<p>Break-glass procedure.</p>"
    );

    let bob = alice.ok("/confluence/rest/api/user?username=bchen").await;
    assert_eq!(
        (bob["username"].as_str(), bob["type"].as_str()),
        (Some("bchen"), Some("known"))
    );
    let groups = alice
        .ok("/confluence/rest/api/user/memberof?username=alice")
        .await;
    assert!(
        results(&groups)
            .iter()
            .any(|g| g["name"] == "platform-admins")
    );
    let members = alice
        .ok("/confluence/rest/api/group/platform-admins/member")
        .await;
    assert_eq!(results(&members)[0]["username"], "alice");
    let perms = alice.ok("/confluence/rest/api/space/SEC/permissions").await;
    assert!(
        perms
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["subject"] == json!({"type": "user", "identifier": "bchen"}))
    );
}

#[tokio::test]
async fn content_scan_walks_a_space_with_a_cursor() {
    let sim = sim().await;
    let alice = Api::with(&sim, Auth::Bearer("alice-pat-1".into()));
    let mut path = "/rest/api/content/scan?spaceKey=BULK&limit=120".to_string();
    let mut ids = Vec::new();
    loop {
        let b = alice.ok(&format!("/confluence{path}")).await;
        ids.extend(
            results(&b)
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string()),
        );
        match b["_links"]["next"].as_str() {
            Some(n) => {
                assert!(b["nextCursor"].is_string());
                path = n.to_string();
            }
            None => break,
        }
    }
    assert_eq!(ids.len(), 301);
    let cql = alice.ok("/confluence/rest/api/content/search?cql=space%3DBULK%20and%20label%3Dbulk&limit=10&start=290").await;
    assert_eq!(cql["size"], 10);
}

#[tokio::test]
async fn data_center_comments_are_content_in_a_page_container() {
    let sim = sim().await;
    let alice = Api::with(&sim, Auth::Bearer("alice-pat-1".into()));
    let page = alice
        .ok("/confluence/rest/api/content?title=Payments%20DB%20health")
        .await["results"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let body = |container: &str| {
        json!({"type": "comment", "container": {"id": container, "type": "page"},
               "body": {"storage": {"value": "<p>dc result</p>", "representation": "storage"}}})
    };
    let (s, _, c) = alice
        .call(
            Method::POST,
            "/confluence/rest/api/content",
            Some(body(&page)),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(
        (c["type"].as_str(), c["container"]["id"].as_str()),
        (Some("comment"), Some(page.as_str()))
    );
    let id = c["id"].as_str().unwrap();
    let listed = alice
        .ok(&format!(
            "/confluence/rest/api/content/{page}/child/comment?expand=body.storage&depth=all"
        ))
        .await;
    assert_eq!(
        results(&listed)[0]["body"]["storage"]["value"],
        "<p>dc result</p>"
    );
    assert_eq!(
        alice
            .ok(&format!("/confluence/rest/api/content/{id}"))
            .await["type"],
        "comment"
    );
    let (s, _, _) = alice
        .call(
            Method::POST,
            "/confluence/rest/api/content",
            Some(body("1")),
        )
        .await;
    assert_eq!(s, 404, "no such page");
}
