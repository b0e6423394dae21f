//! TLS settings for LDAPS and StartTLS.
//!
//! A rustls `ClientConfig` on the `ring` provider (the workspace's single crypto provider), built
//! here so that ldap3 never falls back to its own default configuration or to the process-wide
//! provider. The trust roots are the configured CA bundle (a company CA is the usual case for a
//! directory) or, without one, the Mozilla roots from `webpki-roots`. Certificate verification is
//! never switched off. The bundle is read once, when the directory client is built; a bad file is
//! a configuration error that names the path and never quotes its content.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::ldap_error::LdapError;

/// The rustls configuration for talking to the directory (server authentication only).
pub(crate) fn client_config(
    ca_file: Option<&Path>,
) -> Result<Arc<rustls::ClientConfig>, LdapError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| LdapError::Config(format!("LDAP TLS setup failed: {e}")))?
        .with_root_certificates(roots(ca_file)?)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, LdapError> {
    let mut store = RootCertStore::empty();
    let Some(path) = ca_file else {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return Ok(store);
    };
    let bad =
        |reason: String| LdapError::Config(format!("LDAP CA file {}: {reason}", path.display()));
    let pem = std::fs::read(path).map_err(|e| bad(format!("cannot be read: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("is not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad("holds no PEM certificate".into()));
    }
    for cert in certs {
        store
            .add(cert)
            .map_err(|e| bad(format!("holds an unusable certificate: {e}")))?;
    }
    Ok(store)
}

/// Describes a TLS failure found inside an I/O error, if there is one.
pub(crate) fn tls_failure(error: &std::io::Error) -> Option<String> {
    let inner = error.get_ref()?;
    inner
        .downcast_ref::<rustls::Error>()
        .map(|tls| tls.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_or_bad_ca_files_name_the_path_and_hide_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = client_config(Some(&missing)).unwrap_err().to_string();
        assert!(
            err.contains("missing.pem") && err.contains("cannot be read"),
            "{err}"
        );

        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate SENTINEL").unwrap();
        let err = client_config(Some(&junk)).unwrap_err().to_string();
        assert!(
            err.contains("junk.pem") && !err.contains("SENTINEL"),
            "{err}"
        );

        std::fs::write(
            &junk,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(client_config(Some(&junk)).is_err());
    }

    #[test]
    fn default_roots_build_a_config() {
        let config = client_config(None).unwrap();
        assert!(config.alpn_protocols.is_empty());
    }

    #[test]
    fn tls_failures_are_recognised_inside_io_errors() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert!(tls_failure(&io).unwrap().contains("UnknownIssuer"));
        let plain = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(tls_failure(&plain), None);
    }
}
