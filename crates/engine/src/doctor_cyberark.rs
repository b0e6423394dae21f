//! `arkbridge doctor`: the CyberArk checks.
//!
//! * `ccp`: the bridge's own credentials (every `cyberark://` reference the config names) are
//!   fetched through the CCP, as the bridge does at start; this is the real CCP call that proves
//!   reachability, the AppID's authentication and its right to read them. `fallback-ccp` does the
//!   same through `[cyberark.fallback_ccp]`, when it is set.
//! * `pvwa-logon`: the PVWA user logs on with its password, and off again at the end;
//!   `policy-apply-logon` does the same for the user of `[policy] apply_as`, when it is another.
//!
//! The per-safe checks are in `doctor_safes.rs`.

use arkbridge_core::SecretRef;
use arkbridge_core::config::{CcpConfig, Config, ConfigSecret, PvwaAuthMethod};
use arkbridge_cyberark::{CcpClient, CcpQuery, CyberArkError, PvwaClient};
use secrecy::SecretString;

use super::{Check, CheckStatus, DoctorReport, source_text};

/// The bridge's own credentials the doctor could get, by config field.
#[derive(Default)]
pub(super) struct Fetched {
    values: Vec<(&'static str, SecretString)>,
    /// Safes the CCP handed a bridge credential from.
    read_by_ccp: Vec<String>,
}

impl Fetched {
    /// The value of a bridge credential, if it could be had.
    pub(super) fn value(&self, field: &str) -> Option<SecretString> {
        self.values
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.clone())
    }

    pub(super) fn read_by_ccp(&self, safe: &str) -> bool {
        self.read_by_ccp
            .iter()
            .any(|s| s.eq_ignore_ascii_case(safe))
    }
}

/// What to do about a CCP error.
fn ccp_fix(e: &CyberArkError, app_id: &str) -> String {
    let code = e.code().unwrap_or("").to_ascii_uppercase();
    match code.as_str() {
        "APPAP008E" => format!(
            "the Vault does not accept the application `{app_id}`: check cyberark.ccp.app_id, \
             and that the Application exists, is enabled and has not expired"
        ),
        "APPAP306E" => "the CCP could not authenticate the AppID: this machine must be one of \
                        the Application's allowed machines, and the client certificate's serial \
                        number or subject must be the one the Application names"
            .into(),
        "APPAP004E" => format!(
            "check that the reference names an existing account (safe and object), and that the \
             AppID `{app_id}` and the CCP's Provider user are members of its safe with List \
             accounts and Retrieve accounts"
        ),
        "APPAP007E" => "the CCP cannot reach the Vault: check the Vault and the CCP's \
                        connection to it"
            .into(),
        _ if e.is_unavailable() => "check cyberark.ccp.url, web_service and ca_cert, the client \
                                    certificate, and the network path to the CCP"
            .into(),
        _ => "correct [cyberark.ccp] as the message says".into(),
    }
}

/// The `ccp` check (and `fallback-ccp`, when `[cyberark.fallback_ccp]` is set): fetches every
/// bridge credential given by reference. Inline values are taken as they are (the
/// `inline-secrets` check reports them). A value the first CCP did not give is taken from the
/// second one, as the bridge would at start, so that the checks that need it still run.
pub(super) async fn fetch_bridge_secrets(config: &Config, report: &mut DoctorReport) -> Fetched {
    let mut fetched = Fetched::default();
    let mut references = Vec::new();
    for (field, secret) in config.secret_fields() {
        match secret {
            ConfigSecret::Inline(v) => fetched.values.push((field, SecretString::from(v.clone()))),
            ConfigSecret::Reference(r) => references.push((field, r)),
        }
    }
    if references.is_empty() {
        report.push(Check::warn(
            "ccp",
            "not checked: the config names no cyberark:// reference for the CCP to resolve",
            "store the bridge's credentials in CyberArk and name them by reference",
        ));
        return fetched;
    }
    for (field, safe, value) in fetch_all("ccp", &config.cyberark.ccp, &references, report).await {
        fetched.values.push((field, value));
        fetched.read_by_ccp.push(safe);
    }
    fetched
}

