//! Where read-only fallback credentials may come from when CyberArk is unavailable, the checks a
//! CCP section must pass, and the list of the bridge's own secrets with the inline-secret rule.
//!
//! `[cyberark.fallback_ccp]` is a second Central Credential Provider (same keys as
//! `[cyberark.ccp]`), for example one in another data centre, asked for fallback references (and
//! for the bridge's own credentials at start) when the first one is unavailable.
//! `[cyberark.fallback_cache]` turns on a short-lived in-memory cache of the values of fallback
//! references (read-only accounts), refreshed while CyberArk is healthy and used only when it is
//! not and no CCP answers; `max_staleness_secs` bounds how old a value may be when it is used.
//!
//! Every credential the bridge itself needs is a [`ConfigSecret`]. [`Config::secret_fields`]
//! lists them in one place, so that the start-up check ([`Config::check_inline_secrets`]), the
//! bootstrap and `doctor` agree on what an inline secret is.

use serde::{Deserialize, Serialize};

use super::{CcpConfig, Config, ConfigError, ConfigSecret};

/// `[cyberark.fallback_cache]`: the in-memory cache of read-only fallback values.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FallbackCacheConfig {
    /// The oldest a cached value may be when a run uses it, in seconds. Older values are refused.
    #[serde(default = "default_max_staleness")]
    pub max_staleness_secs: u64,
    /// A value younger than this is not fetched again after a healthy run, in seconds, so that
    /// a busy bridge does not double its CCP traffic. Must not exceed `max_staleness_secs`.
    #[serde(default = "default_refresh")]
    pub refresh_after_secs: u64,
}

impl Default for FallbackCacheConfig {
    fn default() -> Self {
        FallbackCacheConfig {
            max_staleness_secs: default_max_staleness(),
            refresh_after_secs: default_refresh(),
        }
    }
}

fn default_max_staleness() -> u64 {
    900
}
fn default_refresh() -> u64 {
    300
}

/// The largest staleness bound accepted: a cache is a bridge over an outage, not a vault.
pub const MAX_STALENESS_LIMIT_SECS: u64 = 24 * 3600;

impl FallbackCacheConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_staleness_secs == 0 || self.max_staleness_secs > MAX_STALENESS_LIMIT_SECS {
            return Err(ConfigError::Invalid(format!(
                "cyberark.fallback_cache.max_staleness_secs must be between 1 and \
                 {MAX_STALENESS_LIMIT_SECS} (one day), not {}",
                self.max_staleness_secs
            )));
        }
        if self.refresh_after_secs > self.max_staleness_secs {
            return Err(ConfigError::Invalid(format!(
                "cyberark.fallback_cache.refresh_after_secs ({}) exceeds max_staleness_secs \
                 ({}): cached values would go stale before they are refreshed",
                self.refresh_after_secs, self.max_staleness_secs
            )));
        }
        Ok(())
    }
}

/// Checks one CCP section (`section` names it in messages, e.g. `cyberark.ccp`).
pub(crate) fn validate_ccp(section: &str, ccp: &CcpConfig) -> Result<(), ConfigError> {
    let invalid = |m: String| Err(ConfigError::Invalid(m));
    if ccp.client_cert.is_some() != ccp.client_key.is_some() {
        return invalid(format!(
            "{section}.client_cert and client_key must be set together"
        ));
    }
    if ccp.client_pkcs12.is_some() && ccp.client_cert.is_some() {
        return invalid(format!(
            "set either {section}.client_pkcs12 or client_cert/client_key, not both"
        ));
    }
    for (key, set) in [
        (
            "client_pkcs12_password_file",
            ccp.client_pkcs12_password_file.is_some(),
        ),
        (
            "client_pkcs12_password_env",
            ccp.client_pkcs12_password_env.is_some(),
        ),
    ] {
        if set && ccp.client_pkcs12.is_none() {
            return invalid(format!("{section}.{key} is set without client_pkcs12"));
        }
    }
    if ccp.client_pkcs12_password_file.is_some() && ccp.client_pkcs12_password_env.is_some() {
        return invalid(format!(
            "set either {section}.client_pkcs12_password_env or the deprecated \
             client_pkcs12_password_file, not both"
        ));
    }
    if let Some(var) = &ccp.client_pkcs12_password_env
        && (var.is_empty() || var.contains(['=', '\0']) || var.chars().any(char::is_whitespace))
    {
        return invalid(format!(
            "{section}.client_pkcs12_password_env must name an environment variable \
             (no spaces, `=` or NUL)"
        ));
    }
    if ccp.app_id.trim().is_empty() {
        return invalid(format!("{section}.app_id is empty"));
    }
    Ok(())
}

