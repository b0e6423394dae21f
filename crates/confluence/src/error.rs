//! The Confluence client's error type and the parsing of Confluence error bodies.
//!
//! Confluence Cloud answers with the v2 envelope `{"errors":[{"status","code","title","detail"}]}`,
//! the v1 envelope `{"statusCode","message",...}`, or (from the API gateway) `{"code","message"}`.
//! All are parsed leniently; anything else yields a short, cleaned excerpt of the body. A v1
//! message of the form `com.atlassian....GoneException: text` gives the exception's class name as
//! the code. Errors are classified: *unavailable* (transport, 5xx, rate limiting that outlasted the
//! retries) may be tried again later; everything else is a refusal or a local problem. Errors
//! never carry the token.

use serde_json::Value;

/// Everything that can go wrong talking to Confluence. No variant holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConfluenceError {
    /// Transport failure, timeout, 5xx, or rate limiting that outlasted the retries. `status` is
    /// the last HTTP status, if an answer came.
    #[error("Confluence is unavailable: {detail}")]
    Unavailable { status: Option<u16>, detail: String },
    /// 401, 403, 410 or another 4xx answer.
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
    /// The operation has no API on this flavor of Confluence.
    #[error("{operation} is not available on Confluence {flavor}")]
    Unsupported {
        operation: &'static str,
        flavor: &'static str,
    },
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_deref().map(|c| format!(" {c}")).unwrap_or_default()
}

fn version_text(v: &Option<u64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_else(|| "unknown".into())
}

impl ConfluenceError {
    /// True for transient failures (transport, 5xx, rate limiting): trying later may work.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ConfluenceError::Unavailable { .. })
    }

    /// True when Confluence answered and said no (4xx, including 404 and 409).
    pub fn is_refused(&self) -> bool {
        matches!(
            self,
            ConfluenceError::Refused { .. }
                | ConfluenceError::NotFound { .. }
                | ConfluenceError::Conflict { .. }
        )
    }

    /// The HTTP status behind the error, when an answer came.
    pub fn status(&self) -> Option<u16> {
        match self {
            ConfluenceError::Unavailable { status, .. } => *status,
            ConfluenceError::Refused { status, .. } => Some(*status),
            ConfluenceError::NotFound { .. } => Some(404),
            ConfluenceError::Conflict { .. } => Some(409),
            _ => None,
        }
    }

    /// The error code of the answer (`CONFLICT`, `GoneException`, ...), when it named one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ConfluenceError::Refused { code, .. } => code.as_deref(),
            _ => None,
        }
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
        .or_else(|| v1_data_message(obj.get("data")))
        .or_else(|| text(obj.get("reason")))
        .unwrap_or_default();
    let (exception, message) = split_exception(&message);
    let code = text(obj.get("code"))
        .or(exception)
        .or_else(|| text(obj.get("reason")).filter(|r| *r != message));
    ErrorBody {
        code: code.map(|c| clean(&c)),
        message: clean(&message),
    }
}

/// The first `data.errors[].message.translation` (or `.key`) of a v1 envelope.
fn v1_data_message(data: Option<&Value>) -> Option<String> {
    let errors = data?.get("errors")?.as_array()?;
    errors.iter().find_map(|e| {
        let m = e.get("message")?;
        text(m.get("translation"))
            .or_else(|| text(m.get("key")))
            .or_else(|| text(Some(m)))
    })
}

/// Splits `com.atlassian.x.GoneException: text` into (`GoneException`, `text`).
fn split_exception(message: &str) -> (Option<String>, String) {
    let Some((class, rest)) = message.split_once(": ") else {
        return (None, message.to_string());
    };
    let is_class = class.contains('.')
        && !class.contains(char::is_whitespace)
        && class
            .rsplit('.')
            .next()
            .is_some_and(|name| name.ends_with("Exception") || name.ends_with("Error"));
    if !is_class {
        return (None, message.to_string());
    }
    let name = class.rsplit('.').next().unwrap_or(class).to_string();
    (Some(name), rest.trim().to_string())
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
            status: Some(429),
            detail: format!("rate limited (HTTP 429) after retries: {message}"),
        },
        408 => ConfluenceError::Unavailable {
            status: Some(408),
            detail: format!("the server timed out waiting for the request (HTTP 408): {message}"),
        },
        400..=499 => ConfluenceError::Refused {
            status,
            code,
            message,
        },
        500..=599 => ConfluenceError::Unavailable {
            status: Some(status),
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

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
