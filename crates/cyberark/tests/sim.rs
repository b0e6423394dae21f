//! Integration tests against `arkbridge-sim`: the CCP over mutual TLS, the PVWA session with
//! re-logon, and a CPM change end to end. Each test starts its own simulator in a temp folder
//! and reads the `arkbridge.toml` it writes, exactly as the bridge would.

use std::time::Duration;

use arkbridge_core::config::{Config, ConfigSecret};
use arkbridge_core::secret_ref::SecretRef;
use arkbridge_cyberark::{CcpClient, CcpQuery, CyberArkError, PvwaClient};
use arkbridge_sim::{SimHandle, SimOptions};
use secrecy::{ExposeSecret, SecretString};

struct Sim {
    _dir: tempfile::TempDir,
    handle: SimHandle,
    config: Config,
}

async fn sim() -> Sim {
    let dir = tempfile::tempdir().unwrap();
    let handle = arkbridge_sim::start(SimOptions {
        dir: dir.path().to_path_buf(),
        seed: None,
        cpm_delay: Duration::from_millis(50),
    })
    .await
    .unwrap();
    let config = Config::load(&dir.path().join("arkbridge.toml")).unwrap();
    Sim {
        _dir: dir,
        handle,
        config,
    }
}

fn query(reference: &str) -> CcpQuery {
    let r: SecretRef = reference.parse().unwrap();
    CcpQuery::for_account(&r.safe, &r.object).reason("arkbridge integration test")
}

/// Resolves the PVWA service password through the CCP, as the bridge does at start.
async fn pvwa_password(ccp: &CcpClient, config: &Config) -> SecretString {
    let ConfigSecret::Reference(r) = &config.cyberark.pvwa.password else {
        panic!("the sim config should reference the PVWA password");
    };
    let account = ccp
        .get(&CcpQuery::for_account(&r.safe, &r.object))
        .await
        .unwrap();
    account.secret_property(r.property()).unwrap()
}

#[tokio::test]
async fn ccp_fetch_with_client_certificate() {
    let s = sim().await;
    let ccp = CcpClient::new(&s.config.cyberark.ccp).unwrap();
    let account = ccp
        .get(&query("cyberark://Prod-DB/payments-db"))
        .await
        .unwrap();
    assert!(!account.content().expose_secret().is_empty());
    assert_eq!(account.property("UserName"), Some("payments"));
    assert_eq!(account.property("address"), Some("db.prod.example.com"));
    assert_eq!(account.property("PORT"), Some("5432"));
    assert_eq!(account.property("Content"), None);
    assert!(!account.password_change_in_process());
    let dbg = format!("{account:?}");
    assert!(!dbg.contains(account.content().expose_secret()), "{dbg}");
}

