//! The identity part of the seed file: the simulated OIDC provider (`identityProvider`: clients,
//! API audience, claim names, per-user passwords) and the Forge app whose invocation tokens the
//! simulator mints (`forge`). `SEED.md` documents every field.
//!
//! The provider's users are the seed's Confluence users (linked by e-mail), except the bridge's
//! own service user; their groups are the seed's `groups` that list them, and their Confluence
//! account id is the simulated site's. Like the rest of the seed, these types do not implement
//! `Debug`, so the passwords and client secrets they may hold never reach a log.

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use crate::error::SimError;
use crate::seed::Seed;
use crate::state::random_password;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedIdentityProvider {
    /// The OAuth clients; one public client `arkbridge` when left out.
    #[serde(default)]
    pub(crate) clients: Vec<SeedOidcClient>,
    /// The `aud` of access tokens (Okta's default authorization server uses `api://default`).
    #[serde(default)]
    pub(crate) api_audience: Option<String>,
    /// The claim carrying group names.
    #[serde(default)]
    pub(crate) groups_claim: Option<String>,
    /// A claim carrying the user's Confluence account id; none when left out.
    #[serde(default)]
    pub(crate) account_id_claim: Option<String>,
    /// Lifetime of ID and access tokens.
    #[serde(default)]
    pub(crate) token_lifetime_secs: Option<u64>,
    /// Per-user settings, by Confluence user e-mail.
    #[serde(default)]
    pub(crate) users: Vec<SeedIdpUser>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedOidcClient {
    pub(crate) client_id: String,
    /// The client secret; a confidential client without one gets a random secret.
    #[serde(default)]
    pub(crate) client_secret: Option<String>,
    #[serde(default)]
    pub(crate) confidential: bool,
    #[serde(default)]
    pub(crate) redirect_uris: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedIdpUser {
    pub(crate) email: String,
    #[serde(default)]
    pub(crate) password: Option<String>,
    /// The provider's user id (`sub` of ID tokens); an Okta-style `00u…` id by default.
    #[serde(default)]
    pub(crate) sub: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedForge {
    /// The Forge app id (a UUID, or its ARI `ari:cloud:ecosystem::app/<uuid>`).
    #[serde(default)]
    pub(crate) app_id: Option<String>,
    /// The site the tokens name; the simulated Confluence site's cloud id by default.
    #[serde(default)]
    pub(crate) cloud_id: Option<String>,
    /// `DEVELOPMENT`, `STAGING` or `PRODUCTION` (the default).
    #[serde(default)]
    pub(crate) environment: Option<String>,
    #[serde(default)]
    pub(crate) app_version: Option<String>,
    /// The macro's module key when a mint request gives none.
    #[serde(default)]
    pub(crate) module_key: Option<String>,
}

/// An OAuth client of the simulated provider.
pub(crate) struct OidcClient {
    pub(crate) id: String,
    pub(crate) secret: Option<SecretString>,
    pub(crate) redirect_uris: Vec<Url>,
}

/// A user of the simulated provider.
pub(crate) struct IdpUser {
    pub(crate) sub: String,
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) password: SecretString,
    pub(crate) groups: Vec<String>,
    pub(crate) account_id: Option<String>,
}

/// The provider's settings, resolved from the seed.
pub(crate) struct IdpSettings {
    pub(crate) clients: Vec<OidcClient>,
    pub(crate) api_audience: String,
    pub(crate) groups_claim: String,
    pub(crate) account_id_claim: Option<String>,
    pub(crate) token_lifetime: i64,
    pub(crate) users: Vec<IdpUser>,
}

/// The Forge app, resolved from the seed.
pub(crate) struct ForgeSettings {
    pub(crate) app_uuid: String,
    pub(crate) cloud_id: String,
    pub(crate) environment_type: String,
    pub(crate) app_version: String,
    pub(crate) module_key: String,
}

/// Claims the provider sets itself, which `accountIdClaim` and `groupsClaim` must not replace.
const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "nonce",
    "email",
    "email_verified",
    "name",
    "preferred_username",
    "scp",
    "cid",
    "uid",
    "ver",
    "amr",
    "idp",
    "auth_time",
    "at_hash",
];

fn invalid(message: String) -> SimError {
    SimError::SeedInvalid(message)
}

fn claim_name(value: Option<&str>, default: &str, field: &str) -> Result<String, SimError> {
    let name = value.unwrap_or(default).trim();
    if name.is_empty() || RESERVED_CLAIMS.contains(&name) {
        return Err(invalid(format!(
            "identityProvider.{field}: `{name}` is empty or a claim the provider sets itself"
        )));
    }
    Ok(name.to_string())
}

/// An Okta-style user id (`00u` and 17 letters and digits), stable for an e-mail address.
fn okta_user_id(email: &str) -> String {
    const CHARS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let digest = <sha2::Sha256 as sha2::Digest>::digest(email.to_ascii_lowercase().as_bytes());
    let tail: String = digest
        .iter()
        .take(17)
        .map(|b| CHARS[usize::from(*b) % CHARS.len()] as char)
        .collect();
    format!("00u{tail}")
}

fn redirect_uri(client: &str, text: &str) -> Result<Url, SimError> {
    let url = Url::parse(text).map_err(|e| {
        invalid(format!(
            "identityProvider client {client}: redirect URI `{text}`: {e}"
        ))
    })?;
    // RFC 6749 §3.1.2: an absolute URI without a fragment.
    if !matches!(url.scheme(), "http" | "https") || url.fragment().is_some() {
        return Err(invalid(format!(
            "identityProvider client {client}: redirect URI `{text}` must be http(s) without a fragment"
        )));
    }
    Ok(url)
}

fn clients(seeded: &[SeedOidcClient]) -> Result<Vec<OidcClient>, SimError> {
    if seeded.is_empty() {
        return Ok(vec![OidcClient {
            id: "arkbridge".into(),
            secret: None,
            redirect_uris: vec![redirect_uri("arkbridge", "http://127.0.0.1/callback")?],
        }]);
    }
    let mut out: Vec<OidcClient> = Vec::new();
    for c in seeded {
        let id = c.client_id.trim();
        if id.is_empty() || out.iter().any(|o| o.id == id) {
            return Err(invalid(format!(
                "identityProvider: client id `{id}` is empty or listed twice"
            )));
        }
        let secret = match (&c.client_secret, c.confidential) {
            (Some(s), _) if s.is_empty() => {
                return Err(invalid(format!(
                    "identityProvider client {id}: clientSecret is empty"
                )));
            }
            (Some(s), _) => Some(SecretString::from(s.clone())),
            (None, true) => Some(SecretString::from(random_password())),
            (None, false) => None,
        };
        let redirect_uris = c
            .redirect_uris
            .iter()
            .map(|u| redirect_uri(id, u))
            .collect::<Result<_, _>>()?;
        out.push(OidcClient {
            id: id.to_string(),
            secret,
            redirect_uris,
        });
    }
    Ok(out)
}

/// Resolves the provider's settings. `account_id` gives the simulated site's account id of a
/// Confluence user's e-mail.
pub(crate) fn idp_settings(
    seed: &Seed,
    account_id: impl Fn(&str) -> Option<String>,
) -> Result<IdpSettings, SimError> {
    let default = SeedIdentityProvider::default();
    let s = seed.identity_provider.as_ref().unwrap_or(&default);
    for u in &s.users {
        if !seed
            .confluence_users
            .iter()
            .any(|c| c.email.eq_ignore_ascii_case(&u.email))
        {
            return Err(invalid(format!(
                "identityProvider.users: `{}` is not a Confluence user (users are linked by e-mail)",
                u.email
            )));
        }
    }
    let mut users: Vec<IdpUser> = Vec::new();
    for c in &seed.confluence_users {
        let own = s
            .users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(&c.email));
        if own.is_none() && c.email.eq_ignore_ascii_case(&seed.bridge.confluence_user) {
            continue;
        }
        let password = own
            .and_then(|u| u.password.clone())
            .or_else(|| c.password.clone())
            .unwrap_or_else(random_password);
        let sub = own
            .and_then(|u| u.sub.clone())
            .unwrap_or_else(|| okta_user_id(&c.email));
        if sub.trim().is_empty() || users.iter().any(|u| u.sub == sub) {
            return Err(invalid(format!(
                "identityProvider.users: sub `{sub}` of {} is empty or taken",
                c.email
            )));
        }
        let groups = seed
            .groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m.eq_ignore_ascii_case(&c.email)))
            .map(|g| g.name.clone())
            .collect();
        users.push(IdpUser {
            sub,
            email: c.email.clone(),
            name: c.display_name.clone(),
            password: SecretString::from(password),
            groups,
            account_id: account_id(&c.email),
        });
    }
    let lifetime = s.token_lifetime_secs.unwrap_or(3600);
    if !(60..=86_400).contains(&lifetime) {
        return Err(invalid(format!(
            "identityProvider.tokenLifetimeSecs: {lifetime} is outside 60..=86400"
        )));
    }
    let api_audience = s.api_audience.as_deref().unwrap_or("api://default").trim();
    if api_audience.is_empty() {
        return Err(invalid("identityProvider.apiAudience is empty".into()));
    }
    Ok(IdpSettings {
        clients: clients(&s.clients)?,
        api_audience: api_audience.to_string(),
        groups_claim: claim_name(s.groups_claim.as_deref(), "groups", "groupsClaim")?,
        account_id_claim: s
            .account_id_claim
            .as_deref()
            .map(|c| claim_name(Some(c), "", "accountIdClaim"))
            .transpose()?,
        token_lifetime: lifetime as i64,
        users,
    })
}