impl Config {
    /// Every credential the bridge itself needs, by config field: the Confluence token, the
    /// PVWA password, the LDAP bind password (when `[identity.ldap]` is set), the audit
    /// checkpoint signing key (when `[audit] signing_key` is set) and the password of
    /// `[policy] apply_as`. (The OIDC client of the CLI is public and has no secret; the CCP
    /// client identity is a certificate path, never a secret in this file.)
    pub fn secret_fields(&self) -> Vec<(&'static str, &ConfigSecret)> {
        let mut fields = vec![
            ("confluence.token", &self.confluence.token),
            ("cyberark.pvwa.password", &self.cyberark.pvwa.password),
        ];
        if let Some(ldap) = &self.identity.ldap {
            fields.push(("identity.ldap.bind_password", &ldap.bind_password));
        }
        if let Some(key) = &self.audit.signing_key {
            fields.push(("audit.signing_key", key));
        }
        if let Some(apply_as) = &self.policy.apply_as {
            fields.push(("policy.apply_as.password", &apply_as.password));
        }
        if let Some(password) = &self.store.password {
            fields.push(("store.password", password));
        }
        if let Some(web) = &self.server.web {
            fields.push(("server.web.client_secret", &web.client_secret));
        }
        if let Some(hook) = &self.server.webhook {
            fields.push(("server.webhook.secret", &hook.secret));
        }
        fields
    }

    /// The fields of [`Config::secret_fields`] that hold an inline value instead of a
    /// `cyberark://` reference.
    pub fn inline_secret_fields(&self) -> Vec<&'static str> {
        self.secret_fields()
            .into_iter()
            .filter(|(_, s)| matches!(s, ConfigSecret::Inline(_)))
            .map(|(field, _)| field)
            .collect()
    }

    /// The start-up rule for inline secrets: refused (naming the first field, never its value)
    /// unless the command line's `--allow-inline-secrets` or the config's
    /// `allow_inline_secrets` allows them. Returns the inline fields when allowed, so that the
    /// caller can warn about each.
    pub fn check_inline_secrets(
        &self,
        allowed_by_flag: bool,
    ) -> Result<Vec<&'static str>, ConfigError> {
        let inline = self.inline_secret_fields();
        match inline.first() {
            Some(field) if !(allowed_by_flag || self.allow_inline_secrets) => {
                Err(ConfigError::InlineSecret { field })
            }
            _ => Ok(inline),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError};

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
password = "cyberark://Integrations/pvwa"

