//! Paging through the in-memory transport: Cloud cursors from the `Link` header and
//! `_links.next`, the gateway re-prefix, v1 search links without `/wiki`, Data Center offset
//! paging that stops at `size < limit` despite an endless `_links.next`, `content/scan` cursors,
//! lazy fetching and loop detection.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::model::Space;
use crate::pages::PageQuery;
use crate::test_support::{Hits, TOKEN, client_on, cloud_client, cloud_config, dc_client};

type Params = Query<HashMap<String, String>>;

fn page(id: u64) -> Value {
    json!({"id": id.to_string(), "title": format!("P{id}"), "spaceId": "456",
           "version": {"number": 1}})
}

fn dc_page(id: u64) -> Value {
    json!({"id": id.to_string(), "type": "page", "title": format!("P{id}"),
           "space": {"id": 98306, "key": "OPS"}, "version": {"number": 2}})
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|i| id(i).to_string()).collect()
}

/// v2 cursor list of 7 pages, 3 per answer: the first next link comes in the `Link` header,
/// later ones in `_links.next` only; `prefix` is what the links start with.
fn cursor_list(
    prefix: &'static str,
) -> impl Fn(Params, State<Hits>) -> std::future::Ready<Response> + Clone {
    move |Query(q): Params, State(hits): State<Hits>| {
        hits.hit();
        let from: u64 = q.get("cursor").map_or(0, |c| c.parse().unwrap());
        let items: Vec<Value> = (from..(from + 3).min(7)).map(page).collect();
        let next =
            (from + 3 < 7).then(|| format!("{prefix}/wiki/api/v2/pages?cursor={}", from + 3));
        let body = json!({"results": items, "_links": {"next": next.clone().filter(|_| from > 0)}});
        let mut resp = axum::Json(body).into_response();
        if let (Some(n), 0) = (next, from) {
            let link = format!("<{n}>; rel=\"next\", <https://x.test/wiki>; rel=\"base\"");
            resp.headers_mut().insert("link", link.parse().unwrap());
        }
        std::future::ready(resp)
    }
}

#[tokio::test]
async fn cloud_lists_follow_link_header_then_body_links_lazily() {
    let hits = Hits::new();
    let app = Router::new()
        .route("/wiki/api/v2/pages", get(cursor_list("")))
        .with_state(hits.clone());
    let c = cloud_client(app);
    let mut paged = c.pages(&PageQuery::new().limit(3)).unwrap();
    assert_eq!(hits.count(), 0, "nothing is fetched before the first call");
    let first = paged.next_batch().await.unwrap().unwrap();
    assert_eq!(ids(&first, |p| &p.id), ["0", "1", "2"]);
    assert_eq!(hits.count(), 1);
    let mut rest = Vec::new();
    while let Some(p) = paged.try_next().await.unwrap() {
        rest.push(p.id);
    }
    assert_eq!(rest, ["3", "4", "5", "6"]);
    assert_eq!((paged.requests(), hits.count()), (3, 3));
    assert!(paged.next_batch().await.unwrap().is_none());
}

#[tokio::test]
async fn gateway_next_links_are_reprefixed() {
    let hits = Hits::new();
    let app = Router::new()
        .route("/ex/confluence/c1/wiki/api/v2/pages", get(cursor_list("")))
        .with_state(hits.clone());
    let cfg = arkbridge_core::config::ConfluenceConfig {
        cloud_id: Some("c1".into()),
        gateway_url: Some("http://gw.test".into()),
        ..cloud_config("https://x.atlassian.net")
    };
    let c = client_on(app, &cfg);
    let all = c
        .pages(&PageQuery::new().limit(3))
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    assert_eq!(all.len(), 7);
    assert_eq!(hits.count(), 3, "every answer came from the gateway route");
    assert_eq!(c.api_root(), "http://gw.test/ex/confluence/c1");
    assert_eq!(c.site_url(), "https://x.atlassian.net");
}

#[tokio::test]
async fn cursor_lists_that_repeat_or_leave_the_site_are_errors() {
    let looping = Router::new().route(
        "/wiki/api/v2/pages",
        get(|| async {
            axum::Json(
                json!({"results": [page(1)], "_links": {"next": "/wiki/api/v2/pages?cursor=same"}}),
            )
        }),
    );
    let err = cloud_client(looping)
        .pages(&PageQuery::new())
        .unwrap()
        .collect_all()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not end"), "{err}");
    let elsewhere = Router::new().route(
        "/wiki/api/v2/pages",
        get(|| async { axum::Json(json!({"results": [page(1)], "_links": {"next": "https://evil.test/wiki/api/v2/pages?cursor=2"}})) }),
    );
    let err = cloud_client(elsewhere)
        .pages(&PageQuery::new())
        .unwrap()
        .collect_all()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("another host"), "{err}");
}

