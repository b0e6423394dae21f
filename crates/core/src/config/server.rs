//! `[server]`: how `arkbridge serve` listens, how long it waits for running runs at shutdown,
//! how much masked output it keeps per run, and `[server.forge]`, the Forge app whose
//! invocation tokens (from the Confluence Cloud macro) it accepts, and `[server.web]`, the web
//! UI's OIDC client and session cookie, and `[server.webhook]`, the shared secret of the
//! Confluence Data Center webhook (`POST /webhooks/confluence`).
//!
//! Every key has a default, so a config without the section still parses; without
//! `[server.forge]` Forge Invocation Tokens are refused (OIDC bearer tokens still work when
//! `[identity.oidc]` is set).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, ConfigSecret};

/// `[server]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The address to listen on (`--listen` overrides it).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// How long shutdown waits for running runs before it stops them, in seconds.
    #[serde(default = "default_grace")]
    pub shutdown_grace_secs: u64,
    /// The most masked output kept in memory per run, in bytes; the oldest chunks go first.
    #[serde(default = "default_output_limit")]
    pub output_limit_bytes: usize,
    /// How many finished runs are kept in memory for `GET /api/v1/runs/{id}/output`.
    #[serde(default = "default_keep_runs")]
    pub keep_finished_runs: usize,
    /// Identity-provider groups allowed to read every audit record through the API, besides
    /// `[policy] approver_groups`; everybody else sees only their own.
    #[serde(default)]
    pub audit_reader_groups: Vec<String>,
    /// The Forge app whose invocation tokens are accepted; none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forge: Option<ForgeSection>,
    /// The web UI (`/ui/...`, OIDC sign-in at `/auth/login`); not served when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<WebSection>,
    /// The Confluence Data Center webhook; `POST /webhooks/confluence` answers 404 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookSection>,
}

/// `[server.webhook]`: the secret Confluence Data Center signs its webhook deliveries with
/// (`X-Hub-Signature`, an HMAC-SHA256 of the body).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookSection {
    /// The webhook's secret: a `cyberark://` reference (inline only for development).
    pub secret: ConfigSecret,
}

/// `[server.web]`: the web UI's confidential OIDC client at the `[identity.oidc]` issuer and
/// its session cookie.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebSection {
    /// The web UI's client id at the provider (a confidential client, not the CLI's).
    pub client_id: String,
    /// The client's secret: a `cyberark://` reference (inline only for development).
    pub client_secret: ConfigSecret,
    /// The URL users reach arkbridge at (e.g. `https://arkbridge.example.com`); the redirect
    /// URI registered at the provider is this plus `/auth/callback`.
    pub public_url: String,
    /// How long a session lasts after sign-in, in seconds.
    #[serde(default = "default_session_ttl")]
    pub session_ttl_secs: u64,
    /// Whether the session cookie is `Secure`; by default when `public_url` is https.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie_secure: Option<bool>,
}

impl WebSection {
    /// Whether the session cookie carries `Secure`.
    pub fn secure_cookie(&self) -> bool {
        self.cookie_secure
            .unwrap_or_else(|| self.public_url.trim().starts_with("https://"))
    }

    /// The public URL without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.public_url.trim().trim_end_matches('/')
    }
}

/// `[server.forge]`: the Forge app calling arkbridge as a Forge Remote.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ForgeSection {
    /// The app id (a UUID) or its ARI `ari:cloud:ecosystem::app/<uuid>`: the tokens' `aud`.
    pub app_id: String,
    /// The JWKS of the invocation tokens; Atlassian's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    /// The Confluence sites (`cloudId`) whose invocations are accepted; empty accepts any site
    /// the app is installed on, which is only safe for an app that is not distributed.
    #[serde(default)]
    pub allowed_cloud_ids: Vec<String>,
    /// A CA bundle for the JWKS host instead of the public web roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            shutdown_grace_secs: default_grace(),
            output_limit_bytes: default_output_limit(),
            keep_finished_runs: default_keep_runs(),
            audit_reader_groups: Vec::new(),
            forge: None,
            web: None,
            webhook: None,
        }
    }
}

