//! Who is calling: every `/api/v1` call carries one credential, verified before anything else.
//!
//! * `Authorization: Bearer <Forge Invocation Token>` from the Confluence Cloud macro (a Forge
//!   Remote call): verified by `arkbridge_identity::ForgeVerifier` with `[server.forge]`; the
//!   token's `principal` (a Confluence account id) becomes a user through the engine's
//!   account lookup (the configured users, LDAP, or kept OIDC sign-ins).
//! * `Authorization: Bearer <OIDC access or ID token>` from the configured provider
//!   (`[identity.oidc]`): the access token's audience is the API audience, the ID token's the
//!   client id; e-mail, groups and the Confluence account come from the verified claims.
//! * A session cookie, verified by a [`SessionVerifier`]: the web UI (`web.rs`) when
//!   `[server.web]` is configured; without one, cookies are not a credential. Its
//!   state-changing calls also need the session's CSRF token (`web::csrf_guard`).
//!
//! Which verifier a bearer token goes to is chosen by its unverified `iss`; the chosen verifier
//! then checks everything (signature first), so a forged `iss` only picks the verifier that
//! refuses it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use arkbridge_core::audit::{Actor, AuthMethod};
use arkbridge_core::config::{Config, IdentityProvider};
use arkbridge_engine::{Bridge, VerifiedUser};
use arkbridge_identity::{
    FORGE_ISSUER, ForgeConfig, ForgeVerifier, IdentityError, OidcConfig, OidcVerifier,
};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// The name of the web UI's session cookie.
pub const SESSION_COOKIE: &str = "arkbridge_session";

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiAuth {
    /// A Forge Invocation Token from site `cloud_id`, from the macro on page `content_id`.
    Forge {
        cloud_id: String,
        content_id: Option<String>,
    },
    /// An OIDC bearer token from the configured provider.
    OidcBearer,
    /// The web UI's session cookie.
    Session,
}

impl ApiAuth {
    pub fn as_str(&self) -> &'static str {
        match self {
            ApiAuth::Forge { .. } => "forge",
            ApiAuth::OidcBearer => "oidc",
            ApiAuth::Session => "session",
        }
    }
}

/// A verified caller: the engine's user, how they were verified, and their audit actor.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: VerifiedUser,
    pub auth: ApiAuth,
    pub actor: Actor,
}

impl Principal {
    /// A Forge macro acts on the page it sits on only: a request naming another page than the
    /// invocation token's `context.extension.content.id` is refused (403 `wrong_page`).
    pub fn check_page(&self, page: &str) -> Result<(), ApiError> {
        let ApiAuth::Forge {
            content_id: Some(content),
            ..
        } = &self.auth
        else {
            return Ok(());
        };
        match arkbridge_confluence::parse_page_ref(page) {
            Ok(r) if r.id() != content => Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "wrong_page",
                format!(
                    "this invocation comes from the macro on page {content}; it may act on that \
                     page only, not on page {}",
                    r.id()
                ),
            )),
            // A reference that does not parse is refused by the engine with its reason.
            _ => Ok(()),
        }
    }
}

/// Verifies the web UI's session cookie (the web UI slots in here).
pub trait SessionVerifier: Send + Sync + std::fmt::Debug {
    fn verify<'a>(
        &'a self,
        cookie: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Principal, ApiError>> + Send + 'a>>;
}