#[tokio::test]
async fn v1_search_links_without_wiki_resolve_under_wiki() {
    let app = Router::new().route(
        "/wiki/rest/api/search",
        get(|Query(q): Params| async move {
            assert_eq!(q.get("cql").map(String::as_str), Some("type = page AND label = \"runbook\""));
            let result = |id: &str| json!({"content": {"id": id, "type": "page"}, "title": id,
                "excerpt": "", "url": format!("/spaces/OPS/pages/{id}"), "entityType": "content"});
            match q.get("cursor").map(String::as_str) {
                None => axum::Json(json!({"results": [result("1")], "start": 0, "limit": 1, "size": 1,
                    "_links": {"base": "https://x.test/wiki", "context": "/wiki",
                               "next": "/rest/api/search?cql=type%20%3D%20page%20AND%20label%20%3D%20%22runbook%22&cursor=two&limit=1"}})),
                Some("two") => axum::Json(json!({"results": [result("2")], "start": 1, "limit": 1,
                    "size": 1, "_links": {"base": "https://x.test/wiki"}})),
                Some(other) => panic!("unexpected cursor {other}"),
            }
        }),
    );
    let c = cloud_client(app);
    let results = c
        .search("type = page AND label = \"runbook\"", 1)
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    let found: Vec<_> = results
        .iter()
        .map(|r| r.content_id.clone().unwrap())
        .collect();
    assert_eq!(found, ["1", "2"]);
}

/// A Data Center list with the CONFSERVER-95396 bug: `_links.next` on every answer.
async fn dc_content(Query(q): Params, State(hits): State<Hits>, headers: HeaderMap) -> Response {
    hits.hit();
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {TOKEN}"))
    {
        return (StatusCode::UNAUTHORIZED, "{}").into_response();
    }
    assert_eq!(q.get("spaceKey").map(String::as_str), Some("OPS"));
    assert!(q["expand"].contains("version"), "{q:?}");
    let start: u64 = q["start"].parse().unwrap();
    let asked: u64 = q["limit"].parse().unwrap();
    // The server caps the limit at 4 and says so.
    let limit = asked.min(4);
    let items: Vec<Value> = (start..(start + limit).min(10)).map(dc_page).collect();
    let next = format!(
        "/rest/api/content?spaceKey=OPS&start={}&limit={limit}",
        start + limit
    );
    axum::Json(
        json!({"results": items, "start": start, "limit": limit, "size": items.len(),
        "_links": {"base": "http://dc.test/confluence", "context": "/confluence", "next": next}}),
    )
    .into_response()
}

#[tokio::test]
async fn data_center_offset_paging_stops_when_size_is_below_limit() {
    let hits = Hits::new();
    let app = Router::new()
        .route("/confluence/rest/api/content", get(dc_content))
        .with_state(hits.clone());
    let c = dc_client(app);
    let ops = Space::from_value(&json!({"id": 98306, "key": "OPS", "name": "Ops"})).unwrap();
    let pages = c
        .pages(&PageQuery::new().in_space(&ops).limit(25))
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    let want: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    assert_eq!(ids(&pages, |p| &p.id), want);
    assert_eq!(pages[0].space_key.as_deref(), Some("OPS"));
    // Answers of 4, 4 and 2: the third is short, so the endless next link is not followed.
    assert_eq!(hits.count(), 3);
}

#[tokio::test]
async fn data_center_scan_follows_its_cursor() {
    let app = Router::new().route(
        "/confluence/rest/api/content/scan",
        get(|Query(q): Params| async move {
            assert_eq!(q.get("spaceKey").map(String::as_str), Some("OPS"));
            assert!(!q.contains_key("start"), "scan takes no offset");
            match q.get("cursor").map(String::as_str) {
                None => axum::Json(
                    json!({"results": [dc_page(1), dc_page(2)], "limit": 2, "size": 2,
                    "cursor": "", "nextCursor": "c2",
                    "_links": {"next": "/rest/api/content/scan?cursor=c2&limit=2&spaceKey=OPS"}}),
                ),
                Some("c2") => axum::Json(json!({"results": [dc_page(3)], "limit": 2, "size": 1,
                    "cursor": "c2", "_links": {}})),
                Some(other) => panic!("cursor {other}"),
            }
        }),
    );
    let c = dc_client(app);
    let ops = Space::from_value(&json!({"id": 98306, "key": "OPS"})).unwrap();
    let pages = c
        .space_pages(&ops, true, 2)
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    assert_eq!(ids(&pages, |p| &p.id), ["1", "2", "3"]);
}

#[tokio::test]
async fn bad_list_arguments_are_refused_locally() {
    let c = cloud_client(Router::new());
    assert!(c.pages(&PageQuery::new().limit(0)).is_err());
    assert!(c.pages(&PageQuery::new().limit(251)).is_err());
    assert!(c.search("", 25).is_err());
    let bad_space = Space::from_value(&json!({"id": "OPS", "key": "OPS"})).unwrap();
    assert!(c.space_pages(&bad_space, false, 25).is_err());
}
