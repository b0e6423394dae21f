//! Signing in and out of the web UI.
//!
//! `GET /auth/login` starts the authorization code flow (OIDC Core §3.1) with PKCE S256
//! (RFC 7636), a fresh `state` (the key of the sign-in under way) and a fresh `nonce`, and
//! sends the browser to the provider. `GET /auth/callback` takes the sign-in out by its
//! `state` (once), exchanges the code at the token endpoint as the confidential client
//! (`client_secret_post`) with the PKCE verifier, verifies the ID token (signature, issuer,
//! audience = the web client, lifetime, the nonce), adopts the user as the bearer path does,
//! audits `login`, opens a session and sets its cookie. `POST /auth/logout` (with the session's
//! CSRF token in the form) ends the session and clears the cookie.
//!
//! Provider answers are shown to the user only by their OAuth `error` code and description,
//! which never hold a secret; the code, the verifier and the tokens are never logged.

use arkbridge_core::audit::{Action, Actor, AuditEvent, AuthMethod, Outcome};
use arkbridge_engine::VerifiedUser;
use arkbridge_store::Store;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::verified_claim;
use crate::web::{WebUi, constant_time_eq};
use crate::web_html::{error_page, page, see_other};
use crate::web_session::{random_token, sha256_b64};
use crate::{ApiAuth, AppState, Principal};

/// The scopes the web UI asks for.
const SCOPES: &str = "openid profile email groups";

/// Where the user goes after signing in when the request names no (acceptable) path.
const HOME: &str = "/ui";

#[derive(Debug, Deserialize)]
pub(crate) struct LoginQuery {
    #[serde(default)]
    return_to: Option<String>,
}

/// A local UI path to return to, or [`HOME`]: an absolute URL, a scheme-relative `//host` or
/// a backslash would make the redirect leave the site.
fn local_path(requested: Option<&str>) -> String {
    match requested {
        Some(p)
            if (p == "/ui" || p.starts_with("/ui/") || p.starts_with("/ui?"))
                && !p.contains("//")
                && !p.contains('\\')
                && !p.chars().any(char::is_control) =>
        {
            p.to_string()
        }
        _ => HOME.to_string(),
    }
}

fn web_of(state: &AppState) -> Result<&WebUi, Box<Response>> {
    state.web.as_deref().ok_or_else(|| {
        Box::new(error_page(
            StatusCode::NOT_FOUND,
            "No web UI",
            None,
            "the web UI is not configured",
        ))
    })
}

/// `GET /auth/login?return_to=/ui/...`.
pub(crate) async fn login(
    State(state): State<AppState>,
    query: Result<Query<LoginQuery>, QueryRejection>,
) -> Response {
    let web = match web_of(&state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let return_to = local_path(query.as_ref().ok().and_then(|q| q.return_to.as_deref()));
    let metadata = match web.oidc.metadata().await {
        Ok(m) => m,
        Err(e) => return unavailable(&e.to_string()),
    };
    let Some(endpoint) = metadata.authorization_endpoint.as_deref() else {
        return unavailable("the provider's discovery document names no authorization endpoint");
    };
    let Ok(mut url) = url::Url::parse(endpoint) else {
        return unavailable("the provider's authorization endpoint is not a URL");
    };
    let verifier = random_token();
    let challenge = sha256_b64(&verifier);
    let nonce = random_token();
    let state_value =
        web.sessions
            .begin_login(SecretString::from(verifier), nonce.clone(), return_to);
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &web.settings.client_id)
        .append_pair("redirect_uri", &web.redirect_uri())
        .append_pair("scope", SCOPES)
        .append_pair("state", &state_value)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    see_other(url.as_str())
}

fn unavailable(reason: &str) -> Response {
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-in unavailable",
        None,
        &format!("the identity provider cannot be reached: {reason}"),
    )
}

fn refused(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<p role=\"alert\" class=\"error\">{}</p><p><a href=\"/auth/login\">Sign in again</a></p>",
        crate::web_html::escape(message)
    );
    page(status, "Sign-in failed", None, &body)
}

