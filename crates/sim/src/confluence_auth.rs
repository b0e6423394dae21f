//! Who is calling the simulated Confluence, through which door.
//!
//! * **Site** (`/wiki/...`): HTTP basic with an account e-mail and a classic API token.
//! * **Gateway** (`/ex/confluence/{cloudId}/wiki/...`): HTTP basic with a scoped API token or
//!   `Authorization: Bearer` with an OAuth 2.0 access token. Each operation needs the scopes
//!   Atlassian's specs list for it ([`required_scopes`]); a token without them gets the gateway's
//!   own 401 `{"code":401,"message":"Unauthorized; scope does not match"}`. REST v1 paths that
//!   Atlassian removed answer 410 `GoneException` there.
//! * **Data Center** (`/confluence/rest/api/...`): `Authorization: Bearer` with a personal access
//!   token, or HTTP basic with username and password.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::confluence_http::{Api, error, v1_error};
use crate::http;
use crate::state::constant_time_eq;
use crate::wiki::{GatewayToken, Wiki};

/// Which door a request came through.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Host {
    Site,
    Gateway,
    Dc,
}

/// The authenticated caller of one request (an axum extension).
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub(crate) account_id: String,
    pub(crate) host: Host,
}

enum Credential {
    Basic(String, zeroize::Zeroizing<String>),
    Bearer(zeroize::Zeroizing<String>),
}

fn credential(headers: &HeaderMap) -> Option<Credential> {
    let raw = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = raw.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("Bearer") {
        return Some(Credential::Bearer(zeroize::Zeroizing::new(
            rest.trim().to_string(),
        )));
    }
    if !scheme.eq_ignore_ascii_case("Basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map(zeroize::Zeroizing::new)?;
    let (user, secret) = decoded.split_once(':')?;
    Some(Credential::Basic(
        user.to_string(),
        zeroize::Zeroizing::new(secret.to_string()),
    ))
}

fn same(stored: Option<&SecretString>, given: &str) -> bool {
    stored.is_some_and(|t| constant_time_eq(t.expose_secret(), given))
}

fn gateway_token<'a>(tokens: &'a [GatewayToken], given: &str) -> Option<&'a GatewayToken> {
    tokens
        .iter()
        .find(|t| constant_time_eq(t.token.expose_secret(), given))
}

/// The 401 of each door.
pub(crate) fn unauthorized(host: Host, api: Api) -> Response {
    match host {
        Host::Gateway => http::json(
            StatusCode::UNAUTHORIZED,
            &json!({"code": 401, "message": "Unauthorized"}),
        ),
        Host::Site if api == Api::V2 => error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Unauthorized; the credentials are missing or wrong",
        ),
        Host::Site => v1_error(
            StatusCode::UNAUTHORIZED,
            "Client must be authenticated to access this resource.",
        ),
        Host::Dc => {
            let mut r = v1_error(
                StatusCode::UNAUTHORIZED,
                "Client must be authenticated to access this resource.",
            );
            r.headers_mut().insert(
                "x-seraph-loginreason",
                HeaderValue::from_static("AUTHENTICATED_FAILED"),
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Confluence\""),
            );
            r
        }
    }
}

/// The gateway's answer to a token without the scopes an operation needs.
pub(crate) fn scope_mismatch() -> Response {
    let mut r = http::json(
        StatusCode::UNAUTHORIZED,
        &json!({"code": 401, "message": "Unauthorized; scope does not match"}),
    );
    r.headers_mut().insert(
        "x-failure-category",
        HeaderValue::from_static("FAILURE_CLIENT_SCOPE_CHECK"),
    );
    r
}

/// The answer of the gateway to a removed REST v1 path.
pub(crate) fn gone() -> Response {
    v1_error(
        StatusCode::GONE,
        "com.atlassian.confluence.api.service.exceptions.GoneException: This deprecated endpoint \
         has been removed.",
    )
}

/// Authenticates a request at `host`; the scopes are those of a gateway token (`None`: all).
pub(crate) fn authenticate(
    wiki: &Wiki,
    host: Host,
    headers: &HeaderMap,
) -> Option<(String, Option<Vec<String>>)> {
    let cred = credential(headers)?;
    match (host, cred) {
        (Host::Site, Credential::Basic(email, token)) => wiki
            .users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(&email) && same(u.token.as_ref(), &token))
            .map(|u| (u.account_id.clone(), None)),
        (Host::Gateway, Credential::Basic(email, token)) => wiki.users.iter().find_map(|u| {
            if !u.email.eq_ignore_ascii_case(&email) {
                return None;
            }
            let t = gateway_token(&u.scoped_tokens, &token)?;
            Some((u.account_id.clone(), scopes(t)))
        }),
        (Host::Gateway, Credential::Bearer(token)) => wiki.users.iter().find_map(|u| {
            let t = gateway_token(&u.oauth_tokens, &token)?;
            Some((u.account_id.clone(), scopes(t)))
        }),
        (Host::Dc, Credential::Bearer(token)) => wiki
            .users
            .iter()
            .find(|u| same(u.pat.as_ref(), &token))
            .map(|u| (u.account_id.clone(), None)),
        (Host::Dc, Credential::Basic(username, password)) => wiki
            .users
            .iter()
            .find(|u| {
                u.username.eq_ignore_ascii_case(&username) && same(u.password.as_ref(), &password)
            })
            .map(|u| (u.account_id.clone(), None)),
        (Host::Site, Credential::Bearer(_)) => None,
    }
}

fn scopes(t: &GatewayToken) -> Option<Vec<String>> {
    t.scopes.as_ref().map(|s| s.iter().cloned().collect())
}
