//! The bridge's configuration file (`arkbridge.toml`): its typed model, parsing and validation.
//!
//! Every credential the bridge itself needs (the Confluence API token, the PVWA service password)
//! is a [`ConfigSecret`]: normally a `cyberark://` reference resolved through the Central Credential
//! Provider at start. An inline value parses, but the start-up check refuses it unless
//! `--allow-inline-secrets` (or the `allow_inline_secrets` key) is given, which is for development
//! only (see `fallback.rs`). Only the client-certificate *paths* are literal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::policy::{Access, Grant, PolicySettings};
use crate::secret_ref::SecretRef;

mod audit;
mod cluster;
mod confluence;
mod daily;
mod fallback;
mod identity;
mod rotation;
mod scanner;
mod server;
mod store;
pub use audit::{
    AuditConfig, DEFAULT_KEY_NAME as DEFAULT_AUDIT_KEY_NAME,
    MAX_INTERVAL_MINUTES as MAX_CHECKPOINT_INTERVAL_MINUTES, SyslogTargetConfig,
};
pub use cluster::ClusterConfig;
pub use confluence::{ConfluenceAuth, ConfluenceConfig, ConfluenceFlavor};
pub use daily::DailyConfig;
pub use fallback::{FallbackCacheConfig, MAX_STALENESS_LIMIT_SECS};
pub use identity::{
    GroupsFrom, IdentityConfig, IdentityProvider, LdapSection, LocalUser, OidcSection,
};
pub use rotation::{MAX_ROTATION_ATTEMPTS, RotationConfig};
pub use scanner::ScannerConfig;
pub use server::{ForgeSection, ServerConfig, WebSection, WebhookSection};
pub use store::{StoreConfig, StoreTls, check_postgres_url};

/// The whole configuration file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Folder for the embedded store (SQLite) and other bridge state. Relative paths are resolved
    /// against the folder that holds the config file.
    pub data_dir: PathBuf,
    /// Development only: accept inline secret values in this file.
    #[serde(default)]
    pub allow_inline_secrets: bool,
    pub identity: IdentityConfig,
    pub cyberark: CyberArkConfig,
    pub confluence: ConfluenceConfig,
    #[serde(default)]
    pub runner: RunnerConfig,
    /// Per-safe policy (rotation). Safes not listed here use `rotation = "none"`.
    #[serde(default)]
    pub safes: BTreeMap<String, SafePolicy>,
    /// Which identity-provider groups (or Confluence roles) may use which spaces and safes.
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// How the grants are applied: safe membership, approver groups, permission mapping.
    #[serde(default)]
    pub policy: PolicySettings,
    /// Checkpoint signing and publishing (`[audit]`, see `audit.rs`).
    #[serde(default)]
    pub audit: AuditConfig,
    /// `arkbridge serve`: listening, shutdown, output limits and the Forge app (`server.rs`).
    #[serde(default)]
    pub server: ServerConfig,
    /// The daily compliance audit (`[daily]`, see `daily.rs`).
    #[serde(default)]
    pub daily: DailyConfig,
    /// The secret scanner (`[scanner]`, see `scanner.rs`).
    #[serde(default)]
    pub scanner: ScannerConfig,
    /// How failed rotations are retried before they are alerted (`[rotation]`, see
    /// `rotation.rs`).
    #[serde(default)]
    pub rotation: RotationConfig,
    /// `[store]`: PostgreSQL instead of the embedded SQLite store.
    #[serde(default)]
    pub store: StoreConfig,
    /// `[cluster]`: how replicas on a PostgreSQL store cooperate.
    #[serde(default, skip_serializing_if = "ClusterConfig::is_default")]
    pub cluster: ClusterConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CyberArkConfig {
    pub ccp: CcpConfig,
    pub pvwa: PvwaConfig,
    /// A second CCP for read-only fallbacks (and the bridge's own credentials) while the first
    /// is unavailable (see `fallback.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_ccp: Option<CcpConfig>,
    /// The in-memory cache of read-only fallback values; off when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_cache: Option<FallbackCacheConfig>,
}

