//! Which store a config selects: the embedded SQLite file in `data_dir`, or PostgreSQL when
//! `[store] url` is set (`AnyStore` holds either, so the bridge is built once for both).
//!
//! PostgreSQL's password is a bridge credential like the others, but it is needed before the
//! store exists, so it is fetched here (first CCP, then `[cyberark.fallback_ccp]` when the first
//! is unavailable, as `bootstrap.rs` does) and its retrieval is audited into the store once it is
//! open. `bootstrap::resolve` skips the field afterwards.

use arkbridge_core::audit::{Action, Actor, AuditEvent, Target};
use arkbridge_core::config::{Config, ConfigSecret, StoreTls};
use arkbridge_core::secret_ref::SecretRef;
use arkbridge_cyberark::CcpClient;
use arkbridge_store::{AnyStore, PgOptions, PgStore, PgTls, SqliteStore, Store};
use secrecy::SecretString;

use crate::{EngineError, bootstrap, now_micros};

const FIELD: &str = "store.password";

/// Opens the store the config names, with its schema brought up to date (for commands that
/// need the store without the rest of the bridge, such as `audit verify`).
pub async fn open(config: &Config) -> Result<AnyStore, EngineError> {
    let Some(url) = &config.store.url else {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            EngineError::Setup(format!(
                "cannot create data folder {}: {e}",
                config.data_dir.display()
            ))
        })?;
        let store = SqliteStore::open(&config.data_dir.join("arkbridge.db")).await?;
        return Ok(AnyStore::Sqlite(store));
    };
    bootstrap::check_inline_now(config)?;
    let mut options = PgOptions::new(url.clone()).tls(match config.store.tls {
        StoreTls::Disable => PgTls::Disable,
        StoreTls::Require => PgTls::Require,
        StoreTls::VerifyFull => PgTls::VerifyFull,
    });
    if let Some(ca) = &config.store.ca_cert {
        options = options.ca_cert(ca);
    }
    let fetched = match &config.store.password {
        None => None,
        Some(ConfigSecret::Inline(v)) => {
            options = options.password(SecretString::from(v.clone()));
            None
        }
        Some(ConfigSecret::Reference(r)) => {
            let (value, via) = fetch(config, r).await?;
            options = options.password(value);
            Some((r, via))
        }
    };
    let store = PgStore::connect(&options).await?;
    if let Some((r, via)) = fetched {
        store
            .append_audit(
                AuditEvent::new(Action::CredentialIssued)
                    .at(now_micros())
                    .by(Actor::system())
                    .target(Target::account(&r.safe, &r.object))
                    .details(serde_json::json!({ "field": FIELD, "via": via })),
            )
            .await?;
    }
    Ok(AnyStore::Postgres(store))
}

/// The password from the first CCP, or from the fallback CCP when the first is unavailable.
async fn fetch(
    config: &Config,
    r: &SecretRef,
) -> Result<(SecretString, &'static str), EngineError> {
    let primary = CcpClient::new(&config.cyberark.ccp)?;
    let fallback = config
        .cyberark
        .fallback_ccp
        .as_ref()
        .map(CcpClient::new)
        .transpose()?;
    let ccps = bootstrap::CcpSources {
        primary: &primary,
        fallback: fallback.as_ref(),
    };
    bootstrap::fetch_reference(&ccps, FIELD, r).await
}
