//! CQL over `/rest/api/search` and `/rest/api/content/search`: the supported clauses select the
//! right content, results page with `start`/`limit` and `next` links, and a query outside the
//! subset is a 400 in the v1 envelope, never a guess.

use serde_json::Value;

use crate::{Api, results, sim, titles};

fn q(cql: &str) -> String {
    url::form_urlencoded::byte_serialize(cql.as_bytes()).collect()
}

async fn search(api: &Api, cql: &str) -> Vec<String> {
    titles(
        &api.ok(&format!("/wiki/rest/api/search?limit=250&cql={}", q(cql)))
            .await,
    )
}

#[tokio::test]
async fn cql_clauses_select_the_expected_content() {
    let sim = sim().await;
    let alice = Api::basic(&sim, "alice@example.com", "alice-token-1");
    let cases: &[(&str, &[&str])] = &[
        (
            "type = page AND label = runbook ORDER BY title",
            &[
                "Locked runbook",
                "Payments DB health",
                "Restart payments API",
            ],
        ),
        (
            "space = SEC AND type = page ORDER BY title DESC",
            &["Security Home", "Incident keys"],
        ),
        (
            "space.key IN (SEC) AND title = \"Incident keys\"",
            &["Incident keys"],
        ),
        (
            "type = page AND text ~ \"AKIAZ7QX4N2LPV3KD9RT\"",
            &["Legacy DB notes"],
        ),
        (
            "type = page AND text ~ \"payments password\" AND space = OPS ORDER BY id",
            &[
                "Restart payments API",
                "Payments DB health",
                "Legacy DB notes",
            ],
        ),
        (
            "title ~ \"admins\" AND NOT title = \"Admins child\"",
            &["Admins only"],
        ),
        (
            "type = page AND (label = howto OR label = payments) ORDER BY title",
            &[
                "Payments DB health",
                "Restart payments API",
                "Runbook conventions",
            ],
        ),
        ("type = page AND macro = status", &["Runbook conventions"]),
        ("space = SEC AND created < 2024-02-01", &["Incident keys"]),
        (
            "space = SEC AND created >= \"2024/01/15\" AND lastmodified < now(\"-1d\")",
            &["Incident keys"],
        ),
        ("type = blogpost", &[]),
        (
            "type = attachment AND title = \"notes.txt\"",
            &["notes.txt"],
        ),
    ];
    for (cql, want) in cases {
        assert_eq!(search(&alice, cql).await, *want, "{cql}");
    }
    let parent = alice.page_id("Admins only").await;
    assert_eq!(
        search(&alice, &format!("ancestor = {parent}")).await,
        ["Admins child"]
    );
    assert_eq!(
        search(
            &alice,
            &format!("parent = {parent} OR id = {parent} ORDER BY title")
        )
        .await,
        ["Admins child", "Admins only"]
    );
    let me = alice.ok("/wiki/rest/api/user/current").await["accountId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        search(&alice, "creator = currentUser() AND title ~ admins").await,
        ["Admins only"]
    );
    assert_eq!(
        search(
            &alice,
            &format!("contributor = \"{me}\" AND space = OPS AND label = runbook ORDER BY id")
        )
        .await,
        ["Restart payments API", "Payments DB health"]
    );
}

#[tokio::test]
async fn search_results_carry_container_excerpt_and_page_with_next_links() {
    let sim = sim().await;
    let api = Api::bridge(&sim);
    let first = api
        .ok(&format!(
            "/wiki/rest/api/search?cql={}&limit=100",
            q("space = BULK AND label = bulk")
        ))
        .await;
    assert_eq!(
        (
            first["totalSize"].as_u64(),
            first["size"].as_u64(),
            first["start"].as_u64()
        ),
        (Some(300), Some(100), Some(0))
    );
    assert_eq!(first["cqlQuery"], "space = BULK AND label = bulk");
    let hit = &results(&first)[0];
    assert_eq!(hit["entityType"], "content");
    assert_eq!(hit["resultGlobalContainer"]["title"], "Bulk pages");
    assert!(
        hit["excerpt"]
            .as_str()
            .unwrap()
            .starts_with("Service note 1 for space BULK")
    );
    assert!(
        hit["url"]
            .as_str()
            .unwrap()
            .starts_with("/spaces/BULK/pages/")
    );
    let next = first["_links"]["next"].as_str().unwrap();
    assert!(
        next.starts_with("/rest/api/search?"),
        "relative to _links.base: {next}"
    );
    let mut seen = results(&first).len();
    let mut path = next.to_string();
    loop {
        let b = api.ok(&format!("/wiki{path}")).await;
        seen += results(&b).len();
        match b["_links"]["next"].as_str() {
            Some(n) => path = n.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, 300);

    let content = api
        .ok(&format!(
            "/wiki/rest/api/content/search?cql={}&expand=body.storage,version,space",
            q("title = \"Legacy DB notes\"")
        ))
        .await;
    let c = &results(&content)[0];
    assert_eq!(
        (c["type"].as_str(), c["space"]["key"].as_str()),
        (Some("page"), Some("OPS"))
    );
    assert_eq!(c["version"]["number"], 1);
    assert!(
        c["body"]["storage"]["value"]
            .as_str()
            .unwrap()
            .contains("Winter2024!Payments")
    );
    assert!(
        c["_expandable"].get("history").is_some(),
        "what is not expanded is listed"
    );
}

#[tokio::test]
async fn unsupported_or_broken_cql_is_a_400_in_the_v1_envelope() {
    let sim = sim().await;
    let api = Api::bridge(&sim);
    for cql in [
        "type = page AND",
        "title ~ \"unterminated",
        "favourite = currentUser()",
        "space ~ OPS",
        "type = whiteboard",
        "label IS EMPTY",
        "lastmodified > \"last tuesday\"",
        "type = page ORDER BY colour",
    ] {
        for route in ["search", "content/search"] {
            let (s, _, b): (u16, _, Value) = api
                .get(&format!("/wiki/rest/api/{route}?cql={}", q(cql)))
                .await;
            assert_eq!(s, 400, "{cql}: {b}");
            assert_eq!(b["statusCode"], 400);
            assert_eq!(b["data"]["successful"], false);
            assert!(
                b["message"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("Could not parse cql : {cql}")),
                "{b}"
            );
        }
    }
    let (s, _, b) = api.get("/wiki/rest/api/search").await;
    assert_eq!((s, b["statusCode"].as_u64()), (400, Some(400)));
}
