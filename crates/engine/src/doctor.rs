//! `arkbridge doctor`: checks a configuration against the real services, each part on its own,
//! and says for each what is wrong and how to fix it.
//!
//! Unlike [`Bridge::connect`](crate::Bridge::connect), the doctor opens no store (so it runs
//! recovery never and needs no writable data folder) and does not stop at the first broken
//! part: a PVWA password the CCP cannot hand out still lets the Confluence check run, and a
//! wrong PVWA password still lets the Confluence token be tried. The bridge's own credentials it
//! fetches through the CCP (with a `Reason` naming the doctor, for the CCP's audit log) live in
//! memory for the checks only; no check's text ever holds a secret value.
//!
//! The checks, in order: `config`, `inline-secrets`, `identity`, `ccp`, `client-certificate`
//! (and `fallback-ccp`, `fallback-client-certificate` when a second CCP is configured),
//! `pvwa-logon` (and `policy-apply-logon` for a `[policy] apply_as` user of its own),
//! `confluence-auth`, then per safe the config names `safe:NAME` (it exists and
//! the AppID may read it) and `pvwa-permissions:NAME` (the PVWA user holds what it needs there,
//! and nothing powerful beyond; see `doctor_perms.rs` for the sets).

use std::path::Path;

use arkbridge_confluence::{ConfluenceClient, ConfluenceError};
use arkbridge_core::config::{Config, ConfigError, ConfigSecret, IdentityProvider};
use secrecy::SecretString;
use serde::Serialize;

#[path = "doctor_cert.rs"]
mod cert;
#[path = "doctor_cyberark.rs"]
mod cyberark;
#[path = "doctor_perms.rs"]
pub(crate) mod perms;
#[path = "doctor_safes.rs"]
mod safes;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Pass,
    Warn,
    Fail,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "fail",
        }
    }
}

/// One check: its name, the outcome, a one-line finding and what to do (empty on a pass).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: String,
    pub status: CheckStatus,
    pub detail: String,
    pub fix: String,
}

impl Check {
    pub(crate) fn pass(check: &str, detail: impl Into<String>) -> Check {
        Check {
            check: check.into(),
            status: CheckStatus::Pass,
            detail: detail.into(),
            fix: String::new(),
        }
    }

    pub(crate) fn warn(check: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            check: check.into(),
            status: CheckStatus::Warn,
            detail: detail.into(),
            fix: fix.into(),
        }
    }

    pub(crate) fn fail(check: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            check: check.into(),
            status: CheckStatus::Fail,
            detail: detail.into(),
            fix: fix.into(),
        }
    }
}

/// Every check, in the order they ran.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DoctorReport {
    pub checks: Vec<Check>,
}

impl DoctorReport {
    /// True when any check failed.
    pub fn failed(&self) -> bool {
        self.count(CheckStatus::Fail) > 0
    }

    /// How many checks ended with `status`.
    pub fn count(&self, status: CheckStatus) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// The check named `name`, if it ran.
    pub fn get(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.check == name)
    }

    fn push(&mut self, check: Check) -> usize {
        self.checks.push(check);
        self.checks.len() - 1
    }
}

/// How the doctor was asked to run.
#[derive(Debug, Clone, Copy, Default)]
pub struct DoctorOptions {
    /// The command line's `--allow-inline-secrets` was given: inline secrets are then a warning
    /// instead of a failure, as with `allow_inline_secrets = true` in the file.
    pub allow_inline_secrets: bool,
}

/// Runs every check against the config at `config_path`.
pub async fn diagnose(config_path: &Path, options: DoctorOptions) -> DoctorReport {
    let mut report = DoctorReport::default();
    let Some(config) = load(config_path, &mut report) else {
        return report;
    };
    report.push(inline_secrets(&config, options));
    report.push(identity(&config));
    let now = jiff::Timestamp::now().as_second();
    let mut fetched = cyberark::fetch_bridge_secrets(&config, &mut report).await;
    report.push(cert::check("client-certificate", &config.cyberark.ccp, now));
    if let Some(fallback) = &config.cyberark.fallback_ccp {
        cyberark::fetch_from_fallback(&config, &mut fetched, &mut report).await;
        report.push(cert::check("fallback-client-certificate", fallback, now));
    }
    let session = cyberark::pvwa_logon(&config, &fetched, &mut report).await;
    cyberark::apply_as_logon(&config, &fetched, &mut report).await;
    report.push(confluence(&config, fetched.value("confluence.token")).await);
    safes::check_all(&config, &fetched, session.as_ref(), &mut report).await;
    if let Some(session) = session {
        cyberark::logoff(session, &mut report).await;
    }
    report
}

/// The `config` check. Inline secrets do not stop a config from loading (the start-up check
/// refuses them, and so does the `inline-secrets` check here), so the other checks still run.
fn load(path: &Path, report: &mut DoctorReport) -> Option<Config> {
    let fix_toml = "correct the file; `unknown field` means a misspelt or misplaced key (see \
                    the README's configuration section)";
    match Config::load(path) {
        Ok(config) => {
            report.push(Check::pass(
                "config",
                format!("{} parses and validates", path.display()),
            ));
            Some(config)
        }
        Err(e @ ConfigError::Read { .. }) => {
            report.push(Check::fail(
                "config",
                e.to_string(),
                "pass the path of the bridge's arkbridge.toml with --config (or ARKBRIDGE_CONFIG)",
            ));
            None
        }
        Err(e @ ConfigError::Parse { .. }) => {
            report.push(Check::fail("config", e.to_string(), fix_toml));
            None
        }
        Err(e) => {
            report.push(Check::fail(
                "config",
                e.to_string(),
                "correct the setting the message names",
            ));
            None
        }
    }
}

