//! Unit tests for the smaller objects, on JSON shaped like the v2 and v1 specs' examples.

use serde_json::json;

use super::*;

#[test]
fn labels_and_properties() {
    let l = Label::from_value(&json!({"id":"8","name":"runbook","prefix":"global"})).unwrap();
    assert_eq!((l.id.as_deref(), l.name.as_str()), (Some("8"), "runbook"));
    let l = Label::from_value(&json!({"name":"x","id":12})).unwrap();
    assert_eq!((l.id.as_deref(), l.prefix.as_str()), (Some("12"), "global"));
    assert!(Label::from_value(&json!({"id":"1"})).is_err());
    let p = ContentProperty::from_value(&json!({"id":"33","key":"arkbridge.audit",
        "value":{"hash":"ab"},"version":{"number":3,"message":""}}))
    .unwrap();
    assert_eq!((p.key.as_str(), p.version), ("arkbridge.audit", 3));
    assert_eq!(p.value, json!({"hash":"ab"}));
    assert!(ContentProperty::from_value(&json!({"id":"1"})).is_err());
}

#[test]
fn versions_users_and_groups() {
    let v = PageVersion::from_value(&json!({"createdAt":"2025-01-02T10:00:00.000Z",
        "message":"fix","number":4,"minorEdit":true,"authorId":"557058:a",
        "page":{"id":"1","title":"T"}}))
    .unwrap();
    assert_eq!(
        (v.number, v.minor_edit, v.message.as_str()),
        (4, true, "fix")
    );
    assert!(PageVersion::from_value(&json!({"message":"m"})).is_err());
    let u = User::from_value(&json!({"displayName":"Alice","accountId":"557058:a",
        "email":"","accountType":"atlassian","accountStatus":"active","publicName":"alice"}))
    .unwrap();
    assert_eq!(u.account_id.as_deref(), Some("557058:a"));
    assert_eq!(u.email, None, "an empty e-mail is no e-mail");
    let dc = User::from_value(&json!({"type":"known","username":"admin","userKey":"8a7f",
        "displayName":"Admin"}))
    .unwrap();
    assert_eq!(
        (dc.username.as_deref(), dc.kind.as_deref()),
        (Some("admin"), Some("known"))
    );
    assert!(User::from_value(&json!({"displayName":"nobody"})).is_err());
    let g = Group::from_value(&json!({"type":"group","name":"ops","id":"0d6c"})).unwrap();
    assert_eq!((g.id.as_deref(), g.name.as_str()), (Some("0d6c"), "ops"));
    assert!(Group::from_value(&json!({"id":"x"})).is_err());
}

#[test]
fn space_permissions_and_search_results() {
    let p = SpacePermission::from_value(&json!({"id":"1001",
        "principal":{"type":"group","id":"0d6c"},
        "operation":{"key":"read","targetType":"space"}}))
    .unwrap();
    assert_eq!(
        (
            p.principal_type.as_str(),
            p.operation.as_str(),
            p.target_type.as_str()
        ),
        ("group", "read", "space")
    );
    assert!(SpacePermission::from_value(&json!({"id":"1"})).is_err());
    let r = SearchResult::from_value(&json!({"content":{"id":"65601","type":"page",
        "status":"current","title":"Runbook"},"title":"Runbook","excerpt":"restart",
        "url":"/spaces/OPS/pages/65601/Runbook","entityType":"content",
        "lastModified":"2025-01-01T10:00:00.000Z","breadcrumbs":[],"iconCssClass":"x"}))
    .unwrap();
    assert_eq!(
        (r.content_id.as_deref(), r.content_type.as_deref()),
        (Some("65601"), Some("page"))
    );
    assert_eq!(r.entity_type, "content");
}

#[test]
fn restrictions_by_operation() {
    let v = json!({
        "read": {"operation":"read","restrictions":{
            "user":{"results":[{"type":"known","accountId":"557058:a"}],"start":0,"limit":200,"size":1},
            "group":{"results":[{"type":"group","name":"ops","id":"0d6c"}],"size":1}},
            "_expandable":{},"_links":{}},
        "update": {"operation":"update","restrictions":{"user":{"results":[],"size":0},
            "group":{"results":[],"size":0}}},
        "_links": {"base":"https://x.atlassian.net/wiki"}
    });
    let r = Restriction::by_operation(&v).unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].operation, "read");
    assert_eq!(r[0].users[0].account_id.as_deref(), Some("557058:a"));
    assert_eq!(r[0].groups[0].name, "ops");
    assert!(r[1].users.is_empty() && r[1].groups.is_empty());
    assert!(Restriction::by_operation(&json!([])).is_err());
    assert!(
        Restriction::by_operation(&json!({"read":{"restrictions":{"user":{"results":"x"}}}}))
            .is_err()
    );
}

#[test]
fn permission_checks() {
    let ok = PermissionCheck::from_value(&json!({"hasPermission":true,"errors":[]})).unwrap();
    assert!(ok.has_permission && ok.reasons.is_empty());
    let no = PermissionCheck::from_value(&json!({"hasPermission":false,
        "errors":[{"translation":"User does not have permission to the space","args":[]}]}))
    .unwrap();
    assert_eq!(no.reasons, ["User does not have permission to the space"]);
    assert!(PermissionCheck::from_value(&json!({"errors":[]})).is_err());
}
