//! HTTP helpers of the simulated identity services: OAuth parameters (case-sensitive, never
//! repeated), OAuth error bodies, `Cache-Control: no-store`, and the small HTML pages of the
//! sign-in and activation forms.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use crate::http;

/// A JSON answer that no cache may keep (RFC 6749 §5.1).
pub(crate) fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// An OAuth error (RFC 6749 §5.2).
pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    no_store(http::json(
        status,
        &json!({"error": error, "error_description": description}),
    ))
}

/// Form parameters of an OAuth request: names are case-sensitive and may not repeat (RFC 6749
/// §3.1).
pub(crate) struct OAuthParams(Vec<(String, String)>);

impl OAuthParams {
    /// Parses a form body or query; `Err` is the `invalid_request` description.
    pub(crate) fn parse(bytes: &[u8]) -> Result<OAuthParams, String> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(bytes)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        for (i, (k, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(seen, _)| seen == k) {
                return Err(format!("The '{k}' parameter was included more than once."));
            }
        }
        Ok(OAuthParams(pairs))
    }

    /// Parses a token-endpoint style form body, answering a JSON OAuth error.
    pub(crate) fn form(bytes: &[u8]) -> Result<OAuthParams, Response> {
        OAuthParams::parse(bytes)
            .map_err(|msg| oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &msg))
    }

    /// A non-empty parameter.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// A small HTML page (login forms and their outcomes).
pub(crate) fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body><h1>{}</h1>{body}</body></html>",
        escape(title),
        escape(title)
    );
    let mut r = Response::new(axum::body::Body::from(page));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    no_store(r)
}

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}
