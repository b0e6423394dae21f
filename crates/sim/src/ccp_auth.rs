//! How the CCP authenticates its caller and decides what it may retrieve.
//!
//! The caller is the application named by `AppID`: unknown, disabled and expired applications
//! are 403 APPAP008E; a client address that is not an allowed machine, or a client certificate
//! that is missing or does not match the application's subject CN or serial number, is 403
//! APPAP306E. An account may be retrieved when the application, and the Provider user when the
//! seed names one, both hold `listAccounts` and `retrieveAccounts` in its safe.

use axum::http::StatusCode;
use axum::response::Response;

use crate::ccp::error;
use crate::perms::Permission;
use crate::state::{self, Principal, Vault};
use crate::tls::ConnInfo;

/// Checks the application and the connection; `Ok` is the application's name as the Vault
/// spells it.
pub(crate) fn authenticate(
    vault: &Vault,
    app_id: &str,
    conn: &ConnInfo,
) -> Result<String, Response> {
    let Some(app) = vault.app(app_id) else {
        tracing::debug!(app_id, "CCP: unknown application");
        return Err(error(
            StatusCode::FORBIDDEN,
            "APPAP008E",
            format!(
                "Problem occurred while trying to use user in the Vault (Diagnostic Info: 13). \
                 ITATS982E User {app_id} is not defined."
            ),
        ));
    };
    if app.disabled {
        tracing::debug!(app_id, "CCP: application disabled");
        return Err(error(
            StatusCode::FORBIDDEN,
            "APPAP008E",
            format!(
                "Problem occurred while trying to use user in the Vault (Diagnostic Info: 13). \
                 ITATS002E User {app_id} is suspended."
            ),
        ));
    }
    if app.expires.is_some_and(|e| e <= state::now_epoch()) {
        tracing::debug!(app_id, "CCP: application expired");
        return Err(error(
            StatusCode::FORBIDDEN,
            "APPAP008E",
            format!(
                "Problem occurred while trying to use user in the Vault (Diagnostic Info: 13). \
                 User {app_id} has expired."
            ),
        ));
    }
    let auth_failure = if !app.machine_allowed(conn.peer.ip()) {
        Some("client address is not an allowed machine")
    } else if app.cert_subject_cn.is_some() || app.cert_serial.is_some() {
        match &conn.client_cert {
            None => Some("no client certificate"),
            Some(cert) => {
                let cn_ok = app.cert_subject_cn.as_ref().is_none_or(|want| {
                    cert.subject_cn
                        .as_deref()
                        .is_some_and(|cn| cn.eq_ignore_ascii_case(want))
                });
                let serial_ok = app.cert_serial.as_ref().is_none_or(|want| {
                    let want: String = want.chars().filter(char::is_ascii_hexdigit).collect();
                    want.trim_start_matches('0')
                        .eq_ignore_ascii_case(cert.serial.trim_start_matches('0'))
                });
                (!(cn_ok && serial_ok)).then_some("client certificate does not match")
            }
        }
    } else {
        None
    };
    let app_name = app.name.clone();
    if let Some(why) = auth_failure {
        tracing::debug!(app_id, peer = %conn.peer, why, "CCP: authentication check failed");
        return Err(error(
            StatusCode::FORBIDDEN,
            "APPAP306E",
            format!(
                "Failed to verify application authentication data for application [{app_name}]. \
                 Please check the application's authentication methods."
            ),
        ));
    }
    Ok(app_name)
}

/// Whether the application, and the Provider user when there is one, may retrieve from `safe`.
pub(crate) fn may_retrieve(vault: &Vault, safe: &str, app: &str) -> bool {
    let both = |who: Principal<'_>| {
        vault.has(safe, who, Permission::ListAccounts)
            && vault.has(safe, who, Permission::RetrieveAccounts)
    };
    both(Principal::App(app))
        && vault
            .provider_user
            .as_deref()
            .is_none_or(|p| both(Principal::Provider(p)))
}
