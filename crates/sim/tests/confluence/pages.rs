//! Cloud REST v2 pages: paging, storage bodies, versions and includes, the 409 on a stale
//! version, storage that Confluence could not parse, and create/trash/purge.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{Api, results, sim, titles};

const V2: &str = "/wiki/api/v2";

#[tokio::test]
async fn lists_page_through_300_pages_with_link_headers_and_next_links() {
    let sim = sim().await;
    let api = Api::bridge(&sim);
    let space = &results(&api.ok(&format!("{V2}/spaces?keys=BULK")).await)[0];
    let mut path = format!(
        "{V2}/spaces/{}/pages?limit=40&body-format=storage",
        space["id"].as_str().unwrap()
    );
    let mut ids = Vec::new();
    loop {
        let (s, headers, body) = api.get(&path).await;
        assert_eq!(s, 200, "{body}");
        ids.extend(
            results(&body)
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_string()),
        );
        match body["_links"]["next"].as_str() {
            Some(next) => {
                assert!(next.starts_with("/wiki/api/v2/spaces/"), "{next}");
                let link = headers["link"].to_str().unwrap();
                assert!(link.contains(&format!("<{next}>; rel=\"next\"")), "{link}");
                assert!(link.contains("/wiki>; rel=\"base\""), "{link}");
                path = next.to_string();
            }
            None => {
                assert!(headers.get("link").is_none());
                break;
            }
        }
    }
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(
        (ids.len(), unique.len()),
        (301, 301),
        "300 generated pages and the homepage"
    );

    let (s, _, capped) = api.get(&format!("{V2}/pages?limit=1000")).await;
    assert_eq!(
        (s, results(&capped).len()),
        (200, 250),
        "limit is capped at 250"
    );
    for bad in [
        "limit=0",
        "cursor=bogus",
        "sort=colour",
        "body-format=wiki",
        "status=lost",
    ] {
        let (s, _, b) = api.get(&format!("{V2}/pages?{bad}")).await;
        assert_eq!(s, 400, "{bad}: {b}");
        assert_eq!(b["errors"][0]["code"], "INVALID_REQUEST_PARAMETER");
    }
}

#[tokio::test]
async fn a_page_reads_in_storage_format_with_versions_links_and_includes() {
    let sim = sim().await;
    let api = Api::bridge(&sim);
    let id = api.page_id("Restart payments API").await;
    let page = api.ok(&format!("{V2}/pages/{id}?body-format=storage&include-labels=true&include-versions=true&include-operations=true")).await;
    assert_eq!(page["title"], "Restart payments API");
    assert_eq!(page["version"]["number"], 1);
    assert_eq!(
        page["parentType"], "page",
        "pages hang below the space homepage"
    );
    let body = page["body"]["storage"]["value"].as_str().unwrap();
    for realistic in [
        "ac:macro-id=\"",
        "ac:local-id=\"",
        "local-id=\"",
        "<![CDATA[#!/usr/bin/env bash",
    ] {
        assert!(body.contains(realistic), "{realistic}");
    }
    assert!(page["_links"]["base"].as_str().unwrap().ends_with("/wiki"));
    assert!(
        page["_links"]["webui"]
            .as_str()
            .unwrap()
            .starts_with("/spaces/OPS/pages/")
    );
    let labels: Vec<&str> = page["labels"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["runbook", "payments"]);
    assert_eq!(page["labels"]["meta"]["hasMore"], false);
    assert_eq!(page["versions"]["results"][0]["number"], 1);
    assert!(
        page["operations"]["results"]
            .as_array()
            .unwrap()
            .contains(&json!({"operation": "update", "targetType": "page"}))
    );

    let bare = api
        .ok(&format!("{V2}/pages/{id}?include-version=false"))
        .await;
    assert_eq!(bare["body"], json!({}));
    assert!(bare.get("version").is_none());

    let conventions = api.page_id("Runbook conventions").await;
    let body = api
        .ok(&format!("{V2}/pages/{conventions}?body-format=storage"))
        .await;
    let value = body["body"]["storage"]["value"].as_str().unwrap();
    assert!(value.contains("]]]]><![CDATA[>"), "multi-CDATA code body");
    assert!(value.contains("&mdash;") && value.contains("<ri:page ri:content-title="));

    let (s, _, missing) = api.get(&format!("{V2}/pages/1")).await;
    assert_eq!(s, 404);
    assert_eq!(missing["errors"][0]["code"], "NOT_FOUND");
    assert!(missing["errors"][0]["detail"].is_null());
}

fn update_body(id: &str, title: &str, value: &str, number: u64) -> Value {
    json!({"id": id, "status": "current", "title": title,
           "body": {"representation": "storage", "value": value},
           "version": {"number": number, "message": "test"}})
}

