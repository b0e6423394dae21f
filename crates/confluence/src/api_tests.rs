//! Request shapes of the v2, v1 and Data Center calls, through the in-memory transport: a
//! recording server checks the method, path, query and body of each call and answers with the
//! JSON the specs describe.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::directory::PermissionSubject;
use crate::error::ConfluenceError;
use crate::model::Space;
use crate::pages::NewPage;
use crate::test_support::{TOKEN, cloud_client, dc_client};

/// One recorded request: method, path with query, authorization header, JSON body.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    uri: String,
    auth: String,
    body: Value,
}

type Answer = fn(&Method, &str, &Value) -> (StatusCode, Value);

#[derive(Clone)]
struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
    answer: Answer,
}

async fn record(
    State(r): State<Recorder>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let uri = uri
        .path_and_query()
        .map(ToString::to_string)
        .unwrap_or_default();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let (status, answer) = (r.answer)(&method, &uri, &body);
    r.seen.lock().unwrap().push(Seen {
        method,
        uri,
        auth,
        body,
    });
    if status == StatusCode::NO_CONTENT {
        return status.into_response();
    }
    (status, axum::Json(answer)).into_response()
}

fn recorder(answer: Answer) -> (Router, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new().fallback(record).with_state(Recorder {
        seen: seen.clone(),
        answer,
    });
    (app, seen)
}

fn last(seen: &Arc<Mutex<Vec<Seen>>>) -> Seen {
    seen.lock().unwrap().last().cloned().unwrap()
}

fn space(id: &str, key: &str) -> Space {
    Space::from_value(&json!({"id": id, "key": key, "name": key})).unwrap()
}