#[tokio::test]
async fn ccp_not_found_is_a_refusal() {
    let s = sim().await;
    let ccp = CcpClient::new(&s.config.cyberark.ccp).unwrap();
    let err = ccp
        .get(&query("cyberark://Prod-DB/no-such-account"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CyberArkError::Refused { status: 404, .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), Some("APPAP004E"));
    assert!(!err.is_unavailable());
}

#[tokio::test]
async fn ccp_vault_down_is_unavailable() {
    let s = sim().await;
    let ccp = CcpClient::new(&s.config.cyberark.ccp).unwrap();
    s.handle.set_vault_down(true);
    let err = ccp
        .get(&query("cyberark://Prod-DB/payments-db"))
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(err.to_string().contains("APPAP007E"), "{err}");
    s.handle.set_vault_down(false);
    ccp.get(&query("cyberark://Prod-DB/payments-db"))
        .await
        .unwrap();
}

#[tokio::test]
async fn ccp_without_client_certificate_fails() {
    let s = sim().await;
    let mut cfg = s.config.cyberark.ccp.clone();
    cfg.client_cert = None;
    cfg.client_key = None;
    let ccp = CcpClient::new(&cfg).unwrap();
    let err = ccp
        .get(&query("cyberark://Prod-DB/payments-db"))
        .await
        .unwrap_err();
    // The simulator accepts the TLS handshake without a certificate and refuses the AppID,
    // which requires one (see also tests/sim_ccp_identity.rs).
    assert_eq!(
        (err.status(), err.code()),
        (Some(403), Some("APPAP306E")),
        "{err:?}"
    );
}

#[tokio::test]
async fn pvwa_change_and_wait_for_cpm() {
    let s = sim().await;
    let ccp = CcpClient::new(&s.config.cyberark.ccp).unwrap();
    let password = pvwa_password(&ccp, &s.config).await;
    let pvwa = PvwaClient::logon(&s.config.cyberark.pvwa, &password)
        .await
        .unwrap();
    assert!(!format!("{pvwa:?}").contains(password.expose_secret()));

    let account = pvwa
        .find_account("Prod-DB", "payments-db")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.name, "payments-db");
    assert_eq!(account.safe_name, "Prod-DB");
    assert!(
        pvwa.find_account("Prod-DB", "payments")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        pvwa.find_account("No-Such-Safe", "payments-db")
            .await
            .unwrap()
            .is_none()
    );

    let before = ccp
        .get(&query("cyberark://Prod-DB/payments-db"))
        .await
        .unwrap();
    let read = pvwa.get_account(&account.id).await.unwrap();
    assert_eq!(read.id, account.id);
    pvwa.change(&account.id).await.unwrap();
    let done = pvwa
        .wait_for_change_after(
            &account.id,
            read.secret_management.last_modified_time,
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    assert_eq!(done.secret_management.status.as_deref(), Some("success"));
    let after = ccp
        .get(&query("cyberark://Prod-DB/payments-db"))
        .await
        .unwrap();
    assert_ne!(
        before.content().expose_secret(),
        after.content().expose_secret()
    );

    // A second change, observed through the plain wait.
    pvwa.change(&account.id).await.unwrap();
    pvwa.wait_for_cpm(&account.id, Duration::from_secs(20))
        .await
        .unwrap();
    pvwa.logoff().await.unwrap();
}

#[tokio::test]
async fn pvwa_logs_on_again_after_session_expiry() {
    let s = sim().await;
    let ccp = CcpClient::new(&s.config.cyberark.ccp).unwrap();
    let password = pvwa_password(&ccp, &s.config).await;
    let pvwa = PvwaClient::logon(&s.config.cyberark.pvwa, &password)
        .await
        .unwrap();
    let account = pvwa
        .find_account("Prod-DB", "payments-db")
        .await
        .unwrap()
        .unwrap();

    // With a zero timeout every token dies at its next use: the client logs on again once,
    // the retry fails too, and the refusal is reported (no endless loop).
    s.handle.set_session_timeout(Duration::ZERO);
    let err = pvwa.get_account(&account.id).await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(401), Some("PASWS006E")),
        "{err:?}"
    );

    // With a normal timeout the (now dead) token is replaced transparently.
    s.handle.set_session_timeout(Duration::from_secs(1200));
    let again = pvwa.get_account(&account.id).await.unwrap();
    assert_eq!(again.id, account.id);
}

#[tokio::test]
async fn pvwa_bad_password_is_refused() {
    let s = sim().await;
    let err = PvwaClient::logon(
        &s.config.cyberark.pvwa,
        &SecretString::from("wrong-password"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, CyberArkError::Refused { .. }), "{err:?}");
    assert!(!err.to_string().contains("wrong-password"));
}

/// The bridge's service identity may rotate but not read (no `retrieveAccounts` on Prod-DB):
/// the PVWA retrieve is a refusal, not an outage. The change it may do shows in the activities.
#[tokio::test]
async fn pvwa_retrieve_is_refused_and_activities_show_the_change() {
    let s = sim().await;
    let ccp = CcpClient::new(&s.config.cyberark.ccp).unwrap();
    let password = pvwa_password(&ccp, &s.config).await;
    let pvwa = PvwaClient::logon(&s.config.cyberark.pvwa, &password)
        .await
        .unwrap();
    let account = pvwa
        .find_account("Prod-DB", "payments-db")
        .await
        .unwrap()
        .unwrap();
    let err = pvwa
        .retrieve_password(&account.id, "sim test", Some(("ServiceNow", "INC0042")))
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.is_unavailable()),
        (Some(403), false),
        "{err:?}"
    );
    pvwa.change(&account.id).await.unwrap();
    let activities = pvwa.account_activities(&account.id).await.unwrap();
    let change = activities
        .iter()
        .find(|a| a.action_id == Some(97))
        .expect("the change request is in the activity log");
    assert_eq!(change.user, s.config.cyberark.pvwa.username);
    assert!(change.date.is_some_and(|d| d > 1_600_000_000), "{change:?}");
}
