//! The bridge's own credentials, resolved in one place at start.
//!
//! Every secret arkbridge itself needs is a `cyberark://` reference in the config
//! ([`Config::secret_fields`]): the Confluence token, the PVWA password, the LDAP bind password
//! when `[identity.ldap]` is set (and any field added to that list later, such as the audit
//! signing key). [`resolve`] first applies the inline-secret rule (refused, naming the field and
//! never the value, unless `--allow-inline-secrets` or the config's `allow_inline_secrets` allows
//! them; then one warning per field), then fetches every reference through the CCP with the
//! bridge's AppID and client certificate. When the first CCP is unavailable (never when it
//! refuses), the second one of `[cyberark.fallback_ccp]` is asked. Each retrieval is audited
//! (reference, field and which CCP answered; never the value).
//!
//! The one exception is `[policy] apply_as`: only `policy apply` needs that safe-admin password,
//! so it is fetched by that command (through [`one`]) rather than by every start. The CCP client
//! identity itself is a certificate path (PKCS#12 password from an environment variable), since
//! it cannot come from the CCP it unlocks. The CLI's OIDC client is public and has no secret.

use std::sync::atomic::{AtomicBool, Ordering};

use arkbridge_core::audit::{Action, Actor, AuditEvent, Target};
use arkbridge_core::config::{Config, ConfigSecret};
use arkbridge_core::secret_ref::SecretRef;
use arkbridge_cyberark::{CcpClient, CcpQuery};
use arkbridge_store::Store;
use secrecy::SecretString;

use crate::fallback::unavailability;
use crate::{EngineError, now_micros};

/// Fields not fetched at every start (see the module comment).
///
/// `store.password` is fetched before the store exists, by `store_select.rs`, which audits the
/// fetch into the store it opens.
const ON_DEMAND: &[&str] = &["policy.apply_as.password", "store.password"];

/// `--allow-inline-secrets`, as the command line gave it.
static INLINE_ALLOWED_BY_FLAG: AtomicBool = AtomicBool::new(false);

/// Records the command line's global `--allow-inline-secrets` flag for every bridge this process
/// starts. Called once by `main` before any command runs.
pub fn allow_inline_secrets_from_command_line(allowed: bool) {
    INLINE_ALLOWED_BY_FLAG.store(allowed, Ordering::SeqCst);
}

/// The bridge's own credentials, by config field.
#[derive(Default)]
pub(crate) struct BridgeSecrets {
    by_field: Vec<(&'static str, SecretString)>,
}

impl std::fmt::Debug for BridgeSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fields: Vec<&str> = self.by_field.iter().map(|(f, _)| *f).collect();
        f.debug_struct("BridgeSecrets")
            .field("fields", &fields)
            .finish_non_exhaustive()
    }
}

impl BridgeSecrets {
    /// The value of a field resolved at start.
    pub(crate) fn get(&self, field: &str) -> Option<&SecretString> {
        self.by_field
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v)
    }

    /// Takes a field's value out (for a client that keeps its own copy).
    pub(crate) fn take(&mut self, field: &str) -> Result<SecretString, EngineError> {
        let i = self
            .by_field
            .iter()
            .position(|(f, _)| *f == field)
            .ok_or_else(|| {
                EngineError::Setup(format!("the bridge credential {field} is missing"))
            })?;
        Ok(self.by_field.swap_remove(i).1)
    }
}

/// The CCPs a bridge credential may come from: the first, then the second on unavailability.
pub(crate) struct CcpSources<'a> {
    pub(crate) primary: &'a CcpClient,
    pub(crate) fallback: Option<&'a CcpClient>,
}

/// Applies the inline-secret rule and resolves every start-time bridge credential.
pub(crate) async fn resolve<S: Store>(
    config: &Config,
    ccps: &CcpSources<'_>,
    store: &S,
) -> Result<BridgeSecrets, EngineError> {
    check_inline(config, INLINE_ALLOWED_BY_FLAG.load(Ordering::SeqCst))?;
    let mut secrets = BridgeSecrets::default();
    for (field, secret) in config.secret_fields() {
        if ON_DEMAND.contains(&field) {
            continue;
        }
        let value = resolve_one(ccps, store, field, secret).await?;
        secrets.by_field.push((field, value));
    }
    Ok(secrets)
}

/// The inline-secret rule: an error naming the first inline field unless allowed, else one
/// warning per inline field.
/// The inline-secret rule with the command line's flag, for a secret needed before [`resolve`].
pub(crate) fn check_inline_now(config: &Config) -> Result<(), EngineError> {
    check_inline(config, INLINE_ALLOWED_BY_FLAG.load(Ordering::SeqCst))
}

