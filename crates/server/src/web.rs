//! The web UI served by `arkbridge serve` when `[server.web]` is configured.
//!
//! * Sign-in (`web_login.rs`): the authorization code flow with PKCE, `state` and `nonce`
//!   against the `[identity.oidc]` issuer, as the confidential client of `[server.web]`; the ID
//!   token is verified by the identity crate's [`OidcVerifier`] with the web client as audience.
//!   The user then holds a server-side session (`web_session.rs`) known by a random id in an
//!   `HttpOnly`, `SameSite=Lax` cookie (`Secure` when the public URL is https).
//! * The session cookie is one of the API's credentials: [`WebUi`] is the
//!   [`SessionVerifier`] the authenticator asks. A state-changing API call made with the cookie
//!   must echo the session's CSRF token in `X-CSRF-Token` ([`csrf_guard`]); the pages carry it
//!   in a `<meta>` element for the script.
//! * Server-rendered pages (`web_pages.rs`, `web_audit.rs`, markup in `web_html.rs`): a page's
//!   runbooks with Run buttons, live masked output and the page's run history; a page's write
//!   blocks awaiting approval (`web_approvals.rs`); the audit browser; for the audit readers,
//!   the scanner's findings with triage and the daily reports (`web_findings.rs`). A small script (`web/app.js`) starts runs and follows their output through the
//!   API's Server-Sent Events.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use arkbridge_core::config::{Config, IdentityProvider, WebSection};
use arkbridge_engine::Bridge;
use arkbridge_identity::{Clock, IdentityError, OidcConfig, OidcVerifier, https_client};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use secrecy::SecretString;

use crate::auth::{SessionVerifier, session_cookie};
use crate::error::ApiError;
use crate::web_session::{Session, Sessions};
use crate::{AppState, Principal, web_approvals, web_audit, web_findings, web_login, web_pages};

/// The header a state-changing API call made with the session cookie must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The config field of the web client's secret, as the bridge resolves it at start.
pub const CLIENT_SECRET_FIELD: &str = "server.web.client_secret";

/// Why the web UI cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("[server.web] needs identity.provider = \"oidc\" with an [identity.oidc] section")]
    NoOidc,
    #[error("the web client's secret ({CLIENT_SECRET_FIELD}) was not resolved at start")]
    NoSecret,
    #[error("invalid web UI identity settings: {0}")]
    Identity(#[from] IdentityError),
}

/// The web UI: its OIDC client, its sessions and the settings of `[server.web]`.
pub struct WebUi {
    pub(crate) settings: WebSection,
    pub(crate) client_secret: SecretString,
    /// Verifies ID tokens issued to the web client (its audience is `settings.client_id`).
    pub(crate) oidc: OidcVerifier,
    /// Talks to the provider's token endpoint (with `[identity.oidc] ca_cert`).
    pub(crate) http: reqwest::Client,
    /// The claim holding the user's Confluence account id, as for bearer tokens.
    pub(crate) account_claim: Option<String>,
    pub(crate) sessions: Sessions,
}

impl std::fmt::Debug for WebUi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebUi")
            .field("client_id", &self.settings.client_id)
            .field("public_url", &self.settings.public_url)
            .finish_non_exhaustive()
    }
}

impl WebUi {
    /// The web UI of `[server.web]`, or `None` when the section is absent. The client secret is
    /// the one the bridge resolved at start.
    pub fn for_bridge(bridge: &Bridge) -> Result<Option<Arc<WebUi>>, WebError> {
        let config = bridge.config();
        if config.server.web.is_none() {
            return Ok(None);
        }
        let secret = bridge
            .bridge_secret(CLIENT_SECRET_FIELD)
            .cloned()
            .ok_or(WebError::NoSecret)?;
        WebUi::new(config, secret, Clock::system()).map(|w| Some(Arc::new(w)))
    }

