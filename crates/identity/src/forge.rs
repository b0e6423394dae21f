//! Forge Invocation Tokens (FIT): how Confluence Cloud, through a Forge app declaring arkbridge
//! as a Forge Remote, proves which user invoked it.
//!
//! A FIT is an RS256 JWT with `iss` = `forge/invocation-token` and `aud` = the app's ARI
//! (`ari:cloud:ecosystem::app/<appId>`), signed with a key from Atlassian's JWKS and valid for
//! seconds. Its `principal` is the invoking user's Confluence account id, which becomes the
//! verified identity; the `context` object says on which site, page and macro. Each token is
//! accepted once (`jti`). An app may be installed on many sites, so the accepted sites
//! (`cloudId`s) are configured too.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use secrecy::SecretString;
use serde_json::Value;

use crate::claims::{self, Claims};
use crate::clock::Clock;
use crate::error::IdentityError;
use crate::headers;
use crate::http::{self, https_client};
use crate::jwks::{JwksCache, JwksSettings};
use crate::jws::Alg;
use crate::user::{IdentitySource, VerifiedUser, claim_at};
use crate::verifier::{DEFAULT_REPLAY_CAPACITY, JwtRules, JwtVerifier};

/// The `iss` of every Forge Invocation Token.
pub const FORGE_ISSUER: &str = "forge/invocation-token";
/// Atlassian's JWKS for Forge Invocation Tokens.
pub const FORGE_JWKS_URL: &str = "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json";
/// The header carrying the app's system token, if the manifest asks for one.
pub const FORGE_SYSTEM_TOKEN_HEADER: &str = "x-forge-oauth-system";
const ARI_PREFIX: &str = "ari:cloud:ecosystem::app/";

/// How to verify Forge Invocation Tokens.
#[derive(Debug, Clone)]
pub struct ForgeConfig {
    /// The Forge app id: the UUID or the full ARI `ari:cloud:ecosystem::app/<uuid>`.
    pub app_id: String,
    /// The JWKS URL (Atlassian's by default; the simulator's in tests and demos).
    pub jwks_url: String,
    /// The Confluence sites (`cloudId`s) whose invocations are accepted; empty accepts any site
    /// the app is installed on, which is only safe for an app that is not distributed.
    pub allowed_cloud_ids: Vec<String>,
    /// Clock skew tolerated on `exp`/`nbf`/`iat`.
    pub skew: Duration,
    /// A CA bundle for the JWKS host instead of the Mozilla roots.
    pub ca_cert: Option<PathBuf>,
    /// JWKS cache timing.
    pub jwks: JwksSettings,
    /// The most unexpired token ids remembered for replay detection.
    pub replay_capacity: usize,
}

impl ForgeConfig {
    /// The defaults for `app_id`: Atlassian's JWKS, 10 s skew, any site.
    pub fn new(app_id: impl Into<String>) -> Self {
        Self {
            app_id: app_id.into(),
            jwks_url: FORGE_JWKS_URL.to_string(),
            allowed_cloud_ids: Vec::new(),
            skew: Duration::from_secs(10),
            ca_cert: None,
            jwks: JwksSettings::default(),
            replay_capacity: DEFAULT_REPLAY_CAPACITY,
        }
    }

    /// The app's ARI, the tokens' expected `aud`.
    pub fn app_ari(&self) -> Result<String, IdentityError> {
        let id = self.app_id.trim();
        let uuid = id.strip_prefix(ARI_PREFIX).unwrap_or(id);
        let well_formed = !uuid.is_empty()
            && uuid.len() <= 64
            && uuid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !well_formed {
            return Err(IdentityError::Config(format!(
                "Forge app id `{}` is neither a UUID nor `{ARI_PREFIX}<uuid>`",
                self.app_id
            )));
        }
        Ok(format!("{ARI_PREFIX}{uuid}"))
    }
}

/// A verified Forge invocation.
#[derive(Debug, Clone)]
pub struct ForgeInvocation {
    /// The invoking user's Confluence account id (`principal`), the verified identity.
    pub principal: String,
    /// The Confluence site's cloud id.
    pub cloud_id: String,
    /// The site's URL (`https://<site>.atlassian.net`), when given.
    pub site_url: Option<String>,
    /// The app's ARI.
    pub app_id: String,
    /// The installation's id (`app.installationId`).
    pub installation_id: Option<String>,
    /// The Forge environment's id and type (`DEVELOPMENT`, `STAGING`, `PRODUCTION`).
    pub environment_id: Option<String>,
    pub environment_type: Option<String>,
    /// The invoked module's key.
    pub module_key: Option<String>,
    /// The page (or blog post) the macro sits on, and its type.
    pub content_id: Option<String>,
    pub content_type: Option<String>,
    /// The content's space.
    pub space_key: Option<String>,
    pub space_id: Option<String>,
    /// The base URL for product API calls (`https://api.atlassian.com/ex/confluence/<cloudId>`).
    pub api_base_url: Option<String>,
    /// The user's account type (`licensed`, `customer`, …), when given.
    pub account_type: Option<String>,
    /// The token's `jti`.
    pub token_id: String,
    /// The token's `exp` (Unix seconds).
    pub expires_at: i64,
    /// The app's system token from `x-forge-oauth-system`, when the request carried one.
    pub system_token: Option<SecretString>,
}