/// Resolves the Forge app; `site_cloud_id` is the simulated site's.
pub(crate) fn forge_settings(seed: &Seed, site_cloud_id: &str) -> Result<ForgeSettings, SimError> {
    let default = SeedForge::default();
    let f = seed.forge.as_ref().unwrap_or(&default);
    let app_uuid = match f.app_id.as_deref().map(str::trim) {
        Some(id) => {
            let uuid = id.strip_prefix("ari:cloud:ecosystem::app/").unwrap_or(id);
            uuid::Uuid::parse_str(uuid)
                .map_err(|_| invalid(format!("forge.appId `{id}` is not a UUID or an app ARI")))?
                .to_string()
        }
        None => crate::wiki::stable_uuid("forge-app:arkbridge").to_string(),
    };
    let environment_type = f
        .environment
        .as_deref()
        .unwrap_or("PRODUCTION")
        .to_ascii_uppercase();
    if !["DEVELOPMENT", "STAGING", "PRODUCTION"].contains(&environment_type.as_str()) {
        return Err(invalid(format!(
            "forge.environment `{environment_type}` is not DEVELOPMENT, STAGING or PRODUCTION"
        )));
    }
    let cloud_id = f.cloud_id.as_deref().unwrap_or(site_cloud_id).trim();
    let module_key = f
        .module_key
        .as_deref()
        .unwrap_or("arkbridge-runbook")
        .trim();
    if cloud_id.is_empty() || module_key.is_empty() {
        return Err(invalid(
            "forge.cloudId and forge.moduleKey must not be empty".into(),
        ));
    }
    Ok(ForgeSettings {
        app_uuid,
        cloud_id: cloud_id.to_string(),
        environment_type,
        app_version: f.app_version.clone().unwrap_or_else(|| "1.0.0".into()),
        module_key: module_key.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn okta_style_ids_are_stable_and_well_formed() {
        let id = okta_user_id("Alice@Example.com");
        assert_eq!(id, okta_user_id("alice@example.com"));
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("00u") && id.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(id, okta_user_id("bob@example.com"));
    }

    #[test]
    fn claim_names_may_not_shadow_the_providers_own() {
        assert_eq!(claim_name(None, "groups", "g").unwrap(), "groups");
        assert!(claim_name(Some("sub"), "", "a").is_err());
        assert!(claim_name(Some(" "), "", "a").is_err());
    }

    #[test]
    fn redirect_uris_must_be_http_without_fragment() {
        assert!(redirect_uri("c", "http://127.0.0.1/callback").is_ok());
        assert!(redirect_uri("c", "https://app.example.com/cb#x").is_err());
        assert!(redirect_uri("c", "javascript:alert(1)").is_err());
        assert!(redirect_uri("c", "/relative").is_err());
    }
}
