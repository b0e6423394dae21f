//! The device authorization grant (RFC 8628), as the CLI signs in.
//!
//! `POST {issuer}/v1/device/authorize` gives a device code and a user code (eight consonants, as
//! Okta's); the user opens `/activate`, enters the code and signs in, or a test approves it
//! through the admin call `POST /__arkbridge_sim/device`. Meanwhile the client polls the token
//! endpoint and hears `authorization_pending`, `slow_down` when it polls within the interval
//! (which then grows by 5 seconds, §3.5), `access_denied`, or `expired_token` once the 10-minute
//! code has expired. An approved code yields tokens once.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rand::Rng;
use serde_json::json;

use crate::http;
use crate::idp::IdpState;
use crate::idp_http::{OAuthParams, escape, html, no_store, oauth_error};
use crate::idp_keys::random_b64;
use crate::idp_seed::OidcClient;
use crate::oidc::{self, Grant, parse_scopes};

const LIFETIME_SECS: i64 = 600;
const INTERVAL_SECS: i64 = 5;
/// Letters that cannot spell words or be mistaken for digits (RFC 8628 §6.1).
const USER_CODE_CHARS: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

pub(crate) enum DeviceStatus {
    Pending,
    Approved {
        email: String,
        at: i64,
    },
    Denied,
    /// Tokens were issued, or the denial was told.
    Done,
}

/// A device authorization in progress, keyed by its device code.
pub(crate) struct DeviceGrant {
    pub(crate) user_code: String,
    pub(crate) client_id: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) expires_ms: i64,
    pub(crate) interval_secs: i64,
    pub(crate) last_poll_ms: i64,
    pub(crate) status: DeviceStatus,
}

/// A user code as typed: case, dashes and spaces do not matter.
fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// `POST {issuer}/v1/device/authorize`.
pub(crate) async fn authorize(
    State(s): State<Arc<IdpState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = match OAuthParams::form(&body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let client = match crate::oidc_token::authenticate(&s, &headers, &p) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let scopes = match parse_scopes(p.get("scope")) {
        Ok(scopes) => scopes,
        Err(msg) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", &msg),
    };
    let device_code = random_b64(32);
    let mut rng = rand::rng();
    let user_code: String = (0..8)
        .map(|_| USER_CODE_CHARS[rng.random_range(0..USER_CODE_CHARS.len())] as char)
        .collect();
    let now_ms = s.now_ms();
    {
        let mut flows = s.flows();
        flows
            .devices
            .retain(|_, d| d.expires_ms + LIFETIME_SECS * 1000 > now_ms);
        flows.devices.insert(
            device_code.clone(),
            DeviceGrant {
                user_code: user_code.clone(),
                client_id: client.id.clone(),
                scopes,
                expires_ms: now_ms + LIFETIME_SECS * 1000,
                interval_secs: INTERVAL_SECS,
                last_poll_ms: now_ms,
                status: DeviceStatus::Pending,
            },
        );
    }
    let verification_uri = format!("{}/activate", s.base);
    no_store(http::json(
        StatusCode::OK,
        &json!({
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": format!("{verification_uri}?user_code={user_code}"),
            "expires_in": LIFETIME_SECS,
            "interval": INTERVAL_SECS,
        }),
    ))
}

/// The token endpoint's answer to a device code poll (RFC 8628 §3.4, §3.5).
pub(crate) fn poll(s: &IdpState, client: &OidcClient, p: &OAuthParams) -> Response {
    let bad =
        |error: &str, description: &str| oauth_error(StatusCode::BAD_REQUEST, error, description);
    let Some(device_code) = p.get("device_code") else {
        return bad(
            "invalid_request",
            "The 'device_code' parameter is required.",
        );
    };
    let now_ms = s.now_ms();
    let (email, scopes, at) = {
        let mut flows = s.flows();
        let Some(d) = flows.devices.get_mut(device_code) else {
            return bad(
                "invalid_grant",
                "The device code is invalid or has expired.",
            );
        };
        if d.client_id != client.id {
            return bad(
                "invalid_grant",
                "The device code was issued to another client.",
            );
        }
        if matches!(d.status, DeviceStatus::Done) {
            return bad("invalid_grant", "The device code has already been used.");
        }
        if now_ms >= d.expires_ms {
            return bad("expired_token", "The device code has expired.");
        }
        match &d.status {
            DeviceStatus::Pending => {
                let too_soon = now_ms - d.last_poll_ms < d.interval_secs * 1000;
                d.last_poll_ms = now_ms;
                if too_soon {
                    d.interval_secs += 5;
                    let msg = format!(
                        "The client is polling too quickly; wait at least {} seconds between requests.",
                        d.interval_secs
                    );
                    return bad("slow_down", &msg);
                }
                return bad(
                    "authorization_pending",
                    "The device authorization is pending. Please try again later.",
                );
            }
            DeviceStatus::Denied | DeviceStatus::Done => {
                d.status = DeviceStatus::Done;
                return bad("access_denied", "The user denied the request.");
            }
            DeviceStatus::Approved { email, at } => {
                let approved = (email.clone(), d.scopes.clone(), *at);
                d.status = DeviceStatus::Done;
                approved
            }
        }
    };
    let Some(user) = s.user(&email) else {
        return bad(
            "invalid_grant",
            "The device code is invalid or has expired.",
        );
    };
    let grant = Grant {
        user,
        client_id: &client.id,
        scopes: &scopes,
        nonce: None,
        auth_time: at,
    };
    match oidc::issue(s, &grant) {
        Ok(issued) => {
            tracing::info!(
                user = user.email,
                client = client.id,
                "identity: device tokens issued"
            );
            issued.response
        }
        Err(r) => r,
    }
}

/// Approves or denies the pending, unexpired grant with this user code; `Err` says why not.
fn decide(s: &IdpState, user_code: &str, email: Option<String>) -> Result<(), &'static str> {
    let now_ms = s.now_ms();
    let code = normalize(user_code);
    let mut flows = s.flows();
    let d = flows
        .devices
        .values_mut()
        .find(|d| d.user_code == code && now_ms < d.expires_ms)
        .ok_or("The code is invalid or has expired.")?;
    if !matches!(d.status, DeviceStatus::Pending) {
        return Err("The code has already been used.");
    }
    d.status = match email {
        Some(email) => DeviceStatus::Approved {
            email,
            at: now_ms.div_euclid(1000),
        },
        None => DeviceStatus::Denied,
    };
    Ok(())
}

