//! `arkbridge doctor`: the CCP client certificate's validity period.
//!
//! The certificate is read the way the CCP client reads it (the PEM `client_cert`, or the first
//! certificate of the key's chain in `client_pkcs12`, opened with the password from
//! `client_pkcs12_password_env` or the deprecated password file) and parsed with x509-parser.
//! Expired or not yet valid: `fail`; expiring within [`EXPIRY_WARNING_DAYS`]: `warn`. Errors
//! name files, never their content or the PKCS#12 password.

use std::path::Path;

use arkbridge_core::config::CcpConfig;
use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
use secrecy::{ExposeSecret, SecretString};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::Check;

/// A certificate that expires within this many days is a warning.
pub(crate) const EXPIRY_WARNING_DAYS: i64 = 30;

const DAY: i64 = 86_400;

/// The facts of a certificate the grading needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Validity {
    pub(crate) subject: String,
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
}

/// Reads the subject and validity period of a DER certificate.
pub(crate) fn validity_of(der: &[u8]) -> Result<Validity, String> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| format!("is not a valid X.509 certificate ({e})"))?;
    let v = cert.validity();
    Ok(Validity {
        subject: cert.subject().to_string(),
        not_before: v.not_before.timestamp(),
        not_after: v.not_after.timestamp(),
    })
}

/// The first certificate of a PEM file, as DER.
fn first_pem_certificate(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot be read ({e})"))?;
    for pem in x509_parser::pem::Pem::iter_from_buffer(&bytes) {
        // An invalid block is reported without its content: it may be a private key.
        let pem = pem.map_err(|_| "holds an invalid PEM block".to_string())?;
        if pem.label == "CERTIFICATE" {
            return Ok(pem.contents);
        }
    }
    Err("holds no PEM certificate".into())
}

/// The PKCS#12 password, from where the CCP client takes it: the environment variable
/// `client_pkcs12_password_env`, else the (deprecated) password file, else empty.
fn pkcs12_password(cfg: &CcpConfig) -> Result<SecretString, String> {
    if let Some(var) = &cfg.client_pkcs12_password_env {
        return std::env::var(var).map(SecretString::from).map_err(|_| {
            format!("cannot be opened: its password variable {var} is not set (or not UTF-8)")
        });
    }
    let Some(file) = &cfg.client_pkcs12_password_file else {
        return Ok(SecretString::from(String::new()));
    };
    let text = std::fs::read(file)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            format!(
                "cannot be opened: its password file {} is unreadable or not UTF-8",
                file.display()
            )
        })?;
    let line = text.strip_suffix('\n').unwrap_or(&text);
    let line = line.strip_suffix('\r').unwrap_or(line);
    Ok(SecretString::from(line.to_string()))
}

/// The certificate of the private key's chain in a PKCS#12 file.
fn pkcs12_certificate(cfg: &CcpConfig, path: &Path) -> Result<Vec<u8>, String> {
    let password = pkcs12_password(cfg)?;
    let data = std::fs::read(path).map_err(|e| format!("cannot be read ({e})"))?;
    let store = KeyStore::from_pkcs12(&data, password.expose_secret(), Pkcs12ImportPolicy::Relaxed)
        .map_err(|_| "cannot be opened (wrong password or not PKCS#12)".to_string())?;
    let (_, chain) = store
        .private_key_chain()
        .ok_or_else(|| "holds no private key".to_string())?;
    chain
        .certs()
        .first()
        .map(|c| c.as_der().to_vec())
        .ok_or_else(|| "holds a private key without its certificate".to_string())
}

/// A Unix time as an RFC 3339 date and time (UTC).
fn date(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| format!("{secs} (Unix time)"))
}

