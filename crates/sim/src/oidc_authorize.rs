//! The authorization endpoint (`{issuer}/v1/authorize`): the authorization code flow with PKCE
//! (RFC 6749 §4.1, RFC 7636, OIDC Core §3.1.2).
//!
//! `GET` checks the request and shows a sign-in form (the user name pre-filled from
//! `login_hint`); the form posts the same parameters with `username` and `password` back to the
//! endpoint, which answers with a redirect carrying the code and the `state`. A client or
//! redirect URI that does not check out gets an error page, never a redirect (RFC 6749 §4.1.2.1);
//! every other error is redirected to the client. PKCE with `S256` is required of every client;
//! `state` is required, as Okta requires it; the `nonce` is kept for the ID token. Codes are
//! single-use and live 60 seconds. Loopback redirect URIs registered for `127.0.0.1` or `[::1]`
//! match on any port (RFC 8252 §7.3), for CLIs that listen on a free port.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use url::Url;

use crate::idp::IdpState;
use crate::idp_http::{OAuthParams, escape, html};
use crate::idp_keys::random_b64;
use crate::oidc::parse_scopes;

/// How long an authorization code may be exchanged.
const CODE_LIFETIME_MS: i64 = 60_000;

/// The parameters the sign-in form posts back.
const FORWARDED: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

/// An issued authorization code.
pub(crate) struct AuthCode {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) user_email: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) challenge: String,
    pub(crate) auth_time: i64,
    pub(crate) expires_ms: i64,
    /// Set by the first exchange; a second one is refused and revokes what the first issued.
    pub(crate) used: bool,
    pub(crate) issued: Vec<String>,
}

/// A checked authorization request.
struct AuthRequest {
    client_id: String,
    redirect_uri: String,
    state: String,
    nonce: Option<String>,
    scopes: Vec<String>,
    challenge: String,
}

/// Whether `given` is one of the client's redirect URIs.
fn redirect_matches(registered: &[Url], given: &Url) -> bool {
    registered.iter().any(|r| {
        if r == given {
            return true;
        }
        let loopback =
            r.scheme() == "http" && matches!(r.host_str(), Some("127.0.0.1") | Some("[::1]"));
        let mut any_port = given.clone();
        loopback && any_port.set_port(r.port()).is_ok() && &any_port == r
    })
}

/// The client's redirect URI with `pairs` added to its query.
fn redirect(to: &str, pairs: &[(&str, &str)]) -> Response {
    let mut url = match Url::parse(to) {
        Ok(u) => u,
        Err(_) => return html(StatusCode::BAD_REQUEST, "Bad redirect URI", ""),
    };
    url.query_pairs_mut().extend_pairs(pairs);
    let mut r = html(StatusCode::FOUND, "Redirecting", "");
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn error_page(description: &str) -> Response {
    html(
        StatusCode::BAD_REQUEST,
        "Bad request",
        &format!("<p>{}</p>", escape(description)),
    )
}

/// Checks an authorization request; `Err` is the answer (an error page or an error redirect).
fn check(s: &IdpState, p: &OAuthParams) -> Result<AuthRequest, Response> {
    let client_id = p.get("client_id").unwrap_or_default();
    let Some(client) = s.client(client_id) else {
        return Err(error_page(
            "The 'client_id' parameter is missing or unknown.",
        ));
    };
    let redirect_uri = p.get("redirect_uri").unwrap_or_default();
    let registered = Url::parse(redirect_uri)
        .ok()
        .filter(|u| redirect_matches(&client.redirect_uris, u));
    if registered.is_none() {
        return Err(error_page(
            "The 'redirect_uri' parameter must be a Login redirect URI in the client app settings.",
        ));
    }
    let state = p.get("state").unwrap_or_default().to_string();
    let fail = |error: &str, description: &str| {
        let mut pairs = vec![("error", error), ("error_description", description)];
        if !state.is_empty() {
            pairs.push(("state", state.as_str()));
        }
        redirect(redirect_uri, &pairs)
    };
    if p.get("response_type") != Some("code") {
        return Err(fail(
            "unsupported_response_type",
            "The response type is not supported by the authorization server. Configured response types: [code].",
        ));
    }
    if p.get("response_mode").is_some_and(|m| m != "query") {
        return Err(fail(
            "invalid_request",
            "Only response_mode=query is supported.",
        ));
    }
    let scopes = parse_scopes(Some(p.get("scope").unwrap_or_default()))
        .map_err(|msg| fail("invalid_scope", &msg))?;
    if state.is_empty() {
        return Err(fail(
            "invalid_request",
            "The 'state' parameter is required.",
        ));
    }
    let Some(challenge) = p.get("code_challenge") else {
        return Err(fail(
            "invalid_request",
            "PKCE code challenge is required by the application.",
        ));
    };
    if p.get("code_challenge_method") != Some("S256") {
        return Err(fail(
            "invalid_request",
            "The PKCE code challenge method must be S256.",
        ));
    }
    // An S256 challenge is a base64url SHA-256: 43 characters.
    let well_formed = challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(fail(
            "invalid_request",
            "The PKCE code challenge must be 43 characters of base64url.",
        ));
    }
    if p.get("prompt") == Some("none") {
        return Err(fail("login_required", "The user is not signed in."));
    }
    Ok(AuthRequest {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_string(),
        state,
        nonce: p.get("nonce").map(String::from),
        scopes,
        challenge: challenge.to_string(),
    })
}

