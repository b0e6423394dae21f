//! Verified users. In this version the only identity provider is `local-trusted`, where the
//! caller's claim is taken as it is; it is for development and demos only.

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
}

impl VerifiedUser {
    /// Resolves a claimed e-mail through the configured identity provider.
    pub fn resolve(config: &Config, claimed: &str) -> Result<VerifiedUser, EngineError> {
        match config.identity.provider {
            IdentityProvider::LocalTrusted => {
                let groups =
                    config
                        .local_user_groups(claimed)
                        .ok_or_else(|| EngineError::UnknownUser {
                            user: claimed.to_string(),
                        })?;
                Ok(VerifiedUser {
                    email: claimed.to_ascii_lowercase(),
                    groups: groups.to_vec(),
                    verified_by: "local-trusted",
                })
            }
        }
    }
}
