//! The crate's error type, CyberArk error-body parsing and status classification.
//!
//! Classification follows the reference's fallback rules: transport failures, timeouts, the CCP's
//! `APPAP007E` (Vault unreachable) and any 5xx are *unavailability* (a read-only fallback may
//! fire); 4xx answers are *refusals* (never a reason to fall back); the CCP's `500 APPAP282E` is a
//! CPM change in progress. Errors never carry secret values.

use serde_json::Value;

/// Everything that can go wrong talking to CyberArk. No variant ever holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum CyberArkError {
    /// Transport failure, timeout, CCP `APPAP007E` or a 5xx answer. `status` and `code` are set
    /// when CyberArk did answer (e.g. `400 APPAP007E`, `500 CAWS00001E`).
    #[error("the CyberArk {endpoint} is unavailable: {detail}")]
    Unavailable {
        endpoint: &'static str,
        detail: String,
        status: Option<u16>,
        code: Option<String>,
    },
    /// A 4xx answer (not found, not permitted, bad request, bad credentials ...).
    #[error("the CyberArk {endpoint} refused the request (HTTP {status} {code}): {message}")]
    Refused {
        endpoint: &'static str,
        status: u16,
        code: String,
        message: String,
    },
    /// CCP `500 APPAP282E`: the CPM is changing the password right now.
    #[error("the password is being changed by the CPM right now ({code}): {message}")]
    ChangeInProgress { code: String, message: String },
    /// A malformed or unexpected answer.
    #[error("the CyberArk {endpoint} gave an unexpected answer: {detail}")]
    Protocol {
        endpoint: &'static str,
        detail: String,
    },
    /// A request refused locally, before sending: a value the PVWA would refuse (a safe name
    /// with a forbidden character, a retention out of range ...). `field` is the JSON name.
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// Bad certificates, bad URL or a request that cannot be sent as asked.
    #[error("CyberArk client configuration problem: {0}")]
    Config(String),
    /// The CPM reported that the change failed.
    #[error("the CPM failed to change account {account_id} (status `{status}`)")]
    CpmFailed { account_id: String, status: String },
    /// The deadline passed while the CPM was still working.
    #[error("the CPM did not finish changing account {account_id} before the deadline")]
    CpmTimeout { account_id: String },
}

impl CyberArkError {
    /// True when CyberArk could not be reached or could not answer (the fallback trigger).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, CyberArkError::Unavailable { .. })
    }

    /// The CyberArk error code (`APPAP004E`, `PASWS006E` ...), when the answer carried one.
    pub fn code(&self) -> Option<&str> {
        match self {
            CyberArkError::Refused { code, .. } | CyberArkError::ChangeInProgress { code, .. }
                if !code.is_empty() =>
            {
                Some(code)
            }
            CyberArkError::Unavailable {
                code: Some(code), ..
            } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status of a refusal, or of an answer that said CyberArk is unavailable.
    pub fn status(&self) -> Option<u16> {
        match self {
            CyberArkError::Refused { status, .. } => Some(*status),
            CyberArkError::Unavailable { status, .. } => *status,
            CyberArkError::ChangeInProgress { .. } => Some(500),
            _ => None,
        }
    }
}

/// Longest server message kept in an error.
const MAX_MESSAGE: usize = 400;

/// A parsed CyberArk error body: `{"ErrorCode","ErrorMsg"|"ErrorMessage","Details"?}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ErrorBody {
    pub(crate) code: String,
    pub(crate) message: String,
}

/// Looks a key up case-insensitively in a JSON object.
pub(crate) fn get_ci<'a>(obj: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn text_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Code and message of one error object, trying the CCP, PVWA and Identity key spellings.
fn code_and_message(obj: &serde_json::Map<String, Value>) -> (Option<String>, Option<String>) {
    let code = text_of(get_ci(obj, "ErrorCode"))
        .or_else(|| text_of(get_ci(obj, "error")))
        .or_else(|| text_of(get_ci(obj, "code")));
    let message = text_of(get_ci(obj, "ErrorMsg"))
        .or_else(|| text_of(get_ci(obj, "ErrorMessage")))
        .or_else(|| text_of(get_ci(obj, "error_description")))
        .or_else(|| text_of(get_ci(obj, "message")));
    (code, message)
}

