//! The `[audit]` section of `arkbridge.toml`: the checkpoint signing key, how often checkpoints
//! are signed, and where each one is published outside arkbridge's own store.
//!
//! ```toml
//! [audit]
//! signing_key = "cyberark://Integrations/arkbridge-audit-key"   # Ed25519 PKCS#8, base64
//! key_id = "audit.example.com/arkbridge"                        # the key's name (log origin)
//! checkpoint_interval_minutes = 60                              # 1 to 60: hourly at most
//! publish_page = "123456"                                       # optional Confluence page id
//!
//! [[audit.syslog]]                                              # zero or more SIEM receivers
//! host = "siem.example.com"
//! port = 6514
//! tls = true
//! ca = "/etc/arkbridge/siem-ca.pem"
//! ```
//!
//! The section is optional: without `signing_key` no checkpoint is signed automatically (the
//! `audit checkpoint --key-file` development path still works). The key is a `cyberark://`
//! reference only, never an inline value, even with `allow_inline_secrets`: the key that makes
//! the log tamper-evident must not sit next to the log. `key_id` may pin the key's C2SP key id
//! (`name+8 hex digits`, as `audit keygen` prints it), so that a wrong key in CyberArk is refused
//! instead of silently signing under another id. Bad values are refused when the file is read.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ConfigSecret;
use crate::secret_ref::SecretRef;

/// The log's origin (and key name) when `key_id` is not set.
pub const DEFAULT_KEY_NAME: &str = "arkbridge.local/audit";

/// The longest checkpoint interval: CloudTrail's digests are hourly, so are ours at least.
pub const MAX_INTERVAL_MINUTES: u64 = 60;

/// The `[audit]` section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(try_from = "RawAudit")]
pub struct AuditConfig {
    /// The Ed25519 private key (PKCS#8, base64) that signs checkpoints, in CyberArk: always
    /// [`ConfigSecret::Reference`] (an inline value is refused when the file is read), so that
    /// the bridge's secret list can carry it like its other credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<ConfigSecret>,
    /// The key's name, which is also the log's origin line, optionally `+` its 8-hex key id.
    pub key_id: String,
    /// Minutes between automatic checkpoints of a long-running bridge (1 to 60).
    pub checkpoint_interval_minutes: u64,
    /// SIEM receivers that get every record and every checkpoint (RFC 5424 syslog, CEF).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub syslog: Vec<SyslogTargetConfig>,
    /// A Confluence page whose content property `arkbridge.audit.checkpoint` holds the latest
    /// checkpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish_page: Option<String>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            signing_key: None,
            key_id: DEFAULT_KEY_NAME.into(),
            checkpoint_interval_minutes: MAX_INTERVAL_MINUTES,
            syslog: Vec::new(),
            publish_page: None,
        }
    }
}

/// One syslog receiver.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SyslogTargetConfig {
    pub host: String,
    pub port: u16,
    /// TLS (RFC 5425) instead of plain TCP.
    #[serde(default)]
    pub tls: bool,
    /// PEM CA bundle for `tls`; the Mozilla roots when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
    /// The RFC 5424 HOSTNAME sent; `-` (none) when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

impl SyslogTargetConfig {
    /// `tcp://host:port` or `tls://host:port` (IPv6 addresses in brackets).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "tls" } else { "tcp" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// The section as written, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    /// Read as text so that a value which is not a reference (perhaps an inline key) is never
    /// quoted back in an error.
    #[serde(default)]
    signing_key: Option<String>,
    #[serde(default = "default_key_id")]
    key_id: String,
    #[serde(default = "default_interval")]
    checkpoint_interval_minutes: u64,
    #[serde(default)]
    syslog: Vec<SyslogTargetConfig>,
    #[serde(default)]
    publish_page: Option<String>,
}

fn default_key_id() -> String {
    DEFAULT_KEY_NAME.into()
}

fn default_interval() -> u64 {
    MAX_INTERVAL_MINUTES
}

impl TryFrom<RawAudit> for AuditConfig {
    type Error = String;

    fn try_from(raw: RawAudit) -> Result<AuditConfig, String> {
        let signing_key =
            raw.signing_key
                .map(|text| {
                    text.parse::<SecretRef>().map(ConfigSecret::Reference).map_err(|_| {
                    "audit.signing_key must be a cyberark://SAFE/OBJECT[#PROPERTY] reference; \
                     an inline key is never accepted"
                        .to_string()
                })
                })
                .transpose()?;
        let config = AuditConfig {
            signing_key,
            key_id: raw.key_id,
            checkpoint_interval_minutes: raw.checkpoint_interval_minutes,
            syslog: raw.syslog,
            publish_page: raw.publish_page,
        };
        config.validate()?;
        Ok(config)
    }
}