impl ForgeInvocation {
    /// The invoking user as a [`VerifiedUser`]: the account id as subject, no email or groups
    /// yet (those come from Confluence's user API and the directory).
    pub fn user(&self) -> VerifiedUser {
        VerifiedUser {
            subject: self.principal.clone(),
            email: None,
            groups: Vec::new(),
            source: IdentitySource::Forge {
                cloud_id: self.cloud_id.clone(),
            },
            expires_at: self.expires_at,
        }
    }
}

/// Verifies Forge Invocation Tokens.
#[derive(Debug)]
pub struct ForgeVerifier {
    jwt: JwtVerifier,
    allowed_cloud_ids: Vec<String>,
}

impl ForgeVerifier {
    /// A verifier fetching keys from `config.jwks_url` over HTTPS.
    pub fn new(config: &ForgeConfig) -> Result<Self, IdentityError> {
        let url = http::https_url(&config.jwks_url, "Forge JWKS URL")?;
        let client = https_client(config.ca_cert.as_deref())?;
        Self::with_jwks(config, Arc::new(JwksCache::https(client, url, config.jwks)))
    }

    /// A verifier over an existing key cache.
    pub fn with_jwks(config: &ForgeConfig, jwks: Arc<JwksCache>) -> Result<Self, IdentityError> {
        let rules = JwtRules {
            issuer: FORGE_ISSUER.to_string(),
            audience: config.app_ari()?,
            algs: vec![Alg::Rs256],
            skew: config.skew,
            single_use: true,
            replay_capacity: config.replay_capacity,
        };
        Ok(Self {
            jwt: JwtVerifier::new(jwks, rules)?,
            allowed_cloud_ids: config.allowed_cloud_ids.clone(),
        })
    }

    /// Uses `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.jwt = self.jwt.with_clock(clock);
        self
    }

    /// Verifies a FIT (the bare token, without `Bearer`).
    pub async fn verify(&self, token: &str) -> Result<ForgeInvocation, IdentityError> {
        let app_ari = &self.jwt.rules().audience;
        let (_, invocation) = self
            .jwt
            .verify_with(token, |verified| {
                let invocation = invocation(&verified.claims, app_ari, verified.expires_at)?;
                if !self.allowed_cloud_ids.is_empty()
                    && !self.allowed_cloud_ids.contains(&invocation.cloud_id)
                {
                    return Err(IdentityError::SiteNotAllowed {
                        cloud_id: invocation.cloud_id,
                    });
                }
                Ok(invocation)
            })
            .await?;
        Ok(invocation)
    }

    /// Verifies a Forge Remote request's `Authorization: Bearer <FIT>` and picks up its
    /// `x-forge-oauth-system` token.
    pub async fn verify_headers(
        &self,
        headers: &HeaderMap,
    ) -> Result<ForgeInvocation, IdentityError> {
        let token = headers::bearer_token(headers)?;
        let system_token = headers::single(headers, FORGE_SYSTEM_TOKEN_HEADER)?
            .map(|t| SecretString::from(t.to_string()));
        let mut invocation = self.verify(token).await?;
        invocation.system_token = system_token;
        Ok(invocation)
    }
}

/// A string or integer id at `path`.
fn id_at(claims: &Claims, path: &str) -> Result<Option<String>, IdentityError> {
    match claim_at(claims, path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => Ok(Some(n.to_string())),
        Some(_) => Err(IdentityError::InvalidClaim {
            claim: path.to_string(),
            reason: "not a string".into(),
        }),
    }
}

