//! TLS and HTTP client setup shared by the CCP and PVWA clients.
//!
//! One rustls `ClientConfig` per client, always built on the `ring` crypto provider (the
//! workspace's single provider), so nothing depends on a process-wide default provider being
//! installed. Roots are the configured CA bundle when one is set, else the Mozilla roots from
//! `webpki-roots`. The CCP adds a client certificate and key for mutual TLS.
//!
//! Certificates and keys are read into memory here, once, at construction. Every failure names
//! the file; no error ever quotes file content (the key file holds a private key).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use zeroize::Zeroizing;

use crate::error::CyberArkError;

/// Connect timeout for every CyberArk endpoint.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads a whole file into a buffer that is wiped when dropped.
fn read_file(path: &Path, what: &str) -> Result<Zeroizing<Vec<u8>>, CyberArkError> {
    std::fs::read(path)
        .map(Zeroizing::new)
        .map_err(|e| CyberArkError::Config(format!("cannot read {what} {}: {e}", path.display())))
}

/// Parses every `CERTIFICATE` block of a PEM file.
fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, CyberArkError> {
    let pem = read_file(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            CyberArkError::Config(format!("{what} {} is not valid PEM: {e}", path.display()))
        })?;
    if certs.is_empty() {
        return Err(CyberArkError::Config(format!(
            "{what} {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// Parses the first private key (PKCS#8, PKCS#1 or SEC1) of a PEM file.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, CyberArkError> {
    let pem = read_file(path, "client key")?;
    // The error types of pki-types never quote the input, so they are safe to show.
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        CyberArkError::Config(format!(
            "client key {} holds no usable PEM private key: {e}",
            path.display()
        ))
    })
}

/// The trust roots: the CA bundle if one is configured, else the Mozilla roots.
fn roots(ca_cert: Option<&Path>) -> Result<RootCertStore, CyberArkError> {
    let mut store = RootCertStore::empty();
    match ca_cert {
        Some(path) => {
            for cert in read_certs(path, "CA bundle")? {
                store.add(cert).map_err(|e| {
                    CyberArkError::Config(format!(
                        "CA bundle {} holds an unusable certificate: {e}",
                        path.display()
                    ))
                })?;
            }
        }
        None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(store)
}

/// A client certificate chain and its private key, for mutual TLS.
pub(crate) type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// Builds the rustls configuration: roots, and a client identity for mutual TLS if both the
/// certificate and the key paths are given.
pub(crate) fn client_config(
    ca_cert: Option<&Path>,
    client_cert: Option<&Path>,
    client_key: Option<&Path>,
) -> Result<rustls::ClientConfig, CyberArkError> {
    match (client_cert, client_key) {
        (Some(cert_path), Some(key_path)) => {
            let chain = read_certs(cert_path, "client certificate")?;
            let key = read_key(key_path)?;
            let what = format!(
                "client certificate {} and key {}",
                cert_path.display(),
                key_path.display()
            );
            client_config_with(ca_cert, Some((chain, key)), &what)
        }
        (None, None) => client_config_with(ca_cert, None, ""),
        _ => Err(CyberArkError::Config(
            "client_cert and client_key must be set together".into(),
        )),
    }
}

/// Builds the rustls configuration from an identity already in memory; `what` names its
/// source in errors.
pub(crate) fn client_config_with(
    ca_cert: Option<&Path>,
    identity: Option<Identity>,
    what: &str,
) -> Result<rustls::ClientConfig, CyberArkError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| CyberArkError::Config(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots(ca_cert)?);
    let mut config = match identity {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(|e| {
            CyberArkError::Config(format!("{what} do not form a usable identity: {e}"))
        })?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Builds a reqwest client on a preconfigured rustls config: no redirects, fixed connect
/// timeout, the given whole-request timeout.
pub(crate) fn http_client(
    tls: rustls::ClientConfig,
    request_timeout: Duration,
) -> Result<reqwest::Client, CyberArkError> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(request_timeout)
        .user_agent(concat!("arkbridge/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| CyberArkError::Config(format!("cannot build the HTTP client: {e}")))
}

/// Checks a configured base URL and returns it without trailing slashes.
pub(crate) fn base_url(raw: &str, what: &str) -> Result<url::Url, CyberArkError> {
    let trimmed = raw.trim().trim_end_matches('/');
    let url = url::Url::parse(trimmed)
        .map_err(|e| CyberArkError::Config(format!("{what} URL `{trimmed}` is invalid: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(CyberArkError::Config(format!(
            "{what} URL `{trimmed}` must use https"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(CyberArkError::Config(format!(
            "{what} URL `{trimmed}` must not carry a query, fragment or user name"
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_name_the_path() {
        let err = client_config(Some(Path::new("/nonexistent/ca.pem")), None, None).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
        let err = client_config(
            None,
            Some(Path::new("/nonexistent/c.pem")),
            Some(Path::new("/nonexistent/k.pem")),
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/c.pem"), "{err}");
    }

    #[test]
    fn garbage_pem_is_refused_without_quoting_it() {
        let dir = std::env::temp_dir().join(format!("arkbridge-ca-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, "not a certificate SECRETISH").unwrap();
        let err = client_config(Some(&ca), None, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ca.pem") && !err.contains("SECRETISH"),
            "{err}"
        );
        let key = dir.join("key.pem");
        std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nSECRETISH\n").unwrap();
        let err = read_key(&key).unwrap_err().to_string();
        assert!(
            err.contains("key.pem") && !err.contains("SECRETISH"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn half_an_identity_is_refused() {
        let err = client_config(None, Some(Path::new("/x/c.pem")), None).unwrap_err();
        assert!(matches!(err, CyberArkError::Config(_)));
    }

    #[test]
    fn default_roots_and_http_client_build() {
        let cfg = client_config(None, None, None).unwrap();
        http_client(cfg, Duration::from_secs(5)).unwrap();
    }

    #[test]
    fn base_url_checks() {
        assert_eq!(
            base_url("https://ccp.example.com/", "CCP")
                .unwrap()
                .as_str(),
            "https://ccp.example.com/"
        );
        assert!(base_url("ftp://x", "CCP").is_err());
        assert!(base_url("not a url", "CCP").is_err());
        assert!(base_url("https://u:p@x", "CCP").is_err());
    }
}