impl AuditConfig {
    fn validate(&self) -> Result<(), String> {
        let minutes = self.checkpoint_interval_minutes;
        if minutes == 0 {
            return Err("audit.checkpoint_interval_minutes must be at least 1".into());
        }
        if minutes > MAX_INTERVAL_MINUTES {
            return Err(format!(
                "audit.checkpoint_interval_minutes is {minutes}, but checkpoints are signed \
                 hourly at most: use 1 to {MAX_INTERVAL_MINUTES}"
            ));
        }
        self.key_name_and_id()?;
        if let Some(page) = &self.publish_page
            && (page.is_empty() || !page.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!(
                "audit.publish_page `{page}` is not a Confluence page id (digits only)"
            ));
        }
        for (i, s) in self.syslog.iter().enumerate() {
            let host = s.host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
                return Err(format!("audit.syslog[{i}].host `{}` is not a host", s.host));
            }
            if s.port == 0 {
                return Err(format!("audit.syslog[{i}].port must not be 0"));
            }
            if s.ca.is_some() && !s.tls {
                return Err(format!(
                    "audit.syslog[{i}].ca is set but tls is not: a CA is only used with tls = true"
                ));
            }
        }
        Ok(())
    }

    /// The key's name (the log's origin) and the key id it is pinned to, if any.
    pub fn key_name_and_id(&self) -> Result<(&str, Option<u32>), String> {
        let bad = || {
            format!(
                "audit.key_id `{}` is not a key name (no spaces or `+`, e.g. \
                 audit.example.com/arkbridge), optionally followed by `+` and its 8-hex key id",
                self.key_id
            )
        };
        let (name, id) = match self.key_id.split_once('+') {
            None => (self.key_id.as_str(), None),
            Some((name, id)) => {
                let parsed = u32::from_str_radix(id, 16)
                    .ok()
                    .filter(|_| id.len() == 8)
                    .ok_or_else(bad)?;
                (name, Some(parsed))
            }
        };
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
            return Err(bad());
        }
        Ok((name, id))
    }

    /// Resolves relative CA paths against the config file's folder.
    pub(crate) fn resolve_paths(&mut self, base: &Path) {
        for ca in self.syslog.iter_mut().filter_map(|s| s.ca.as_mut()) {
            if ca.is_relative() {
                *ca = base.join(&*ca);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AuditConfig, String> {
        toml::from_str::<AuditConfig>(text).map_err(|e| e.to_string())
    }

    #[test]
    fn an_empty_section_takes_the_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c, AuditConfig::default());
        assert_eq!(c.key_name_and_id().unwrap(), (DEFAULT_KEY_NAME, None));
    }

    #[test]
    fn a_full_section_parses_and_round_trips() {
        let c = parse(
            r#"
signing_key = "cyberark://Integrations/audit-key"
key_id = "audit.example.com/arkbridge+1a2b3c4d"
checkpoint_interval_minutes = 15
publish_page = "98765"

[[syslog]]
host = "siem.example.com"
port = 6514
tls = true
ca = "siem-ca.pem"

[[syslog]]
host = "::1"
port = 514
"#,
        )
        .unwrap();
        assert!(matches!(
            &c.signing_key,
            Some(ConfigSecret::Reference(r)) if r.to_string() == "cyberark://Integrations/audit-key"
        ));
        assert_eq!(
            c.key_name_and_id().unwrap(),
            ("audit.example.com/arkbridge", Some(0x1a2b_3c4d))
        );
        assert_eq!(c.syslog[0].url(), "tls://siem.example.com:6514");
        assert_eq!(c.syslog[1].url(), "tcp://[::1]:514");
        let back = toml::to_string(&c).unwrap();
        assert_eq!(parse(&back).unwrap(), c);
    }

    #[test]
    fn intervals_over_an_hour_are_refused() {
        let err = parse("checkpoint_interval_minutes = 61").unwrap_err();
        assert!(err.contains("hourly at most"), "{err}");
        assert!(parse("checkpoint_interval_minutes = 0").is_err());
        assert!(parse("checkpoint_interval_minutes = 60").is_ok());
        assert!(parse("checkpoint_interval_minutes = 1").is_ok());
    }

    #[test]
    fn bad_keys_pages_and_receivers_are_refused() {
        for bad in [
            r#"signing_key = "hunter2""#,
            r#"key_id = "two words""#,
            r#"key_id = "name+xyz""#,
            r#"key_id = "+1a2b3c4d""#,
            r#"publish_page = "Runbooks""#,
            "[[syslog]]\nhost = \"\"\nport = 514",
            "[[syslog]]\nhost = \"siem\"\nport = 0",
            "[[syslog]]\nhost = \"siem\"\nport = 514\nca = \"ca.pem\"",
            "[[syslog]]\nhost = \"siem\"",
            "colour = \"blue\"",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        // An inline value is never echoed.
        let err = parse(r#"signing_key = "hunter2""#).unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
    }
}
