//! Cloud REST v2 around a page: content properties (own version counter), children,
//! ancestors, labels, attachments and footer comments.

use reqwest::Method;
use serde_json::json;

use crate::{Api, results, sim, titles};

const V2: &str = "/wiki/api/v2";

#[tokio::test]
async fn properties_have_their_own_version_counter() {
    let sim = sim().await;
    let api = Api::bridge(&sim);
    let id = api.page_id("Locked runbook").await;
    let seeded = api
        .ok(&format!("{V2}/pages/{id}/properties?key=arkbridge.binding"))
        .await;
    assert_eq!(results(&seeded)[0]["value"], json!({"safe": "Prod-DB"}));
    let alice = Api::basic(&sim, "alice@example.com", "alice-token-1");
    let path = format!("{V2}/pages/{id}/properties");
    let (s, _, prop) = alice
        .call(
            Method::POST,
            &path,
            Some(json!({"key": "audit", "value": [1, 2]})),
        )
        .await;
    assert_eq!(
        (s, prop["version"]["number"].as_u64()),
        (200, Some(1)),
        "{prop}"
    );
    let pid = prop["id"].as_str().unwrap();
    let (s, _, _) = alice
        .call(
            Method::POST,
            &path,
            Some(json!({"key": "audit", "value": 3})),
        )
        .await;
    assert_eq!(s, 400, "keys are unique per page");
    let put = |n: u64| json!({"key": "audit", "value": "new", "version": {"number": n}});
    let (s, _, b) = alice
        .call(Method::PUT, &format!("{path}/{pid}"), Some(put(1)))
        .await;
    assert_eq!(
        (s, b["errors"][0]["code"].as_str()),
        (409, Some("CONFLICT"))
    );
    let (s, _, b) = alice
        .call(Method::PUT, &format!("{path}/{pid}"), Some(put(2)))
        .await;
    assert_eq!((s, b["value"].as_str()), (200, Some("new")));
    let (s, _, _) = alice
        .call(Method::DELETE, &format!("{path}/{pid}"), None)
        .await;
    assert_eq!(s, 204);
    assert_eq!(alice.get(&format!("{path}/{pid}")).await.0, 404);
}

#[tokio::test]
async fn children_ancestors_labels_and_attachments_of_a_page() {
    let sim = sim().await;
    let alice = Api::basic(&sim, "alice@example.com", "alice-token-1");
    let parent = alice.page_id("Admins only").await;
    let child = alice.page_id("Admins child").await;
    let kids = alice.ok(&format!("{V2}/pages/{parent}/children")).await;
    assert_eq!(results(&kids)[0]["id"], child.as_str());
    assert_eq!(results(&kids)[0]["childPosition"], 0);
    let up = alice.ok(&format!("{V2}/pages/{child}/ancestors")).await;
    let chain: Vec<&str> = up["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(chain.len(), 2, "homepage, then the parent");
    assert_eq!(chain[1], parent);

    let locked = alice.page_id("Locked runbook").await;
    let labels = alice.ok(&format!("{V2}/pages/{locked}/labels")).await;
    assert_eq!(titles(&labels).len(), 1);
    let label_id = results(&labels)[0]["id"].as_str().unwrap().to_string();
    let tagged = alice.ok(&format!("{V2}/labels/{label_id}/pages")).await;
    assert_eq!(
        titles(&tagged),
        [
            "Locked runbook",
            "Restart payments API",
            "Payments DB health"
        ]
    );
    let files = alice.ok(&format!("{V2}/pages/{locked}/attachments")).await;
    let file = &results(&files)[0];
    assert_eq!(
        (file["title"].as_str(), file["fileSize"].as_u64()),
        (Some("notes.txt"), Some(16))
    );
    assert!(file["id"].as_str().unwrap().starts_with("att"));
}

#[tokio::test]
async fn footer_comments_are_created_replied_to_updated_and_deleted() {
    let sim = sim().await;
    let api = Api::bridge(&sim);
    let id = api.page_id("Restart payments API").await;
    let storage = "<p>arkbridge run 1: <strong>succeeded</strong></p>";
    let (s, headers, c) = api
        .call(
            Method::POST,
            &format!("{V2}/footer-comments"),
            Some(json!({"pageId": id, "body": {"representation": "storage", "value": storage}})),
        )
        .await;
    assert_eq!(s, 201);
    let cid = c["id"].as_str().unwrap().to_string();
    assert!(
        headers["location"]
            .to_str()
            .unwrap()
            .ends_with(&format!("/wiki/api/v2/footer-comments/{cid}"))
    );
    let (s, _, reply) = api
        .call(
            Method::POST,
            &format!("{V2}/footer-comments"),
            Some(json!({"parentCommentId": cid, "body": {"storage": {"value": "<p>ack</p>"}}})),
        )
        .await;
    assert_eq!(
        (s, reply["parentCommentId"].as_str()),
        (201, Some(cid.as_str()))
    );
    let roots = api
        .ok(&format!(
            "{V2}/pages/{id}/footer-comments?body-format=storage"
        ))
        .await;
    assert_eq!(results(&roots).len(), 1, "replies are not root comments");
    assert_eq!(results(&roots)[0]["body"]["storage"]["value"], storage);
    let replies = api
        .ok(&format!("{V2}/footer-comments/{cid}/children"))
        .await;
    assert_eq!(results(&replies).len(), 1);
    let upd = |n: u64| json!({"version": {"number": n}, "body": {"representation": "storage", "value": "<p>edited</p>"}});
    assert_eq!(
        api.call(
            Method::PUT,
            &format!("{V2}/footer-comments/{cid}"),
            Some(upd(1))
        )
        .await
        .0,
        409
    );
    assert_eq!(
        api.call(
            Method::PUT,
            &format!("{V2}/footer-comments/{cid}"),
            Some(upd(2))
        )
        .await
        .0,
        200
    );
    let (s, _, b) = api
        .call(Method::POST, &format!("{V2}/footer-comments"), Some(json!({"pageId": id, "body": {"representation": "storage", "value": "<p>bad ]]> text</p>"}})))
        .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(
        api.call(Method::DELETE, &format!("{V2}/footer-comments/{cid}"), None)
            .await
            .0,
        204
    );
    assert_eq!(
        results(&api.ok(&format!("{V2}/footer-comments")).await).len(),
        0,
        "the reply went with it"
    );
}