fn invocation(
    claims: &Claims,
    app_ari: &str,
    expires_at: i64,
) -> Result<ForgeInvocation, IdentityError> {
    let principal = claims::required_string(claims, "principal")?.to_string();
    // The context repeats the account id; a token where the two disagree is not one to guess
    // about.
    if let Some(account) = id_at(claims, "context.accountId")?
        && account != principal
    {
        return Err(IdentityError::InvalidClaim {
            claim: "context.accountId".into(),
            reason: "differs from `principal`".into(),
        });
    }
    if let Some(app) = id_at(claims, "app.id")?
        && app != app_ari
    {
        return Err(IdentityError::InvalidClaim {
            claim: "app.id".into(),
            reason: format!("`{app}` is not this app (`{app_ari}`)"),
        });
    }
    let cloud_id =
        id_at(claims, "context.cloudId")?.ok_or(IdentityError::MissingClaim("context.cloudId"))?;
    Ok(ForgeInvocation {
        principal,
        cloud_id,
        site_url: id_at(claims, "context.siteUrl")?,
        app_id: app_ari.to_string(),
        installation_id: id_at(claims, "app.installationId")?,
        environment_id: id_at(claims, "context.environmentId")?
            .or(id_at(claims, "app.environment.id")?),
        environment_type: id_at(claims, "context.environmentType")?
            .or(id_at(claims, "app.environment.type")?),
        module_key: id_at(claims, "context.moduleKey")?.or(id_at(claims, "app.module.key")?),
        content_id: id_at(claims, "context.extension.content.id")?,
        content_type: id_at(claims, "context.extension.content.type")?,
        space_key: id_at(claims, "context.extension.space.key")?,
        space_id: id_at(claims, "context.extension.space.id")?,
        api_base_url: id_at(claims, "app.apiBaseUrl")?,
        account_type: id_at(claims, "context.accountType")?,
        token_id: claims::required_string(claims, "jti")?.to_string(),
        expires_at,
        system_token: None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn app_ari_from_uuid_or_ari() {
        let uuid = "2b9d8f3e-1c4a-4f6e-9a1b-0c2d3e4f5a6b";
        assert_eq!(
            ForgeConfig::new(uuid).app_ari().unwrap(),
            format!("ari:cloud:ecosystem::app/{uuid}")
        );
        assert_eq!(
            ForgeConfig::new(format!("ari:cloud:ecosystem::app/{uuid}"))
                .app_ari()
                .unwrap(),
            format!("ari:cloud:ecosystem::app/{uuid}")
        );
        for bad in ["", "ari:cloud:ecosystem::app/", "a/b", "x y"] {
            assert!(ForgeConfig::new(bad).app_ari().is_err(), "{bad}");
        }
    }

    #[test]
    fn invocation_reads_the_context() {
        let c = json!({
            "principal": "acc-1", "jti": "j",
            "app": {"id": "ari:cloud:ecosystem::app/x", "installationId": "ari:inst",
                    "apiBaseUrl": "https://api.atlassian.com/ex/confluence/c1",
                    "environment": {"id": "env", "type": "PRODUCTION"},
                    "module": {"key": "m"}},
            "context": {"cloudId": "c1", "siteUrl": "https://s.atlassian.net", "accountId": "acc-1",
                        "extension": {"type": "macro", "content": {"id": 98765, "type": "page"},
                                      "space": {"key": "OPS", "id": "12"}}}
        });
        let inv = invocation(c.as_object().unwrap(), "ari:cloud:ecosystem::app/x", 5).unwrap();
        assert_eq!(inv.principal, "acc-1");
        assert_eq!(inv.cloud_id, "c1");
        assert_eq!(inv.content_id.as_deref(), Some("98765"));
        assert_eq!(inv.space_key.as_deref(), Some("OPS"));
        assert_eq!(inv.module_key.as_deref(), Some("m"));
        assert_eq!(inv.environment_type.as_deref(), Some("PRODUCTION"));
        assert_eq!(inv.installation_id.as_deref(), Some("ari:inst"));
        assert_eq!(inv.user().subject, "acc-1");
    }

    #[test]
    fn invocation_refuses_contradictions_and_gaps() {
        let base = json!({"principal": "acc-1", "jti": "j", "context": {"cloudId": "c1"}});
        let ari = "ari:cloud:ecosystem::app/x";
        assert!(invocation(base.as_object().unwrap(), ari, 5).is_ok());
        let mut other_account = base.clone();
        other_account["context"]["accountId"] = json!("acc-2");
        let mut other_app = base.clone();
        other_app["app"] = json!({"id": "ari:cloud:ecosystem::app/y"});
        let mut no_principal = base.clone();
        no_principal.as_object_mut().unwrap().remove("principal");
        let mut no_cloud = base.clone();
        no_cloud["context"] = json!({});
        for (bad, want) in [
            (other_account, "context.accountId"),
            (other_app, "app.id"),
            (no_principal, "principal"),
            (no_cloud, "context.cloudId"),
        ] {
            let err = invocation(bad.as_object().unwrap(), ari, 5)
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{want}: {err}");
        }
    }
}