/// Central Credential Provider (`GET /<web_service>/api/Accounts`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CcpConfig {
    /// Base URL, e.g. `https://ccp.example.com`.
    pub url: String,
    /// IIS application name; `AIMWebService` by default.
    #[serde(default = "default_web_service")]
    pub web_service: String,
    pub app_id: String,
    /// PEM bundle of CA certificates to trust instead of the system roots.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    /// PEM client certificate for mutual TLS.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// PEM private key for `client_cert`.
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// PKCS#12 (`.p12`/`.pfx`) file with the client certificate and key, instead of
    /// `client_cert`/`client_key`.
    #[serde(default)]
    pub client_pkcs12: Option<PathBuf>,
    /// Deprecated: a file holding the PKCS#12 password. Use `client_pkcs12_password_env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_pkcs12_password_file: Option<PathBuf>,
    /// The name of the environment variable holding the PKCS#12 password: the CCP identity
    /// cannot itself come from the CCP. Neither this nor the file: an empty password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_pkcs12_password_env: Option<String>,
    /// Seconds the CCP may spend reaching the Vault (`ConnectionTimeout`).
    #[serde(default = "default_ccp_timeout")]
    pub connection_timeout_secs: u32,
}

/// PVWA REST API (`/PasswordVault/API/...`), used for rotation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PvwaConfig {
    pub url: String,
    /// IIS application name; `PasswordVault` by default.
    #[serde(default = "default_pvwa_app")]
    pub app_name: String,
    #[serde(default)]
    pub auth_method: PvwaAuthMethod,
    /// The Vault user; with `auth_method = "ISPSS"` the Identity service user (the OAuth2
    /// `client_id`, e.g. `arkbridge@cyberark.cloud.1234`).
    pub username: String,
    /// Its password; with ISPSS the service user's password (the OAuth2 `client_secret`).
    pub password: ConfigSecret,
    /// ISPSS only: the Identity tenant URL, e.g. `https://abc1234.id.cyberark.cloud`, which
    /// issues the platform token (`/oauth2/platformtoken`). `url` is then the Privilege Cloud
    /// URL, e.g. `https://tenant.privilegecloud.cyberark.cloud`.
    #[serde(default)]
    pub identity_url: Option<String>,
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    /// How long to wait for the CPM to finish a change, in seconds.
    #[serde(default = "default_cpm_wait")]
    pub cpm_wait_secs: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub enum PvwaAuthMethod {
    #[default]
    CyberArk,
    #[serde(rename = "LDAP")]
    Ldap,
    #[serde(rename = "RADIUS")]
    Radius,
    /// Privilege Cloud (Shared Services): an OAuth2 `client_credentials` platform token from
    /// the Identity tenant, sent as `Authorization: Bearer`.
    #[serde(rename = "ISPSS")]
    Ispss,
}

impl PvwaAuthMethod {
    /// The path segment used in `/API/auth/<segment>/Logon`; ISPSS has no PVWA logon.
    pub fn path_segment(self) -> Option<&'static str> {
        match self {
            PvwaAuthMethod::CyberArk => Some("Cyberark"),
            PvwaAuthMethod::Ldap => Some("LDAP"),
            PvwaAuthMethod::Radius => Some("RADIUS"),
            PvwaAuthMethod::Ispss => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunnerConfig {
    /// Upper bound for a block's `timeout` directive, in seconds.
    #[serde(default = "default_max_timeout")]
    pub max_timeout_secs: u64,
    /// Timeout for blocks that do not set one, in seconds.
    #[serde(default = "default_timeout")]
    pub default_timeout_secs: u64,
    /// How long a run waits for an after-run/checkin account another run holds (`rotation.rs`).
    #[serde(default = "rotation::default_lease_wait_secs")]
    pub lease_wait_secs: u64,
    /// How long past its deadline a run may hold its credentials before they are rotated.
    #[serde(default = "rotation::default_lease_grace_secs")]
    pub lease_grace_secs: u64,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            max_timeout_secs: default_max_timeout(),
            default_timeout_secs: default_timeout(),
            lease_wait_secs: rotation::default_lease_wait_secs(),
            lease_grace_secs: rotation::default_lease_grace_secs(),
        }
    }
}

/// What happens to a credential of this safe after a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SafePolicy {
    pub rotation: Rotation,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Rotation {
    /// PVWA `Change`, then wait for the CPM.
    AfterRun,
    /// Exclusive account: PVWA `CheckIn`, the CPM changes it.
    Checkin,
    /// CyberArk rotates on its own schedule.
    None,
}

impl Rotation {
    pub fn as_str(self) -> &'static str {
        match self {
            Rotation::AfterRun => "after-run",
            Rotation::Checkin => "checkin",
            Rotation::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Rotation> {
        match s {
            "after-run" => Some(Rotation::AfterRun),
            "checkin" => Some(Rotation::Checkin),
            "none" => Some(Rotation::None),
            _ => None,
        }
    }
}

/// A credential the bridge itself needs: a `cyberark://` reference (the normal case) or, for
/// development only, an inline value.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConfigSecret {
    Reference(SecretRef),
    Inline(String),
}

