//! Verified users, from the configured identity provider.
//!
//! * `local-trusted` takes the caller's `--as` claim as it is, against the users listed in the
//!   config; it is for local tries only.
//! * `oidc` takes the person signed in with `arkbridge login`: the cached ID token is verified
//!   (signature against the provider's JWKS, issuer, audience = the CLI's client id, expiry) on
//!   every command, and email, groups and the Confluence account id are read from its claims;
//!   with `groups_from = "ldap"` the groups come from the directory instead, looked up by the
//!   verified e-mail with a bind password fetched through the CCP.
//!
//! Other users (a block's last editor, an approver) are known to `local-trusted`, whose config
//! lists them, and to LDAP. An OIDC provider is no directory of other users, so for `oidc`
//! without LDAP [`Bridge::user_by_confluence_account`] answers `None` and the policy then denies
//! with "last editor could not be determined" (see the README's Identity paragraph).

use arkbridge_core::config::{Config, GroupsFrom, IdentityProvider, OidcSection};
use arkbridge_identity::{
    CachedTokens, LdapConfig, LdapDirectory, OidcConfig, OidcVerifier, TokenCache, verify_cached,
};
use arkbridge_store::Store;
use serde::Serialize;

use crate::{Bridge, EngineError};

/// A user whose identity the bridge has verified, with their identity-provider groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedUser {
    pub email: String,
    pub groups: Vec<String>,
    /// How the identity was established (`local-trusted` or `oidc`).
    pub verified_by: &'static str,
    /// The user's Confluence account id (Cloud) or username (Data Center), when known.
    pub confluence_account: Option<String>,
    /// Who vouched for the user: `local-trusted` or the OIDC issuer.
    pub issuer: String,
    /// The user's stable id at the issuer: the e-mail for `local-trusted`, `sub` for OIDC.
    pub subject: String,
}

/// The hint every "not signed in" error ends with.
const LOGIN_HINT: &str = "run `arkbridge login --config FILE`";

impl VerifiedUser {
    /// Resolves a claimed e-mail through the `local-trusted` provider. With `oidc`, claims are
    /// refused: the identity is the signed-in user's ([`Bridge::signed_in_user`]).
    pub fn resolve(config: &Config, claimed: &str) -> Result<VerifiedUser, EngineError> {
        match config.identity.provider {
            IdentityProvider::LocalTrusted => {
                let user = config
                    .local_user(claimed)
                    .ok_or_else(|| EngineError::UnknownUser {
                        user: claimed.to_string(),
                    })?;
                let email = claimed.to_ascii_lowercase();
                Ok(VerifiedUser {
                    email: email.clone(),
                    groups: user.groups.clone(),
                    verified_by: "local-trusted",
                    confluence_account: user.confluence_account_id.clone(),
                    issuer: "local-trusted".into(),
                    subject: email,
                })
            }
            IdentityProvider::Oidc => Err(EngineError::Identity(format!(
                "--as is refused with identity provider `oidc`: the identity is the one you \
                 signed in as ({LOGIN_HINT}); `--as` is for the development provider \
                 `local-trusted` only (claimed: {claimed})"
            ))),
        }
    }

    /// The user behind a Confluence account id (a page's last editor, an approver), as the
    /// identity provider knows them; `None` when it does not.
    pub fn by_confluence_account(config: &Config, account_id: &str) -> Option<VerifiedUser> {
        match config.identity.provider {
            IdentityProvider::LocalTrusted => config.local_user_by_account(account_id).map(|u| {
                let email = u.email.to_ascii_lowercase();
                VerifiedUser {
                    email: email.clone(),
                    groups: u.groups.clone(),
                    verified_by: "local-trusted",
                    confluence_account: Some(account_id.to_string()),
                    issuer: "local-trusted".into(),
                    subject: email,
                }
            }),
            // A token proves who holds it, not who anybody else is.
            IdentityProvider::Oidc => None,
        }
    }

    /// The caller before the bridge connects: the `--as` user with `local-trusted` (required
    /// there), the signed-in user with `oidc` (where `--as` is refused). Pass the result through
    /// [`Bridge::adopt`] once connected.
    pub async fn caller(
        config: &Config,
        claimed: Option<&str>,
    ) -> Result<VerifiedUser, EngineError> {
        match (config.identity.provider, claimed) {
            (IdentityProvider::LocalTrusted, None) => Err(EngineError::Identity(
                "--as EMAIL is required with the local-trusted identity provider".into(),
            )),
            (_, Some(claimed)) => VerifiedUser::resolve(config, claimed),
            (IdentityProvider::Oidc, None) => VerifiedUser::signed_in(config).await,
        }
    }

