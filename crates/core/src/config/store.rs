//! The `[store]` section of `arkbridge.toml`: where the bridge keeps its state.
//!
//! ```toml
//! [store]
//! url = "postgres://arkbridge@db.example.com:5432/arkbridge"   # no password in the URL
//! password = "cyberark://Integrations/arkbridge-postgres"        # resolved through the CCP
//! tls = "verify-full"                                           # disable | require | verify-full
//! ca_cert = "/etc/arkbridge/postgres-ca.pem"                    # optional, for verify-full
//! ```
//!
//! Without the section (or without `url`) the bridge keeps the embedded SQLite store in
//! `data_dir`, as before. A URL holding a password is refused, and so is `ca_cert` with
//! `tls = "disable"`; neither error repeats the URL's password. Bad values are refused when the
//! file is read.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ConfigSecret;
use crate::secret_ref::SecretRef;

/// How the connection to PostgreSQL is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StoreTls {
    Disable,
    Require,
    #[default]
    VerifyFull,
}

/// The `[store]` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawStore")]
pub struct StoreConfig {
    /// `postgres://USER@HOST:PORT/DATABASE`; `None` keeps the embedded SQLite store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The database password: a `cyberark://` reference (or inline, for development only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<ConfigSecret>,
    pub tls: StoreTls,
    /// PEM CA certificate that signs the server's certificate; the Mozilla roots when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
}

impl StoreConfig {
    /// Whether the store is PostgreSQL (else the embedded SQLite store).
    pub fn is_postgres(&self) -> bool {
        self.url.is_some()
    }

    pub(crate) fn resolve_paths(&mut self, base: &Path) {
        if let Some(p) = &mut self.ca_cert
            && p.is_relative()
        {
            *p = base.join(&*p);
        }
    }
}

/// The section as written, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    #[serde(default)]
    url: Option<String>,
    /// Read as text so that an inline value is never quoted back in an error.
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    tls: Option<String>,
    #[serde(default)]
    ca_cert: Option<PathBuf>,
}

/// Checks a PostgreSQL URL; the error never repeats a password the URL may hold.
pub fn check_postgres_url(url: &str) -> Result<(), String> {
    let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    else {
        return Err(
            "store.url must be postgres://USER@HOST:PORT/DATABASE (leave it out for the \
             embedded SQLite store)"
                .into(),
        );
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, host) = authority.rsplit_once('@').unwrap_or(("", authority));
    if userinfo.contains(':') {
        return Err(
            "store.url must not hold a password; give it as store.password (a cyberark:// \
             reference)"
                .into(),
        );
    }
    if host.is_empty() || host.starts_with(':') {
        return Err("store.url names no host".into());
    }
    let database = path.split('?').next().unwrap_or("");
    if database.is_empty() {
        return Err("store.url names no database".into());
    }
    Ok(())
}

impl TryFrom<RawStore> for StoreConfig {
    type Error = String;

    fn try_from(raw: RawStore) -> Result<StoreConfig, String> {
        if let Some(url) = &raw.url {
            check_postgres_url(url)?;
        } else if raw.password.is_some() || raw.ca_cert.is_some() {
            return Err("store.password and store.ca_cert need store.url".into());
        }
        let tls = match raw.tls.as_deref() {
            None => StoreTls::default(),
            Some("disable") => StoreTls::Disable,
            Some("require") => StoreTls::Require,
            Some("verify-full") => StoreTls::VerifyFull,
            Some(other) => {
                return Err(format!(
                    "store.tls = \"{other}\" is not one of disable, require, verify-full"
                ));
            }
        };
        if tls == StoreTls::Disable && raw.ca_cert.is_some() {
            return Err("store.ca_cert is set but store.tls = \"disable\"".into());
        }
        let password = raw.password.map(|p| match p.parse::<SecretRef>() {
            Ok(r) => ConfigSecret::Reference(r),
            Err(_) => ConfigSecret::Inline(p),
        });
        Ok(StoreConfig {
            url: raw.url,
            password,
            tls,
            ca_cert: raw.ca_cert,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<StoreConfig, String> {
        toml::from_str::<StoreConfig>(text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_postgres_store_parses_with_a_reference_and_defaults_to_verify_full() {
        let c = parse(
            "url = \"postgres://arkbridge@db.example.com:5432/arkbridge\"\n\
             password = \"cyberark://Integrations/arkbridge-postgres\"\n",
        )
        .unwrap();
        assert!(c.is_postgres());
        assert_eq!(c.tls, StoreTls::VerifyFull);
        assert!(matches!(c.password, Some(ConfigSecret::Reference(_))));
        let back = parse(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn no_section_keeps_sqlite() {
        assert!(!StoreConfig::default().is_postgres());
        assert_eq!(parse("").unwrap(), StoreConfig::default());
    }

    #[test]
    fn bad_store_values_are_refused_without_echoing_a_password() {
        let err = parse("url = \"postgres://u:hunter2@h/db\"").unwrap_err();
        assert!(err.contains("must not hold a password"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        for (text, says) in [
            ("url = \"mysql://h/db\"", "postgres://"),
            ("url = \"postgres://u@h:5432/\"", "no database"),
            ("url = \"postgres://u@/db\"", "no host"),
            ("url = \"postgres://u@h/db\"\ntls = \"maybe\"", "not one of"),
            (
                "url = \"postgres://u@h/db\"\ntls = \"disable\"\nca_cert = \"ca.pem\"",
                "disable",
            ),
            ("password = \"cyberark://S/o\"", "need store.url"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