impl std::fmt::Debug for ConfigSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigSecret::Reference(r) => write!(f, "Reference({r})"),
            ConfigSecret::Inline(_) => f.write_str("Inline([redacted])"),
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(
        "config field `{field}` holds an inline secret; store it in CyberArk and write a \
         cyberark://SAFE/OBJECT reference instead (or pass --allow-inline-secrets, for development \
         only)"
    )]
    InlineSecret { field: &'static str },
    #[error("invalid config: {0}")]
    Invalid(String),
}

impl Config {
    /// Reads, parses and validates a config file. Relative paths in it are resolved against the
    /// file's folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Config::parse(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        Ok(config)
    }

    /// Parses and validates config text. Paths stay as written.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::new(),
            // toml's messages quote the offending line; a config line may hold an inline secret,
            // so only the message's first line (which names the key and position) is kept.
            message: first_line_without_source(&e.to_string()),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Serialises the config as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a Config always serialises")
    }

    fn validate(&self) -> Result<(), ConfigError> {
        // Inline secrets parse; whether they are allowed depends on the command line too, so
        // they are checked at start (`Config::check_inline_secrets`), not here.
        self.confluence.validate(true)?;
        self.identity.validate(true)?;
        fallback::validate_ccp("cyberark.ccp", &self.cyberark.ccp)?;
        if let Some(dr) = &self.cyberark.fallback_ccp {
            fallback::validate_ccp("cyberark.fallback_ccp", dr)?;
        }
        if let Some(cache) = &self.cyberark.fallback_cache {
            cache.validate()?;
        }
        self.daily.validate()?;
        self.cluster.validate()?;
        let pvwa = &self.cyberark.pvwa;
        match (pvwa.auth_method, &pvwa.identity_url) {
            (PvwaAuthMethod::Ispss, None) => {
                return Err(ConfigError::Invalid(
                    "cyberark.pvwa.auth_method = \"ISPSS\" needs identity_url (the Identity \
                     tenant, e.g. https://abc1234.id.cyberark.cloud)"
                        .into(),
                ));
            }
            (PvwaAuthMethod::Ispss, Some(_)) | (_, None) => {}
            (_, Some(_)) => {
                return Err(ConfigError::Invalid(
                    "cyberark.pvwa.identity_url is only used with auth_method = \"ISPSS\"".into(),
                ));
            }
        }
        for (i, grant) in self.grants.iter().enumerate() {
            if grant.group.as_deref().is_some_and(|g| g.trim().is_empty()) {
                return Err(ConfigError::Invalid(format!("grants[{i}].group is empty")));
            }
            if grant.group.is_none() && grant.confluence_role.is_none() {
                return Err(ConfigError::Invalid(format!(
                    "grants[{i}] names no subject: set group, confluence_role or both"
                )));
            }
        }
        if self.runner.default_timeout_secs == 0 || self.runner.max_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "runner timeouts must be positive".into(),
            ));
        }
        Ok(())
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.data_dir);
        let cyberark = &mut self.cyberark;
        for ccp in std::iter::once(&mut cyberark.ccp).chain(cyberark.fallback_ccp.as_mut()) {
            for p in [
                &mut ccp.ca_cert,
                &mut ccp.client_cert,
                &mut ccp.client_key,
                &mut ccp.client_pkcs12,
                &mut ccp.client_pkcs12_password_file,
            ]
            .into_iter()
            .flatten()
            {
                fix(p);
            }
        }
        if let Some(p) = &mut self.cyberark.pvwa.ca_cert {
            fix(p);
        }
        if let Some(p) = &mut self.confluence.ca_cert {
            fix(p);
        }
        if let Some(p) = self.identity.oidc.as_mut().and_then(|o| o.ca_cert.as_mut()) {
            fix(p);
        }
        self.audit.resolve_paths(base);
        self.store.resolve_paths(base);
    }

    /// The rotation policy of a safe.
    pub fn rotation_for(&self, safe: &str) -> Rotation {
        // CyberArk compares safe names ignoring case; so does the policy.
        self.safes
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(safe))
            .map(|(_, p)| p.rotation)
            .unwrap_or(Rotation::None)
    }

    /// The groups of a `local-trusted` user, or `None` if the user is unknown.
    pub fn local_user_groups(&self, email: &str) -> Option<&[String]> {
        self.local_user(email).map(|u| u.groups.as_slice())
    }

    /// A `local-trusted` user, matched by e-mail ignoring case.
    pub fn local_user(&self, email: &str) -> Option<&LocalUser> {
        self.identity
            .users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email))
    }

    /// A `local-trusted` user by Confluence account id.
    pub fn local_user_by_account(&self, account_id: &str) -> Option<&LocalUser> {
        self.identity
            .users
            .iter()
            .find(|u| u.confluence_account_id.as_deref() == Some(account_id))
    }

    /// The access level a set of groups holds on a safe from a space through group-only grants
    /// (no Confluence role considered), if any grant applies.
    pub fn access(&self, groups: &[String], space: &str, safe: &str) -> Option<Access> {
        crate::policy::best_access(&self.grants, groups, None, space, safe).map(|(a, _)| a)
    }
}