/// The `fallback-ccp` check, when a second CCP is configured; fills in the values the first one
/// did not give.
pub(super) async fn fetch_from_fallback(
    config: &Config,
    fetched: &mut Fetched,
    report: &mut DoctorReport,
) {
    let Some(cfg) = &config.cyberark.fallback_ccp else {
        return;
    };
    let references: Vec<_> = config
        .secret_fields()
        .into_iter()
        .filter_map(|(field, secret)| match secret {
            ConfigSecret::Reference(r) => Some((field, r)),
            ConfigSecret::Inline(_) => None,
        })
        .collect();
    if references.is_empty() {
        return;
    }
    for (field, _, value) in fetch_all("fallback-ccp", cfg, &references, report).await {
        if fetched.value(field).is_none() {
            fetched.values.push((field, value));
        }
    }
}

/// Fetches `references` through the CCP of `cfg`, pushing the check `name`. Returns what it got,
/// with the safe each value came from.
async fn fetch_all(
    name: &str,
    cfg: &CcpConfig,
    references: &[(&'static str, &SecretRef)],
    report: &mut DoctorReport,
) -> Vec<(&'static str, String, SecretString)> {
    let ccp = match CcpClient::new(cfg) {
        Ok(c) => c,
        Err(e) => {
            report.push(Check::fail(
                name,
                format!("the CCP client cannot be set up: {e}"),
                "correct the file or setting the message names in the CCP's section",
            ));
            return Vec::new();
        }
    };
    let mut got = Vec::new();
    let mut failures = Vec::new();
    let mut fixes: Vec<String> = Vec::new();
    for (i, (field, r)) in references.iter().enumerate() {
        let query = CcpQuery::for_account(&r.safe, &r.object).reason(format!(
            "arkbridge doctor: check of bridge credential {field}"
        ));
        let outcome = match ccp.get(&query).await {
            Ok(account) => account.secret_property(r.property()).ok_or_else(|| {
                (
                    format!("the account has no property {}", r.property()),
                    format!("correct the property after `#` in {r}"),
                )
            }),
            Err(e) if e.is_unavailable() => {
                // An unreachable CCP would make every other fetch wait out its own timeouts
                // and retries for the same answer.
                failures.push(format!("{field} ({r}): {e}"));
                let rest: Vec<&str> = references[i + 1..].iter().map(|(f, _)| *f).collect();
                if !rest.is_empty() {
                    failures.push(format!("not tried: {}", rest.join(", ")));
                }
                fixes.push(ccp_fix(&e, &cfg.app_id));
                break;
            }
            Err(e) => Err((e.to_string(), ccp_fix(&e, &cfg.app_id))),
        };
        match outcome {
            Ok(value) => got.push((*field, r.safe.clone(), value)),
            Err((why, fix)) => {
                failures.push(format!("{field} ({r}): {why}"));
                if !fixes.contains(&fix) {
                    fixes.push(fix);
                }
            }
        }
    }
    let fields: Vec<&str> = references.iter().map(|(f, _)| *f).collect();
    report.push(if failures.is_empty() {
        Check::pass(
            name,
            format!(
                "the CCP at {} handed AppID {} the bridge's credentials: {}",
                cfg.url,
                cfg.app_id,
                fields.join(", ")
            ),
        )
    } else {
        Check::fail(name, failures.join("; "), fixes.join("; "))
    });
    got
}

/// The `pvwa-logon` check. Returns the session and the check's position, for the logoff.
pub(super) async fn pvwa_logon(
    config: &Config,
    fetched: &Fetched,
    report: &mut DoctorReport,
) -> Option<(PvwaClient, usize)> {
    const CHECK: &str = "pvwa-logon";
    let cfg = &config.cyberark.pvwa;
    let Some(password) = fetched.value("cyberark.pvwa.password") else {
        report.push(Check::warn(
            CHECK,
            "not checked: the PVWA password could not be fetched (see the ccp check)",
            "fix the ccp check first",
        ));
        return None;
    };
    match PvwaClient::logon(cfg, &password).await {
        Ok(session) => {
            let at = report.push(Check::pass(
                CHECK,
                format!(
                    "{} accepted {} ({}) and logged it on",
                    cfg.url,
                    cfg.username,
                    method(cfg.auth_method)
                ),
            ));
            Some((session, at))
        }
        Err(e) => {
            let fix = logon_fix(&e, "cyberark.pvwa.username", &cfg.password, &cfg.username);
            report.push(Check::fail(
                CHECK,
                format!("{} did not log {} on: {e}", cfg.url, cfg.username),
                fix,
            ));
            None
        }
    }
}

/// The `policy-apply-logon` check, when `[policy] apply_as` names a user of its own: the user
/// `policy apply` works as logs on, and off again at once.
pub(super) async fn apply_as_logon(config: &Config, fetched: &Fetched, report: &mut DoctorReport) {
    const CHECK: &str = "policy-apply-logon";
    let Some(who) = &config.policy.apply_as else {
        return;
    };
    if who
        .username
        .eq_ignore_ascii_case(&config.cyberark.pvwa.username)
    {
        return;
    }
    let Some(password) = fetched.value("policy.apply_as.password") else {
        report.push(Check::warn(
            CHECK,
            "not checked: the password of [policy] apply_as could not be fetched (see the ccp \
             check)",
            "fix the ccp check first",
        ));
        return;
    };
    let mut cfg = config.cyberark.pvwa.clone();
    cfg.username.clone_from(&who.username);
    let check = match PvwaClient::logon(&cfg, &password).await {
        Ok(session) => match session.logoff().await {
            Ok(()) => Check::pass(
                CHECK,
                format!(
                    "{} accepted {} (the user `policy apply` works as) and logged it on and off",
                    cfg.url, cfg.username
                ),
            ),
            Err(e) => Check::warn(
                CHECK,
                format!(
                    "{} logged {} on, but the logoff failed: {e}",
                    cfg.url, cfg.username
                ),
                "the session ends at the PVWA's inactivity timeout; look at the PVWA's logs for \
                 why the logoff failed",
            ),
        },
        Err(e) => Check::fail(
            CHECK,
            format!("{} did not log {} on: {e}", cfg.url, cfg.username),
            logon_fix(&e, "policy.apply_as.username", &who.password, &who.username),
        ),
    };
    report.push(check);
}

fn method(m: PvwaAuthMethod) -> &'static str {
    match m {
        PvwaAuthMethod::CyberArk => "CyberArk",
        PvwaAuthMethod::Ldap => "LDAP",
        PvwaAuthMethod::Radius => "RADIUS",
        PvwaAuthMethod::Ispss => "ISPSS",
    }
}

/// What to do about a failed logon of `username` (configured at `field`).
fn logon_fix(e: &CyberArkError, field: &str, password: &ConfigSecret, username: &str) -> String {
    if e.is_unavailable() {
        "check cyberark.pvwa.url, app_name and ca_cert and the network path to the PVWA; a 5xx \
         such as CAWS00001E means the PVWA cannot reach the Vault"
            .to_string()
    } else if matches!(e, CyberArkError::Config(_) | CyberArkError::Invalid { .. }) {
        "correct [cyberark.pvwa] as the message says".to_string()
    } else {
        format!(
            "check {field} and cyberark.pvwa.auth_method, and that the password {} is the \
             current one of {username} (not expired, the user not suspended)",
            source_text(password),
        )
    }
}

/// Logs the doctor's PVWA session off, noting the outcome on the `pvwa-logon` check.
pub(super) async fn logoff((session, at): (PvwaClient, usize), report: &mut DoctorReport) {
    let check = &mut report.checks[at];
    match session.logoff().await {
        Ok(()) => check.detail.push_str(", and off again"),
        Err(e) => {
            check.detail.push_str(&format!("; the logoff failed: {e}"));
            if check.status == CheckStatus::Pass {
                check.status = CheckStatus::Warn;
                check.fix = "the session ends at the PVWA's inactivity timeout; look at the \
                             PVWA's logs for why the logoff failed"
                    .into();
            }
        }
    }
}