/// The `inline-secrets` check.
fn inline_secrets(config: &Config, options: DoctorOptions) -> Check {
    const CHECK: &str = "inline-secrets";
    let inline = config.inline_secret_fields();
    if inline.is_empty() {
        return Check::pass(
            CHECK,
            "every credential of the bridge is a cyberark:// reference",
        );
    }
    let fix = "store each value in CyberArk (a safe the AppID may read) and write its \
               cyberark://SAFE/OBJECT reference instead";
    let fields = match inline.len() {
        1 => format!("{} holds an inline secret", inline[0]),
        _ => format!("{} hold inline secrets", inline.join(", ")),
    };
    // The same rule as at start (`Config::check_inline_secrets`): the flag or the file key.
    if config
        .check_inline_secrets(options.allow_inline_secrets)
        .is_ok()
    {
        Check::warn(
            CHECK,
            format!("{fields}, allowed for development only"),
            fix,
        )
    } else {
        Check::fail(
            CHECK,
            format!(
                "{fields}, which arkbridge refuses at start (inline secrets are not \
                 allowed)"
            ),
            fix,
        )
    }
}

/// The `identity` check.
fn identity(config: &Config) -> Check {
    const CHECK: &str = "identity";
    match config.identity.provider {
        IdentityProvider::LocalTrusted => Check::warn(
            CHECK,
            "identity provider `local-trusted` believes whoever runs arkbridge about who they \
             are (--as): development only",
            "use provider = \"oidc\" with [identity.oidc] (users sign in with `arkbridge login`)",
        ),
        IdentityProvider::Oidc => match &config.identity.oidc {
            Some(oidc) => Check::pass(
                CHECK,
                format!(
                    "oidc: tokens of {} for client {}, groups from the {}",
                    oidc.issuer,
                    oidc.client_id,
                    match oidc.groups_from {
                        arkbridge_core::config::GroupsFrom::Token => "token",
                        arkbridge_core::config::GroupsFrom::Ldap => "LDAP directory",
                    }
                ),
            ),
            None => Check::fail(
                CHECK,
                "provider = \"oidc\" without an [identity.oidc] section",
                "add [identity.oidc] with the issuer and client_id",
            ),
        },
    }
}

/// The `confluence-auth` check: one cheap authenticated call, the current user.
async fn confluence(config: &Config, token: Option<SecretString>) -> Check {
    const CHECK: &str = "confluence-auth";
    let cfg = &config.confluence;
    let Some(token) = token else {
        return Check::warn(
            CHECK,
            "not checked: the Confluence token could not be fetched (see the ccp check)",
            "fix the ccp check first",
        );
    };
    let client = match ConfluenceClient::new(cfg, token) {
        Ok(c) => c,
        Err(e) => {
            return Check::fail(CHECK, e.to_string(), "correct the [confluence] section");
        }
    };
    let token_fix = format!(
        "check confluence.user and the token {} (auth = \"{}\"; Cloud API tokens expire \
         after at most a year)",
        source_text(&cfg.token),
        auth_name(cfg.auth),
    );
    match client.current_user().await {
        Ok(user) if user.kind.as_deref() == Some("anonymous") => Check::fail(
            CHECK,
            format!(
                "{} answers as an anonymous user: the credentials were not accepted",
                client.api_root()
            ),
            token_fix,
        ),
        Ok(user) => {
            let who = user
                .email
                .as_deref()
                .or(user.display_name.as_deref())
                .or(user.username.as_deref())
                .unwrap_or("an unnamed user");
            let id = user
                .account_id
                .as_deref()
                .or(user.username.as_deref())
                .unwrap_or("-");
            Check::pass(
                CHECK,
                format!(
                    "{} authenticates the bridge as {who} ({id})",
                    client.api_root()
                ),
            )
        }
        // A scoped token may lack the user scope yet read content: try what the bridge does.
        Err(ConfluenceError::Refused { status: 403, .. }) => {
            match client.spaces().next_batch().await {
                Ok(_) => Check::pass(
                    CHECK,
                    format!(
                        "{} accepts the bridge's credentials (it lists spaces; reading the \
                         current user is not allowed to this token)",
                        client.api_root()
                    ),
                ),
                Err(e) => Check::fail(CHECK, e.to_string(), token_fix),
            }
        }
        Err(e @ ConfluenceError::Refused { .. }) => Check::fail(CHECK, e.to_string(), token_fix),
        Err(e @ ConfluenceError::NotFound { .. }) => Check::fail(
            CHECK,
            format!("{} has no current-user API: {e}", client.api_root()),
            "check confluence.url and flavor (Cloud: the site without /wiki; Data Center: with \
             its context path)",
        ),
        Err(e) if e.is_unavailable() => Check::fail(
            CHECK,
            e.to_string(),
            "check confluence.url, ca_cert and the network path to Confluence",
        ),
        Err(e) => Check::fail(CHECK, e.to_string(), "correct the [confluence] section"),
    }
}

/// Where a bridge credential comes from, for messages (never its value).
pub(crate) fn source_text(secret: &ConfigSecret) -> String {
    match secret {
        ConfigSecret::Reference(r) => format!("stored at {r}"),
        ConfigSecret::Inline(_) => "given inline in the config".into(),
    }
}

fn auth_name(auth: arkbridge_core::config::ConfluenceAuth) -> &'static str {
    match auth {
        arkbridge_core::config::ConfluenceAuth::Basic => "basic",
        arkbridge_core::config::ConfluenceAuth::Oauth => "oauth",
        arkbridge_core::config::ConfluenceAuth::Pat => "pat",
    }
}

#[cfg(test)]
#[path = "doctor_tests.rs"]
mod tests;