    /// The OIDC user signed in with `arkbridge login`, groups from the token. Fails with a hint
    /// to sign in when there is no cached token or it no longer verifies (expired, tampered).
    pub async fn signed_in(config: &Config) -> Result<VerifiedUser, EngineError> {
        let oidc = oidc_section(config)?;
        let cache = TokenCache::for_client(&oidc.issuer, &oidc.client_id)
            .map_err(|e| EngineError::Identity(e.to_string()))?;
        let tokens = cache
            .load()
            .map_err(|e| EngineError::Identity(e.to_string()))?
            .ok_or_else(|| {
                EngineError::Identity(format!("not signed in to {} ({LOGIN_HINT})", oidc.issuer))
            })?;
        VerifiedUser::from_tokens(config, &tokens).await
    }

    /// The user an ID token from the configured OIDC provider names, once its signature (the
    /// provider's JWKS), issuer, audience and expiry check out; groups from the token.
    pub async fn from_tokens(
        config: &Config,
        tokens: &CachedTokens,
    ) -> Result<VerifiedUser, EngineError> {
        let oidc = oidc_section(config)?;
        let mut settings = OidcConfig::new(&oidc.issuer, &oidc.client_id);
        settings.api_audience = oidc.api_audience.clone();
        settings.groups_claim = oidc.groups_claim.clone();
        settings.email_claim = oidc.email_claim.clone();
        settings.ca_cert = oidc.ca_cert.clone();
        // The cached ID token is presented by every command of this user, so it cannot be
        // single-use; its signature and expiry are what bind it to the sign-in.
        settings.single_use_id_tokens = false;
        let verifier = OidcVerifier::new(settings)
            .map_err(|e| EngineError::Setup(format!("identity.oidc: {e}")))?;
        let (user, account) =
            verify_cached(&verifier, tokens, oidc.confluence_account_claim.as_deref())
                .await
                .map_err(|e| {
                    EngineError::Identity(format!(
                        "the cached sign-in to {} is not valid: {e} ({LOGIN_HINT})",
                        oidc.issuer
                    ))
                })?;
        let email = user.email.ok_or_else(|| {
            EngineError::Identity(format!(
                "the provider's token carries no verified e-mail in claim `{}`",
                oidc.email_claim
            ))
        })?;
        Ok(VerifiedUser {
            email: email.to_ascii_lowercase(),
            groups: user.groups,
            verified_by: "oidc",
            confluence_account: account,
            issuer: oidc.issuer.clone(),
            subject: user.subject,
        })
    }
}

fn oidc_section(config: &Config) -> Result<&OidcSection, EngineError> {
    config.identity.oidc.as_ref().ok_or_else(|| {
        EngineError::Identity("identity.provider is not `oidc`: nothing to sign in to".into())
    })
}

impl<S: Store> Bridge<S> {
    /// Takes a user verified before the bridge connected: with `oidc` and `groups_from =
    /// "ldap"`, their groups are replaced by the directory's; their issuer and subject are
    /// remembered for the audit records of what they do.
    pub async fn adopt(&self, mut user: VerifiedUser) -> Result<VerifiedUser, EngineError> {
        if user.verified_by == "oidc" && oidc_section(&self.config)?.groups_from == GroupsFrom::Ldap
        {
            user.groups = self.ldap_groups(&user.email).await?;
        }
        self.remember(&user);
        if user.verified_by == "oidc" {
            self.keep_principal(&user).await;
        }
        Ok(user)
    }

    /// Another user by e-mail, for `policy explain --user`: with `oidc` only through LDAP, the
    /// one directory of other users the bridge has (their Confluence account stays unknown).
    pub async fn other_user(&self, email: &str) -> Result<VerifiedUser, EngineError> {
        match self.config.identity.provider {
            IdentityProvider::LocalTrusted => VerifiedUser::resolve(&self.config, email),
            IdentityProvider::Oidc => {
                if oidc_section(&self.config)?.groups_from != GroupsFrom::Ldap {
                    return Err(EngineError::Identity(format!(
                        "cannot look up {email}: with identity provider `oidc` other users are \
                         known only through [identity.ldap] (groups_from = \"ldap\")"
                    )));
                }
                let email = email.to_ascii_lowercase();
                Ok(VerifiedUser {
                    groups: self.ldap_groups(&email).await?,
                    verified_by: "ldap",
                    confluence_account: None,
                    issuer: self.ldap_issuer(),
                    subject: email.clone(),
                    email,
                })
            }
        }
    }

