//! Unit tests for error-body parsing (v2, v1, gateway envelopes) and status classification.

use super::*;

const V2_CONFLICT: &str = r#"{"errors":[{"status":409,"code":"CONFLICT","title":"Version must be incremented when updating a page. Current Version: [7]. Provided version: [7]","detail":null}]}"#;

#[test]
fn v2_conflict_envelope() {
    let e = classify(409, V2_CONFLICT.as_bytes(), "page 1");
    match e {
        ConfluenceError::Conflict {
            current,
            ref message,
        } => {
            assert_eq!(current, Some(7));
            assert!(message.starts_with("Version must be incremented"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn v1_envelope() {
    let body = br#"{"statusCode":409,"data":{"authorized":false,"valid":true,"errors":[],"successful":false},"message":"Version must be incremented on update. Current version is: 12","reason":"Conflict"}"#;
    let b = parse_error_body(body);
    assert_eq!(b.code.as_deref(), Some("Conflict"));
    assert!(matches!(
        classify(409, body, "p"),
        ConfluenceError::Conflict {
            current: Some(12),
            ..
        }
    ));
    let b2 = parse_error_body(
        br#"{"statusCode":400,"message":"Error parsing xhtml: Unexpected close tag"}"#,
    );
    assert_eq!(b2.message, "Error parsing xhtml: Unexpected close tag");
    assert!(b.message.contains("Current version is: 12"));
}

#[test]
fn v2_errors_with_detail_and_codes() {
    let body = br#"{"errors":[{"status":400,"code":"INVALID_REQUEST_PARAMETER","title":"Invalid request","detail":"limit must be at most 250"}]}"#;
    let e = classify(400, body, "p");
    match e {
        ConfluenceError::Refused {
            status,
            code,
            message,
        } => {
            assert_eq!(status, 400);
            assert_eq!(code.as_deref(), Some("INVALID_REQUEST_PARAMETER"));
            assert_eq!(message, "Invalid request: limit must be at most 250");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn gateway_401_and_plain_bodies() {
    let e = classify(
        401,
        br#"{"code":401,"message":"Unauthorized; scope does not match"}"#,
        "p",
    );
    assert!(
        matches!(e, ConfluenceError::Refused { status: 401, code: None, ref message } if message == "Unauthorized; scope does not match")
    );
    let e = classify(503, b"<html>\n<h1>down</h1>", "p");
    assert!(e.is_unavailable());
    assert!(!e.to_string().contains('\n'));
    assert!(
        matches!(classify(404, b"", "page 42"), ConfluenceError::NotFound { ref what } if what == "page 42")
    );
    assert!(classify(429, b"", "p").is_unavailable());
    assert!(matches!(
        classify(302, b"", "p"),
        ConfluenceError::Protocol { .. }
    ));
    let b = parse_error_body(br#"{"errors":[]}"#);
    assert_eq!(b, ErrorBody::default());
    let b = parse_error_body(br#"{"errors":"nope","message":5}"#);
    assert_eq!(b, ErrorBody::default());
}

#[test]
fn v1_gone_exception_and_data_errors() {
    let body = br#"{"statusCode":410,"data":{"authorized":true,"valid":true,"errors":[],"successful":false},"message":"com.atlassian.confluence.api.service.exceptions.GoneException: This deprecated endpoint has been removed."}"#;
    let e = classify(410, body, "p");
    assert_eq!(e.status(), Some(410));
    assert_eq!(e.code(), Some("GoneException"));
    assert!(e.is_refused() && !e.is_unavailable());
    assert!(
        e.to_string()
            .ends_with("(HTTP 410 GoneException): This deprecated endpoint has been removed."),
        "{e}"
    );
    let body = br#"{"statusCode":400,"data":{"errors":[{"message":{"key":"k","translation":"Label name too long"}}]}}"#;
    assert_eq!(parse_error_body(body).message, "Label name too long");
    let plain = parse_error_body(br#"{"message":"Bad thing: with colon"}"#);
    assert_eq!(plain.code, None);
    assert_eq!(plain.message, "Bad thing: with colon");
}

#[test]
fn classification_of_statuses() {
    for s in [408, 429, 500, 502, 503, 504] {
        let e = classify(s, b"", "p");
        assert!(e.is_unavailable() && !e.is_refused(), "{s}");
        assert_eq!(e.status(), Some(s));
    }
    for s in [400, 401, 403, 404, 409, 410, 413] {
        let e = classify(s, b"{}", "p");
        assert!(e.is_refused() && !e.is_unavailable(), "{s}");
        assert_eq!(e.status(), Some(s));
    }
    let e = ConfluenceError::Unsupported {
        operation: "users-bulk",
        flavor: "Data Center",
    };
    assert_eq!(
        e.to_string(),
        "users-bulk is not available on Confluence Data Center"
    );
    assert!(!e.is_refused() && !e.is_unavailable() && e.status().is_none());
}

#[test]
fn current_version_forms() {
    assert_eq!(
        current_version("Current Version: [7]. Provided version: [7]"),
        Some(7)
    );
    assert_eq!(current_version("Current version is: 12"), Some(12));
    assert_eq!(current_version("conflict"), None);
    assert_eq!(
        current_version("Current version: [99999999999999999999999]"),
        None
    );
}

#[test]
fn display_texts() {
    let e = ConfluenceError::Conflict {
        current: None,
        message: "m".into(),
    };
    assert_eq!(
        e.to_string(),
        "the page changed meanwhile (current version unknown): m"
    );
    let e = ConfluenceError::Refused {
        status: 403,
        code: Some("FORBIDDEN".into()),
        message: "no".into(),
    };
    assert_eq!(
        e.to_string(),
        "Confluence refused the request (HTTP 403 FORBIDDEN): no"
    );
}
