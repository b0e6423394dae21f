//! Unit tests for page, space and comment parsing (v2, v1 and Data Center shapes), list answers
//! and `Link` headers.

use serde_json::json;

use super::*;

fn page_json() -> Value {
    json!({"id":"123","status":"current","title":"Restart payments API","spaceId":"456",
        "parentId":"789","parentType":"page","position":3,"authorId":"557058:abc",
        "createdAt":"2025-01-01T10:00:00.000Z",
        "version":{"createdAt":"2025-01-02T10:00:00.000Z","message":"","number":7,
                   "minorEdit":false,"authorId":"557058:def"},
        "body":{"storage":{"representation":"storage","value":"<p>hello</p>"}},
        "_links":{"webui":"/spaces/OPS/pages/123/Restart+payments+API","editui":"/pages/resumedraft.action?draftId=123",
                  "tinyui":"/x/ew","base":"https://x.atlassian.net/wiki"}})
}

#[test]
fn parses_a_v2_page() {
    let p = Page::from_value(&page_json()).unwrap();
    assert_eq!(p.id, "123");
    assert_eq!(p.title, "Restart payments API");
    assert_eq!(p.space_id, "456");
    assert_eq!(p.parent_id.as_deref(), Some("789"));
    assert_eq!(p.status, "current");
    assert_eq!(p.version, 7);
    assert_eq!(p.version_author_id.as_deref(), Some("557058:def"));
    assert_eq!(p.body_storage, "<p>hello</p>");
    assert_eq!(
        p.webui.as_deref(),
        Some("/spaces/OPS/pages/123/Restart+payments+API")
    );
    assert!(Page::has_storage(&page_json()));
}

#[test]
fn lenient_page_forms() {
    let v = json!({"id":123,"spaceId":456,"version":{"number":"3"},
                   "body":{"representation":"storage","value":"<p/>"}});
    let p = Page::from_value(&v).unwrap();
    assert_eq!(
        (p.id.as_str(), p.space_id.as_str(), p.version),
        ("123", "456", 3)
    );
    assert_eq!(p.body_storage, "<p/>");
    assert_eq!(p.title, "");
    let v = json!({"id":"1","version":{"number":1},"body":{}});
    let p = Page::from_value(&v).unwrap();
    assert!(p.body_storage.is_empty() && p.webui.is_none() && p.version_author_id.is_none());
    assert!(!Page::has_storage(&v));
}

#[test]
fn malformed_pages_are_errors() {
    for bad in [
        json!([]),
        json!({"title":"x","version":{"number":1}}),
        json!({"id":"1"}),
        json!({"id":"1","version":{"number":-1}}),
        json!({"id":"1","version":"7"}),
        json!({"id":{},"version":{"number":1}}),
    ] {
        assert!(Page::from_value(&bad).is_err(), "{bad}");
    }
}

#[test]
fn parses_spaces_and_comments() {
    let s = Space::from_value(&json!({"id":"456","key":"OPS","name":"Operations","type":"global"}))
        .unwrap();
    assert_eq!(
        (s.id.as_str(), s.key.as_str(), s.name.as_str()),
        ("456", "OPS", "Operations")
    );
    assert!(Space::from_value(&json!({"id":"456"})).is_err());
    let c = Comment::from_value(&json!({"id":"900","status":"current","pageId":"123",
        "version":{"number":2},"body":{"storage":{"representation":"storage","value":"<p>ok</p>"}}}))
    .unwrap();
    assert_eq!(
        (c.id.as_str(), c.page_id.as_deref(), c.version),
        ("900", Some("123"), 2)
    );
    assert_eq!(c.body_storage, "<p>ok</p>");
    let c = Comment::from_value(&json!({"id":5})).unwrap();
    assert_eq!((c.version, c.page_id), (1, None));
    assert!(Comment::from_value(&json!("x")).is_err());
}

#[test]
fn list_results_and_next() {
    let v = json!({"results":[page_json()],"_links":{"next":"/wiki/api/v2/pages?cursor=abc","base":"https://x"}});
    let (items, next) = results(&v).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(next.as_deref(), Some("/wiki/api/v2/pages?cursor=abc"));
    let empty = json!({"results":[],"_links":{}});
    let (items, next) = results(&empty).unwrap();
    assert!(items.is_empty() && next.is_none());
    assert!(results(&json!({"results":{}})).is_err());
    assert!(results(&json!(null)).is_err());
}

#[test]
fn link_header_forms() {
    let h = r#"</wiki/api/v2/pages?limit=5&cursor=xyz>; rel="next", <https://site.atlassian.net/wiki>; rel="base""#;
    assert_eq!(
        link_header_next(h).as_deref(),
        Some("/wiki/api/v2/pages?limit=5&cursor=xyz")
    );
    let h = r#"<https://site.atlassian.net/wiki>; rel="base", </wiki/api/v2/spaces?cursor=1>; rel=next"#;
    assert_eq!(
        link_header_next(h).as_deref(),
        Some("/wiki/api/v2/spaces?cursor=1")
    );
    assert_eq!(link_header_next(r#"<https://x/wiki>; rel="base""#), None);
    assert_eq!(link_header_next("garbage"), None);
    assert_eq!(link_header_next("<unterminated; rel=next"), None);
    assert_eq!(link_header_next(""), None);
}

#[test]
fn parses_v1_and_data_center_content() {
    let v = json!({"id":"65601","type":"page","status":"current","title":"Runbook",
        "space":{"id":98306,"key":"OPS","name":"Operations"},
        "ancestors":[{"id":"1"},{"id":"65540","type":"page"}],
        "version":{"by":{"type":"known","username":"admin","userKey":"8a7f"},"number":4,
                   "message":"","minorEdit":false},
        "body":{"storage":{"value":"<p>dc</p>","representation":"storage"}},
        "_links":{"webui":"/display/OPS/Runbook","self":"https://dc/rest/api/content/65601"}});
    let p = Page::from_value(&v).unwrap();
    assert_eq!(
        (p.id.as_str(), p.space_id.as_str(), p.space_key.as_deref()),
        ("65601", "98306", Some("OPS"))
    );
    assert_eq!(p.parent_id.as_deref(), Some("65540"));
    assert_eq!(p.version_author_id.as_deref(), Some("admin"));
    assert_eq!((p.version, p.body_storage.as_str()), (4, "<p>dc</p>"));
    assert_eq!(p.webui.as_deref(), Some("/display/OPS/Runbook"));
    let cloud_v1 = json!({"id":"7","status":"historical","version":{"number":2,"by":{"accountId":"557058:x"}}});
    let p = Page::from_value(&cloud_v1).unwrap();
    assert_eq!(p.version_author_id.as_deref(), Some("557058:x"));
    assert_eq!((p.status.as_str(), p.space_key), ("historical", None));
    let c = Comment::from_value(&json!({"id":"9","type":"comment",
        "container":{"id":"65601","type":"page"},"version":{"number":1},
        "body":{"storage":{"value":"<p>c</p>","representation":"storage"}}}))
    .unwrap();
    assert_eq!(c.page_id.as_deref(), Some("65601"));
    let s = Space::from_value(&json!({"id":98306,"key":"OPS","name":"Operations"})).unwrap();
    assert_eq!(s.id, "98306");
}