    /// The user behind a Confluence account id (a block's last editor): as
    /// [`VerifiedUser::by_confluence_account`] for `local-trusted`; for `oidc` only through
    /// LDAP, with the account's e-mail from Confluence Cloud (`users-bulk`). `None` when unknown.
    pub(crate) async fn user_by_confluence_account(
        &self,
        account_id: &str,
    ) -> Option<VerifiedUser> {
        let ldap = self
            .config
            .identity
            .oidc
            .as_ref()
            .is_some_and(|o| o.groups_from == GroupsFrom::Ldap);
        if self.groups_from_token() {
            return self.principal_user(account_id).await;
        }
        if self.config.identity.provider != IdentityProvider::Oidc || !ldap {
            return VerifiedUser::by_confluence_account(&self.config, account_id);
        }
        let email = match self.confluence.users_bulk(&[account_id]).await {
            Ok(users) => users
                .into_iter()
                .find(|u| u.account_id.as_deref() == Some(account_id))
                .and_then(|u| u.email),
            Err(e) => {
                tracing::warn!(error = %e, account_id, "cannot look up a Confluence account's e-mail");
                None
            }
        }?;
        match self.ldap_groups(&email).await {
            Ok(groups) => {
                let email = email.to_ascii_lowercase();
                Some(VerifiedUser {
                    groups,
                    verified_by: "ldap",
                    confluence_account: Some(account_id.to_string()),
                    issuer: self.ldap_issuer(),
                    subject: email.clone(),
                    email,
                })
            }
            Err(e) => {
                tracing::warn!(error = %e, account_id, "cannot look up a Confluence account's LDAP groups");
                None
            }
        }
    }

    /// An approver's groups now, by e-mail: from the config for `local-trusted`, from LDAP for
    /// `oidc` with `groups_from = "ldap"`, and none otherwise (so the approval does not count).
    pub(crate) async fn approver_groups(&self, email: &str) -> Vec<String> {
        let ldap = self
            .config
            .identity
            .oidc
            .as_ref()
            .is_some_and(|o| o.groups_from == GroupsFrom::Ldap);
        match self.config.identity.provider {
            IdentityProvider::LocalTrusted => self
                .config
                .local_user_groups(email)
                .map(<[String]>::to_vec)
                .unwrap_or_default(),
            IdentityProvider::Oidc if ldap => match self.ldap_groups(email).await {
                Ok(groups) => groups,
                Err(e) => {
                    tracing::warn!(error = %e, approver = email, "cannot look up an approver's LDAP groups");
                    Vec::new()
                }
            },
            IdentityProvider::Oidc => Vec::new(),
        }
    }

    /// The directory's URL, the issuer of what LDAP says about a user.
    fn ldap_issuer(&self) -> String {
        self.config
            .identity
            .ldap
            .as_ref()
            .and_then(|l| l.settings.get("url")?.as_str().map(str::to_string))
            .unwrap_or_else(|| "ldap".into())
    }

    /// The user's groups from `[identity.ldap]`. The directory is set up once per bridge, with the
    /// bind password fetched through the CCP at start with the bridge's other credentials.
    async fn ldap_groups(&self, email: &str) -> Result<Vec<String>, EngineError> {
        let directory = self
            .ldap
            .get_or_try_init(|| async {
                let section = self.config.identity.ldap.as_ref().ok_or_else(|| {
                    EngineError::Setup("groups_from = \"ldap\" without [identity.ldap]".into())
                })?;
                let settings: LdapConfig = serde_json::to_value(&section.settings)
                    .and_then(serde_json::from_value)
                    .map_err(|e| EngineError::Setup(format!("identity.ldap: {e}")))?;
                // Resolved with the bridge's other credentials at start (`bootstrap.rs`).
                let password = self
                    .secrets
                    .get("identity.ldap.bind_password")
                    .cloned()
                    .ok_or_else(|| {
                        EngineError::Setup("identity.ldap.bind_password was not resolved".into())
                    })?;
                LdapDirectory::new(&settings, password)
                    .map_err(|e| EngineError::Setup(format!("identity.ldap: {e}")))
            })
            .await?;
        let found = directory
            .groups_for_email(email)
            .await
            .map_err(|e| EngineError::Identity(format!("LDAP groups of {email}: {e}")))?;
        Ok(found.groups.into_iter().map(|g| g.name).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oidc_config() -> Config {
        Config::parse(
            r#"
data_dir = "data"
[identity]
provider = "oidc"
[identity.oidc]
issuer = "https://idp.example.com/oauth2/default"
client_id = "arkbridge-cli"
[cyberark.ccp]
url = "https://127.0.0.1:1"
app_id = "arkbridge"
[cyberark.pvwa]
url = "https://127.0.0.1:2"
username = "arkbridge-svc"
password = "cyberark://Integrations/pvwa"
[confluence]
url = "https://127.0.0.1:3"
user = "arkbridge@example.com"
token = "cyberark://Integrations/confluence"
"#,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn oidc_refuses_a_claimed_user_and_knows_no_other_users() {
        let config = oidc_config();
        let err = VerifiedUser::caller(&config, Some("alice@example.com"))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--as is refused") && err.contains("arkbridge login"),
            "{err}"
        );
        assert!(VerifiedUser::by_confluence_account(&config, "557058:abc").is_none());
    }
}
