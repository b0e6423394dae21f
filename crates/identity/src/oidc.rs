//! OIDC token verification (Okta or any standard provider) for the web UI and the CLI.
//!
//! The provider is found by discovery on first use (so the bridge starts while the IdP is
//! down), its keys come from the discovered `jwks_uri` (or a configured JWKS URL) through the
//! [`JwksCache`]. ID tokens are checked against the client id (`aud`, `azp`, optionally `nonce`)
//! and are single-use by default, since one is exchanged for one session; access tokens are
//! checked against the API audience and may be presented many times, as bearer tokens are.
//! The groups claim is configurable, including nested (`realm_access.roles`) and namespaced
//! (`https://example.com/groups`) names.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::claims::{self, audiences};
use crate::clock::Clock;
use crate::error::IdentityError;
use crate::headers;
use crate::http::{self, https_client};
use crate::jwks::{JwksCache, JwksSettings};
use crate::jws::Alg;
use crate::oidc_discovery::{self, ProviderMetadata};
use crate::user::{IdentitySource, VerifiedUser, claim_at, groups_at};
use crate::verifier::{DEFAULT_REPLAY_CAPACITY, JwtRules, JwtVerifier, VerifiedToken};

/// How to verify tokens of one OIDC provider.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The issuer, exactly as in the tokens' `iss` (e.g. `https://x.okta.com/oauth2/default`).
    pub issuer: String,
    /// arkbridge's client id: the `aud` of ID tokens.
    pub client_id: String,
    /// The `aud` of access tokens (Okta: `api://default`); the client id when unset.
    pub api_audience: Option<String>,
    /// A JWKS URL to use instead of the discovered `jwks_uri`.
    pub jwks_url: Option<String>,
    /// The accepted signature algorithms.
    pub algs: Vec<Alg>,
    /// The claim holding group names: a name or a dot-separated path.
    pub groups_claim: String,
    /// The claim holding the email address.
    pub email_claim: String,
    /// Clock skew tolerated on `exp`/`nbf`/`iat`.
    pub skew: Duration,
    /// A CA bundle for the provider instead of the Mozilla roots.
    pub ca_cert: Option<PathBuf>,
    /// JWKS cache timing (its `min_refetch_interval` also spaces discovery retries).
    pub jwks: JwksSettings,
    /// Accept each ID token once (by `jti`, which it must then carry).
    pub single_use_id_tokens: bool,
    /// Accept each access token once (off: bearer tokens are meant to be reused).
    pub single_use_access_tokens: bool,
    /// The most unexpired token ids remembered for replay detection, per token kind.
    pub replay_capacity: usize,
}

impl OidcConfig {
    /// The defaults: RS256, `groups` and `email` claims, 30 s skew, single-use ID tokens.
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            api_audience: None,
            jwks_url: None,
            algs: vec![Alg::Rs256],
            groups_claim: "groups".into(),
            email_claim: "email".into(),
            skew: Duration::from_secs(30),
            ca_cert: None,
            jwks: JwksSettings::default(),
            single_use_id_tokens: true,
            single_use_access_tokens: false,
            replay_capacity: DEFAULT_REPLAY_CAPACITY,
        }
    }

    fn rules(&self, audience: &str, single_use: bool) -> JwtRules {
        JwtRules {
            issuer: self.issuer.clone(),
            audience: audience.to_string(),
            algs: self.algs.clone(),
            skew: self.skew,
            single_use,
            replay_capacity: self.replay_capacity,
        }
    }
}

struct Verifiers {
    id: JwtVerifier,
    access: JwtVerifier,
}

/// Verifies ID and access tokens of one OIDC provider.
pub struct OidcVerifier {
    config: OidcConfig,
    client: reqwest::Client,
    clock: Clock,
    metadata: OnceCell<Arc<ProviderMetadata>>,
    verifiers: OnceCell<Verifiers>,
    /// When discovery last failed and why, to space retries.
    last_failure: Mutex<Option<(Instant, String)>>,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("config", &self.config)
            .field("discovered", &self.metadata.initialized())
            .finish_non_exhaustive()
    }
}