    /// The web UI of `config`'s `[server.web]` with `client_secret`; sessions use `clock`.
    pub fn new(
        config: &Config,
        client_secret: SecretString,
        clock: Clock,
    ) -> Result<WebUi, WebError> {
        let settings = config.server.web.clone().ok_or(WebError::NoOidc)?;
        let oidc = match (&config.identity.oidc, config.identity.provider) {
            (Some(o), IdentityProvider::Oidc) => o,
            _ => return Err(WebError::NoOidc),
        };
        let mut verifier = OidcConfig::new(&oidc.issuer, &settings.client_id);
        verifier.groups_claim = oidc.groups_claim.clone();
        verifier.email_claim = oidc.email_claim.clone();
        verifier.ca_cert = oidc.ca_cert.clone();
        // An ID token signs one user in once.
        verifier.single_use_id_tokens = true;
        Ok(WebUi {
            sessions: Sessions::new(settings.session_ttl_secs, clock),
            settings,
            client_secret,
            oidc: OidcVerifier::new(verifier)?,
            http: https_client(oidc.ca_cert.as_deref())?,
            account_claim: oidc.confluence_account_claim.clone(),
        })
    }

    /// The URL users reach arkbridge at, without a trailing slash.
    pub fn public_url(&self) -> &str {
        self.settings.base_url()
    }

    /// The redirect URI registered at the provider.
    pub fn redirect_uri(&self) -> String {
        format!("{}/auth/callback", self.settings.base_url())
    }

    /// The session behind the request's cookie, if it is live.
    pub(crate) fn session(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let id = session_cookie(headers)?;
        self.sessions.get(id).map(|s| (id.to_string(), s))
    }

    /// The `Set-Cookie` value of a new session.
    pub(crate) fn session_cookie_header(&self, id: &str) -> String {
        format!(
            "{}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
            crate::SESSION_COOKIE,
            self.settings.session_ttl_secs,
            self.secure_attr()
        )
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub(crate) fn clear_cookie_header(&self) -> String {
        format!(
            "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
            crate::SESSION_COOKIE,
            self.secure_attr()
        )
    }

    fn secure_attr(&self) -> &'static str {
        if self.settings.secure_cookie() {
            "; Secure"
        } else {
            ""
        }
    }
}

impl SessionVerifier for WebUi {
    fn verify<'a>(
        &'a self,
        cookie: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Principal, ApiError>> + Send + 'a>> {
        Box::pin(async move {
            self.sessions
                .get(cookie)
                .map(|s| s.principal)
                .ok_or_else(|| {
                    ApiError::unauthorized(
                        "session_expired",
                        "the session has ended or expired: sign in again at /auth/login",
                    )
                })
        })
    }
}

/// The web UI's routes (all answer HTML or static assets, never JSON).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", get(web_login::login))
        .route("/auth/callback", get(web_login::callback))
        .route("/auth/logout", post(web_login::logout))
        .route("/ui", get(web_pages::index))
        .route("/ui/", get(web_pages::index))
        .route("/ui/open", get(web_pages::open))
        .route("/ui/pages/{page_id}", get(web_pages::runbook_view))
        .route("/ui/audit", get(web_audit::audit_page))
        .route("/ui/approvals", get(web_approvals::approvals_page))
        .route("/ui/findings", get(web_findings::findings_page))
        .route("/ui/findings/{id}/triage", post(web_findings::triage))
        .route("/ui/reports", get(web_findings::reports_page))
        .route("/ui/static/app.js", get(web_pages::app_js))
        .route("/ui/static/style.css", get(web_pages::style_css))
}

/// Refuses a state-changing API call that presents the session cookie without the session's
/// CSRF token in `X-CSRF-Token` (403 `csrf`). Bearer calls and reads pass: a browser never
/// attaches a bearer token by itself, and reads change nothing. A cookie that names no live
/// session passes too, so that authentication answers it with 401.
pub(crate) async fn csrf_guard(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let headers = request.headers();
    if safe || headers.contains_key(header::AUTHORIZATION) {
        return next.run(request).await;
    }
    let Some(web) = &state.web else {
        return next.run(request).await;
    };
    if let Some((_, session)) = web.session(headers) {
        let given = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !constant_time_eq(given.as_bytes(), session.csrf.as_bytes()) {
            tracing::warn!(user = %session.principal.user.email, "API call refused: CSRF token missing or wrong");
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "a state-changing call with the session cookie must carry the session's CSRF \
                 token in X-CSRF-Token",
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Compares two byte strings in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
