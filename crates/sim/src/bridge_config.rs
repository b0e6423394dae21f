//! The `arkbridge.toml` the simulator writes: a bridge configuration that points at the three
//! simulated services, trusts the simulator CA, authenticates to the CCP with the generated client
//! certificate and takes its own credentials from CyberArk by reference.

use std::collections::BTreeMap;
use std::path::Path;

use arkbridge_core::SecretRef;
use arkbridge_core::config::{
    CcpConfig, Config, ConfigSecret, ConfluenceAuth, ConfluenceConfig, ConfluenceFlavor,
    CyberArkConfig, GroupsFrom, IdentityConfig, IdentityProvider, LocalUser, OidcSection,
    PvwaAuthMethod, PvwaConfig, RunnerConfig, SafePolicy, ScannerConfig,
};

use crate::SimInfo;
use crate::error::SimError;
use crate::seed::Seed;

/// The reference to the account whose secret is linked to a user (`secretOf`).
fn linked_reference(
    seed: &Seed,
    pvwa: Option<&str>,
    confluence: Option<&str>,
) -> Option<SecretRef> {
    seed.safes.iter().find_map(|safe| {
        safe.accounts.iter().find_map(|a| {
            let link = a.secret_of.as_ref()?;
            let hit = match (pvwa, confluence) {
                (Some(u), _) => link
                    .pvwa_user
                    .as_deref()
                    .is_some_and(|l| l.eq_ignore_ascii_case(u)),
                (_, Some(u)) => link
                    .confluence_user
                    .as_deref()
                    .is_some_and(|l| l.eq_ignore_ascii_case(u)),
                _ => false,
            };
            hit.then(|| SecretRef::new(&safe.name, &a.name))
        })
    })
}

/// Builds the bridge configuration for a started simulator whose files live in `dir` (absolute).
pub(crate) fn build(seed: &Seed, info: &SimInfo, dir: &Path) -> Result<Config, SimError> {
    let b = &seed.bridge;
    let pvwa_ref = linked_reference(seed, Some(&b.pvwa_user), None).ok_or_else(|| {
        SimError::Config(format!(
            "no account in the seed has `secretOf: {{pvwaUser: {}}}`, so the PVWA password \
             cannot be given by reference",
            b.pvwa_user
        ))
    })?;
    let token_ref = linked_reference(seed, None, Some(&b.confluence_user)).ok_or_else(|| {
        SimError::Config(format!(
            "no account in the seed has `secretOf: {{confluenceUser: {}}}`, so the Confluence \
             token cannot be given by reference",
            b.confluence_user
        ))
    })?;
    let users = seed
        .confluence_users
        .iter()
        .filter(|u| !u.email.eq_ignore_ascii_case(&b.confluence_user))
        .map(|u| LocalUser {
            confluence_account_id: Some(crate::wiki::account_id_for(&u.email)),
            email: u.email.clone(),
            groups: seed
                .groups
                .iter()
                .filter(|g| g.members.iter().any(|m| m.eq_ignore_ascii_case(&u.email)))
                .map(|g| g.name.clone())
                .collect(),
        })
        .collect();
    let safes: BTreeMap<String, SafePolicy> = b
        .rotation
        .iter()
        .map(|(safe, rotation)| {
            (
                safe.clone(),
                SafePolicy {
                    rotation: *rotation,
                },
            )
        })
        .collect();
    Ok(Config {
        data_dir: dir.join("data"),
        allow_inline_secrets: false,
        identity: IdentityConfig {
            provider: IdentityProvider::LocalTrusted,
            users,
            oidc: None,
            ldap: None,
        },
        cyberark: CyberArkConfig {
            ccp: CcpConfig {
                url: info.ccp_url.clone(),
                web_service: "AIMWebService".into(),
                app_id: info.app_id.clone(),
                ca_cert: Some(info.ca_cert.clone()),
                client_cert: Some(info.client_cert.clone()),
                client_key: Some(info.client_key.clone()),
                client_pkcs12: None,
                client_pkcs12_password_file: None,
                client_pkcs12_password_env: None,
                connection_timeout_secs: 30,
            },
            pvwa: PvwaConfig {
                url: info.pvwa_url.clone(),
                app_name: "PasswordVault".into(),
                auth_method: PvwaAuthMethod::CyberArk,
                username: info.pvwa_user.clone(),
                password: ConfigSecret::Reference(pvwa_ref),
                identity_url: None,
                ca_cert: Some(info.ca_cert.clone()),
                cpm_wait_secs: 120,
            },
            fallback_ccp: None,
            fallback_cache: None,
        },
        confluence: ConfluenceConfig {
            url: info.confluence_url.clone(),
            flavor: ConfluenceFlavor::Cloud,
            auth: ConfluenceAuth::Basic,
            user: info.confluence_user.clone(),
            token: ConfigSecret::Reference(token_ref),
            cloud_id: None,
            gateway_url: None,
            ca_cert: Some(info.ca_cert.clone()),
            max_requests_per_second: None,
        },
        runner: RunnerConfig::default(),
        safes,
        policy: b.policy.clone(),
        grants: b.grants.clone(),
        server: Default::default(),
        daily: Default::default(),
        audit: Default::default(),
        rotation: Default::default(),
        store: Default::default(),
        cluster: Default::default(),
        scanner: ScannerConfig {
            fingerprint_key: seed
                .safes
                .iter()
                .find(|safe| safe.accounts.iter().any(|a| a.name == SCAN_FINGERPRINT_KEY))
                .map(|safe| {
                    ConfigSecret::Reference(SecretRef::new(&safe.name, SCAN_FINGERPRINT_KEY))
                }),
            vault_platform: None,
        },
    })
}

/// The account whose secret keys the scanner's finding fingerprints, when the seed has one.
const SCAN_FINGERPRINT_KEY: &str = "scan-fingerprint-key";

/// The same bridge configuration with its users verified by the simulator's OIDC provider (its
/// first public client, for the CLI's device authorization grant; groups from the token)
/// instead of `local-trusted`: what `arkbridge demo` runs on, and `arkbridge-oidc.toml`.
pub(crate) fn with_oidc(config: &Config, info: &SimInfo) -> Config {
    let mut config = config.clone();
    config.identity = IdentityConfig {
        provider: IdentityProvider::Oidc,
        users: Vec::new(),
        oidc: Some(OidcSection {
            issuer: info.identity.oidc_issuer.clone(),
            client_id: info
                .identity
                .oidc_clients
                .iter()
                .find(|c| c.client_secret.is_none())
                .map_or_else(
                    || info.identity.oidc_client_id.clone(),
                    |c| c.client_id.clone(),
                ),
            api_audience: Some(info.identity.oidc_api_audience.clone()),
            groups_claim: info.identity.oidc_groups_claim.clone(),
            email_claim: "email".into(),
            confluence_account_claim: info.identity.oidc_account_id_claim.clone(),
            ca_cert: Some(info.ca_cert.clone()),
            groups_from: GroupsFrom::Token,
        }),
        ldap: None,
    };
    config
}