/// The sign-in form, carrying the request's parameters.
fn form(s: &IdpState, p: &OAuthParams, status: StatusCode, message: &str) -> Response {
    let hidden: String = FORWARDED
        .iter()
        .filter_map(|name| {
            p.get(name).map(|v| {
                format!(
                    "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                    escape(v)
                )
            })
        })
        .collect();
    let login = p
        .get("login_hint")
        .or(p.get("username"))
        .unwrap_or_default();
    let note = if message.is_empty() {
        String::new()
    } else {
        format!("<p role=\"alert\">{}</p>", escape(message))
    };
    let body = format!(
        "{note}<form method=\"post\" action=\"{}/v1/authorize\">{hidden}\
         <label>Username <input name=\"username\" value=\"{}\" autocomplete=\"username\"></label>\
         <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label>\
         <button type=\"submit\">Sign in</button></form>",
        escape(&s.issuer),
        escape(login)
    );
    html(status, "Sign in (arkbridge sim)", &body)
}

/// `GET {issuer}/v1/authorize`.
pub(crate) async fn page(State(s): State<Arc<IdpState>>, RawQuery(query): RawQuery) -> Response {
    let p = match OAuthParams::parse(query.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(msg) => return error_page(&msg),
    };
    match check(&s, &p) {
        Ok(_) => form(&s, &p, StatusCode::OK, ""),
        Err(r) => r,
    }
}

/// `POST {issuer}/v1/authorize`: the sign-in form's submission.
pub(crate) async fn login(State(s): State<Arc<IdpState>>, body: Bytes) -> Response {
    let p = match OAuthParams::parse(&body) {
        Ok(p) => p,
        Err(msg) => return error_page(&msg),
    };
    let req = match check(&s, &p) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let username = p.get("username").unwrap_or_default();
    let Some(user) = s.check_login(username, p.get("password").unwrap_or_default()) else {
        tracing::debug!("identity: sign-in failed");
        return form(
            &s,
            &p,
            StatusCode::UNAUTHORIZED,
            "Unable to sign in: the user name or password is wrong.",
        );
    };
    let code = random_b64(32);
    let now_ms = s.now_ms();
    {
        let mut flows = s.flows();
        // Spent and expired codes are kept a while, so that a replay is told apart from noise.
        flows
            .codes
            .retain(|_, c| c.expires_ms + 10 * CODE_LIFETIME_MS > now_ms);
        flows.codes.insert(
            code.clone(),
            AuthCode {
                client_id: req.client_id,
                redirect_uri: req.redirect_uri.clone(),
                user_email: user.email.clone(),
                scopes: req.scopes,
                nonce: req.nonce,
                challenge: req.challenge,
                auth_time: now_ms.div_euclid(1000),
                expires_ms: now_ms + CODE_LIFETIME_MS,
                used: false,
                issued: Vec::new(),
            },
        );
    }
    tracing::info!(user = user.email, "identity: authorization code issued");
    redirect(&req.redirect_uri, &[("code", &code), ("state", &req.state)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn loopback_redirects_match_any_port_others_exactly() {
        let reg = [
            url("http://127.0.0.1/callback"),
            url("https://app.example.com/cb"),
        ];
        assert!(redirect_matches(
            &reg,
            &url("http://127.0.0.1:53111/callback")
        ));
        assert!(redirect_matches(&reg, &url("https://app.example.com/cb")));
        assert!(!redirect_matches(
            &reg,
            &url("http://127.0.0.1:53111/other")
        ));
        assert!(!redirect_matches(
            &reg,
            &url("https://app.example.com:444/cb")
        ));
        assert!(!redirect_matches(&reg, &url("https://evil.example.com/cb")));
    }
}
