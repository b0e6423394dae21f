//! What the remote commands (`login --server`, `run --server`) share: the server's address, an
//! HTTP client for it, the sign-in it names, the cached tokens, and its typed errors.
//!
//! The tokens live in the same 0600 token cache as a local sign-in, in a folder of their own per
//! server (`$XDG_STATE_HOME/arkbridge/servers/<server>/`), so that two servers that share a
//! provider never share a sign-in by accident. The access token goes to the server as a bearer
//! token and nowhere else; it is never printed or logged. Before each call the tokens are
//! refreshed when the access token is about to expire (`remote_session.rs`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use arkbridge_identity::{CachedTokens, TokenCache, state_dir};
use secrecy::ExposeSecret;
use serde_json::Value;
use url::Url;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest an ordinary API answer may take; the event stream has no such bound.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a remote command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RemoteError {
    #[error("--server `{url}` is not a usable server address: {reason}")]
    BadServer { url: String, reason: String },
    #[error("cannot read the CA bundle {path}: {reason}")]
    CaCert { path: PathBuf, reason: String },
    #[error("{what} at {url} failed: {reason}")]
    Http {
        what: &'static str,
        url: String,
        reason: String,
    },
    #[error("the server answered {what} with HTTP {status} ({code}): {error}")]
    Api {
        what: &'static str,
        status: u16,
        code: String,
        error: String,
    },
    #[error("not signed in to {server}: run `arkbridge login --server {server}` first")]
    NotSignedIn { server: String },
    #[error(
        "your sign-in to {server} is no longer accepted ({reason}); sign in again: \
         `arkbridge login --server {server}`"
    )]
    SignInAgain { server: String, reason: String },
    #[error("your session with {server} has expired; run `arkbridge login --server {server}`")]
    SessionExpired { server: String },
    #[error("cannot refresh the sign-in to {server}: {reason}")]
    Refresh { server: String, reason: String },
    #[error(
        "{server} accepts no OpenID Connect sign-in ([identity] provider is not \"oidc\" \
         there), so the command line cannot sign in to it"
    )]
    NoSignIn { server: String },
    #[error(transparent)]
    Cache(#[from] arkbridge_identity::TokenCacheError),
}

/// The provider and client a server's users sign in with (`GET /api/v1/auth/info`).
#[derive(Debug, Clone)]
pub(crate) struct AuthInfo {
    pub(crate) issuer: String,
    pub(crate) client_id: String,
}

/// One `arkbridge serve` and an HTTP client for it.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) base: Url,
    pub(crate) http: reqwest::Client,
    /// The CA bundle of `--ca-cert`, which also signs the identity provider's certificate.
    pub(crate) ca_cert: Option<PathBuf>,
    /// The server's sign-in information, asked once per command.
    pub(crate) info: OnceLock<AuthInfo>,
}

/// Checks the address: https, or plain http only to this machine (a token sent in clear over a
/// network could be read on the way).
pub(crate) fn server_url(raw: &str) -> Result<Url, RemoteError> {
    let bad = |reason: String| RemoteError::BadServer {
        url: raw.to_string(),
        reason,
    };
    let url = Url::parse(raw.trim()).map_err(|e| bad(e.to_string()))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(bad("it has no host".into())),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(bad(
                "plain http is accepted only to this machine (localhost); use https".into(),
            ));
        }
        other => {
            return Err(bad(format!(
                "the scheme `{other}` is neither https nor http"
            )));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("it must not carry credentials".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("it must not have a query or a fragment".into()));
    }
    Ok(url)
}

impl Server {
    pub(crate) fn new(raw: &str, ca_cert: Option<&Path>) -> Result<Self, RemoteError> {
        let base = server_url(raw)?;
        Ok(Server {
            base,
            http: http_client(ca_cert)?,
            ca_cert: ca_cert.map(Path::to_path_buf),
            info: OnceLock::new(),
        })
    }

    /// The server's address as the user should type it again (no trailing slash).
    pub(crate) fn name(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_string()
    }

    /// The absolute URL of `path` (which starts with `/api/v1/`), under any base path.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.name())
    }

    /// Which provider and client the server's users sign in with.
    pub(crate) async fn auth_info(&self) -> Result<AuthInfo, RemoteError> {
        if let Some(info) = self.info.get() {
            return Ok(info.clone());
        }
        let info = self.fetch_auth_info().await?;
        // Two tasks asking at once both fetch; either answer is the server's.
        let _ = self.info.set(info.clone());
        Ok(info)
    }

    async fn fetch_auth_info(&self) -> Result<AuthInfo, RemoteError> {
        let what = "the sign-in information request";
        let url = self.url("/api/v1/auth/info");
        let response = self
            .http
            .get(&url)
            .timeout(CALL_TIMEOUT)
            .send()
            .await
            .map_err(|e| http_error(what, &url, &e))?;
        let body = json_answer(what, &url, response).await?;
        if body["oidc"].is_null() {
            return Err(RemoteError::NoSignIn {
                server: self.name(),
            });
        }
        let text = |name: &str| body["oidc"][name].as_str().filter(|v| !v.is_empty());
        match (text("issuer"), text("client_id")) {
            (Some(issuer), Some(client_id)) => Ok(AuthInfo {
                issuer: issuer.to_string(),
                client_id: client_id.to_string(),
            }),
            _ => Err(bad_answer(
                what,
                &url,
                "the answer names no issuer and client_id",
            )),
        }
    }

    /// The token cache of this server and its provider's client.
    pub(crate) fn cache(&self, info: &AuthInfo) -> Result<TokenCache, RemoteError> {
        Ok(TokenCache::in_dir(
            &server_dir(&self.base)?,
            &info.issuer,
            &info.client_id,
        ))
    }

    /// An authenticated request.
    pub(crate) fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        tokens: &CachedTokens,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(tokens.access_token.expose_secret())
    }
}

