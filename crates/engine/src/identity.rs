//! Verified users. In this version the only identity provider the engine wires is
//! `local-trusted`, where the caller's claim is taken as it is; it is for development and demos
//! only. The token verifiers of `arkbridge-identity` (Forge, OIDC) and LDAP groups plug in here.

use arkbridge_core::config::{Config, IdentityProvider};
use serde::Serialize;

use crate::EngineError;

/// A user whose identity the bridge has verified, with their identity-provider groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedUser {
    pub email: String,
    pub groups: Vec<String>,
    /// How the identity was established (`local-trusted`).
    pub verified_by: &'static str,
    /// The user's Confluence account id (Cloud) or username (Data Center), when known.
    pub confluence_account: Option<String>,
}

impl VerifiedUser {
    /// Resolves a claimed e-mail through the configured identity provider.
    pub fn resolve(config: &Config, claimed: &str) -> Result<VerifiedUser, EngineError> {
        match config.identity.provider {
            IdentityProvider::LocalTrusted => {
                let user = config
                    .local_user(claimed)
                    .ok_or_else(|| EngineError::UnknownUser {
                        user: claimed.to_string(),
                    })?;
                Ok(VerifiedUser {
                    email: claimed.to_ascii_lowercase(),
                    groups: user.groups.clone(),
                    verified_by: "local-trusted",
                    confluence_account: user.confluence_account_id.clone(),
                })
            }
        }
    }

    /// The user behind a Confluence account id (a page's last editor, an approver), as the
    /// identity provider knows them; `None` when it does not.
    pub fn by_confluence_account(config: &Config, account_id: &str) -> Option<VerifiedUser> {
        match config.identity.provider {
            IdentityProvider::LocalTrusted => {
                config
                    .local_user_by_account(account_id)
                    .map(|u| VerifiedUser {
                        email: u.email.to_ascii_lowercase(),
                        groups: u.groups.clone(),
                        verified_by: "local-trusted",
                        confluence_account: Some(account_id.to_string()),
                    })
            }
        }
    }
}