/// Grades a certificate's validity at `now` (Unix seconds).
pub(crate) fn grade(name: &str, what: &str, v: &Validity, now: i64) -> Check {
    let renew = "issue a new client certificate for the AppID, update the CCP Application's \
                 certificate serial number or subject if they change, and point \
                 cyberark.ccp.client_cert/client_key (or client_pkcs12) at it";
    if now < v.not_before {
        return Check::fail(
            name,
            format!(
                "{what} ({}) is not valid before {}: the CCP refuses it until then",
                v.subject,
                date(v.not_before)
            ),
            format!("check this machine's clock, or {renew}"),
        );
    }
    if now > v.not_after {
        return Check::fail(
            name,
            format!(
                "{what} ({}) expired on {}: the CCP refuses it",
                v.subject,
                date(v.not_after)
            ),
            renew,
        );
    }
    let days = (v.not_after - now) / DAY;
    if days < EXPIRY_WARNING_DAYS {
        return Check::warn(
            name,
            format!(
                "{what} ({}) expires on {}, in {days} day(s)",
                v.subject,
                date(v.not_after)
            ),
            format!("before it expires, {renew}"),
        );
    }
    Check::pass(
        name,
        format!(
            "{what} ({}) is valid until {} ({days} days)",
            v.subject,
            date(v.not_after)
        ),
    )
}