#[derive(Debug, Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /auth/callback?code&state` (or `?error&error_description&state`).
pub(crate) async fn callback(
    State(state): State<AppState>,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Response {
    let web = match web_of(&state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let Ok(Query(q)) = query else {
        return refused(
            StatusCode::BAD_REQUEST,
            "the provider's answer is malformed",
        );
    };
    // The sign-in is spent whatever happens next, so that its state cannot be replayed.
    let pending = q
        .state
        .as_deref()
        .and_then(|s| web.sessions.finish_login(s));
    if let Some(error) = &q.error {
        let detail = q.error_description.as_deref().unwrap_or_default();
        return refused(
            StatusCode::UNAUTHORIZED,
            &format!("the identity provider refused the sign-in: {error} {detail}"),
        );
    }
    let Some(pending) = pending else {
        return refused(
            StatusCode::BAD_REQUEST,
            "this sign-in is unknown, was already used, or took longer than ten minutes",
        );
    };
    let Some(code) = q.code.as_deref().filter(|c| !c.is_empty()) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "the provider sent no authorization code",
        );
    };
    let id_token = match exchange(web, code, &pending.verifier).await {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let verified = match web
        .oidc
        .verify_id_token(&id_token, Some(&pending.nonce))
        .await
    {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "web sign-in refused: the ID token did not verify");
            return refused(
                StatusCode::UNAUTHORIZED,
                &format!("the ID token was refused: {e}"),
            );
        }
    };
    let Some(email) = verified.email.clone() else {
        return refused(
            StatusCode::FORBIDDEN,
            "the ID token carries no verified e-mail address",
        );
    };
    let issuer = web.oidc.config().issuer.clone();
    let user = VerifiedUser {
        email: email.to_ascii_lowercase(),
        groups: verified.groups,
        verified_by: "oidc",
        confluence_account: web
            .account_claim
            .as_deref()
            .and_then(|c| verified_claim(&id_token, c)),
        issuer: issuer.clone(),
        subject: verified.subject.clone(),
    };
    let user = match state.bridge.adopt(user).await {
        Ok(u) => u,
        Err(e) => return refused(StatusCode::FORBIDDEN, &e.to_string()),
    };
    let actor = Actor {
        name: Some(user.email.clone()),
        ..Actor::user(&issuer, &verified.subject, AuthMethod::Oidc)
    };
    let principal = Principal {
        user,
        auth: ApiAuth::Session,
        actor,
    };
    let (id, session) = web.sessions.open(principal);
    let event = AuditEvent::new(Action::Login)
        .at(jiff::Timestamp::now().as_microsecond())
        .by(session.principal.actor.clone())
        .outcome(Outcome::Success)
        .details(serde_json::json!({"via": "web", "client_id": web.settings.client_id}));
    if let Err(e) = state.bridge.store().append_audit(event).await {
        // A sign-in that cannot be audited does not happen.
        web.sessions.close(&id);
        return refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot audit the sign-in: {e}"),
        );
    }
    tracing::info!(user = %session.principal.user.email, "web sign-in");
    let mut r = see_other(&pending.return_to);
    if let Ok(v) = HeaderValue::from_str(&web.session_cookie_header(&id)) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// Exchanges `code` for tokens; returns the ID token, or the page to show.
async fn exchange(
    web: &WebUi,
    code: &str,
    verifier: &SecretString,
) -> Result<String, Box<Response>> {
    let metadata = web
        .oidc
        .metadata()
        .await
        .map_err(|e| Box::new(unavailable(&e.to_string())))?;
    let endpoint = metadata
        .token_endpoint
        .as_deref()
        .ok_or_else(|| Box::new(unavailable("the provider names no token endpoint")))?;
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", &web.redirect_uri())
        .append_pair("code_verifier", verifier.expose_secret())
        .append_pair("client_id", &web.settings.client_id)
        .append_pair("client_secret", web.client_secret.expose_secret())
        .finish();
    let answer = web
        .http
        .post(endpoint)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| {
            Box::new(unavailable(&format!(
                "the token endpoint: {}",
                e.without_url()
            )))
        })?;
    let status = answer.status();
    let json: Value = answer.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let error = json["error"].as_str().unwrap_or("no error code");
        let description = json["error_description"].as_str().unwrap_or_default();
        return Err(Box::new(refused(
            StatusCode::UNAUTHORIZED,
            &format!("the token endpoint refused the code ({status}): {error} {description}"),
        )));
    }
    json["id_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| {
            Box::new(refused(
                StatusCode::BAD_GATEWAY,
                "the token answer holds no ID token",
            ))
        })
}

/// `POST /auth/logout` with the form field `csrf`.
pub(crate) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let web = match web_of(&state) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let given = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if let Some((id, session)) = web.session(&headers) {
        if !constant_time_eq(given.as_bytes(), session.csrf.as_bytes()) {
            return error_page(
                StatusCode::FORBIDDEN,
                "Sign-out refused",
                Some(&session),
                "the sign-out form's CSRF token is missing or wrong; sign out from an arkbridge page",
            );
        }
        web.sessions.close(&id);
        tracing::info!(user = %session.principal.user.email, "web sign-out");
    }
    let mut r = page(
        StatusCode::OK,
        "Signed out",
        None,
        "<p role=\"status\">You are signed out.</p><p><a href=\"/auth/login\">Sign in again</a></p>",
    );
    if let Ok(v) = HeaderValue::from_str(&web.clear_cookie_header()) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_ui_paths_are_returned_to() {
        assert_eq!(local_path(Some("/ui/pages/65601")), "/ui/pages/65601");
        assert_eq!(local_path(Some("/ui?x=1")), "/ui?x=1");
        for bad in [
            "https://evil.example",
            "//evil.example/ui",
            "/ui/\\evil",
            "/api/v1/runs",
            "/uix",
            "/ui/\nx",
        ] {
            assert_eq!(local_path(Some(bad)), HOME, "{bad}");
        }
        assert_eq!(local_path(None), HOME);
    }
}
