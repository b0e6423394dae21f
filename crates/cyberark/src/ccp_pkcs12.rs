//! A PKCS#12 (`.p12` / `.pfx`) client identity for the CCP.
//!
//! reqwest's `Identity::from_pkcs12_der` exists only with native-tls, so the archive is opened
//! with `p12-keystore` (modern AES/PBKDF2 and legacy RC2/3DES archives) and its key and chain are
//! handed to rustls in memory (DER, the form PEM would be decoded into anyway). The password comes
//! from an environment variable (or, deprecated, a file). The file buffer is
//! wiped after use; the password is a [`SecretString`]; errors name the file, never its content
//! or the password.

use std::path::Path;

use arkbridge_core::config::CcpConfig;
use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::CcpClient;
use crate::error::CyberArkError;
use crate::retry::Resilience;
use crate::tls::{self, Identity};

/// Reads the first private key and its certificate chain (leaf first) from a PKCS#12 file.
pub(crate) fn load_pkcs12(path: &Path, password: &SecretString) -> Result<Identity, CyberArkError> {
    let data = std::fs::read(path).map(Zeroizing::new).map_err(|e| {
        CyberArkError::Config(format!("cannot read PKCS#12 file {}: {e}", path.display()))
    })?;
    let store = KeyStore::from_pkcs12(&data, password.expose_secret(), Pkcs12ImportPolicy::Relaxed)
        .map_err(|e| {
            CyberArkError::Config(format!(
                "PKCS#12 file {} cannot be opened (wrong password or not PKCS#12): {e}",
                path.display()
            ))
        })?;
    let Some((_, chain)) = store.private_key_chain() else {
        return Err(CyberArkError::Config(format!(
            "PKCS#12 file {} holds no private key",
            path.display()
        )));
    };
    let certs: Vec<CertificateDer<'static>> = chain
        .certs()
        .iter()
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect();
    if certs.is_empty() {
        return Err(CyberArkError::Config(format!(
            "PKCS#12 file {} holds a private key without its certificate",
            path.display()
        )));
    }
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()));
    Ok((certs, key))
}

/// Reads the PKCS#12 password from the environment variable `var` (as a service manager sets
/// it). An unset or non-UTF-8 variable is an error naming the variable, never a silent empty
/// password: a missing variable is a deployment mistake.
pub(crate) fn read_password_env(var: &str) -> Result<SecretString, CyberArkError> {
    match std::env::var(var) {
        Ok(value) => Ok(SecretString::from(value)),
        Err(std::env::VarError::NotPresent) => Err(CyberArkError::Config(format!(
            "the PKCS#12 password variable {var} (client_pkcs12_password_env) is not set"
        ))),
        Err(std::env::VarError::NotUnicode(_)) => Err(CyberArkError::Config(format!(
            "the PKCS#12 password variable {var} is not UTF-8"
        ))),
    }
}

/// Deprecated (use `client_pkcs12_password_env`): reads the PKCS#12 password from `path` (one line; a trailing newline is dropped). A file
/// anyone on the machine may read is refused, as ssh refuses such a key. No file: the empty
/// password.
pub(crate) fn read_password_file(path: Option<&Path>) -> Result<SecretString, CyberArkError> {
    let Some(path) = path else {
        return Ok(SecretString::from(String::new()));
    };
    let meta = std::fs::metadata(path).map_err(|e| {
        CyberArkError::Config(format!(
            "cannot read PKCS#12 password file {}: {e}",
            path.display()
        ))
    })?;
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o004 != 0 {
            return Err(CyberArkError::Config(format!(
                "PKCS#12 password file {} is readable by every user; chmod o-r it",
                path.display()
            )));
        }
    }
    let bytes = std::fs::read(path).map(Zeroizing::new).map_err(|e| {
        CyberArkError::Config(format!(
            "cannot read PKCS#12 password file {}: {e}",
            path.display()
        ))
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        CyberArkError::Config(format!(
            "PKCS#12 password file {} is not UTF-8",
            path.display()
        ))
    })?;
    let line = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(text);
    Ok(SecretString::from(line.to_string()))
}

impl CcpClient {
    /// Like [`with_resilience`](Self::with_resilience), with the client identity taken from a
    /// PKCS#12 file (`cfg.client_cert` / `cfg.client_key` must then be unset).
    pub fn with_pkcs12(
        cfg: &CcpConfig,
        p12_path: &Path,
        password: &SecretString,
        resilience: Resilience,
    ) -> Result<Self, CyberArkError> {
        if cfg.client_cert.is_some() || cfg.client_key.is_some() {
            return Err(CyberArkError::Config(
                "set either a PKCS#12 identity or client_cert/client_key, not both".into(),
            ));
        }
        Self::endpoint(cfg)?;
        let identity = load_pkcs12(p12_path, password)?;
        let what = format!("the certificate and key of {}", p12_path.display());
        let tls = tls::client_config_with(cfg.ca_cert.as_deref(), Some(identity), &what)?;
        Self::from_tls(cfg, tls, resilience)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BreakerConfig, RetryPolicy};

    fn resilience() -> Resilience {
        Resilience::new("ccp", RetryPolicy::no_retry(), BreakerConfig::default())
    }

    #[test]
    fn an_unset_password_variable_is_named_and_never_an_empty_password() {
        let var = "ARKBRIDGE_TEST_P12_PASSWORD_THAT_IS_NEVER_SET";
        let err = read_password_env(var).unwrap_err().to_string();
        assert!(err.contains(var) && err.contains("not set"), "{err}");
    }

    #[test]
    fn the_password_variable_is_read() {
        // PATH is set in every test environment; its value stands in for a password here.
        let value = read_password_env("PATH").unwrap();
        assert_eq!(value.expose_secret(), std::env::var("PATH").unwrap());
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = load_pkcs12(Path::new("/nonexistent/id.p12"), &SecretString::from("pw"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/id.p12"), "{err}");
    }

    #[test]
    fn garbage_is_refused_without_quoting_it_or_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let p12 = dir.path().join("id.p12");
        std::fs::write(&p12, b"SECRETISH not a pkcs12 archive").unwrap();
        let err = load_pkcs12(&p12, &SecretString::from("pw-hunter2"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("id.p12"), "{err}");
        assert!(
            !err.contains("SECRETISH") && !err.contains("hunter2"),
            "{err}"
        );
    }

    #[test]
    fn pkcs12_and_pem_identity_together_are_refused() {
        let mut cfg = crate::fake::ccp_config("https://ccp.example.com");
        cfg.client_cert = Some("/x/c.pem".into());
        let err = CcpClient::with_pkcs12(
            &cfg,
            Path::new("/x/id.p12"),
            &SecretString::from("pw"),
            resilience(),
        )
        .unwrap_err();
        assert!(matches!(err, CyberArkError::Config(_)), "{err:?}");
    }

    #[test]
    fn a_bad_url_is_reported_before_the_file_is_read() {
        let cfg = crate::fake::ccp_config("ftp://ccp.example.com");
        let err = CcpClient::with_pkcs12(
            &cfg,
            Path::new("/nonexistent/id.p12"),
            &SecretString::from("pw"),
            resilience(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("https"), "{err}");
    }
}
