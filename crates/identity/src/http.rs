//! The HTTPS client for key sets and discovery documents.
//!
//! Built like the other clients of the workspace: a rustls `ClientConfig` on the `ring` provider,
//! trusting the configured CA bundle (a simulator or a private IdP) or else the Mozilla roots.
//! Plain `http://` is refused, including on redirects, because a key set fetched without
//! authentication would let anyone on the path mint identities. Bodies are read with a size cap.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use url::Url;

use crate::error::IdentityError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

fn roots(ca_cert: Option<&Path>) -> Result<RootCertStore, IdentityError> {
    let mut store = RootCertStore::empty();
    let Some(path) = ca_cert else {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return Ok(store);
    };
    let pem = std::fs::read(path).map_err(|e| {
        IdentityError::Config(format!("cannot read CA bundle {}: {e}", path.display()))
    })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            IdentityError::Config(format!(
                "CA bundle {} is not valid PEM: {e}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(IdentityError::Config(format!(
            "CA bundle {} holds no PEM certificate",
            path.display()
        )));
    }
    for cert in certs {
        store.add(cert).map_err(|e| {
            IdentityError::Config(format!(
                "CA bundle {} holds an unusable certificate: {e}",
                path.display()
            ))
        })?;
    }
    Ok(store)
}

/// An HTTPS-only reqwest client trusting `ca_cert` (or the Mozilla roots).
pub fn https_client(ca_cert: Option<&Path>) -> Result<reqwest::Client, IdentityError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| IdentityError::Config(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots(ca_cert)?)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .https_only(true)
        .redirect(reqwest::redirect::Policy::limited(3))
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("arkbridge/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| IdentityError::Config(format!("cannot build the HTTP client: {e}")))
}

/// Parses a configured URL and insists on `https`.
pub(crate) fn https_url(raw: &str, what: &str) -> Result<Url, IdentityError> {
    let url = Url::parse(raw.trim())
        .map_err(|e| IdentityError::Config(format!("{what} `{raw}` is not a URL: {e}")))?;
    if url.scheme() != "https" || url.host_str().is_none() {
        return Err(IdentityError::Config(format!(
            "{what} `{raw}` must be an https URL"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(IdentityError::Config(format!(
            "{what} must not carry credentials"
        )));
    }
    Ok(url)
}

/// GETs `url` and returns the body if the status is 200 and it is at most `max` bytes.
pub(crate) async fn get_bounded(
    client: &reqwest::Client,
    url: &Url,
    what: &'static str,
    max: usize,
) -> Result<Vec<u8>, IdentityError> {
    let fail = |reason: String| IdentityError::Fetch {
        what,
        url: url.to_string(),
        reason,
    };
    let mut response = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| fail(transport_reason(&e)))?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        return Err(fail(format!("HTTP status {status}")));
    }
    if response
        .content_length()
        .is_some_and(|len| len > max as u64)
    {
        return Err(fail(format!("body larger than {max} bytes")));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| fail(transport_reason(&e)))?
    {
        if body.len() + chunk.len() > max {
            return Err(fail(format!("body larger than {max} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The error with its sources (reqwest's own message hides the TLS or connect cause).
fn transport_reason(e: &reqwest::Error) -> String {
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        source = s.source();
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_urls_without_credentials_are_accepted() {
        assert!(https_url("https://idp.example.com/keys", "JWKS URL").is_ok());
        for bad in [
            "http://idp.example.com/keys",
            "ftp://x/y",
            "https://u:p@x/keys",
            "not a url",
        ] {
            let err = https_url(bad, "JWKS URL").unwrap_err().to_string();
            assert!(err.contains("JWKS URL"), "{err}");
            assert!(!err.contains("u:p@"), "{err}");
        }
    }

    #[test]
    fn a_bad_ca_bundle_names_the_path_not_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "SENTINEL-CONTENT").unwrap();
        let err = https_client(Some(&ca)).unwrap_err().to_string();
        assert!(err.contains("ca.pem") && !err.contains("SENTINEL"), "{err}");
        let missing = dir.path().join("missing.pem");
        let err = https_client(Some(&missing)).unwrap_err().to_string();
        assert!(err.contains("missing.pem"), "{err}");
    }

    #[test]
    fn default_roots_build_a_client() {
        https_client(None).unwrap();
    }
}
