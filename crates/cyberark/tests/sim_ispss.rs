//! Integration tests of the Privilege Cloud Shared Services (ISPSS) mode against
//! `arkbridge-sim`: an OAuth2 `client_credentials` platform token from the simulator's
//! `/oauth2/platformtoken`, sent as `Authorization: Bearer` to a PVWA in bearer-only mode.

mod common;

use arkbridge_cyberark::{CyberArkError, PvwaClient, SafeSettings};
use common::{ADMIN_PASSWORD, Sim, no_retry, sim};
use secrecy::SecretString;

async fn ispss(s: &Sim, client_id: &str, secret: &str) -> Result<PvwaClient, CyberArkError> {
    let info = s.handle.info();
    PvwaClient::logon_ispss(
        &info.pvwa_url,
        &info.pvwa_url,
        client_id,
        &SecretString::from(secret),
        Some(&info.ca_cert),
        no_retry("pvwa"),
    )
    .await
}

#[tokio::test]
async fn platform_token_works_against_a_bearer_only_pvwa() {
    let s = sim().await;
    s.handle.set_bearer_only(true);
    let pvwa = ispss(&s, "Administrator", ADMIN_PASSWORD).await.unwrap();
    assert!(!format!("{pvwa:?}").contains(ADMIN_PASSWORD));
    let account = pvwa
        .find_account("Prod-DB", "payments-db")
        .await
        .unwrap()
        .expect("the demo account");
    assert_eq!(pvwa.get_account(&account.id).await.unwrap().id, account.id);
    let safe = pvwa
        .add_safe("Cloud-Safe", &SafeSettings::default())
        .await
        .unwrap();
    assert_eq!(safe.safe_name, "Cloud-Safe");
    pvwa.logoff().await.unwrap();
}

#[tokio::test]
async fn ispss_from_config_logs_on_with_identity_url_and_service_user() {
    let s = sim().await;
    s.handle.set_bearer_only(true);
    let info = s.handle.info();
    let mut cfg = s.config.cyberark.pvwa.clone();
    cfg.auth_method = arkbridge_core::config::PvwaAuthMethod::Ispss;
    cfg.identity_url = Some(info.pvwa_url.clone());
    // Pasted with the application path, as Privilege Cloud's portal shows it.
    cfg.url = format!("{}/PasswordVault/", info.pvwa_url.trim_end_matches('/'));
    cfg.username = "Administrator".into();
    let pvwa = PvwaClient::logon_with(&cfg, &SecretString::from(ADMIN_PASSWORD), no_retry("pvwa"))
        .await
        .unwrap();
    assert!(
        pvwa.find_account("Prod-DB", "payments-db")
            .await
            .unwrap()
            .is_some()
    );
    pvwa.logoff().await.unwrap();
}

#[tokio::test]
async fn raw_token_header_is_refused_in_bearer_only_mode() {
    let s = sim().await;
    s.handle.set_bearer_only(true);
    let mut cfg = s.config.cyberark.pvwa.clone();
    cfg.username = "Administrator".into();
    let pvwa = PvwaClient::logon_with(&cfg, &SecretString::from(ADMIN_PASSWORD), no_retry("pvwa"))
        .await
        .unwrap();
    let err = pvwa.get_safe("Prod-DB").await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err:?}");
    assert!(!err.is_unavailable());
}

#[tokio::test]
async fn a_new_platform_token_is_fetched_after_the_sessions_are_killed() {
    let s = sim().await;
    s.handle.set_bearer_only(true);
    let pvwa = ispss(&s, "Administrator", ADMIN_PASSWORD).await.unwrap();
    pvwa.get_safe("Prod-DB").await.unwrap();
    assert!(s.handle.kill_sessions() >= 1);
    let safe = pvwa.get_safe("Prod-DB").await.unwrap();
    assert_eq!(safe.safe_name, "Prod-DB");
}

#[tokio::test]
async fn wrong_client_secret_is_an_invalid_client_refusal() {
    let s = sim().await;
    s.handle.set_bearer_only(true);
    let err = ispss(&s, "Administrator", "wrong-secret-hunter2")
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(401), Some("invalid_client")),
        "{err:?}"
    );
    assert!(!err.is_unavailable());
    assert!(!format!("{err:?} {err}").contains("hunter2"));
}

#[tokio::test]
async fn vault_down_keeps_identity_up_but_the_pvwa_is_unavailable() {
    let s = sim().await;
    s.handle.set_bearer_only(true);
    s.handle.set_vault_down(true);
    let pvwa = ispss(&s, "Administrator", ADMIN_PASSWORD).await.unwrap();
    let err = pvwa.get_safe("Prod-DB").await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    s.handle.set_vault_down(false);
    pvwa.get_safe("Prod-DB").await.unwrap();
}
