//! The PVWA REST API (`/PasswordVault/API/...`): the router and the shared error answers.
//! Logon and sessions are in [`crate::pvwa_auth`]; accounts in [`crate::pvwa_accounts`],
//! [`crate::pvwa_account_list`], [`crate::pvwa_account_admin`] and [`crate::pvwa_ops`]; safes
//! and members in [`crate::pvwa_safes`] and [`crate::pvwa_members`]. The same server also hosts
//! the ISPSS token and platform-discovery endpoints ([`crate::ispss`]) and the simulator's
//! admin endpoints ([`crate::admin`]).
//!
//! Paths match ignoring case and with an optional trailing `/`; JSON body keys bind ignoring
//! case. Tokens expire after an inactivity timeout (20 minutes unless changed through the
//! handle).

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::json;

pub(crate) use crate::pvwa_auth::session_user;

use crate::http;
use crate::pvwa_account_admin as account_admin;
use crate::pvwa_account_list as account_list;
use crate::pvwa_accounts as accounts;
use crate::pvwa_auth as auth;
use crate::pvwa_members as members;
use crate::pvwa_ops as ops;
use crate::pvwa_safes as safes;
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
        .route("/PasswordVault/API/auth/{method}/Logon", post(auth::logon))
        .route("/PasswordVault/API/auth/Logoff", post(auth::logoff))
        .route("/PasswordVault/API/LoginsInfo", get(auth::logins_info))
        .route(
            "/PasswordVault/API/Accounts",
            get(account_list::list).post(account_admin::add),
        )
        .route(
            "/PasswordVault/API/Accounts/{id}",
            get(accounts::get_one)
                .patch(account_admin::update)
                .delete(account_admin::delete),
        )
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
            "/API/v2/services/subdomain/{subdomain}",
            get(ispss::platform_discovery),
        )
        .route(
            "/__arkbridge_sim/faults",
            get(admin::get_faults)
                .post(admin::set_faults)
                .delete(admin::clear_faults),
        )
        // `activities` is folded like the API's `Activities` segment, so any case reaches it.
        .route("/__arkbridge_sim/Activities", get(admin::activities))
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