/// The credential a request presents.
enum Credential<'a> {
    Bearer(&'a str),
    Session(&'a str),
}

/// Every way a caller may prove who they are, as configured.
#[derive(Debug, Default)]
pub struct Authenticator {
    forge: Option<ForgeVerifier>,
    oidc: Option<OidcVerifier>,
    account_claim: Option<String>,
    sessions: Option<Arc<dyn SessionVerifier>>,
}

impl Authenticator {
    /// The verifiers `config` asks for: Forge with `[server.forge]`, OIDC with `[identity.oidc]`.
    pub fn from_config(config: &Config) -> Result<Authenticator, IdentityError> {
        let forge = match &config.server.forge {
            Some(f) => {
                let mut settings = ForgeConfig::new(f.app_id.clone());
                if let Some(url) = &f.jwks_url {
                    settings.jwks_url = url.clone();
                }
                settings.allowed_cloud_ids = f.allowed_cloud_ids.clone();
                settings.ca_cert = f.ca_cert.clone();
                Some(ForgeVerifier::new(&settings)?)
            }
            None => None,
        };
        let (oidc, account_claim) = match (&config.identity.oidc, config.identity.provider) {
            (Some(o), IdentityProvider::Oidc) => {
                let mut settings = OidcConfig::new(&o.issuer, &o.client_id);
                settings.api_audience = o.api_audience.clone();
                settings.groups_claim = o.groups_claim.clone();
                settings.email_claim = o.email_claim.clone();
                settings.ca_cert = o.ca_cert.clone();
                // A CLI presents its ID token on every call, so it cannot be single-use.
                settings.single_use_id_tokens = false;
                (
                    Some(OidcVerifier::new(settings)?),
                    o.confluence_account_claim.clone(),
                )
            }
            _ => (None, None),
        };
        Ok(Authenticator {
            forge,
            oidc,
            account_claim,
            sessions: None,
        })
    }

    /// Replaces the Forge verifier (tests use one with a fixed clock).
    pub fn with_forge(mut self, forge: ForgeVerifier) -> Self {
        self.forge = Some(forge);
        self
    }

    /// Accepts the web UI's session cookie through `sessions`.
    pub fn with_sessions(mut self, sessions: Arc<dyn SessionVerifier>) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// Verifies the request's credential and finds the user behind it.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        bridge: &Bridge,
    ) -> Result<Principal, ApiError> {
        match credential(headers)? {
            Credential::Bearer(token)
                if unverified_issuer(token).as_deref() == Some(FORGE_ISSUER) =>
            {
                self.forge_user(token, bridge).await
            }
            Credential::Bearer(token) => self.oidc_user(token, bridge).await,
            Credential::Session(cookie) => match &self.sessions {
                Some(sessions) => sessions.verify(cookie).await,
                None => Err(missing()),
            },
        }
    }

    async fn forge_user(&self, token: &str, bridge: &Bridge) -> Result<Principal, ApiError> {
        let forge = self.forge.as_ref().ok_or_else(|| {
            ApiError::unauthorized(
                "forge_not_configured",
                "Forge Invocation Tokens are not accepted: [server.forge] is not configured",
            )
        })?;
        let invocation = forge
            .verify(token)
            .await
            .map_err(|e| ApiError::from_identity(&e))?;
        // The verifier refuses a replay to this replica; the store, to every replica.
        if let Some(cluster) = bridge.cluster() {
            let digest = Sha256::digest(
                format!("{}\u{ff}{}", invocation.app_id, invocation.token_id).as_bytes(),
            );
            let key: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            let now = jiff::Timestamp::now().as_second();
            // Accepted up to the verifier's clock skew after `exp`: remember it a little longer.
            let until = invocation.expires_at.saturating_add(300);
            match cluster.use_token(&key, until, now).await {
                Ok(true) => {}
                Ok(false) => {
                    return Err(ApiError::from_identity(
                        &arkbridge_identity::IdentityError::Replay,
                    ));
                }
                Err(e) => return Err(ApiError::internal(format!("store: {e}"))),
            }
        }
        let mut user = bridge
            .user_for_account(&invocation.principal)
            .await
            .ok_or_else(|| {
                ApiError::forbidden(format!(
                    "Confluence account {} is not known to the identity provider",
                    invocation.principal
                ))
            })?;
        user.verified_by = "forge";
        user.issuer = invocation.app_id.clone();
        user.subject = invocation.principal.clone();
        user.confluence_account = Some(invocation.principal.clone());
        bridge.remember(&user);
        let actor = Actor {
            name: Some(user.email.clone()),
            ..Actor::user(&invocation.app_id, &invocation.principal, AuthMethod::Forge)
        };
        Ok(Principal {
            user,
            auth: ApiAuth::Forge {
                cloud_id: invocation.cloud_id,
                content_id: invocation.content_id,
            },
            actor,
        })
    }

    async fn oidc_user(&self, token: &str, bridge: &Bridge) -> Result<Principal, ApiError> {
        let oidc = self.oidc.as_ref().ok_or_else(|| {
            ApiError::unauthorized(
                "oidc_not_configured",
                "OIDC bearer tokens are not accepted: identity.provider is not `oidc`",
            )
        })?;
        // An access token (audience: the API) first; a CLI's ID token (audience: the client).
        let verified = match oidc.verify_access_token(token).await {
            Err(IdentityError::WrongAudience { .. }) => {
                match oidc.verify_id_token(token, None).await {
                    Ok(user) => Ok(user),
                    Err(e) => Err(e),
                }
            }
            other => other,
        }
        .map_err(|e| ApiError::from_identity(&e))?;
        let email = verified.email.clone().ok_or_else(|| {
            ApiError::forbidden(format!(
                "the token carries no verified e-mail in claim `{}`",
                oidc.config().email_claim
            ))
        })?;
        let account = match &self.account_claim {
            Some(claim) => verified_claim(token, claim),
            None => None,
        };
        let issuer = oidc.config().issuer.clone();
        let user = VerifiedUser {
            email: email.to_ascii_lowercase(),
            groups: verified.groups,
            verified_by: "oidc",
            confluence_account: account,
            issuer: issuer.clone(),
            subject: verified.subject.clone(),
        };
        let user = bridge
            .adopt(user)
            .await
            .map_err(|e| ApiError::forbidden(e.to_string()))?;
        let actor = Actor {
            name: Some(user.email.clone()),
            ..Actor::user(&issuer, &verified.subject, AuthMethod::Oidc)
        };
        Ok(Principal {
            user,
            auth: ApiAuth::OidcBearer,
            actor,
        })
    }
}

