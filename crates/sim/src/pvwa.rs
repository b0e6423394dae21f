//! The PVWA REST API (`/PasswordVault/API/...`): the router, logon/logoff and session handling.
//! Accounts are in [`crate::pvwa_accounts`] and [`crate::pvwa_ops`], safes and members in
//! [`crate::pvwa_safes`] and [`crate::pvwa_members`]; the same server also hosts the ISPSS token
//! endpoint ([`crate::ispss`]) and the simulator's admin endpoint ([`crate::admin`]).
//!
//! Paths match ignoring case and with an optional trailing `/`; JSON body keys bind ignoring
//! case. Tokens are opaque ~200-character base64 strings returned as a JSON string literal; a
//! logon without `concurrentSession: true` ends the user's earlier sessions; tokens expire after
//! an inactivity timeout (20 minutes unless changed through the handle).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine;
use rand::Rng;
use serde_json::{Value, json};

use crate::http::{self, LooseBody};
use crate::pvwa_accounts as accounts;
use crate::pvwa_members as members;
use crate::pvwa_ops as ops;
use crate::pvwa_safes as safes;
use crate::state::Session;
use crate::tls::PathFolder;
use crate::world::World;
use crate::{admin, ispss};

/// Path segments the PVWA matches ignoring case.
pub(crate) const FOLDER: PathFolder = PathFolder {
    literals: &[
        "PasswordVault",
        "API",
        "auth",
        "Cyberark",
        "Logon",
        "Logoff",
        "Accounts",
        "Password",
        "Retrieve",
        "Change",
        "Activities",
        "SetNextPassword",
        "Update",
        "Verify",
        "Reconcile",
        "CheckIn",
        "Secret",
        "Versions",
        "Safes",
        "Members",
        "oauth2",
        "platformtoken",
        "LoginsInfo",
    ],
};

pub(crate) fn router(world: Arc<World>) -> Router {
    Router::new()
        .route("/PasswordVault/API/auth/Cyberark/Logon", post(logon))
        .route("/PasswordVault/API/auth/Logoff", post(logoff))
        .route("/PasswordVault/API/LoginsInfo", get(logins_info))
        .route("/PasswordVault/API/Accounts", get(accounts::list))
        .route("/PasswordVault/API/Accounts/{id}", get(accounts::get_one))
        .route(
            "/PasswordVault/API/Accounts/{id}/Password/Retrieve",
            post(accounts::retrieve),
        )
        .route("/PasswordVault/API/Accounts/{id}/Change", post(ops::change))
        .route(
            "/PasswordVault/API/Accounts/{id}/SetNextPassword",
            post(ops::set_next_password),
        )
        .route(
            "/PasswordVault/API/Accounts/{id}/Password/Update",
            post(ops::password_update),
        )
        .route("/PasswordVault/API/Accounts/{id}/Verify", post(ops::verify))
        .route(
            "/PasswordVault/API/Accounts/{id}/Reconcile",
            post(ops::reconcile),
        )
        .route(
            "/PasswordVault/API/Accounts/{id}/CheckIn",
            post(ops::check_in),
        )
        .route(
            "/PasswordVault/API/Accounts/{id}/Secret/Versions",
            get(ops::versions),
        )
        .route(
            "/PasswordVault/API/Accounts/{id}/Activities",
            get(ops::activities),
        )
        .route(
            "/PasswordVault/API/Safes",
            get(safes::list).post(safes::add),
        )
        .route(
            "/PasswordVault/API/Safes/{safe}",
            get(safes::get_one).put(safes::update).delete(safes::delete),
        )
        .route(
            "/PasswordVault/API/Safes/{safe}/Members",
            get(members::list).post(members::add),
        )
        .route(
            "/PasswordVault/API/Safes/{safe}/Members/{member}",
            get(members::get_one)
                .put(members::update)
                .delete(members::delete),
        )
        .route("/oauth2/platformtoken", post(ispss::platform_token))
        .route(
            "/__arkbridge_sim/faults",
            get(admin::get_faults)
                .post(admin::set_faults)
                .delete(admin::clear_faults),
        )
        .fallback(|| async { http::empty(StatusCode::NOT_FOUND) })
        .layer(axum::middleware::map_response(no_cache))
        .with_state(world)
}

async fn no_cache(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(header::EXPIRES, HeaderValue::from_static("-1"));
    resp
}

