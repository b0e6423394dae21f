//! The API's one error body: `{"error": "...", "code": "..."}` (plus `reasons` for a policy
//! denial), with the HTTP status that goes with the code.
//!
//! Messages come from the engine's and the identity crate's errors, which never quote a token,
//! a signature or a secret value; the codes are stable for clients (the Forge app keys on them).

use arkbridge_engine::EngineError;
use arkbridge_identity::IdentityError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Every `code` the server answers with, its HTTP status and what it means. The OpenAPI
/// document's `Error` schema lists each one (its `code` enum and description); the tests in
/// `error_codes_tests.rs` check that the document and this list agree, and that the crate's
/// source builds no error with a code missing here. Only those tests read it.
#[cfg(test)]
#[rustfmt::skip]
pub(crate) const ERROR_CODES: &[(&str, u16, &str)] = &[
    ("bad_json", 400, "the request body is not the JSON the endpoint takes"),
    ("bad_query", 400, "a query parameter is missing, unknown or malformed"),
    ("bad_request", 400, "a field or path parameter is invalid"),
    ("bad_payload", 400, "a webhook delivery's body is not a Confluence event"),
    ("missing_token", 401, "no credential was presented"),
    ("invalid_token", 401, "the token is malformed or refused"),
    ("token_expired", 401, "the token has expired"),
    ("token_not_yet_valid", 401, "the token's `nbf` is in the future"),
    ("wrong_audience", 401, "the token is for another audience"),
    ("wrong_issuer", 401, "the token is from another issuer"),
    ("bad_signature", 401, "the token's (or a webhook's) signature does not verify"),
    ("token_replayed", 401, "the single-use token was used before"),
    ("unknown_key", 401, "the token names a key the issuer does not publish"),
    ("algorithm_refused", 401, "the token's algorithm is not allowed"),
    ("site_not_allowed", 401, "the Forge token comes from a site not allowed"),
    ("forge_not_configured", 401, "a Forge token was presented but `[server.forge]` is not set"),
    ("oidc_not_configured", 401, "a bearer token was presented but no OIDC provider is set"),
    ("session_expired", 401, "the web UI session has ended or expired; sign in again"),
    ("denied", 403, "the policy denied the call (see `reasons`)"),
    ("forbidden", 403, "the caller may not do this"),
    ("wrong_page", 403, "a Forge macro named another page than its own"),
    ("csrf", 403, "a state-changing call with the session cookie lacks its `X-CSRF-Token`"),
    ("unknown_page", 404, "no such page, or not visible"),
    ("unknown_block", 404, "no such runbook block on the page"),
    ("unknown_run", 404, "no such run visible to the caller"),
    ("no_checkpoint", 404, "no checkpoint has been signed yet"),
    ("no_route", 404, "no such endpoint"),
    ("webhook_not_configured", 404, "the webhook is not configured"),
    ("method_not_allowed", 405, "the endpoint does not serve that method"),
    ("ambiguous_block", 409, "the page has several runbook blocks and none was named"),
    ("bad_runbook", 422, "the page or block cannot be read as a runbook"),
    ("rate_limited", 429, "too many calls by this caller; see `Retry-After`"),
    ("internal", 500, "an internal error"),
    ("upstream", 502, "Confluence or CyberArk refused or failed"),
    ("unavailable", 503, "a service the call needs is unavailable"),
    ("identity_provider_unavailable", 503, "the identity provider cannot be reached"),
    ("shutting_down", 503, "the server is shutting down and starts no new run"),
    ("webhook_unavailable", 503, "the webhook's secret could not be resolved"),
];