fn first_line_without_source(message: &str) -> String {
    message.lines().next().unwrap_or("parse error").to_string()
}

fn default_web_service() -> String {
    "AIMWebService".into()
}
fn default_pvwa_app() -> String {
    "PasswordVault".into()
}
fn default_ccp_timeout() -> u32 {
    30
}
fn default_cpm_wait() -> u64 {
    120
}
fn default_max_timeout() -> u64 {
    3600
}
fn default_timeout() -> u64 {
    600
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
data_dir = "data"

[identity]
provider = "local-trusted"
users = [{ email = "alice@example.com", groups = ["platform-admins"] }]

[cyberark.ccp]
url = "https://127.0.0.1:1"
app_id = "arkbridge"
client_cert = "client.pem"
client_key = "client-key.pem"

[cyberark.pvwa]
url = "https://127.0.0.1:2"
username = "arkbridge-svc"
password = "cyberark://Integrations/pvwa-arkbridge-svc"

[confluence]
url = "https://127.0.0.1:3"
user = "arkbridge@example.com"
token = "cyberark://Integrations/confluence-api-token"

[safes.Prod-DB]
rotation = "after-run"

[[grants]]
group = "platform-admins"
spaces = ["OPS"]
safes = { Prod-DB = "write", Prod-DB-RO = "read" }
"#;

    #[test]
    fn parses_sample_with_references_and_defaults() {
        let c = Config::parse(SAMPLE).unwrap();
        assert_eq!(c.cyberark.ccp.web_service, "AIMWebService");
        assert_eq!(c.cyberark.pvwa.app_name, "PasswordVault");
        assert!(matches!(c.confluence.token, ConfigSecret::Reference(_)));
        assert_eq!(c.rotation_for("Prod-DB"), Rotation::AfterRun);
        assert_eq!(
            c.rotation_for("prod-db"),
            Rotation::AfterRun,
            "safe names ignore case"
        );
        assert_eq!(c.rotation_for("Other"), Rotation::None);
        let groups = vec!["platform-admins".to_string()];
        assert_eq!(c.access(&groups, "OPS", "Prod-DB"), Some(Access::Write));
        assert_eq!(c.access(&groups, "DEV", "Prod-DB"), None);
        assert_eq!(c.access(&groups, "OPS", "PROD-DB"), Some(Access::Write));
    }

    #[test]
    fn inline_secret_is_refused_without_naming_the_value() {
        let text = SAMPLE.replace(
            "\"cyberark://Integrations/confluence-api-token\"",
            "\"hunter2-inline\"",
        );
        let err = Config::parse(&text)
            .unwrap()
            .check_inline_secrets(false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("confluence.token"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn inline_secret_allowed_for_development() {
        let text = SAMPLE.replace(
            "\"cyberark://Integrations/confluence-api-token\"",
            "\"hunter2-inline\"",
        );
        let text = format!("allow_inline_secrets = true\n{text}");
        let c = Config::parse(&text).unwrap();
        assert_eq!(c.check_inline_secrets(false).unwrap(), ["confluence.token"]);
        assert_eq!(format!("{:?}", c.confluence.token), "Inline([redacted])");
    }

    #[test]
    fn parse_error_does_not_echo_the_line() {
        let text = SAMPLE.replace("app_id = \"arkbridge\"", "app_id = \"s3cr3t-value");
        let err = Config::parse(&text).unwrap_err().to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
    }

    #[test]
    fn unknown_field_is_refused() {
        let text = format!("colour = \"blue\"\n{SAMPLE}");
        assert!(Config::parse(&text).is_err());
    }

    #[test]
    fn round_trips_through_toml() {
        let c = Config::parse(SAMPLE).unwrap();
        assert_eq!(Config::parse(&c.to_toml()).unwrap(), c);
    }
}
