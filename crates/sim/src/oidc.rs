//! The simulated OIDC provider's metadata and tokens: discovery (OpenID Connect Discovery 1.0),
//! the JWKS, the ID and access tokens it issues, and the UserInfo endpoint.
//!
//! Tokens follow Okta's custom authorization server: RS256 with `kid` in the header; ID tokens
//! with `sub` (the `00u…` user id), `aud` = the client id, `ver`, `jti` `ID.…`, `amr`, `auth_time`,
//! `at_hash`, the login's `nonce`, `name`/`preferred_username` (scope `profile`) and
//! `email`/`email_verified` (scope `email`); access tokens with `aud` = the API audience, `cid`
//! (the client), `uid` (the user id), `scp`, `jti` `AT.…` and `sub` = the login name (the
//! e-mail), as Okta sets it. Both carry `nbf`, the groups claim and, when configured, the claim
//! with the user's Confluence account id. UserInfo checks the access token as Okta does: its
//! signature by this provider's key, issuer, audience, lifetime, and scope `openid`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::http;
use crate::idp::IdpState;
use crate::idp_http::no_store;
use crate::idp_keys::{b64, random_b64};
use crate::idp_seed::IdpUser;

/// The device authorization grant's `grant_type` (RFC 8628 §3.4).
pub(crate) const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The scopes the provider grants.
pub(crate) const SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "groups",
    crate::oidc_refresh::OFFLINE_ACCESS,
];

/// Splits and checks a `scope` parameter (`openid` when absent); `Err` is the `invalid_scope`
/// description.
pub(crate) fn parse_scopes(scope: Option<&str>) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for s in scope
        .unwrap_or("openid")
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        if !SCOPES.contains(&s) {
            return Err(format!(
                "One or more scopes are not configured for the authorization server resource: `{s}`."
            ));
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    if out.is_empty() {
        return Err("The request must name at least one scope.".into());
    }
    Ok(out)
}

/// `GET {issuer}/.well-known/openid-configuration`.
pub(crate) async fn discovery(State(s): State<Arc<IdpState>>) -> Response {
    let i = &s.issuer;
    http::json(
        StatusCode::OK,
        &json!({
            "issuer": i,
            "authorization_endpoint": format!("{i}/v1/authorize"),
            "token_endpoint": format!("{i}/v1/token"),
            "userinfo_endpoint": format!("{i}/v1/userinfo"),
            "jwks_uri": format!("{i}/v1/keys"),
            "device_authorization_endpoint": format!("{i}/v1/device/authorize"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", DEVICE_GRANT, "refresh_token"],
            "subject_types_supported": ["public"],
            "scopes_supported": SCOPES,
            "token_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "none"],
            "claims_supported": ["iss", "sub", "aud", "iat", "exp", "nbf", "jti", "auth_time",
                "amr", "nonce", "at_hash", "name", "preferred_username", "email",
                "email_verified", "ver", s.settings.groups_claim],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "request_parameter_supported": false,
            "claims_parameter_supported": false,
        }),
    )
}

/// `GET {issuer}/v1/keys`: the JWKS.
pub(crate) async fn keys(State(s): State<Arc<IdpState>>) -> Response {
    http::json(StatusCode::OK, &json!({"keys": [s.oidc_key.jwk()]}))
}

/// Who a token is issued to and for what.
pub(crate) struct Grant<'a> {
    pub(crate) user: &'a IdpUser,
    pub(crate) client_id: &'a str,
    pub(crate) scopes: &'a [String],
    pub(crate) nonce: Option<&'a str>,
    /// When the user authenticated.
    pub(crate) auth_time: i64,
}

/// A token response, the id of the access token in it, and its refresh token (scope
/// `offline_access` only).
pub(crate) struct Issued {
    pub(crate) response: Response,
    pub(crate) access_jti: String,
    pub(crate) refresh_token: Option<String>,
}

fn has(scopes: &[String], scope: &str) -> bool {
    scopes.iter().any(|s| s == scope)
}

/// The claims about the user that depend on the granted scopes.
fn profile_claims(
    s: &IdpState,
    user: &IdpUser,
    scopes: &[String],
    claims: &mut Map<String, Value>,
) {
    if has(scopes, "profile") {
        claims.insert("name".into(), json!(user.name));
        claims.insert("preferred_username".into(), json!(user.email));
    }
    if has(scopes, "email") {
        claims.insert("email".into(), json!(user.email));
        claims.insert("email_verified".into(), json!(true));
    }
    claims.insert(s.settings.groups_claim.clone(), json!(user.groups));
    if let (Some(name), Some(id)) = (&s.settings.account_id_claim, &user.account_id) {
        claims.insert(name.clone(), json!(id));
    }
}

