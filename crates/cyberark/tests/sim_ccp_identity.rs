//! Integration tests of the CCP client identities against `arkbridge-sim`: a PKCS#12 archive
//! made in the test from the simulator's `client.pem` / `client-key.pem` (written with
//! `p12-keystore`, and with `openssl pkcs12 -export -legacy`), the same through the config
//! fields `client_pkcs12` / `client_pkcs12_password_file`, and
//! AppID-only authentication (no client certificate), which the demo AppID refuses with
//! `403 APPAP306E` because it requires a certificate.

mod common;

use std::path::{Path, PathBuf};

use arkbridge_cyberark::{CcpClient, CcpQuery, CyberArkError};
use common::{Sim, no_retry, sim};
use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use secrecy::{ExposeSecret, SecretString};

const P12_PASSWORD: &str = "p12-pass word";

fn query() -> CcpQuery {
    CcpQuery::for_account("Prod-DB", "payments-db").reason("arkbridge pkcs12 test")
}

/// Writes `client.p12` from the simulator's PEM identity with p12-keystore.
fn write_p12(s: &Sim) -> PathBuf {
    let info = s.handle.info();
    let certs: Vec<Certificate> = CertificateDer::pem_file_iter(&info.client_cert)
        .unwrap()
        .map(|c| Certificate::from_der(c.unwrap().as_ref()).unwrap())
        .collect();
    let key = PrivatePkcs8KeyDer::from_pem_file(&info.client_key).unwrap();
    let key = PrivateKey::from_der(key.secret_pkcs8_der()).unwrap();
    let mut store = KeyStore::new();
    store.add_entry(
        "arkbridge",
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new("arkbridge", key, certs)),
    );
    let der = store.writer(P12_PASSWORD).write().unwrap();
    let path = s.dir.path().join("client.p12");
    std::fs::write(&path, der).unwrap();
    path
}

fn pkcs12_client(s: &Sim, p12: &Path, password: &str) -> Result<CcpClient, CyberArkError> {
    let mut cfg = s.config.cyberark.ccp.clone();
    cfg.client_cert = None;
    cfg.client_key = None;
    CcpClient::with_pkcs12(&cfg, p12, &SecretString::from(password), no_retry("ccp"))
}

#[tokio::test]
async fn ccp_fetch_with_a_pkcs12_identity() {
    let s = sim().await;
    let p12 = write_p12(&s);
    let ccp = pkcs12_client(&s, &p12, P12_PASSWORD).unwrap();
    let account = ccp.get(&query()).await.unwrap();
    assert!(!account.content().expose_secret().is_empty());
    assert_eq!(account.property("UserName"), Some("payments"));
}

#[tokio::test]
async fn ccp_fetch_with_a_legacy_openssl_pkcs12() {
    let s = sim().await;
    let info = s.handle.info();
    let p12 = s.dir.path().join("legacy.p12");
    let status = std::process::Command::new("openssl")
        .args(["pkcs12", "-export", "-legacy", "-inkey"])
        .arg(&info.client_key)
        .arg("-in")
        .arg(&info.client_cert)
        .arg("-out")
        .arg(&p12)
        .args(["-passout", &format!("pass:{P12_PASSWORD}")])
        .status();
    // openssl is a test dependency (.ci/run installs it): the legacy RC2/3DES archives that
    // older Windows and Java tooling still write must open.
    let status = status.expect("openssl must be installed (.ci/run installs it)");
    assert!(status.success(), "openssl pkcs12 -export -legacy failed");
    let ccp = pkcs12_client(&s, &p12, P12_PASSWORD).unwrap();
    assert!(
        !ccp.get(&query())
            .await
            .unwrap()
            .content()
            .expose_secret()
            .is_empty()
    );
}

/// The CCP config the way an administrator writes it for a PKCS#12 identity.
fn pkcs12_config(s: &Sim, p12: &Path, password_file: &Path) -> arkbridge_core::config::CcpConfig {
    let mut cfg = s.config.cyberark.ccp.clone();
    cfg.client_cert = None;
    cfg.client_key = None;
    cfg.client_pkcs12 = Some(p12.to_path_buf());
    cfg.client_pkcs12_password_file = Some(password_file.to_path_buf());
    cfg
}

fn write_password_file(s: &Sim, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = s.dir.path().join("p12-password");
    std::fs::write(&path, format!("{P12_PASSWORD}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[tokio::test]
async fn ccp_client_from_config_uses_client_pkcs12_and_its_password_file() {
    let s = sim().await;
    let p12 = write_p12(&s);
    let password_file = write_password_file(&s, 0o600);
    let ccp = CcpClient::new(&pkcs12_config(&s, &p12, &password_file)).unwrap();
    let account = ccp.get(&query()).await.unwrap();
    assert_eq!(account.property("UserName"), Some("payments"));
}

#[tokio::test]
async fn world_readable_pkcs12_password_file_is_refused() {
    let s = sim().await;
    let p12 = write_p12(&s);
    let password_file = write_password_file(&s, 0o644);
    let err = CcpClient::new(&pkcs12_config(&s, &p12, &password_file)).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("p12-password")
            && text.contains("every user")
            && !text.contains(P12_PASSWORD),
        "{text}"
    );
}

#[tokio::test]
async fn wrong_pkcs12_password_is_a_config_error_without_the_password() {
    let s = sim().await;
    let p12 = write_p12(&s);
    let err = pkcs12_client(&s, &p12, "not-the-hunter2-password").unwrap_err();
    assert!(matches!(err, CyberArkError::Config(_)), "{err:?}");
    let text = format!("{err:?} {err}");
    assert!(
        text.contains("client.p12") && !text.contains("hunter2"),
        "{text}"
    );
}

#[tokio::test]
async fn appid_only_without_certificate_is_refused_with_appap306e() {
    let s = sim().await;
    let mut cfg = s.config.cyberark.ccp.clone();
    cfg.client_cert = None;
    cfg.client_key = None;
    let ccp = CcpClient::with_resilience(&cfg, no_retry("ccp")).unwrap();
    let err = ccp.get(&query()).await.unwrap_err();
    assert!(
        matches!(err, CyberArkError::Refused { status: 403, .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), Some("APPAP306E"));
    assert!(
        !err.is_unavailable(),
        "an authentication refusal is no outage"
    );
}
