//! Fetching the bridge's own credentials (Confluence API token, PVWA password) at start.
//!
//! They are `cyberark://` references in the config, retrieved through the CCP with the bridge's
//! AppID and client certificate. Each retrieval is audited (reference only, never the value).

use arkbridge_core::audit::{Action, Actor, AuditEvent, Target};
use arkbridge_core::config::{Config, ConfigSecret};
use arkbridge_cyberark::{CcpClient, CcpQuery};
use arkbridge_store::Store;
use secrecy::SecretString;

use crate::{EngineError, now_micros};

pub(crate) struct BridgeSecrets {
    pub(crate) confluence_token: SecretString,
    pub(crate) pvwa_password: SecretString,
}

pub(crate) async fn resolve<S: Store>(
    config: &Config,
    ccp: &CcpClient,
    store: &S,
) -> Result<BridgeSecrets, EngineError> {
    Ok(BridgeSecrets {
        confluence_token: one(ccp, store, "confluence.token", &config.confluence.token).await?,
        pvwa_password: one(
            ccp,
            store,
            "cyberark.pvwa.password",
            &config.cyberark.pvwa.password,
        )
        .await?,
    })
}

pub(crate) async fn one<S: Store>(
    ccp: &CcpClient,
    store: &S,
    field: &str,
    secret: &ConfigSecret,
) -> Result<SecretString, EngineError> {
    match secret {
        ConfigSecret::Inline(v) => {
            tracing::warn!(
                field,
                "using an inline secret from the config (development only)"
            );
            Ok(SecretString::from(v.clone()))
        }
        ConfigSecret::Reference(r) => {
            let query = CcpQuery::for_account(&r.safe, &r.object)
                .reason(format!("arkbridge start: bridge credential {field}"));
            let account = ccp.get(&query).await.map_err(|e| {
                EngineError::Setup(format!(
                    "cannot fetch the bridge credential {field} ({r}) from the CCP: {e}"
                ))
            })?;
            let value = account.secret_property(r.property()).ok_or_else(|| {
                EngineError::Setup(format!(
                    "the CCP answer for {r} has no property {}",
                    r.property()
                ))
            })?;
            store
                .append_audit(
                    AuditEvent::new(Action::CredentialIssued)
                        .at(now_micros())
                        .by(Actor::system())
                        .target(Target::account(&r.safe, &r.object))
                        .details(serde_json::json!({ "field": field, "via": "ccp" })),
                )
                .await?;
            Ok(value)
        }
    }
}