[confluence]
url = "https://127.0.0.1:3"
user = "arkbridge@example.com"
token = "cyberark://Integrations/confluence"
"#;

    fn parse(extra: &str) -> Result<Config, ConfigError> {
        Config::parse(&format!("{BASE}{extra}"))
    }

    #[test]
    fn fallback_sections_are_optional_and_default_off() {
        let c = parse("").unwrap();
        assert!(c.cyberark.fallback_ccp.is_none());
        assert!(c.cyberark.fallback_cache.is_none());
        let c = parse("[cyberark.fallback_cache]\n").unwrap();
        let cache = c.cyberark.fallback_cache.unwrap();
        assert_eq!(
            (cache.max_staleness_secs, cache.refresh_after_secs),
            (900, 300)
        );
    }

    #[test]
    fn fallback_ccp_has_the_shape_of_the_ccp_section_and_its_checks() {
        let c = parse(
            "[cyberark.fallback_ccp]\nurl = \"https://ccp-dr.example.com\"\napp_id = \"arkbridge\"\n\
             client_cert = \"dr.pem\"\nclient_key = \"dr-key.pem\"\n",
        )
        .unwrap();
        let dr = c.cyberark.fallback_ccp.unwrap();
        assert_eq!(dr.web_service, "AIMWebService");
        assert_eq!(dr.connection_timeout_secs, 30);
        let err = parse(
            "[cyberark.fallback_ccp]\nurl = \"https://x\"\napp_id = \"a\"\nclient_cert = \"c.pem\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("cyberark.fallback_ccp.client_cert"), "{err}");
        let err = parse("[cyberark.fallback_ccp]\nurl = \"https://x\"\napp_id = \" \"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cyberark.fallback_ccp.app_id is empty"),
            "{err}"
        );
    }

    #[test]
    fn staleness_bounds_are_checked() {
        for (body, needle) in [
            ("max_staleness_secs = 0", "between 1 and"),
            ("max_staleness_secs = 100000", "between 1 and"),
            (
                "max_staleness_secs = 60\nrefresh_after_secs = 120",
                "exceeds max_staleness_secs",
            ),
        ] {
            let err = parse(&format!("[cyberark.fallback_cache]\n{body}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{body}: {err}");
        }
        assert!(
            parse("[cyberark.fallback_cache]\nmax_staleness_secs = 60\nrefresh_after_secs = 0\n")
                .is_ok()
        );
    }

    #[test]
    fn pkcs12_password_comes_from_an_env_var_or_the_deprecated_file_not_both() {
        let p12 = "[cyberark.ccp]\nurl = \"https://127.0.0.1:1\"\napp_id = \"arkbridge\"\nclient_pkcs12 = \"id.p12\"\n";
        let base = BASE.replace(
            "[cyberark.ccp]\nurl = \"https://127.0.0.1:1\"\napp_id = \"arkbridge\"\n",
            p12,
        );
        let with =
            |line: &str| Config::parse(&base.replace("id.p12\"\n", &format!("id.p12\"\n{line}\n")));
        let c = with("client_pkcs12_password_env = \"ARKBRIDGE_P12_PASSWORD\"").unwrap();
        assert_eq!(
            c.cyberark.ccp.client_pkcs12_password_env.as_deref(),
            Some("ARKBRIDGE_P12_PASSWORD")
        );
        let err = with("client_pkcs12_password_env = \"A\"\nclient_pkcs12_password_file = \"pw\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not both"), "{err}");
        let err = with("client_pkcs12_password_env = \"A B\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("environment variable"), "{err}");
        let err = Config::parse(&BASE.replace(
            "app_id = \"arkbridge\"\n",
            "app_id = \"arkbridge\"\nclient_pkcs12_password_env = \"A\"\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("without client_pkcs12"), "{err}");
    }

    #[test]
    fn secret_fields_list_every_bridge_credential() {
        let c = parse(
            "[policy.apply_as]\nusername = \"safe-admin\"\npassword = \"cyberark://Integrations/sa\"\n\
             [audit]\nsigning_key = \"cyberark://Integrations/audit-key\"\n",
        )
        .unwrap();
        let fields: Vec<&str> = c.secret_fields().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "confluence.token",
                "cyberark.pvwa.password",
                "audit.signing_key",
                "policy.apply_as.password"
            ]
        );
        assert!(c.inline_secret_fields().is_empty());
        assert_eq!(c.check_inline_secrets(false).unwrap(), Vec::<&str>::new());
    }

    #[test]
    fn inline_secrets_parse_but_are_refused_at_start_unless_allowed() {
        let text = BASE
            .replace("\"cyberark://Integrations/pvwa\"", "\"hunter2-pvwa\"")
            .replace(
                "\"cyberark://Integrations/confluence\"",
                "\"hunter2-token\"",
            );
        let c = Config::parse(&text).unwrap();
        assert_eq!(
            c.inline_secret_fields(),
            ["confluence.token", "cyberark.pvwa.password"]
        );
        let err = c.check_inline_secrets(false).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::InlineSecret {
                field: "confluence.token"
            }
        ));
        let msg = err.to_string();
        assert!(
            msg.contains("confluence.token") && msg.contains("--allow-inline-secrets"),
            "{msg}"
        );
        assert!(!msg.contains("hunter2"), "{msg}");
        assert_eq!(
            c.check_inline_secrets(true).unwrap(),
            ["confluence.token", "cyberark.pvwa.password"]
        );
        let c = Config::parse(&format!("allow_inline_secrets = true\n{text}")).unwrap();
        assert_eq!(c.check_inline_secrets(false).unwrap().len(), 2);
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