pub(crate) fn check_inline(config: &Config, allowed_by_flag: bool) -> Result<(), EngineError> {
    let inline = config
        .check_inline_secrets(allowed_by_flag)
        .map_err(|e| EngineError::Setup(e.to_string()))?;
    for field in inline {
        tracing::warn!(
            field,
            "the config holds an inline secret, allowed by --allow-inline-secrets or \
             allow_inline_secrets (development only): store it in CyberArk and use a \
             cyberark:// reference"
        );
    }
    Ok(())
}

/// One bridge credential through the first CCP only (for `policy apply`'s on-demand password).
pub(crate) async fn one<S: Store>(
    ccp: &CcpClient,
    store: &S,
    field: &str,
    secret: &ConfigSecret,
) -> Result<SecretString, EngineError> {
    let ccps = CcpSources {
        primary: ccp,
        fallback: None,
    };
    resolve_one(&ccps, store, field, secret).await
}

/// One bridge credential: an inline value as it is (the rule was applied by [`resolve`]), or a
/// reference fetched from the first CCP, else from the second when the first is unavailable.
pub(crate) async fn resolve_one<S: Store>(
    ccps: &CcpSources<'_>,
    store: &S,
    field: &str,
    secret: &ConfigSecret,
) -> Result<SecretString, EngineError> {
    let r = match secret {
        ConfigSecret::Inline(v) => return Ok(SecretString::from(v.clone())),
        ConfigSecret::Reference(r) => r,
    };
    let (value, via) = fetch_reference(ccps, field, r).await?;
    store
        .append_audit(
            AuditEvent::new(Action::CredentialIssued)
                .at(now_micros())
                .by(Actor::system())
                .target(Target::account(&r.safe, &r.object))
                .details(serde_json::json!({ "field": field, "via": via })),
        )
        .await?;
    Ok(value)
}

/// A bridge credential's reference fetched from the first CCP, else from the second when the
/// first is unavailable (never when it refuses), with which one answered (`ccp` or
/// `fallback-ccp`). The caller audits the retrieval.
pub(crate) async fn fetch_reference(
    ccps: &CcpSources<'_>,
    field: &str,
    r: &SecretRef,
) -> Result<(SecretString, &'static str), EngineError> {
    let query = CcpQuery::for_account(&r.safe, &r.object)
        .reason(format!("arkbridge start: bridge credential {field}"));
    let (account, via) = match (ccps.primary.get(&query).await, ccps.fallback) {
        (Ok(a), _) => (a, "ccp"),
        (Err(e), Some(second)) if unavailability(&e).is_some() => {
            tracing::warn!(field, error = %e, "the CCP is unavailable; asking the fallback CCP for a bridge credential");
            let a = second
                .get(&query)
                .await
                .map_err(|e2| fetch_error(field, r, &format!("{e}; the fallback CCP: {e2}")))?;
            (a, "fallback-ccp")
        }
        (Err(e), _) => return Err(fetch_error(field, r, &e.to_string())),
    };
    let value = account.secret_property(r.property()).ok_or_else(|| {
        EngineError::Setup(format!(
            "the CCP answer for {r} has no property {}",
            r.property()
        ))
    })?;
    Ok((value, via))
}

fn fetch_error(field: &str, r: &SecretRef, why: &str) -> EngineError {
    EngineError::Setup(format!(
        "cannot fetch the bridge credential {field} ({r}) from the CCP: {why}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
data_dir = "data"
[identity]
provider = "local-trusted"
[cyberark.ccp]
url = "https://127.0.0.1:1"
app_id = "arkbridge"
[cyberark.pvwa]
url = "https://127.0.0.1:2"
username = "arkbridge-svc"
password = "hunter2-pvwa-inline"
[confluence]
url = "https://127.0.0.1:3"
user = "arkbridge@example.com"
token = "cyberark://Integrations/confluence"
"#;

    #[test]
    fn an_inline_secret_is_refused_at_start_naming_the_field_not_the_value() {
        let config = Config::parse(BASE).unwrap();
        let err = check_inline(&config, false).unwrap_err().to_string();
        assert!(
            err.contains("cyberark.pvwa.password") && err.contains("--allow-inline-secrets"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn the_flag_or_the_config_key_allows_inline_secrets() {
        let config = Config::parse(BASE).unwrap();
        check_inline(&config, true).unwrap();
        let config = Config::parse(&format!("allow_inline_secrets = true\n{BASE}")).unwrap();
        check_inline(&config, false).unwrap();
    }

    #[test]
    fn bridge_secrets_debug_names_fields_only() {
        let mut s = BridgeSecrets::default();
        s.by_field
            .push(("confluence.token", SecretString::from("tok-hunter2")));
        let dbg = format!("{s:?}");
        assert!(
            dbg.contains("confluence.token") && !dbg.contains("hunter2"),
            "{dbg}"
        );
        assert!(s.get("confluence.token").is_some());
        assert!(s.take("cyberark.pvwa.password").is_err());
        assert!(s.take("confluence.token").is_ok());
        assert!(s.get("confluence.token").is_none());
    }
}