fn activate_form(user_code: &str, username: &str, status: StatusCode, message: &str) -> Response {
    let note = if message.is_empty() {
        String::new()
    } else {
        format!("<p role=\"alert\">{}</p>", escape(message))
    };
    let body = format!(
        "{note}<form method=\"post\" action=\"/activate\">\
         <label>Code <input name=\"user_code\" value=\"{}\"></label>\
         <label>Username <input name=\"username\" value=\"{}\" autocomplete=\"username\"></label>\
         <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label>\
         <button name=\"action\" value=\"approve\">Allow</button>\
         <button name=\"action\" value=\"deny\">Deny</button></form>",
        escape(user_code),
        escape(username)
    );
    html(status, "Activate your device (arkbridge sim)", &body)
}

/// `GET /activate[?user_code=...]`.
pub(crate) async fn activate_page(RawQuery(query): RawQuery) -> Response {
    let p = OAuthParams::parse(query.unwrap_or_default().as_bytes()).ok();
    let code = p
        .as_ref()
        .and_then(|p| p.get("user_code"))
        .unwrap_or_default();
    activate_form(code, "", StatusCode::OK, "")
}

/// `POST /activate`: the user signs in and allows (or denies) the device.
pub(crate) async fn activate(State(s): State<Arc<IdpState>>, body: Bytes) -> Response {
    let Ok(p) = OAuthParams::parse(&body) else {
        return activate_form("", "", StatusCode::BAD_REQUEST, "The form was malformed.");
    };
    let code = p.get("user_code").unwrap_or_default();
    let username = p.get("username").unwrap_or_default();
    let Some(user) = s.check_login(username, p.get("password").unwrap_or_default()) else {
        return activate_form(
            code,
            username,
            StatusCode::UNAUTHORIZED,
            "Unable to sign in: the user name or password is wrong.",
        );
    };
    let allow = p.get("action") != Some("deny");
    match decide(&s, code, allow.then(|| user.email.clone())) {
        Ok(()) if allow => html(
            StatusCode::OK,
            "Device activated",
            "<p>Return to your device.</p>",
        ),
        Ok(()) => html(
            StatusCode::OK,
            "Device denied",
            "<p>The device was not signed in.</p>",
        ),
        Err(msg) => activate_form(code, username, StatusCode::BAD_REQUEST, msg),
    }
}

/// What a person does on `/activate`, without the form: signs in with their password and
/// allows the device with this user code.
pub(crate) fn sign_in_and_allow(
    s: &IdpState,
    user_code: &str,
    username: &str,
    password: &str,
) -> Result<(), &'static str> {
    let user = s
        .check_login(username, password)
        .ok_or("Unable to sign in: the user name or password is wrong.")?;
    decide(s, user_code, Some(user.email.clone()))
}

/// `POST /__arkbridge_sim/device` with `{"user_code", "email", "approve"}` (default `true`):
/// approves or denies a device code as a seeded user, without a browser.
pub(crate) async fn admin_decide(
    State(s): State<Arc<IdpState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = crate::admin::authorize(&s.world, &headers) {
        return r;
    }
    let err = |status: StatusCode, msg: &str| {
        http::json(
            status,
            &json!({"ErrorCode": "ARKSIM400E", "ErrorMessage": msg}),
        )
    };
    let Some(b) = http::LooseBody::parse(&body) else {
        return err(StatusCode::BAD_REQUEST, "The body must be a JSON object.");
    };
    let (Some(code), Some(email)) = (b.str("user_code"), b.str("email")) else {
        return err(
            StatusCode::BAD_REQUEST,
            "`user_code` and `email` are required.",
        );
    };
    let Some(user) = s.user(email) else {
        return err(
            StatusCode::BAD_REQUEST,
            "`email` is not a user of the identity provider.",
        );
    };
    let approve = b.bool("approve").unwrap_or(true);
    match decide(&s, code, approve.then(|| user.email.clone())) {
        Ok(()) => http::json(
            StatusCode::OK,
            &json!({"user_code": normalize(code), "email": user.email,
                    "status": if approve { "approved" } else { "denied" }}),
        ),
        Err(msg) => err(StatusCode::NOT_FOUND, msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_ignore_case_dashes_and_spaces() {
        assert_eq!(normalize("bcdf-ghjk"), "BCDFGHJK");
        assert_eq!(normalize(" BCDF GHJK "), "BCDFGHJK");
    }
}
