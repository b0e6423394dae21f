//! The Confluence client's error type and the parsing of Confluence error bodies.
//!
//! Confluence Cloud answers with the v2 envelope `{"errors":[{"status","code","title","detail"}]}`,
//! the v1 envelope `{"statusCode","message",...}`, or (from the API gateway) `{"code","message"}`.
//! All are parsed leniently; anything else yields a short, cleaned excerpt of the body. Errors never
//! carry the API token.

use serde_json::Value;

/// Everything that can go wrong talking to Confluence. No variant holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConfluenceError {
    /// Transport failure, timeout, 5xx, or rate limiting that outlasted the retries.
    #[error("Confluence is unavailable: {detail}")]
    Unavailable { detail: String },
    /// 401, 403 or another 4xx answer.
    #[error("Confluence refused the request (HTTP {status}{}): {message}", code_suffix(.code))]
    Refused {
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// 404: missing, or not visible to the service user (Confluence does not tell them apart).
    #[error("Confluence has no {what} (or the service user may not see it)")]
    NotFound { what: String },
    /// 409: someone else changed the page; `current` is the page's current version if known.
    #[error("the page changed meanwhile (current version {}): {message}", version_text(.current))]
    Conflict {
        current: Option<u64>,
        message: String,
    },
    /// A malformed or unexpected answer.
    #[error("Confluence gave an unexpected answer: {detail}")]
    Protocol { detail: String },
    /// Bad certificates, bad URL, unusable token.
    #[error("Confluence client configuration problem: {0}")]
    Config(String),
    /// An input the client cannot use (a page reference, a non-numeric id).
    #[error("{0}")]
    Invalid(String),
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_deref().map(|c| format!(" {c}")).unwrap_or_default()
}

fn version_text(v: &Option<u64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_else(|| "unknown".into())
}

impl ConfluenceError {
    /// True for transient failures (transport, 5xx, rate limiting).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ConfluenceError::Unavailable { .. })
    }
}

/// Longest server message kept in an error.
const MAX_MESSAGE: usize = 400;

/// Code and message from an error body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ErrorBody {
    pub(crate) code: Option<String>,
    pub(crate) message: String,
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

/// Parses a v2, v1 or gateway error body leniently.
pub(crate) fn parse_error_body(body: &[u8]) -> ErrorBody {
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) else {
        let excerpt = String::from_utf8_lossy(&body[..body.len().min(2 * MAX_MESSAGE)]);
        return ErrorBody {
            code: None,
            message: clean(&excerpt),
        };
    };
    if let Some(Value::Array(errors)) = obj.get("errors") {
        let first = errors.iter().find_map(Value::as_object);
        if let Some(e) = first {
            let title = text(e.get("title"));
            let detail = text(e.get("detail"));
            let message = match (title, detail) {
                (Some(t), Some(d)) if t != d => format!("{t}: {d}"),
                (Some(t), _) => t,
                (None, Some(d)) => d,
                (None, None) => String::new(),
            };
            return ErrorBody {
                code: text(e.get("code")).map(|c| clean(&c)),
                message: clean(&message),
            };
        }
    }
    let message = text(obj.get("message"))
        .or_else(|| text(obj.get("title")))
        .or_else(|| text(obj.get("reason")))
        .unwrap_or_default();
    let code = text(obj.get("code")).or_else(|| text(obj.get("reason")).filter(|r| *r != message));
    ErrorBody {
        code: code.map(|c| clean(&c)),
        message: clean(&message),
    }
}

/// Removes control characters and caps the length of a server-provided text.
pub(crate) fn clean(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_MESSAGE)
        .collect();
    if s.chars().count() > MAX_MESSAGE {
        out.push('…');
    }
    out.trim().to_string()
}

/// Reads `Current Version: [N]` (v2) or `Current version is: N` (v1) out of a 409 message.
pub(crate) fn current_version(message: &str) -> Option<u64> {
    let lower = message.to_ascii_lowercase();
    let at = lower.find("current version")? + "current version".len();
    let rest = &message[at..];
    let digits: String = rest
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Maps a final (non-retried) error answer to an error. `what` names the object for 404s.
pub(crate) fn classify(status: u16, body: &[u8], what: &str) -> ConfluenceError {
    let ErrorBody { code, message } = parse_error_body(body);
    match status {
        404 => ConfluenceError::NotFound {
            what: what.to_string(),
        },
        409 => ConfluenceError::Conflict {
            current: current_version(&message),
            message,
        },
        429 => ConfluenceError::Unavailable {
            detail: format!("rate limited (HTTP 429) after retries: {message}"),
        },
        400..=499 => ConfluenceError::Refused {
            status,
            code,
            message,
        },
        500..=599 => ConfluenceError::Unavailable {
            detail: if message.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {message}")
            },
        },
        _ => ConfluenceError::Protocol {
            detail: format!("unexpected HTTP {status} (redirects are not followed)"),
        },
    }
}

/// Describes a transport error without its URL.
pub(crate) fn transport(err: reqwest::Error) -> ConfluenceError {
    let err = err.without_url();
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let detail = format!("{kind}: {}", arkbridge_core::error_chain(&err));
    ConfluenceError::Unavailable {
        detail: clean(&detail),
    }
}

#[cfg(test)]
mod tests {
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
}