#[tokio::test]
async fn labels_are_read_in_v2_and_written_through_v1() {
    let (app, seen) = recorder(|m, uri, _| match (m.as_str(), uri) {
        ("GET", u) if u.starts_with("/wiki/api/v2/pages/5/labels?") => (
            StatusCode::OK,
            json!({"results": [{"id": "8", "name": "runbook", "prefix": "global"}], "_links": {}}),
        ),
        ("POST", "/wiki/rest/api/content/5/label") => (
            StatusCode::OK,
            json!({"results": [{"id": "8", "name": "runbook", "prefix": "global"},
                               {"id": "9", "name": "scanned", "prefix": "global"}],
                   "start": 0, "limit": 200, "size": 2}),
        ),
        ("DELETE", "/wiki/rest/api/content/5/label?name=scanned") => {
            (StatusCode::NO_CONTENT, Value::Null)
        }
        _ => (StatusCode::NOT_FOUND, json!({})),
    });
    let c = cloud_client(app);
    assert_eq!(c.page_labels("5").await.unwrap()[0].name, "runbook");
    let after = c.add_labels("5", &["scanned"]).await.unwrap();
    assert_eq!(after.len(), 2);
    assert_eq!(
        last(&seen).body,
        json!([{"prefix": "global", "name": "scanned"}])
    );
    c.remove_label("5", "scanned").await.unwrap();
    assert!(c.add_labels("5", &["two words"]).await.is_err());
    assert!(c.add_labels("5", &[]).await.is_err());
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn content_properties_round_trip_with_versions() {
    let (app, seen) = recorder(|m, uri, body| match (m.as_str(), uri) {
        ("GET", "/wiki/api/v2/pages/5/properties?key=arkbridge.audit") => (
            StatusCode::OK,
            json!({"results": [{"id": "33", "key": "arkbridge.audit", "value": {"n": 1},
                                "version": {"number": 2}}], "_links": {}}),
        ),
        ("POST", "/wiki/api/v2/pages/5/properties") => (
            StatusCode::OK,
            json!({"id": "34", "key": body["key"], "value": body["value"], "version": {"number": 1}}),
        ),
        ("PUT", "/wiki/api/v2/pages/5/properties/33") => (
            StatusCode::OK,
            json!({"id": "33", "key": body["key"], "value": body["value"], "version": body["version"]}),
        ),
        ("DELETE", "/wiki/api/v2/pages/5/properties/33") => (StatusCode::NO_CONTENT, Value::Null),
        _ => (StatusCode::NOT_FOUND, json!({})),
    });
    let c = cloud_client(app);
    let prop = c
        .page_property("5", "arkbridge.audit")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((prop.id.as_str(), prop.version), ("33", 2));
    let created = c
        .create_page_property("5", "arkbridge.safe", &json!({"safe": "Prod-DB"}))
        .await
        .unwrap();
    assert_eq!(created.value, json!({"safe": "Prod-DB"}));
    let updated = c
        .update_page_property("5", &prop, &json!({"n": 2}))
        .await
        .unwrap();
    assert_eq!(updated.version, 3);
    assert_eq!(last(&seen).body["version"]["number"], 3);
    c.delete_page_property("5", "33").await.unwrap();
}

#[tokio::test]
async fn users_bulk_sends_at_most_250_ids_per_request() {
    let (app, seen) = recorder(|_, _, body| {
        let ids = body["accountIds"].as_array().unwrap();
        let users: Vec<Value> = ids
            .iter()
            .map(|id| json!({"accountId": id, "displayName": "U"}))
            .collect();
        (StatusCode::OK, json!({"results": users}))
    });
    let ids: Vec<String> = (0..300).map(|i| format!("557058:{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let users = cloud_client(app).users_bulk(&refs).await.unwrap();
    assert_eq!(users.len(), 300);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].uri, "/wiki/api/v2/users-bulk");
    assert_eq!(seen[0].body["accountIds"].as_array().unwrap().len(), 250);
}

#[tokio::test]
async fn permission_checks_restrictions_users_and_groups_on_cloud() {
    let (app, seen) = recorder(|m, uri, _| match (m.as_str(), uri) {
        ("POST", "/wiki/rest/api/content/5/permission/check") => (
            StatusCode::OK,
            json!({"hasPermission": false, "errors": [{"translation": "User does not have permission to the content"}]}),
        ),
        ("GET", u) if u.starts_with("/wiki/rest/api/content/5/restriction/byOperation?expand=") => {
            (
                StatusCode::OK,
                json!({"read": {"operation": "read", "restrictions": {"user": {"results": [], "size": 0},
                   "group": {"results": [{"type": "group", "name": "ops", "id": "g1"}], "size": 1}}}}),
            )
        }
        ("GET", "/wiki/rest/api/user/current") => (
            StatusCode::OK,
            json!({"type": "known", "accountId": "557058:bot"}),
        ),
        ("GET", "/wiki/rest/api/user/memberof?accountId=557058%3Aa&start=0&limit=200") => (
            StatusCode::OK,
            json!({"results": [{"type": "group", "name": "ops", "id": "g1"}], "start": 0, "limit": 200, "size": 1, "_links": {}}),
        ),
        ("GET", "/wiki/rest/api/group/by-id?id=g1") => (
            StatusCode::OK,
            json!({"type": "group", "name": "ops", "id": "g1"}),
        ),
        ("GET", "/wiki/rest/api/group/g1/membersByGroupId?start=0&limit=200") => (
            StatusCode::OK,
            json!({"results": [{"type": "known", "accountId": "557058:a"}], "start": 0, "limit": 200, "size": 1}),
        ),
        _ => (StatusCode::NOT_FOUND, json!({})),
    });
    let c = cloud_client(app);
    let check = c
        .check_permission("5", &PermissionSubject::User("557058:a".into()), "read")
        .await
        .unwrap();
    assert!(!check.has_permission && check.reasons.len() == 1);
    assert_eq!(
        last(&seen).body,
        json!({"subject": {"type": "user", "identifier": "557058:a"}, "operation": "read"})
    );
    assert!(
        c.check_permission("5", &PermissionSubject::Group("g1".into()), "administer")
            .await
            .is_err()
    );
    assert_eq!(c.restrictions("5").await.unwrap()[0].groups[0].name, "ops");
    assert_eq!(
        c.current_user().await.unwrap().account_id.as_deref(),
        Some("557058:bot")
    );
    let groups = c.user_groups("557058:a").await.unwrap();
    let group = c.group(groups[0].id.as_deref().unwrap()).await.unwrap();
    let members = c
        .group_members(&group)
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    assert_eq!(members[0].account_id.as_deref(), Some("557058:a"));
}

#[tokio::test]
async fn data_center_calls_use_rest_api_usernames_and_a_bearer_token() {
    let (app, seen) = recorder(|m, uri, body| match (m.as_str(), uri) {
        ("GET", "/confluence/rest/api/user?username=alice") => (
            StatusCode::OK,
            json!({"type": "known", "username": "alice", "userKey": "k1", "displayName": "Alice"}),
        ),
        ("GET", "/confluence/rest/api/user/memberof?username=alice&start=0&limit=200") => (
            StatusCode::OK,
            json!({"results": [{"type": "group", "name": "confluence-users"}], "start": 0, "limit": 200, "size": 1}),
        ),
        ("GET", "/confluence/rest/api/group/confluence-users/member?start=0&limit=200") => (
            StatusCode::OK,
            json!({"results": [{"type": "known", "username": "alice"}], "start": 0, "limit": 200, "size": 1}),
        ),
        ("POST", "/confluence/rest/api/content") if body["type"] == "comment" => (
            StatusCode::OK,
            json!({"id": "77", "type": "comment", "container": {"id": body["container"]["id"]},
                   "version": {"number": 1}, "body": body["body"]}),
        ),
        ("POST", "/confluence/rest/api/content") => (
            StatusCode::OK,
            json!({"id": "78", "type": "page", "title": body["title"], "space": {"id": 1, "key": "OPS"},
                   "version": {"number": 1}, "body": body["body"]}),
        ),
        ("GET", "/confluence/rest/api/space/OPS") => (
            StatusCode::OK,
            json!({"id": 98306, "key": "OPS", "name": "Ops"}),
        ),
        ("GET", "/confluence/rest/api/space/NOPE") => (
            StatusCode::NOT_FOUND,
            json!({"statusCode": 404, "message": "No space"}),
        ),
        _ => (StatusCode::NOT_FOUND, json!({})),
    });
    let c = dc_client(app);
    assert_eq!(
        c.user("alice").await.unwrap().user_key.as_deref(),
        Some("k1")
    );
    let groups = c.user_groups("alice").await.unwrap();
    assert_eq!(groups[0].id, None);
    let members = c
        .group_members(&groups[0])
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    assert_eq!(members[0].username.as_deref(), Some("alice"));
    let comment = c.create_footer_comment("65601", "<p>ok</p>").await.unwrap();
    assert_eq!(comment.page_id.as_deref(), Some("65601"));
    assert_eq!(
        last(&seen).body["container"],
        json!({"id": "65601", "type": "page"})
    );
    let ops = c.space_by_key("OPS").await.unwrap().unwrap();
    assert!(c.space_by_key("NOPE").await.unwrap().is_none());
    let page = c
        .create_page(&NewPage {
            space: &ops,
            title: "New",
            parent_id: Some("65601"),
            storage: "<p>n</p>",
        })
        .await
        .unwrap();
    assert_eq!(page.space_key.as_deref(), Some("OPS"));
    let body = last(&seen).body;
    assert_eq!(
        (
            body["space"]["key"].as_str(),
            body["ancestors"][0]["id"].as_str()
        ),
        (Some("OPS"), Some("65601"))
    );
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|s| s.auth == format!("Bearer {TOKEN}"))
    );
    for err in [
        c.users_bulk(&["a"]).await.unwrap_err(),
        c.page_properties("1").await.unwrap_err(),
        c.page_versions("1").unwrap_err(),
        c.space_permissions(&ops).unwrap_err(),
        c.check_permission("1", &PermissionSubject::User("a".into()), "read")
            .await
            .unwrap_err(),
    ] {
        assert!(
            matches!(
                err,
                ConfluenceError::Unsupported {
                    flavor: "Data Center",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn cloud_creates_and_deletes_pages_in_v2() {
    let (app, seen) = recorder(|m, uri, body| match (m.as_str(), uri) {
        ("POST", "/wiki/api/v2/pages") => (
            StatusCode::OK,
            json!({"id": "900", "title": body["title"], "spaceId": body["spaceId"], "parentId": body["parentId"],
                   "version": {"number": 1}, "body": {"storage": {"value": body["body"]["value"], "representation": "storage"}}}),
        ),
        ("DELETE", "/wiki/api/v2/pages/900") => (StatusCode::NO_CONTENT, Value::Null),
        _ => (StatusCode::NOT_FOUND, json!({})),
    });
    let c = cloud_client(app);
    let ops = space("456", "OPS");
    let page = c
        .create_page(&NewPage {
            space: &ops,
            title: "Report",
            parent_id: None,
            storage: "<p>r</p>",
        })
        .await
        .unwrap();
    assert_eq!(
        (page.id.as_str(), page.body_storage.as_str()),
        ("900", "<p>r</p>")
    );
    assert_eq!(last(&seen).body["status"], "current");
    assert!(last(&seen).body.get("parentId").is_none());
    c.delete_page("900").await.unwrap();
    assert_eq!(last(&seen).method, Method::DELETE);
    assert!(
        c.create_page(&NewPage {
            space: &ops,
            title: " ",
            parent_id: None,
            storage: ""
        })
        .await
        .is_err()
    );
}

#[tokio::test]
async fn the_cloud_id_comes_from_tenant_info() {
    let (app, seen) = recorder(|_, uri, _| match uri {
        "/_edge/tenant_info" => (
            StatusCode::OK,
            json!({"cloudId": "a436116f-02ce-4520-8fbb-7301462a1674"}),
        ),
        _ => (StatusCode::NOT_FOUND, json!({})),
    });
    let id = cloud_client(app).discover_cloud_id().await.unwrap();
    assert_eq!(id, "a436116f-02ce-4520-8fbb-7301462a1674");
    assert_eq!(last(&seen).method, Method::GET);
    let (empty, _) = recorder(|_, _, _| (StatusCode::OK, json!({"cloudId": ""})));
    assert!(cloud_client(empty).discover_cloud_id().await.is_err());
    let err = dc_client(Router::new())
        .discover_cloud_id()
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConfluenceError::Unsupported { .. }),
        "{err:?}"
    );
}