/// An API error: status, stable code, message and, for denials, the policy's reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code}: {error}")]
pub struct ApiError {
    #[serde(skip)]
    pub status: u16,
    pub error: String,
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<String>>,
    /// The audit record of a denial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_seq: Option<i64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, error: impl Into<String>) -> ApiError {
        ApiError {
            status: status.as_u16(),
            error: error.into(),
            code,
            reasons: None,
            audit_seq: None,
        }
    }

    pub fn unauthorized(code: &'static str, error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, code, error)
    }

    pub fn bad_request(code: &'static str, error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, error)
    }

    pub fn not_found(code: &'static str, error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, error)
    }

    pub fn forbidden(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", error)
    }

    /// A policy denial with its reasons.
    pub fn denied(error: impl Into<String>, reasons: Vec<String>, audit_seq: Option<i64>) -> Self {
        ApiError {
            reasons: Some(reasons),
            audit_seq,
            ..ApiError::new(StatusCode::FORBIDDEN, "denied", error)
        }
    }

    pub fn internal(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", error)
    }

    /// Why a token was refused, as a 401 with a code per kind of failure.
    pub fn from_identity(e: &IdentityError) -> ApiError {
        let code = match e {
            IdentityError::MissingHeader(_) => "missing_token",
            IdentityError::Expired { .. } => "token_expired",
            IdentityError::NotYetValid { .. } => "token_not_yet_valid",
            IdentityError::WrongAudience { .. } => "wrong_audience",
            IdentityError::WrongIssuer { .. } => "wrong_issuer",
            IdentityError::BadSignature => "bad_signature",
            IdentityError::Replay => "token_replayed",
            IdentityError::UnknownKid { .. } => "unknown_key",
            IdentityError::AlgNone | IdentityError::AlgNotAllowed { .. } => "algorithm_refused",
            IdentityError::SiteNotAllowed { .. } => "site_not_allowed",
            IdentityError::Fetch { .. } | IdentityError::Discovery { .. } => {
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "identity_provider_unavailable",
                    e.to_string(),
                );
            }
            _ => "invalid_token",
        };
        ApiError::unauthorized(code, e.to_string())
    }

    /// An engine error as the API reports it.
    pub fn from_engine(e: &EngineError) -> ApiError {
        let message = e.to_string();
        match e {
            EngineError::Denied { reasons, audit_seq } => ApiError::denied(
                message.clone(),
                reasons.split("; ").map(str::to_string).collect(),
                Some(*audit_seq),
            ),
            EngineError::UnknownUser { .. } | EngineError::Identity(_) => {
                ApiError::forbidden(message)
            }
            EngineError::NoSuchBlock { .. } => ApiError::not_found("unknown_block", message),
            EngineError::AmbiguousBlock { .. } => {
                ApiError::new(StatusCode::CONFLICT, "ambiguous_block", message)
            }
            EngineError::Page { .. } | EngineError::Runbook(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_runbook", message)
            }
            EngineError::Confluence(c) if c.status() == Some(404) => {
                ApiError::not_found("unknown_page", message)
            }
            EngineError::Confluence(arkbridge_confluence::ConfluenceError::Invalid(_)) => {
                ApiError::bad_request("bad_request", message)
            }
            EngineError::Confluence(c) if c.is_unavailable() => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
            EngineError::Confluence(_) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "upstream", message)
            }
            EngineError::NoFallback(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
            EngineError::CyberArk(c) if c.is_unavailable() => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
            EngineError::CyberArk(_) => ApiError::new(StatusCode::BAD_GATEWAY, "upstream", message),
            _ => ApiError::internal(message),
        }
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let mut response = (status, Json(&self)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"arkbridge\""),
            );
        }
        response
    }
}

#[cfg(test)]
#[path = "error_codes_tests.rs"]
mod codes_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_failures_map_to_distinct_codes() {
        let expired = IdentityError::Expired {
            exp: 1,
            now: 2,
            skew_secs: 0,
        };
        assert_eq!(ApiError::from_identity(&expired).code, "token_expired");
        assert_eq!(
            ApiError::from_identity(&IdentityError::BadSignature).code,
            "bad_signature"
        );
        let aud = IdentityError::WrongAudience {
            expected: "a".into(),
            found: vec!["b".into()],
        };
        let e = ApiError::from_identity(&aud);
        assert_eq!((e.status, e.code), (401, "wrong_audience"));
    }

    #[test]
    fn denial_body_carries_reasons() {
        let e = ApiError::from_engine(&EngineError::Denied {
            reasons: "a; b".into(),
            audit_seq: 7,
        });
        let body = serde_json::to_value(&e).unwrap();
        assert_eq!(body["code"], "denied");
        assert_eq!(body["reasons"], serde_json::json!(["a", "b"]));
        assert_eq!(body["audit_seq"], 7);
        assert!(body.get("status").is_none());
    }
}