/// The folder of the token caches of the server at `url`.
pub(crate) fn server_dir(url: &Url) -> Result<PathBuf, RemoteError> {
    Ok(state_dir()?.join("servers").join(folder_name(url)))
}

/// A file-name-safe folder per server: its scheme, host, port and path, other characters `_`.
pub(crate) fn folder_name(url: &Url) -> String {
    let raw = format!(
        "{}_{}_{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0),
        url.path().trim_end_matches('/')
    );
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A client trusting `ca_cert` when given (or the platform's roots), with a connect timeout but
/// no overall one, since an event stream lasts as long as its run.
pub(crate) fn http_client(ca_cert: Option<&Path>) -> Result<reqwest::Client, RemoteError> {
    // reqwest is built without a default crypto provider and panics without one; `main`
    // installs ring, and this makes the client independent of that order (an error only says
    // that one is installed already).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("arkbridge/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_cert {
        let fail = |reason: String| RemoteError::CaCert {
            path: path.to_path_buf(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| fail(e.to_string()))?;
        if certs.is_empty() {
            return Err(fail("it holds no PEM certificate".into()));
        }
        builder = builder.tls_certs_only(certs);
    }
    builder.build().map_err(|e| RemoteError::Http {
        what: "the HTTP client setup",
        url: String::new(),
        reason: e.to_string(),
    })
}

pub(crate) fn http_error(what: &'static str, url: &str, e: &reqwest::Error) -> RemoteError {
    RemoteError::Http {
        what,
        url: url.to_string(),
        reason: e.to_string(),
    }
}

/// An answer that lacks what the call needs, as an error naming the request and its URL.
pub(crate) fn bad_answer(what: &'static str, url: &str, reason: impl Into<String>) -> RemoteError {
    RemoteError::Http {
        what,
        url: url.to_string(),
        reason: reason.into(),
    }
}

/// The status and JSON body of an answer, whatever the status (for callers that read a refusal's
/// body themselves before treating it as an error).
pub(crate) async fn status_and_json(
    what: &'static str,
    url: &str,
    response: reqwest::Response,
) -> Result<(u16, Value), RemoteError> {
    let status = response.status().as_u16();
    let body: Value = response
        .json()
        .await
        .map_err(|e| http_error(what, url, &e))?;
    Ok((status, body))
}

/// The body when `status` is 2xx, or the server's typed error.
pub(crate) fn success_body(
    what: &'static str,
    status: u16,
    body: Value,
) -> Result<Value, RemoteError> {
    if (200..300).contains(&status) {
        Ok(body)
    } else {
        Err(api_error(what, status, &body))
    }
}

/// The JSON body of a 2xx answer, or the server's typed error.
pub(crate) async fn json_answer(
    what: &'static str,
    url: &str,
    response: reqwest::Response,
) -> Result<Value, RemoteError> {
    let (status, body) = status_and_json(what, url, response).await?;
    success_body(what, status, body)
}

/// The server's `{error, code}` body as an error.
pub(crate) fn api_error(what: &'static str, status: u16, body: &Value) -> RemoteError {
    let text = |name: &str| body[name].as_str().unwrap_or("").to_string();
    RemoteError::Api {
        what,
        status,
        code: text("code"),
        error: text("error"),
    }
}

/// Turns a refused credential into the "sign in again" error; other errors stay as they are.
pub(crate) fn signed_out(e: RemoteError, server: &Server) -> RemoteError {
    match e {
        RemoteError::Api {
            status: 401, error, ..
        } => RemoteError::SignInAgain {
            server: server.name(),
            reason: error,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_url_accepts_https_and_loopback_http_only() {
        assert!(server_url("https://arkbridge.example.com").is_ok());
        assert!(server_url("http://127.0.0.1:8080/").is_ok());
        assert!(server_url("http://localhost:8080").is_ok());
        for bad in [
            "http://arkbridge.example.com",
            "ftp://127.0.0.1",
            "https://user:pw@example.com",
            "https://example.com/?x=1",
            "not a url",
        ] {
            assert!(
                matches!(server_url(bad), Err(RemoteError::BadServer { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn folder_name_differs_per_server_and_is_a_plain_file_name() {
        let a = folder_name(&server_url("http://127.0.0.1:8080").unwrap());
        let b = folder_name(&server_url("http://127.0.0.1:8081/").unwrap());
        let c = folder_name(&server_url("https://ark.example.com/base/../x").unwrap());
        assert_eq!(a, "http_127.0.0.1_8080");
        assert_ne!(a, b);
        assert!(!c.contains('/') && !c.contains(".."), "{c}");
    }

    #[test]
    fn a_refused_token_becomes_a_sign_in_again_error_naming_the_login_command() {
        let server = Server::new("http://127.0.0.1:9", None).unwrap();
        let body = serde_json::json!({"error": "the token expired", "code": "token_expired"});
        let e = signed_out(api_error("the run request", 401, &body), &server);
        let text = e.to_string();
        assert!(matches!(e, RemoteError::SignInAgain { .. }));
        assert!(
            text.contains("arkbridge login --server http://127.0.0.1:9"),
            "{text}"
        );
        let forbidden = signed_out(api_error("the run request", 403, &body), &server);
        assert!(matches!(forbidden, RemoteError::Api { status: 403, .. }));
    }
}