impl ServerConfig {
    /// Checks what serde cannot: non-zero limits and a non-empty Forge app id.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.listen.trim().is_empty() {
            return Err(ConfigError::Invalid("server.listen is empty".into()));
        }
        if self.output_limit_bytes == 0 || self.keep_finished_runs == 0 {
            return Err(ConfigError::Invalid(
                "server.output_limit_bytes and server.keep_finished_runs must be at least 1".into(),
            ));
        }
        if let Some(forge) = &self.forge
            && forge.app_id.trim().is_empty()
        {
            return Err(ConfigError::Invalid("server.forge.app_id is empty".into()));
        }
        if let Some(web) = &self.web {
            if web.client_id.trim().is_empty() {
                return Err(ConfigError::Invalid("server.web.client_id is empty".into()));
            }
            let base = web.base_url();
            let scheme_ok = base.starts_with("https://") || base.starts_with("http://");
            if !scheme_ok || base.contains(['?', '#', ' ']) || base.ends_with("//") {
                return Err(ConfigError::Invalid(format!(
                    "server.web.public_url `{base}` must be an http(s) URL without query or fragment"
                )));
            }
            if web.session_ttl_secs == 0 {
                return Err(ConfigError::Invalid(
                    "server.web.session_ttl_secs must be at least 1".into(),
                ));
            }
        }
        Ok(())
    }
}

fn default_listen() -> String {
    "127.0.0.1:8443".into()
}

fn default_grace() -> u64 {
    60
}

fn default_output_limit() -> usize {
    1024 * 1024
}

fn default_keep_runs() -> usize {
    200
}

fn default_session_ttl() -> u64 {
    8 * 3600
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_forge_section_reads() {
        let empty: ServerConfig = toml::from_str("").unwrap();
        assert_eq!(empty, ServerConfig::default());
        let c: ServerConfig = toml::from_str(
            "listen = \"0.0.0.0:9000\"\n[forge]\napp_id = \"abc\"\nallowed_cloud_ids = [\"c1\"]\n",
        )
        .unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(c.forge.unwrap().allowed_cloud_ids, ["c1"]);
    }

    #[test]
    fn zero_limits_and_empty_app_id_are_refused() {
        let mut c = ServerConfig {
            output_limit_bytes: 0,
            ..ServerConfig::default()
        };
        assert!(c.validate().is_err());
        c.output_limit_bytes = 10;
        c.forge = Some(ForgeSection {
            app_id: " ".into(),
            jwks_url: None,
            allowed_cloud_ids: Vec::new(),
            ca_cert: None,
        });
        assert!(c.validate().unwrap_err().to_string().contains("app_id"));
    }

    #[test]
    fn webhook_section_reads_its_secret_reference() {
        let c: ServerConfig =
            toml::from_str("[webhook]\nsecret = \"cyberark://Integrations/dc-webhook\"\n").unwrap();
        let hook = c.webhook.unwrap();
        assert!(matches!(hook.secret, ConfigSecret::Reference(_)));
        assert!(toml::from_str::<ServerConfig>("[webhook]\nsecrett = \"x\"\n").is_err());
    }

    #[test]
    fn web_section_reads_with_defaults_and_checks_its_url() {
        let c: ServerConfig = toml::from_str(
            "[web]\nclient_id = \"arkbridge-web\"\nclient_secret = \"cyberark://Integrations/web\"\n\
             public_url = \"https://arkbridge.example.com/\"\n",
        )
        .unwrap();
        let web = c.web.clone().unwrap();
        assert_eq!(web.session_ttl_secs, 8 * 3600);
        assert!(web.secure_cookie());
        assert_eq!(web.base_url(), "https://arkbridge.example.com");
        assert!(matches!(web.client_secret, ConfigSecret::Reference(_)));
        c.validate().unwrap();
        let mut bad = c.clone();
        bad.web.as_mut().unwrap().public_url = "ftp://x".into();
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("public_url")
        );
        let mut plain = c;
        plain.web.as_mut().unwrap().public_url = "http://127.0.0.1:8443".into();
        assert!(!plain.web.unwrap().secure_cookie());
    }
}