/// The check `name` of a CCP configuration's client certificate at `now` (Unix seconds).
pub(crate) fn check(name: &str, cfg: &CcpConfig, now: i64) -> Check {
    let (what, der) = match (&cfg.client_pkcs12, &cfg.client_cert) {
        (Some(p12), _) => (
            format!("the certificate in {}", p12.display()),
            pkcs12_certificate(cfg, p12),
        ),
        (None, Some(pem)) => (
            format!("client certificate {}", pem.display()),
            first_pem_certificate(pem),
        ),
        (None, None) => {
            return Check::warn(
                name,
                "no client certificate is configured: the CCP knows the bridge only by its \
                 AppID and address",
                "authenticate the AppID by client certificate as well: set \
                 cyberark.ccp.client_cert and client_key (or client_pkcs12)",
            );
        }
    };
    let fix = "point the setting at the PEM certificate (or PKCS#12 archive) the CCP \
               Application expects";
    match der.and_then(|d| validity_of(&d)) {
        Ok(v) => grade(name, &what, &v, now),
        Err(e) => Check::fail(name, format!("{what} {e}"), fix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::CheckStatus;

    const NOW: i64 = 1_790_000_000;

    fn cert(not_before: i64, not_after: i64) -> (String, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "arkbridge");
        // rcgen takes the `time` crate's date type, which x509-parser converts to.
        let time_of = |secs| {
            x509_parser::time::ASN1Time::from_timestamp(secs)
                .unwrap()
                .to_datetime()
        };
        params.not_before = time_of(not_before);
        params.not_after = time_of(not_after);
        (params.self_signed(&key).unwrap().pem(), key)
    }

    fn validity(not_before: i64, not_after: i64) -> Validity {
        Validity {
            subject: "CN=arkbridge".into(),
            not_before,
            not_after,
        }
    }

    #[test]
    fn grades_expired_not_yet_valid_expiring_and_fine() {
        let g = |nb: i64, na: i64| {
            grade(
                "client-certificate",
                "client certificate c.pem",
                &validity(nb, na),
                NOW,
            )
        };
        let expired = g(NOW - 400 * DAY, NOW - DAY);
        assert_eq!(expired.status, CheckStatus::Fail);
        assert!(expired.detail.contains("expired on"), "{}", expired.detail);
        assert!(
            expired.fix.contains("new client certificate"),
            "{}",
            expired.fix
        );
        let early = g(NOW + DAY, NOW + 400 * DAY);
        assert_eq!(early.status, CheckStatus::Fail);
        assert!(
            early.detail.contains("not valid before"),
            "{}",
            early.detail
        );
        let soon = g(NOW - DAY, NOW + 10 * DAY);
        assert_eq!(soon.status, CheckStatus::Warn);
        assert!(soon.detail.contains("in 10 day(s)"), "{}", soon.detail);
        let edge = g(NOW - DAY, NOW + EXPIRY_WARNING_DAYS * DAY);
        assert_eq!(edge.status, CheckStatus::Pass, "{}", edge.detail);
        let fine = g(NOW - DAY, NOW + 365 * DAY);
        assert_eq!(fine.status, CheckStatus::Pass);
        assert!(fine.detail.contains("365 days"), "{}", fine.detail);
    }

    #[test]
    fn reads_the_validity_of_a_pem_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (pem, _) = cert(NOW - DAY, NOW - 60);
        let path = dir.path().join("client.pem");
        std::fs::write(&path, pem).unwrap();
        let mut cfg = ccp_config();
        cfg.client_cert = Some(path.clone());
        cfg.client_key = Some(dir.path().join("client-key.pem"));
        let c = check("client-certificate", &cfg, NOW);
        assert_eq!(c.status, CheckStatus::Fail, "{}", c.detail);
        assert!(
            c.detail.contains("CN=arkbridge") && c.detail.contains("expired"),
            "{}",
            c.detail
        );
        assert!(c.detail.contains("client.pem"), "{}", c.detail);
    }

    #[test]
    fn reads_the_certificate_of_a_pkcs12_archive_with_its_password_file() {
        let dir = tempfile::tempdir().unwrap();
        let (pem, key) = cert(NOW - DAY, NOW + 5 * DAY);
        let der = x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes())
            .next()
            .unwrap()
            .unwrap()
            .contents;
        let chain = p12_keystore::PrivateKeyChain::new(
            vec![1u8; 20],
            p12_keystore::PrivateKey::from_der(&key.serialize_der()).unwrap(),
            [p12_keystore::Certificate::from_der(&der).unwrap()],
        );
        let mut store = KeyStore::new();
        store.add_entry(
            "arkbridge",
            p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
        );
        let p12 = dir.path().join("client.p12");
        std::fs::write(&p12, store.writer("pw-hunter2").write().unwrap()).unwrap();
        let pw = dir.path().join("p12-password");
        std::fs::write(&pw, "pw-hunter2\n").unwrap();
        let mut cfg = ccp_config();
        cfg.client_pkcs12 = Some(p12);
        cfg.client_pkcs12_password_file = Some(pw.clone());
        let c = check("client-certificate", &cfg, NOW);
        assert_eq!(c.status, CheckStatus::Warn, "{}", c.detail);
        assert!(c.detail.contains("client.p12"), "{}", c.detail);
        std::fs::write(&pw, "wrong").unwrap();
        let c = check("client-certificate", &cfg, NOW);
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(
            c.detail.contains("wrong password") && !c.detail.contains("hunter2"),
            "{}",
            c.detail
        );
        // The variable wins over the deprecated file, as in the CCP client.
        cfg.client_pkcs12_password_env = Some("ARKBRIDGE_DOCTOR_TEST_VARIABLE_NEVER_SET".into());
        let c = check("client-certificate", &cfg, NOW);
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(
            c.detail
                .contains("ARKBRIDGE_DOCTOR_TEST_VARIABLE_NEVER_SET"),
            "{}",
            c.detail
        );
    }

    #[test]
    fn unreadable_or_odd_files_fail_without_quoting_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.pem");
        std::fs::write(
            &path,
            "-----BEGIN PRIVATE KEY-----\nSECRETISH\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let mut cfg = ccp_config();
        cfg.client_cert = Some(path);
        let c = check("client-certificate", &cfg, NOW);
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(!c.detail.contains("SECRETISH"), "{}", c.detail);
        cfg.client_cert = Some(dir.path().join("missing.pem"));
        let c = check("client-certificate", &cfg, NOW);
        assert!(
            c.detail.contains("missing.pem") && c.detail.contains("cannot be read"),
            "{}",
            c.detail
        );
        cfg.client_cert = None;
        assert_eq!(
            check("client-certificate", &cfg, NOW).status,
            CheckStatus::Warn
        );
    }

    fn ccp_config() -> CcpConfig {
        CcpConfig {
            url: "https://ccp.example.com".into(),
            web_service: "AIMWebService".into(),
            app_id: "arkbridge".into(),
            ca_cert: None,
            client_cert: None,
            client_key: None,
            client_pkcs12: None,
            client_pkcs12_password_file: None,
            client_pkcs12_password_env: None,
            connection_timeout_secs: 30,
        }
    }
}