fn missing() -> ApiError {
    ApiError::unauthorized(
        "missing_token",
        "no credential: send `Authorization: Bearer <token>` (a Forge Invocation Token or an \
         OIDC token)",
    )
}

/// The request's credential: the `Authorization` header, else the session cookie.
fn credential(headers: &HeaderMap) -> Result<Credential<'_>, ApiError> {
    let mut auth = headers.get_all(AUTHORIZATION).iter();
    if let Some(value) = auth.next() {
        if auth.next().is_some() {
            return Err(ApiError::unauthorized(
                "invalid_token",
                "several Authorization headers",
            ));
        }
        let value = value
            .to_str()
            .map_err(|_| ApiError::unauthorized("invalid_token", "Authorization is not text"))?;
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Err(ApiError::unauthorized(
                "invalid_token",
                "Authorization must be `Bearer <token>`",
            ));
        }
        return Ok(Credential::Bearer(token));
    }
    match session_cookie(headers) {
        Some(value) => Ok(Credential::Session(value)),
        None => Err(missing()),
    }
}

/// The value of the web UI's session cookie, if the request carries one.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    for cookies in headers.get_all(COOKIE) {
        let Ok(cookies) = cookies.to_str() else {
            continue;
        };
        for pair in cookies.split(';') {
            if let Some((name, value)) = pair.trim().split_once('=')
                && name == SESSION_COOKIE
                && !value.is_empty()
            {
                return Some(value);
            }
        }
    }
    None
}

/// The payload of a compact JWS as JSON, unverified.
fn payload(token: &str) -> Option<serde_json::Map<String, Value>> {
    let part = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The token's `iss`, read without verification, only to pick the verifier.
fn unverified_issuer(token: &str) -> Option<String> {
    payload(token)?.get("iss")?.as_str().map(str::to_string)
}

/// A string claim of a token whose signature was already verified.
pub(crate) fn verified_claim(token: &str, name: &str) -> Option<String> {
    let claims = payload(token)?;
    let value = claims.get(name).or_else(|| {
        let mut parts = name.split('.');
        let mut current = claims.get(parts.next()?)?;
        for part in parts {
            current = current.as_object()?.get(part)?;
        }
        Some(current)
    })?;
    value.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(axum::http::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn credentials_come_from_bearer_or_the_session_cookie() {
        assert!(matches!(
            credential(&headers(&[(AUTHORIZATION, "Bearer abc")])),
            Ok(Credential::Bearer("abc"))
        ));
        assert!(matches!(
            credential(&headers(&[(COOKIE, "a=b; arkbridge_session=xyz")])),
            Ok(Credential::Session("xyz"))
        ));
        for bad in ["Basic abc", "Bearer ", "Bearer"] {
            let e = credential(&headers(&[(AUTHORIZATION, bad)])).err().unwrap();
            assert_eq!(e.code, "invalid_token", "{bad}");
        }
        let e = credential(&HeaderMap::new()).err().unwrap();
        assert_eq!((e.status, e.code), (401, "missing_token"));
    }

    #[test]
    fn the_issuer_is_read_only_to_route() {
        let claims = URL_SAFE_NO_PAD.encode(br#"{"iss":"forge/invocation-token","x":{"y":"z"}}"#);
        let token = format!("e30.{claims}.sig");
        assert_eq!(unverified_issuer(&token).as_deref(), Some(FORGE_ISSUER));
        assert_eq!(verified_claim(&token, "x.y").as_deref(), Some("z"));
        assert_eq!(unverified_issuer("not-a-token"), None);
    }
}