/// A PVWA error body: `{"ErrorCode","ErrorMessage"}`.
pub(crate) fn error(status: StatusCode, code: &str, msg: impl Into<String>) -> Response {
    http::json(
        status,
        &json!({"ErrorCode": code, "ErrorMessage": msg.into()}),
    )
}

pub(crate) fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "PASWS006E",
        "The session token is missing, invalid or expired.",
    )
}

pub(crate) fn forbidden() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "PASWS041E",
        "You are not authorized to perform this action.",
    )
}

pub(crate) fn bad_body() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "CAWS00001E",
        "Error(s) occurred. The request body is not a valid JSON object.",
    )
}

/// The token of `Authorization: <token>` or `Authorization: Bearer <token>`, with whether the
/// `Bearer` scheme was used.
fn auth_token(headers: &HeaderMap) -> (&str, bool) {
    let raw = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    match raw.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("Bearer") => (rest.trim(), true),
        _ => (raw, false),
    }
}

/// The session user of a request. In Bearer-only (ISPSS) mode a raw token is refused.
pub(crate) fn session_user(world: &World, headers: &HeaderMap) -> Result<String, Response> {
    let (token, bearer) = auth_token(headers);
    if token.is_empty() {
        return Err(unauthorized());
    }
    let mut vault = world.vault();
    if vault.bearer_only && !bearer {
        return Err(unauthorized());
    }
    vault.session_user(token).ok_or_else(unauthorized)
}

/// Opens a session for `user` and returns its token.
pub(crate) fn open_session(world: &World, user: &str, expires: Option<Instant>) -> String {
    let token = new_token();
    world.vault().sessions.insert(
        token.clone(),
        Session {
            user: user.to_string(),
            logged_on: crate::state::now_epoch(),
            last_used: Instant::now(),
            expires,
        },
    );
    token
}

fn new_token() -> String {
    let mut rng = rand::rng();
    let hex = |n: usize, rng: &mut rand::rngs::ThreadRng| -> String {
        (0..n)
            .map(|_| format!("{:X}", rng.random_range(0..16u8)))
            .collect()
    };
    let raw = format!(
        "{};{};{};",
        uuid::Uuid::new_v4(),
        hex(16, &mut rng),
        hex(96, &mut rng)
    );
    base64::engine::general_purpose::STANDARD.encode(raw)
}

async fn logon(State(world): State<Arc<World>>, body: Bytes) -> Response {
    let Some(body) = LooseBody::parse(&body) else {
        return bad_body();
    };
    let username = body.str("username").unwrap_or("").to_string();
    let password = zeroize::Zeroizing::new(body.str("password").unwrap_or("").to_string());
    let concurrent = body.bool("concurrentSession").unwrap_or(false);
    let mut vault = world.vault();
    let Some(user) = vault.check_password(&username, &password) else {
        tracing::debug!(username, "PVWA: logon failed");
        return error(
            StatusCode::FORBIDDEN,
            "ITATS004E",
            format!("Authentication failure for User [{username}]."),
        );
    };
    if !concurrent {
        vault
            .sessions
            .retain(|_, s| !s.user.eq_ignore_ascii_case(&user));
    }
    drop(vault);
    let token = open_session(&world, &user, None);
    tracing::debug!(user, concurrent, "PVWA: logon");
    http::json(StatusCode::OK, &Value::String(token))
}

async fn logoff(State(world): State<Arc<World>>, headers: HeaderMap) -> Response {
    if let Err(resp) = session_user(&world, &headers) {
        return resp;
    }
    let (token, _) = auth_token(&headers);
    world.vault().sessions.remove(token);
    http::empty(StatusCode::OK)
}

/// `GET /API/LoginsInfo` (10.4+): the logged-on user and when it logged on. Clients use it to
/// check that a token is still valid (aiobastion's `check_token`, psPAS `Get-PASUserLoginInfo`).
async fn logins_info(State(world): State<Arc<World>>, headers: HeaderMap) -> Response {
    let user = match session_user(&world, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let (token, _) = auth_token(&headers);
    let logged_on = world.vault().sessions.get(token).map(|s| s.logged_on);
    http::json(
        StatusCode::OK,
        &json!({"UserName": user, "LastSuccessfulLoginDate": logged_on}),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_long_opaque_base64() {
        let t = super::new_token();
        assert!((180..=260).contains(&t.len()), "{}", t.len());
        assert!(!t.contains('"'));
    }
}