/// Issues an access token and, with scope `openid`, an ID token (RFC 6749 §5.1).
pub(crate) fn issue(s: &IdpState, g: &Grant<'_>) -> Result<Issued, Response> {
    let failed = || {
        crate::idp_http::oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "The token could not be signed.",
        )
    };
    let now = s.now();
    let exp = now + s.settings.token_lifetime;
    let access_jti = format!("AT.{}", random_b64(24));
    let mut access = json!({
        "ver": 1, "jti": access_jti, "iss": s.issuer, "aud": s.settings.api_audience,
        "iat": now, "nbf": now, "exp": exp, "cid": g.client_id, "uid": g.user.sub,
        "scp": g.scopes, "auth_time": g.auth_time, "sub": g.user.email,
    });
    if let Some(map) = access.as_object_mut() {
        profile_claims(s, g.user, g.scopes, map);
        // The profile scope's name claims belong in ID tokens and UserInfo only.
        map.remove("name");
        map.remove("preferred_username");
    }
    let access_token = s.oidc_key.sign(&access).map_err(|_| failed())?;
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": s.settings.token_lifetime,
        "access_token": access_token,
        "scope": g.scopes.join(" "),
    });
    if has(g.scopes, "openid") {
        // OIDC Core §3.1.3.6: the left half of the SHA-256 of the access token.
        let digest = Sha256::digest(access_token.as_bytes());
        let mut id = json!({
            "sub": g.user.sub, "ver": 1, "iss": s.issuer, "aud": g.client_id, "iat": now,
            "nbf": now, "exp": exp, "jti": format!("ID.{}", random_b64(24)), "amr": ["pwd"],
            "auth_time": g.auth_time, "at_hash": b64(&digest[..16]),
        });
        if let Some(map) = id.as_object_mut() {
            if let Some(nonce) = g.nonce {
                map.insert("nonce".into(), json!(nonce));
            }
            profile_claims(s, g.user, g.scopes, map);
        }
        body["id_token"] = json!(s.oidc_key.sign(&id).map_err(|_| failed())?);
    }
    let refresh_token = has(g.scopes, crate::oidc_refresh::OFFLINE_ACCESS)
        .then(|| crate::oidc_refresh::mint(s, g, &access_jti));
    if let Some(token) = &refresh_token {
        body["refresh_token"] = json!(token);
    }
    Ok(Issued {
        response: no_store(http::json(StatusCode::OK, &body)),
        access_jti,
        refresh_token,
    })
}

/// An RFC 6750 §3 refusal with the `WWW-Authenticate: Bearer` challenge.
fn bearer_refusal(s: &IdpState, status: StatusCode, error: &str, description: &str) -> Response {
    let mut r = no_store(http::json(
        status,
        &json!({"error": error, "error_description": description}),
    ));
    let challenge = format!(
        "Bearer realm=\"{}\", error=\"{error}\", error_description=\"{description}\"",
        s.base
    );
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

/// Checks an access token of this provider; `Err` says why it is refused.
fn check_access_token(s: &IdpState, token: &str) -> Result<Map<String, Value>, String> {
    let claims = s.oidc_key.verify(token).map_err(|e| e.to_string())?;
    let now = s.now();
    let date = |name: &str| claims.get(name).and_then(Value::as_i64);
    if claims.get("iss").and_then(Value::as_str) != Some(s.issuer.as_str()) {
        return Err("The token was not issued by this authorization server.".into());
    }
    let audience = &s.settings.api_audience;
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    };
    if !aud_ok {
        return Err(format!("The token's audience is not `{audience}`."));
    }
    match date("exp") {
        Some(exp) if exp > now => {}
        Some(_) => return Err("The token has expired.".into()),
        None => return Err("The token has no expiry.".into()),
    }
    if ["nbf", "iat"]
        .iter()
        .any(|c| date(c).is_some_and(|t| t > now))
    {
        return Err("The token is not valid yet.".into());
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if s.flows().revoked.contains(jti) {
        return Err("The token has been revoked.".into());
    }
    Ok(claims)
}

/// `GET|POST {issuer}/v1/userinfo` with `Authorization: Bearer <access token>`.
pub(crate) async fn userinfo(State(s): State<Arc<IdpState>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
        .map(|(_, t)| t.trim());
    let Some(token) = token else {
        return bearer_refusal(
            &s,
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "The request has no Bearer access token.",
        );
    };
    let claims = match check_access_token(&s, token) {
        Ok(c) => c,
        Err(why) => return bearer_refusal(&s, StatusCode::UNAUTHORIZED, "invalid_token", &why),
    };
    let scopes: Vec<String> = match claims.get("scp") {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    };
    if !has(&scopes, "openid") {
        return bearer_refusal(
            &s,
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "The access token must have scope openid.",
        );
    }
    let uid = claims.get("uid").and_then(Value::as_str);
    let login = claims.get("sub").and_then(Value::as_str);
    let user = s.settings.users.iter().find(|u| {
        Some(u.sub.as_str()) == uid || login.is_some_and(|l| u.email.eq_ignore_ascii_case(l))
    });
    let Some(user) = user else {
        return bearer_refusal(
            &s,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "The token's user does not exist.",
        );
    };
    let mut body = Map::new();
    body.insert("sub".into(), json!(user.sub));
    profile_claims(&s, user, &scopes, &mut body);
    no_store(http::json(StatusCode::OK, &Value::Object(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_deduplicated_and_unknown_ones_named() {
        assert_eq!(
            parse_scopes(Some("openid  email openid")).unwrap(),
            ["openid", "email"]
        );
        assert_eq!(parse_scopes(None).unwrap(), ["openid"]);
        assert!(
            parse_scopes(Some("openid admin"))
                .unwrap_err()
                .contains("`admin`")
        );
        assert!(parse_scopes(Some(" ")).is_err());
    }
}
