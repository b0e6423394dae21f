//! Confluence Cloud simulator: pages with storage bodies, filters, paging, version conflicts,
//! spaces and footer comments.

mod common;

use common::*;
use serde_json::{Value, json};

struct Wiki {
    c: reqwest::Client,
    api: String,
    user: String,
    token: String,
}

impl Wiki {
    fn new(sim: &Sim) -> Wiki {
        let info = sim.info();
        Wiki {
            c: client(info, false),
            api: format!("{}/wiki/api/v2", info.confluence_url),
            user: info.confluence_user.clone(),
            token: info.confluence_token.clone(),
        }
    }

    async fn get(&self, path: &str) -> (u16, reqwest::header::HeaderMap, Value) {
        let r = self
            .c
            .get(format!("{}{path}", self.api))
            .basic_auth(&self.user, Some(&self.token))
            .send()
            .await
            .unwrap();
        let (s, h) = (r.status().as_u16(), r.headers().clone());
        (s, h, r.json().await.unwrap())
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> reqwest::Response {
        self.c
            .request(method, format!("{}{path}", self.api))
            .basic_auth(&self.user, Some(&self.token))
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

const RESTART_SCRIPT: &str = "#!/usr/bin/env bash\n# arkbridge: mode write\n# arkbridge: timeout 2m\n# arkbridge: secret DB_PASSWORD cyberark://Prod-DB/payments-db\necho \"Restarting payments-api with DB_PASSWORD=$DB_PASSWORD\"\necho \"payments-api restarted\"";

#[tokio::test]
async fn pages_spaces_and_auth() {
    let sim = start().await;
    let w = Wiki::new(&sim);

    let r = w.c.get(format!("{}/pages", w.api)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r =
        w.c.get(format!("{}/pages", w.api))
            .basic_auth(&w.user, Some("wrong"))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 401);

    let (s, _, spaces) = w.get("/spaces?keys=OPS").await;
    assert_eq!(s, 200);
    let space = &spaces["results"][0];
    assert_eq!(space["key"], "OPS");
    assert_eq!(space["name"], "Operations");
    let space_id = space["id"].as_str().unwrap().to_string();
    let (s, _, single) = w.get(&format!("/spaces/{space_id}")).await;
    assert_eq!(s, 200);
    assert!(
        single["_links"]["base"]
            .as_str()
            .unwrap()
            .ends_with("/wiki")
    );

    let (s, _, list) = w
        .get(&format!(
            "/pages?space-id={space_id}&title=Restart%20payments%20API&body-format=storage"
        ))
        .await;
    assert_eq!(s, 200);
    let results = list["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert!(list["_links"].get("next").is_none());
    let id = results[0]["id"].as_str().unwrap().to_string();
    assert!(id.parse::<u64>().is_ok());

    let (s, _, page) = w.get(&format!("/pages/{id}?body-format=storage")).await;
    assert_eq!(s, 200);
    assert_eq!(page["title"], "Restart payments API");
    assert_eq!(page["spaceId"], space_id.as_str());
    assert_eq!(page["version"]["number"], 1);
    assert_eq!(page["body"]["storage"]["representation"], "storage");
    let value = page["body"]["storage"]["value"].as_str().unwrap();
    assert!(
        value.contains(&format!(
            "<ac:plain-text-body><![CDATA[{RESTART_SCRIPT}]]></ac:plain-text-body>"
        )),
        "{value}"
    );
    assert!(value.contains("<ac:parameter ac:name=\"title\">arkbridge: restart</ac:parameter>"));
    assert!(page["_links"]["base"].is_string());

    let (_, _, no_body) = w.get(&format!("/pages/{id}")).await;
    assert!(no_body["body"].get("storage").is_none());

    let (s, _, missing) = w.get("/pages/1").await;
    assert_eq!(s, 404);
    assert_eq!(missing["errors"][0]["status"], 404);
    assert_eq!(missing["errors"][0]["code"], "NOT_FOUND");
    assert!(missing["errors"][0]["detail"].is_null());

    // Cursor paging over the three demo pages.
    let (_, headers, first) = w.get("/pages?limit=2").await;
    assert_eq!(first["results"].as_array().unwrap().len(), 2);
    let next = first["_links"]["next"].as_str().unwrap().to_string();
    assert!(next.starts_with("/wiki/api/v2/pages?"), "{next}");
    let link = headers.get("link").unwrap().to_str().unwrap();
    assert!(link.contains(&format!("<{next}>; rel=\"next\"")), "{link}");
    let (_, _, second) = w.get(next.trim_start_matches("/wiki/api/v2")).await;
    assert_eq!(second["results"].as_array().unwrap().len(), 1);
    assert!(second["_links"].get("next").is_none());
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn update_needs_the_next_version_and_keeps_history() {
    let sim = start().await;
    let w = Wiki::new(&sim);
    let (_, _, list) = w
        .get("/pages?title=Legacy%20DB%20notes&body-format=storage")
        .await;
    let page = &list["results"][0];
    let id = page["id"].as_str().unwrap().to_string();
    let old_body = page["body"]["storage"]["value"]
        .as_str()
        .unwrap()
        .to_string();

    let update = |n: u64| {
        json!({
            "id": id, "status": "current", "title": "Legacy DB notes",
            "body": {"representation": "storage", "value": "<p>Cleaned up.</p>"},
            "version": {"number": n, "message": "remove secrets"}
        })
    };
    let r = w
        .send(reqwest::Method::PUT, &format!("/pages/{id}"), update(1))
        .await;
    assert_eq!(r.status(), 409);
    let b: Value = r.json().await.unwrap();
    assert_eq!(
        b,
        json!({"errors": [{"status": 409, "code": "CONFLICT", "title": "Version must be incremented when updating a page. Current Version: [1]. Provided version: [1]", "detail": null}]})
    );
    let r = w
        .send(reqwest::Method::PUT, &format!("/pages/{id}"), update(2))
        .await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["version"]["number"], 2);
    assert_eq!(b["version"]["message"], "remove secrets");

    let (_, _, now) = w.get(&format!("/pages/{id}?body-format=storage")).await;
    assert_eq!(now["body"]["storage"]["value"], "<p>Cleaned up.</p>");
    let (_, _, old) = w
        .get(&format!("/pages/{id}?body-format=storage&version=1"))
        .await;
    assert_eq!(old["body"]["storage"]["value"], old_body.as_str());
    assert_eq!(old["version"]["number"], 1);

    // Nested body form, and an unsplit CDATA end is refused like Confluence does.
    let nested = json!({
        "id": id, "status": "current", "title": "Legacy DB notes",
        "body": {"storage": {"representation": "storage", "value": "<p>a ]]> b</p>"}},
        "version": {"number": 3}
    });
    let r = w
        .send(reqwest::Method::PUT, &format!("/pages/{id}"), nested)
        .await;
    assert_eq!(r.status(), 400);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn footer_comments_are_created_and_listed() {
    let sim = start().await;
    let w = Wiki::new(&sim);
    let (_, _, list) = w.get("/pages?title=Payments%20DB%20health").await;
    let page_id = list["results"][0]["id"].as_str().unwrap().to_string();
    let r = w
        .send(
            reqwest::Method::POST,
            "/footer-comments",
            json!({"pageId": page_id, "body": {"representation": "storage", "value": "<p>Run 7: ok</p>"}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let location = r
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let c: Value = r.json().await.unwrap();
    let cid = c["id"].as_str().unwrap();
    assert!(
        location.ends_with(&format!("/wiki/api/v2/footer-comments/{cid}")),
        "{location}"
    );
    assert_eq!(c["pageId"], page_id.as_str());
    assert_eq!(c["body"]["storage"]["value"], "<p>Run 7: ok</p>");
    assert_eq!(c["version"]["number"], 1);

    // The author is the basic-auth user.
    let author = c["version"]["authorId"].as_str().unwrap().to_string();
    let r = w
        .send(
            reqwest::Method::POST,
            "/users-bulk",
            json!({"accountIds": [author]}),
        )
        .await;
    let users: Value = r.json().await.unwrap();
    assert_eq!(users["results"][0]["email"], "arkbridge@example.com");

    let (s, _, comments) = w
        .get(&format!(
            "/pages/{page_id}/footer-comments?body-format=storage"
        ))
        .await;
    assert_eq!(s, 200);
    assert_eq!(comments["results"][0]["id"], cid);
    assert_eq!(
        comments["results"][0]["body"]["storage"]["value"],
        "<p>Run 7: ok</p>"
    );

    let r = w
        .send(
            reqwest::Method::POST,
            "/footer-comments",
            json!({"pageId": "1", "body": {"representation": "storage", "value": "<p>x</p>"}}),
        )
        .await;
    assert_eq!(r.status(), 404);
    sim.handle.shutdown().await;
}
