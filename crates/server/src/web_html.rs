//! The web UI's markup: HTML escaping, the page frame (skip link, navigation, the signed-in
//! user with a sign-out button, the CSRF token for the script) and the security headers every
//! page carries.
//!
//! Every value that comes from a page, a user, the policy or the audit log goes through
//! [`escape`]; the frame's content security policy allows only this server's own script and
//! style sheet, so an injected `<script>` would not run even if escaping were missed.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::web_session::Session;

/// The content security policy of every UI page.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// `text` with the five characters that matter in HTML text and attribute values escaped.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// `text` percent-encoded for one path segment or query value.
pub(crate) fn url_component(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A whole page: `title` (escaped here) around `body` (already markup).
pub(crate) fn page(
    status: StatusCode,
    title: &str,
    session: Option<&Session>,
    body: &str,
) -> Response {
    let title = escape(title);
    let (csrf, user) = match session {
        Some(s) => (
            format!("<meta name=\"csrf-token\" content=\"{}\">", escape(&s.csrf)),
            format!(
                "<span class=\"user\">Signed in as <strong>{}</strong></span>\
                 <form method=\"post\" action=\"/auth/logout\" class=\"inline\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
                 <button type=\"submit\">Sign out</button></form>",
                escape(&s.principal.user.email),
                escape(&s.csrf)
            ),
        ),
        None => (
            String::new(),
            "<a href=\"/auth/login\">Sign in</a>".to_string(),
        ),
    };
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{csrf}\
         <title>{title} · arkbridge</title>\
         <link rel=\"stylesheet\" href=\"/ui/static/style.css\">\
         <script src=\"/ui/static/app.js\" defer></script></head>\
         <body><a class=\"skip\" href=\"#main\">Skip to content</a>\
         <header><nav aria-label=\"Main\"><a href=\"/ui\">arkbridge</a> \
         <a href=\"/ui/approvals\">Approvals</a> <a href=\"/ui/audit\">Audit</a> \
         <a href=\"/ui/findings\">Findings</a> <a href=\"/ui/reports\">Daily reports</a></nav><div class=\"session\">{user}</div></header>\
         <main id=\"main\"><h1>{title}</h1>{body}</main></body></html>"
    );
    with_headers((status, html).into_response(), "text/html; charset=utf-8")
}

/// An error page: `message` (escaped here) in an alert.
pub(crate) fn error_page(
    status: StatusCode,
    title: &str,
    session: Option<&Session>,
    message: &str,
) -> Response {
    page(
        status,
        title,
        session,
        &format!("<p role=\"alert\" class=\"error\">{}</p>", escape(message)),
    )
}

/// A redirect (303) to a local path or the provider.
pub(crate) fn see_other(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    with_headers(r, "text/plain; charset=utf-8")
}

/// A static asset.
pub(crate) fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = with_headers(body.into_response(), content_type);
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    r
}

/// The content type and the security headers of every UI answer.
fn with_headers(mut r: Response, content_type: &'static str) -> Response {
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A UTC time of the audit log (microseconds) as text.
pub(crate) fn time_text(micros: i64) -> String {
    jiff::Timestamp::from_microsecond(micros)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| micros.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_text_and_attributes() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        assert_eq!(url_component("a b/c?d"), "a+b%2Fc%3Fd");
        assert_eq!(time_text(0), "1970-01-01 00:00:00 UTC");
    }
}
