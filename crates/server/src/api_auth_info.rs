//! `GET /api/v1/auth/info`: which OpenID Connect provider and public client a command-line
//! client signs in with before it calls this server (`arkbridge login --server URL`); and
//! `GET /api/v1/auth/whoami`: who the server takes the caller to be, with which `arkbridge
//! login --server` checks a new sign-in before it keeps it.
//!
//! The first is public on purpose: the issuer, the public client id and the API audience are
//! not secrets (the provider publishes the first, and a public client has no secret), and a
//! client cannot present a credential before it knows where to get one.

use arkbridge_core::audit::Target;
use arkbridge_core::config::IdentityProvider;
use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::api::answer;
use crate::{AppState, Principal};

/// `{"oidc": {issuer, client_id, audience}}`: the provider, the CLI's public client and the
/// audience of the access tokens this server accepts; `{"oidc": null}` when it takes no OIDC
/// bearer tokens (the answer is 200 either way: the server is fine, it just offers no sign-in).
pub(crate) async fn auth_info(State(state): State<AppState>) -> Response {
    let identity = &state.bridge.config().identity;
    let oidc = match (identity.provider, &identity.oidc) {
        (IdentityProvider::Oidc, Some(oidc)) => json!({
            "issuer": oidc.issuer,
            "client_id": oidc.client_id,
            "audience": oidc.api_audience.as_deref().unwrap_or(&oidc.client_id),
        }),
        _ => Value::Null,
    };
    (StatusCode::OK, Json(json!({ "oidc": oidc }))).into_response()
}

/// The verified caller: e-mail, groups and how they proved it.
pub(crate) async fn whoami(Extension(principal): Extension<Principal>) -> Response {
    answer(
        StatusCode::OK,
        json!({
            "email": principal.user.email,
            "groups": principal.user.groups,
            "auth": principal.auth.as_str(),
        }),
        Target::default(),
    )
}