impl OidcVerifier {
    /// A verifier; checks the configuration but makes no request yet.
    pub fn new(config: OidcConfig) -> Result<Self, IdentityError> {
        oidc_discovery::discovery_url(&config.issuer)?;
        if let Some(url) = &config.jwks_url {
            http::https_url(url, "OIDC JWKS URL")?;
        }
        if config.client_id.trim().is_empty() {
            return Err(IdentityError::Config("the OIDC client id is empty".into()));
        }
        if config.groups_claim.trim().is_empty() || config.email_claim.trim().is_empty() {
            return Err(IdentityError::Config(
                "the OIDC groups and email claim names must not be empty".into(),
            ));
        }
        if config.algs.is_empty() {
            return Err(IdentityError::Config(
                "at least one OIDC signature algorithm must be allowed".into(),
            ));
        }
        let client = https_client(config.ca_cert.as_deref())?;
        Ok(Self {
            config,
            client,
            clock: Clock::system(),
            metadata: OnceCell::new(),
            verifiers: OnceCell::new(),
            last_failure: Mutex::new(None),
        })
    }

    /// Uses `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        // Verifiers built earlier carry the old clock; they are rebuilt on next use.
        self.verifiers = OnceCell::new();
        self
    }

    /// The configuration.
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// The provider metadata, discovered on first call. Failures are retried at most once per
    /// `jwks.min_refetch_interval`.
    pub async fn metadata(&self) -> Result<Arc<ProviderMetadata>, IdentityError> {
        self.metadata
            .get_or_try_init(|| async {
                let spacing = self.config.jwks.min_refetch_interval;
                let recent = self
                    .last_failure
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone()
                    .filter(|(at, _)| Instant::now() < *at + spacing);
                if let Some((_, reason)) = recent {
                    return Err(IdentityError::Discovery {
                        url: oidc_discovery::discovery_url(&self.config.issuer)?.to_string(),
                        reason: format!(
                            "the last attempt failed ({reason}); retried at most every {}s",
                            spacing.as_secs()
                        ),
                    });
                }
                match oidc_discovery::discover(&self.client, &self.config.issuer).await {
                    Ok(m) => Ok(Arc::new(m)),
                    Err(e) => {
                        *self.last_failure.lock().unwrap_or_else(|p| p.into_inner()) =
                            Some((Instant::now(), e.to_string()));
                        Err(e)
                    }
                }
            })
            .await
            .cloned()
    }

    async fn verifiers(&self) -> Result<&Verifiers, IdentityError> {
        self.verifiers
            .get_or_try_init(|| async {
                let jwks_url = match &self.config.jwks_url {
                    Some(url) => url.clone(),
                    None => self.metadata().await?.jwks_uri.clone(),
                };
                let url = http::https_url(&jwks_url, "OIDC JWKS URL")?;
                let jwks = Arc::new(JwksCache::https(self.client.clone(), url, self.config.jwks));
                let c = &self.config;
                let api = c.api_audience.as_deref().unwrap_or(&c.client_id);
                Ok(Verifiers {
                    id: JwtVerifier::new(
                        jwks.clone(),
                        c.rules(&c.client_id, c.single_use_id_tokens),
                    )?
                    .with_clock(self.clock),
                    access: JwtVerifier::new(jwks, c.rules(api, c.single_use_access_tokens))?
                        .with_clock(self.clock),
                })
            })
            .await
    }

    /// Verifies an access token (what the web UI's session and the CLI present as `Bearer`).
    pub async fn verify(&self, token: &str) -> Result<VerifiedUser, IdentityError> {
        self.verify_access_token(token).await
    }

    /// Verifies the request's `Authorization: Bearer <access token>`.
    pub async fn verify_headers(&self, headers: &HeaderMap) -> Result<VerifiedUser, IdentityError> {
        self.verify_access_token(headers::bearer_token(headers)?)
            .await
    }

    /// Verifies an access token.
    pub async fn verify_access_token(&self, token: &str) -> Result<VerifiedUser, IdentityError> {
        let source = IdentitySource::OidcAccessToken {
            issuer: self.config.issuer.clone(),
        };
        let verifier = &self.verifiers().await?.access;
        let (_, user) = verifier
            .verify_with(token, |verified| self.user(verified, source))
            .await?;
        Ok(user)
    }

    /// Verifies an ID token; `nonce` is the value the login flow sent, if it sent one.
    pub async fn verify_id_token(
        &self,
        token: &str,
        nonce: Option<&str>,
    ) -> Result<VerifiedUser, IdentityError> {
        let source = IdentitySource::OidcIdToken {
            issuer: self.config.issuer.clone(),
        };
        let verifier = &self.verifiers().await?.id;
        let (_, user) = verifier
            .verify_with(token, |verified| {
                self.check_id_token(verified, nonce)?;
                self.user(verified, source)
            })
            .await?;
        Ok(user)
    }

    /// The ID-token-only checks: not an access token, issued to this client, the login's nonce.
    fn check_id_token(
        &self,
        verified: &VerifiedToken,
        nonce: Option<&str>,
    ) -> Result<(), IdentityError> {
        let typ = verified.typ.as_deref().unwrap_or_default();
        if typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt") {
            return Err(IdentityError::InvalidClaim {
                claim: "typ".into(),
                reason: "an access token was presented as an ID token".into(),
            });
        }
        // OIDC Core §3.1.3.7: with several audiences `azp` must name this client.
        let azp = claims::string_claim(&verified.claims, "azp")?;
        let several = audiences(&verified.claims)?.len() > 1;
        if azp.is_some_and(|azp| azp != self.config.client_id) || (several && azp.is_none()) {
            return Err(IdentityError::InvalidClaim {
                claim: "azp".into(),
                reason: format!(
                    "the token was not issued to client `{}`",
                    self.config.client_id
                ),
            });
        }
        if let Some(expected) = nonce {
            match claims::string_claim(&verified.claims, "nonce")? {
                Some(found) if found == expected => {}
                Some(_) => {
                    return Err(IdentityError::InvalidClaim {
                        claim: "nonce".into(),
                        reason: "does not match the login request".into(),
                    });
                }
                None => return Err(IdentityError::MissingClaim("nonce")),
            }
        }
        Ok(())
    }

    fn user(
        &self,
        token: &VerifiedToken,
        source: IdentitySource,
    ) -> Result<VerifiedUser, IdentityError> {
        let claims = &token.claims;
        let subject = claims::required_string(claims, "sub")?.to_string();
        let email = match claim_at(claims, &self.config.email_claim) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(IdentityError::InvalidClaim {
                    claim: self.config.email_claim.clone(),
                    reason: "not a string".into(),
                });
            }
        };
        // An address the provider itself marks unverified is no proof of anything.
        let email = email.filter(|_| claims.get("email_verified") != Some(&Value::Bool(false)));
        Ok(VerifiedUser {
            subject,
            email,
            groups: groups_at(claims, &self.config.groups_claim)?,
            source,
            expires_at: token.expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_is_checked_up_front() {
        assert!(OidcVerifier::new(OidcConfig::new("https://idp.example.com", "client")).is_ok());
        let mut c = OidcConfig::new("http://idp.example.com", "client");
        assert!(OidcVerifier::new(c.clone()).is_err());
        c.issuer = "https://idp.example.com".into();
        c.client_id = " ".into();
        assert!(OidcVerifier::new(c.clone()).is_err());
        c.client_id = "client".into();
        c.algs.clear();
        assert!(OidcVerifier::new(c.clone()).is_err());
        c.algs = vec![Alg::Rs256];
        c.jwks_url = Some("http://idp.example.com/keys".into());
        assert!(OidcVerifier::new(c.clone()).is_err());
        c.jwks_url = None;
        c.groups_claim = String::new();
        assert!(OidcVerifier::new(c).is_err());
    }
}
