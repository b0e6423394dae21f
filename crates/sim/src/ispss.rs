//! Privilege Cloud Shared Services (ISPSS) emulation, served on the PVWA server: the Identity
//! `POST /oauth2/platformtoken` endpoint and the platform-discovery answer
//! (`GET /api/v2/services/subdomain/<subdomain>`).
//!
//! The form body `grant_type=client_credentials&client_id=<user>&client_secret=<password>` is
//! checked against the PVWA users; the answer is `{access_token, token_type: "Bearer",
//! expires_in: 3600}`. The token is a PVWA session (concurrent, it never ends other sessions)
//! that ends after `expires_in` seconds. Errors use the OAuth shape `{error, error_description}`.
//! Combine with `SimHandle::set_bearer_only(true)` to refuse raw `Authorization: <token>`
//! headers as ISPSS does.
//!
//! Platform discovery (`platform-discovery.cyberark.cloud` in real life) answers for the seed's
//! `ispssSubdomain` with `{pcloud, identity_user_portal, identity_administration, ...}`, each
//! `{api, ui}`, pointing at this server (from the request's `Host`); any other subdomain is a
//! 404.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::json;
use zeroize::Zeroizing;

use crate::activity::{ACTION_LOGON, Activity};
use crate::http;
use crate::pvwa_auth::open_session;
use crate::world::World;

/// Lifetime of a platform token, in seconds.
pub(crate) const TOKEN_LIFETIME_SECS: u64 = 3600;

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    http::json(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

/// The client id and secret of a `client_credentials` token request; `Err` is the OAuth error.
fn parse_request(body: &[u8]) -> Result<(String, Zeroizing<String>), Response> {
    let mut grant = None;
    let mut client_id = None;
    let mut client_secret = None;
    for (k, v) in url::form_urlencoded::parse(body) {
        match k.as_ref() {
            "grant_type" => grant = Some(v.into_owned()),
            "client_id" => client_id = Some(v.into_owned()),
            "client_secret" => client_secret = Some(Zeroizing::new(v.into_owned())),
            _ => {}
        }
    }
    match grant.as_deref() {
        Some("client_credentials") => {}
        None => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            ));
        }
        Some(_) => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials is supported",
            ));
        }
    }
    match (client_id, client_secret) {
        (Some(id), Some(secret)) if !id.is_empty() => Ok((id, secret)),
        _ => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id and client_secret are required",
        )),
    }
}

pub(crate) async fn platform_token(State(world): State<Arc<World>>, body: Bytes) -> Response {
    let (id, secret) = match parse_request(&body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut vault = world.vault();
    let Some(user) = vault.check_password(&id, &secret) else {
        tracing::debug!(client_id = id, "ISPSS: platform token refused");
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "invalid client creds or client not allowed",
        );
    };
    let expires = Instant::now() + Duration::from_secs(TOKEN_LIFETIME_SECS);
    let token = open_session(&mut vault, &user, Some(expires));
    let mut activity = Activity::now(&user, ACTION_LOGON, "PVWA");
    activity.more_info = "ISPSS platform token (client_credentials)".into();
    vault.log_event(activity);
    drop(vault);
    tracing::debug!(user, "ISPSS: platform token issued");
    http::json(
        StatusCode::OK,
        &json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_SECS,
        }),
    )
}

/// `GET /api/v2/services/subdomain/{subdomain}`: where the tenant's services are. Every URL is
/// this server, which plays the Privilege Cloud and the Identity tenant alike.
pub(crate) async fn platform_discovery(
    State(world): State<Arc<World>>,
    Path(subdomain): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !world
        .vault()
        .ispss_subdomain
        .eq_ignore_ascii_case(subdomain.trim())
    {
        return http::json(
            StatusCode::NOT_FOUND,
            &json!({"code": "NotFound", "message": format!("subdomain {subdomain} was not found")}),
        );
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let base = format!("https://{host}");
    let service = |ui: String| json!({"api": base, "ui": ui, "region": "local"});
    http::json(
        StatusCode::OK,
        &json!({
            "pcloud": service(format!("{base}/PasswordVault/v10")),
            "identity_user_portal": service(base.clone()),
            "identity_administration": service(base.clone()),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(body: &str) -> Result<String, u16> {
        parse_request(body.as_bytes())
            .map(|(id, _)| id)
            .map_err(|r| r.status().as_u16())
    }

    #[test]
    fn token_requests_parse() {
        assert_eq!(
            status("grant_type=client_credentials&client_id=svc%40x&client_secret=p%26w"),
            Ok("svc@x".to_string())
        );
        assert_eq!(
            status("grant_type=password&client_id=a&client_secret=b"),
            Err(400)
        );
        assert_eq!(status("client_id=a&client_secret=b"), Err(400));
        assert_eq!(
            status("grant_type=client_credentials&client_id=a"),
            Err(400)
        );
        assert_eq!(
            status("grant_type=client_credentials&client_id=&client_secret=b"),
            Err(400)
        );
    }
}