#[tokio::test]
async fn updates_need_the_next_version_else_409_with_confluences_message() {
    let sim = sim().await;
    let api = Api::bridge(&sim);
    let id = api.page_id("Payments DB health").await;
    let old = api
        .ok(&format!("{V2}/pages/{id}?body-format=storage"))
        .await;
    let (s, _, updated) = api
        .call(
            Method::PUT,
            &format!("{V2}/pages/{id}"),
            Some(update_body(&id, "Payments DB health", "<p>v2</p>", 2)),
        )
        .await;
    assert_eq!(
        (s, updated["version"]["number"].as_u64()),
        (200, Some(2)),
        "{updated}"
    );
    assert_eq!(updated["version"]["message"], "test");

    let (s, _, conflict) = api
        .call(
            Method::PUT,
            &format!("{V2}/pages/{id}"),
            Some(update_body(&id, "Payments DB health", "<p>stale</p>", 2)),
        )
        .await;
    assert_eq!(s, 409);
    assert_eq!(
        conflict,
        json!({"errors": [{"status": 409, "code": "CONFLICT", "title": "Version must be incremented when updating a page. Current Version: [2]. Provided version: [2]", "detail": null}]})
    );

    let v1 = api
        .ok(&format!("{V2}/pages/{id}?version=1&body-format=storage"))
        .await;
    assert_eq!(v1["status"], "historical");
    assert_eq!(v1["body"], old["body"]);
    let versions = api
        .ok(&format!("{V2}/pages/{id}/versions?body-format=storage"))
        .await;
    let numbers: Vec<u64> = results(&versions)
        .iter()
        .map(|v| v["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [2, 1], "newest first");
    assert_eq!(results(&versions)[1]["page"]["body"], old["body"]);
    let detail = api.ok(&format!("{V2}/pages/{id}/versions/2")).await;
    assert_eq!(
        (detail["prevVersion"].as_u64(), detail.get("nextVersion")),
        (Some(1), None)
    );

    let other = api.page_id("Legacy DB notes").await;
    let (s, _, taken) = api
        .call(
            Method::PUT,
            &format!("{V2}/pages/{other}"),
            Some(update_body(&other, "Payments DB health", "<p>x</p>", 2)),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        taken["errors"][0]["title"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );
}

#[tokio::test]
async fn storage_confluence_could_not_parse_is_refused() {
    let sim = sim().await;
    let api = Api::bridge(&sim);
    let id = api.page_id("Legacy DB notes").await;
    for bad in [
        "<p>a ]]> b</p>",
        "<p>unclosed",
        "<p>line<br>break</p>",
        "<p>fish & chips</p>",
    ] {
        let (s, _, b) = api
            .call(
                Method::PUT,
                &format!("{V2}/pages/{id}"),
                Some(update_body(&id, "Legacy DB notes", bad, 2)),
            )
            .await;
        assert_eq!(s, 400, "{bad}");
        assert!(
            b["errors"][0]["title"]
                .as_str()
                .unwrap()
                .starts_with("Error parsing xhtml: "),
            "{b}"
        );
    }
    let split = "<ac:structured-macro ac:name=\"code\"><ac:plain-text-body><![CDATA[a]]]]><![CDATA[>b]]></ac:plain-text-body></ac:structured-macro>";
    let (s, _, _) = api
        .call(
            Method::PUT,
            &format!("{V2}/pages/{id}"),
            Some(update_body(&id, "Legacy DB notes", split, 2)),
        )
        .await;
    assert_eq!(s, 200, "a split ]]> is fine");

    let huge = format!("<p>{}</p>", "x".repeat(5 * 1024 * 1024 + 1));
    let (s, _, b) = api
        .call(
            Method::PUT,
            &format!("{V2}/pages/{id}"),
            Some(update_body(&id, "Legacy DB notes", &huge, 3)),
        )
        .await;
    assert_eq!(s, 413, "{b}");
}

#[tokio::test]
async fn pages_are_created_below_the_homepage_then_trashed_then_purged() {
    let sim = sim().await;
    let api = Api::bridge(&sim);
    let ops = &results(&api.ok(&format!("{V2}/spaces?keys=OPS")).await)[0];
    let create = json!({"spaceId": ops["id"], "title": "Scratch", "body": {"storage": {"value": "<p>new</p>"}}});
    let (s, _, page) = api
        .call(Method::POST, &format!("{V2}/pages"), Some(create.clone()))
        .await;
    assert_eq!(s, 200, "createPage answers 200, not 201: {page}");
    assert_eq!(page["parentId"], ops["homepageId"]);
    assert_eq!(page["body"]["storage"]["value"], "<p>new</p>");
    let (s, _, _) = api
        .call(Method::POST, &format!("{V2}/pages"), Some(create))
        .await;
    assert_eq!(s, 400, "same title in the same space");
    let (s, _, root) = api
        .call(
            Method::POST,
            &format!("{V2}/pages?root-level=true"),
            Some(json!({"spaceId": ops["id"], "title": "Top"})),
        )
        .await;
    assert_eq!(s, 200);
    assert!(root.get("parentId").is_none());

    let id = page["id"].as_str().unwrap();
    let (s, _, _) = api
        .call(Method::DELETE, &format!("{V2}/pages/{id}?purge=true"), None)
        .await;
    assert_eq!(s, 400, "only trashed pages are purged");
    let (s, _, _) = api
        .call(Method::DELETE, &format!("{V2}/pages/{id}"), None)
        .await;
    assert_eq!(s, 204);
    assert_eq!(
        api.get(&format!("{V2}/pages/{id}?status=current")).await.0,
        404
    );
    let trashed = api.ok(&format!("{V2}/pages?status=trashed")).await;
    assert_eq!(titles(&trashed), ["Scratch"]);
    let (s, _, _) = api
        .call(Method::DELETE, &format!("{V2}/pages/{id}?purge=true"), None)
        .await;
    assert_eq!(s, 204);
    assert_eq!(api.get(&format!("{V2}/pages/{id}")).await.0, 404);
}
