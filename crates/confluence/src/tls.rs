//! TLS and HTTP client setup for the Confluence client.
//!
//! A rustls `ClientConfig` built on the `ring` crypto provider (the workspace's single provider),
//! so nothing depends on a process-wide default provider. Roots are the configured CA bundle if
//! one is set (a test simulator or an on-premises proxy), else the Mozilla roots from
//! `webpki-roots`. The bundle is read once, at construction; a bad file is a configuration error
//! that names the path and never quotes the content.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::error::ConfluenceError;

/// Connect timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Whole-request timeout (page bodies can be a few MB).
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The trust roots: every certificate of the CA bundle, or the Mozilla roots.
fn roots(ca_cert: Option<&Path>) -> Result<RootCertStore, ConfluenceError> {
    let mut store = RootCertStore::empty();
    let Some(path) = ca_cert else {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return Ok(store);
    };
    let pem = std::fs::read(path).map_err(|e| {
        ConfluenceError::Config(format!("cannot read CA bundle {}: {e}", path.display()))
    })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            ConfluenceError::Config(format!(
                "CA bundle {} is not valid PEM: {e}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(ConfluenceError::Config(format!(
            "CA bundle {} holds no PEM certificate",
            path.display()
        )));
    }
    for cert in certs {
        store.add(cert).map_err(|e| {
            ConfluenceError::Config(format!(
                "CA bundle {} holds an unusable certificate: {e}",
                path.display()
            ))
        })?;
    }
    Ok(store)
}

/// The rustls configuration for Confluence (server authentication only).
pub(crate) fn client_config(
    ca_cert: Option<&Path>,
) -> Result<rustls::ClientConfig, ConfluenceError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfluenceError::Config(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots(ca_cert)?)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A reqwest client on the preconfigured rustls config. Redirects are not followed: a redirect
/// would carry the basic-auth header to wherever the server points.
pub(crate) fn http_client(tls: rustls::ClientConfig) -> Result<reqwest::Client, ConfluenceError> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("arkbridge/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ConfluenceError::Config(format!("cannot build the HTTP client: {e}")))
}

/// Checks a configured base URL and returns it without trailing slashes and, for a Cloud site
/// (`strip_wiki`), without `/wiki`. A Data Center context path is kept even when it is `/wiki`.
pub(crate) fn site_url(raw: &str, strip_wiki: bool) -> Result<String, ConfluenceError> {
    let mut trimmed = raw.trim().trim_end_matches('/');
    if strip_wiki && let Some(stripped) = trimmed.strip_suffix("/wiki") {
        trimmed = stripped.trim_end_matches('/');
    }
    let url = url::Url::parse(trimmed).map_err(|e| {
        ConfluenceError::Config(format!("Confluence URL `{trimmed}` is invalid: {e}"))
    })?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(ConfluenceError::Config(format!(
            "Confluence URL `{trimmed}` must be an https URL"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(ConfluenceError::Config(format!(
            "Confluence URL `{trimmed}` must not carry a query, fragment or user name"
        )));
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_bad_bundle_names_the_path() {
        let err = client_config(Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
        let dir = std::env::temp_dir().join(format!("arkbridge-cf-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, "hello SENTINEL").unwrap();
        let err = client_config(Some(&ca)).unwrap_err().to_string();
        assert!(err.contains("ca.pem") && !err.contains("SENTINEL"), "{err}");
        std::fs::write(
            &ca,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(client_config(Some(&ca)).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn default_roots_build_a_client() {
        http_client(client_config(None).unwrap()).unwrap();
    }

    #[test]
    fn site_url_normalisation() {
        for (raw, want) in [
            ("https://x.atlassian.net", "https://x.atlassian.net"),
            ("https://x.atlassian.net/", "https://x.atlassian.net"),
            ("https://x.atlassian.net/wiki/", "https://x.atlassian.net"),
            (
                "https://api.atlassian.com/ex/confluence/abc",
                "https://api.atlassian.com/ex/confluence/abc",
            ),
        ] {
            assert_eq!(site_url(raw, true).unwrap(), want);
        }
        for bad in [
            "x.atlassian.net",
            "ftp://x",
            "https://u:p@x",
            "https://x/?a=1",
            "",
        ] {
            assert!(site_url(bad, true).is_err(), "{bad}");
        }
        assert_eq!(
            site_url("https://dc.example.com/wiki/", false).unwrap(),
            "https://dc.example.com/wiki"
        );
    }
}