/// Parses an error body leniently. A body that is not a JSON object yields a short, cleaned
/// excerpt of its text as the message.
pub(crate) fn parse_error_body(body: &[u8]) -> ErrorBody {
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) else {
        return ErrorBody {
            code: String::new(),
            message: clean(&String::from_utf8_lossy(
                &body[..body.len().min(2 * MAX_MESSAGE)],
            )),
        };
    };
    let (code, message) = code_and_message(&obj);
    let details: Vec<(Option<String>, Option<String>)> = match get_ci(&obj, "Details") {
        Some(Value::Object(d)) => vec![code_and_message(d)],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_object)
            .map(code_and_message)
            .collect(),
        _ => Vec::new(),
    };
    let code = code
        .or_else(|| details.iter().find_map(|(c, _)| c.clone()))
        .unwrap_or_default();
    let mut message = message.unwrap_or_default();
    let extra: Vec<String> = details
        .iter()
        .filter_map(|(c, m)| match (c, m) {
            (Some(c), Some(m)) => Some(format!("{c}: {m}")),
            (None, Some(m)) => Some(m.clone()),
            (Some(c), None) => Some(c.clone()),
            (None, None) => None,
        })
        .filter(|d| !message.contains(d.as_str()))
        .collect();
    if !extra.is_empty() {
        if !message.is_empty() {
            message.push_str(" (");
            message.push_str(&extra.join("; "));
            message.push(')');
        } else {
            message = extra.join("; ");
        }
    }
    ErrorBody {
        code: clean(&code),
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

/// Maps a non-success HTTP answer to an error.
pub(crate) fn classify(endpoint: &'static str, status: u16, body: &[u8]) -> CyberArkError {
    let ErrorBody { code, message } = parse_error_body(body);
    let describe = |code: &str, message: &str| match (code.is_empty(), message.is_empty()) {
        (true, true) => format!("HTTP {status}"),
        (true, false) => format!("HTTP {status}: {message}"),
        (false, true) => format!("HTTP {status} {code}"),
        (false, false) => format!("HTTP {status} {code}: {message}"),
    };
    if code.eq_ignore_ascii_case("APPAP282E") {
        return CyberArkError::ChangeInProgress { code, message };
    }
    if code.eq_ignore_ascii_case("ITATS542I") {
        // A RADIUS challenge (500, but an answer, not an outage): retrying would re-send the
        // password and open a new challenge each time. A service user cannot answer one.
        return CyberArkError::Refused {
            endpoint,
            status,
            code,
            message: format!(
                "{message} (a RADIUS challenge: arkbridge's service user cannot answer one; \
                 configure RADIUS so this user gets no challenge, or use another logon method)"
            ),
        };
    }
    if code.eq_ignore_ascii_case("APPAP007E") || status >= 500 {
        let detail = describe(&code, &message);
        return CyberArkError::Unavailable {
            endpoint,
            detail,
            status: Some(status),
            code: (!code.is_empty()).then_some(code),
        };
    }
    if (400..500).contains(&status) {
        return CyberArkError::Refused {
            endpoint,
            status,
            code,
            message,
        };
    }
    CyberArkError::Protocol {
        endpoint,
        detail: format!(
            "unexpected {} (redirects are not followed)",
            describe(&code, &message)
        ),
    }
}

/// Describes a transport error without its URL (the URL carries query values).
pub(crate) fn transport(endpoint: &'static str, err: reqwest::Error) -> CyberArkError {
    let err = err.without_url();
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let detail = format!("{kind}: {}", arkbridge_core::error_chain(&err));
    CyberArkError::Unavailable {
        endpoint,
        detail: clean(&detail),
        status: None,
        code: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOT_FOUND: &str = r#"{"ErrorCode":"APPAP004E","ErrorMsg":"Password object matching query [Safe=Prod-DB;Folder=Root;Object=nope] was not found (Diagnostic Info: 5). Please check that there is a password object that answers your query in the Vault and that both the Provider and the application user have the appropriate permissions needed in order to use the password."}"#;

    #[test]
    fn ccp_not_found_is_a_refusal() {
        let e = classify("ccp", 404, NOT_FOUND.as_bytes());
        assert!(
            matches!(e, CyberArkError::Refused { status: 404, .. }),
            "{e:?}"
        );
        assert_eq!(e.code(), Some("APPAP004E"));
        assert_eq!(e.status(), Some(404));
        assert!(!e.is_unavailable());
        assert!(e.to_string().contains("was not found"));
    }

    #[test]
    fn vault_unreachable_is_unavailable_despite_400() {
        let e = classify(
            "ccp",
            400,
            br#"{"ErrorCode":"APPAP007E","ErrorMsg":"Connection to the Vault has failed"}"#,
        );
        assert!(e.is_unavailable(), "{e:?}");
        assert!(e.to_string().contains("APPAP007E"), "{e}");
        assert_eq!(e.code(), Some("APPAP007E"));
        assert_eq!(e.status(), Some(400));
    }

    #[test]
    fn radius_challenge_is_a_refusal_not_an_outage() {
        let e = classify(
            "pvwa",
            500,
            br#"{"ErrorCode":"ITATS542I","ErrorMessage":"Enter the passcode sent to your phone"}"#,
        );
        assert!(!e.is_unavailable(), "{e:?}");
        assert_eq!(e.code(), Some("ITATS542I"));
        assert_eq!(e.status(), Some(500));
        assert!(e.to_string().contains("RADIUS challenge"), "{e}");
    }

    #[test]
    fn change_in_progress() {
        let e = classify(
            "ccp",
            500,
            br#"{"ErrorCode":"APPAP282E","ErrorMsg":"Password [x] is currently being changed by the CPM"}"#,
        );
        assert!(matches!(e, CyberArkError::ChangeInProgress { .. }), "{e:?}");
        assert_eq!(e.code(), Some("APPAP282E"));
        assert!(!e.is_unavailable());
    }

    #[test]
    fn server_errors_are_unavailable() {
        for (status, body) in [
            (503, &b"<html>Service Unavailable</html>"[..]),
            (500, b"{}"),
            (502, b""),
            (
                500,
                br#"{"ErrorCode":"CAWS00001E","ErrorMessage":"Error(s) occurred"}"#,
            ),
        ] {
            assert!(classify("pvwa", status, body).is_unavailable(), "{status}");
        }
    }

    #[test]
    fn auth_failures_are_refusals() {
        for (status, body, code) in [
            (403, &br#"{"ErrorCode":"APPAP306E","ErrorMsg":"App failed on authentication check"}"#[..], "APPAP306E"),
            (403, br#"{"ErrorCode":"ITATS004E","ErrorMessage":"Authentication failure for User [x]."}"#, "ITATS004E"),
            (401, br#"{"ErrorCode":"PASWS006E","ErrorMessage":"The session token is missing, invalid or expired."}"#, "PASWS006E"),
            (400, br#"{"ErrorCode":"APPAP227E","ErrorMsg":"Too many objects"}"#, "APPAP227E"),
        ] {
            let e = classify("ccp", status, body);
            assert!(matches!(e, CyberArkError::Refused { .. }), "{e:?}");
            assert_eq!(e.code(), Some(code));
        }
        let e = classify("pvwa", 409, b"");
        assert_eq!((e.status(), e.code()), (Some(409), None));
    }

    #[test]
    fn redirects_and_odd_statuses_are_protocol_errors() {
        let e = classify("ccp", 302, b"");
        assert!(matches!(e, CyberArkError::Protocol { .. }), "{e:?}");
    }

    #[test]
    fn pvwa_details_object_and_array() {
        let b = parse_error_body(
            br#"{"ErrorCode":"CAWS00001E","ErrorMessage":"Error(s) occurred","Details":{"ErrorCode":"PASWS027E","ErrorMessage":"Object already exists."}}"#,
        );
        assert_eq!(b.code, "CAWS00001E");
        assert_eq!(
            b.message,
            "Error(s) occurred (PASWS027E: Object already exists.)"
        );
        let b = parse_error_body(
            br#"{"details":[{"ErrorCode":"A1","ErrorMessage":"one"},{"errorMessage":"two"},"junk",{}]}"#,
        );
        assert_eq!(b.code, "A1");
        assert_eq!(b.message, "A1: one; two");
        let b = parse_error_body(br#"{"ErrorCode":"X","ErrorMessage":"m","Details":null}"#);
        assert_eq!((b.code.as_str(), b.message.as_str()), ("X", "m"));
    }

    #[test]
    fn other_spellings_and_junk() {
        let b = parse_error_body(br#"{"error":"invalid_grant","error_description":"bad"}"#);
        assert_eq!(
            (b.code.as_str(), b.message.as_str()),
            ("invalid_grant", "bad")
        );
        let b = parse_error_body(br#"{"code":401,"message":"Unauthorized"}"#);
        assert_eq!(
            (b.code.as_str(), b.message.as_str()),
            ("401", "Unauthorized")
        );
        let b = parse_error_body(br#"{"ErrorCode":5,"ErrorMsg":["x"]}"#);
        assert_eq!((b.code.as_str(), b.message.as_str()), ("5", ""));
        let b = parse_error_body(b"\xff\x00garbage\nline");
        assert!(b.code.is_empty() && !b.message.contains('\n'));
        let long = "x".repeat(5000);
        let b = parse_error_body(format!(r#"{{"ErrorMsg":"{long}"}}"#).as_bytes());
        assert!(b.message.chars().count() <= MAX_MESSAGE + 1);
    }

    #[test]
    fn display_is_one_sentence() {
        let e = CyberArkError::CpmTimeout {
            account_id: "77_4".into(),
        };
        assert_eq!(
            e.to_string(),
            "the CPM did not finish changing account 77_4 before the deadline"
        );
        let e = CyberArkError::Unavailable {
            endpoint: "ccp",
            detail: "timed out".into(),
            status: None,
            code: None,
        };
        assert_eq!(e.to_string(), "the CyberArk ccp is unavailable: timed out");
    }
}
