//! PVWA REST client (Gen2 `/{app_name}/API/...`), used for rotation: find an account, ask the
//! CPM to change it (or check it in), and wait for the CPM to finish.
//!
//! The session token comes back as a JSON string literal and is held as a [`SecretString`]; it is
//! sent raw (`Authorization: <token>`, no scheme) in a header marked sensitive. Logon always asks
//! for `concurrentSession: true`. On `401 PASWS006E` (token missing, invalid or expired) the client
//! logs on again once and retries the call once; the password is kept as a secret for that.
//!
//! Every request goes through the PVWA's circuit breaker. GET requests and the logon are retried
//! on unavailability with backoff; POST operations (Change, CheckIn ...) only when the connection
//! failed before the request was sent (see [`Resilience`]). Clones share the session token and
//! the breaker. The CPM operations beyond Change/CheckIn are in `pvwa_ops.rs`.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arkbridge_core::config::{PvwaAuthMethod, PvwaConfig};
use percent_encoding::utf8_percent_encode;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::account::Account;
use crate::body::{PVWA_BODY_LIMIT, read_body};
use crate::breaker::BreakerConfig;
use crate::error::{CyberArkError, classify};
use crate::retry::{Failure, Resilience, RetryPolicy, Safety, send_failure};
use crate::tls;

pub use admin::{NewAccount, PatchOp};
pub use auth::PvwaAuth;
use auth::Session;

const ENDPOINT: &str = "pvwa";
/// Whole-request timeout for PVWA calls.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Guard against a server that keeps handing out `nextLink`s.
const MAX_PAGES: usize = 200;
/// Default `limit` of safe and member lists (the PVWA's own default is 25).
const DEFAULT_PAGE_SIZE: usize = 100;

/// An authenticated PVWA session. Clones share the token and the circuit breaker.
#[derive(Clone)]
pub struct PvwaClient {
    http: reqwest::Client,
    /// `{url}/{app_name}/`
    app_base: url::Url,
    auth: PvwaAuth,
    token: Arc<Mutex<Session>>,
    resilience: Resilience,
    /// `limit` asked for by safe and member lists.
    page_size: usize,
}

impl fmt::Debug for PvwaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PvwaClient")
            .field("app_base", &self.app_base.as_str())
            .field("auth", &self.auth)
            .field("resilience", &self.resilience)
            .finish_non_exhaustive()
    }
}

/// Percent-encodes one path segment or query value.
fn enc(s: &str) -> String {
    utf8_percent_encode(s, crate::ccp::VALUE_SET).to_string()
}

/// Refuses characters the PVWA does not support in URL values.
fn check_value(what: &str, value: &str) -> Result<(), CyberArkError> {
    if value.trim().is_empty()
        || value
            .chars()
            .any(|c| matches!(c, '+' | '&' | '%') || c.is_control())
    {
        return Err(CyberArkError::Config(format!(
            "PVWA {what} is empty or contains `+`, `&`, `%` or a control character"
        )));
    }
    Ok(())
}

/// The Privilege Cloud URL without the `/PasswordVault` application path, which users often
/// paste with it.
fn ispss_base(pvwa_url: &str) -> &str {
    let trimmed = pvwa_url.trim().trim_end_matches('/');
    match trimmed.len().checked_sub("/PasswordVault".len()) {
        Some(i)
            if trimmed.is_char_boundary(i)
                && trimmed[i..].eq_ignore_ascii_case("/PasswordVault") =>
        {
            &trimmed[..i]
        }
        _ => trimmed,
    }
}

impl PvwaClient {
    /// Logs on (default retry policy and a fresh breaker) and returns the session. With
    /// `auth_method = "ISPSS"` this obtains a Privilege Cloud platform token instead.
    pub async fn logon(cfg: &PvwaConfig, password: &SecretString) -> Result<Self, CyberArkError> {
        let resilience =
            Resilience::new(ENDPOINT, RetryPolicy::default(), BreakerConfig::default());
        Self::logon_with(cfg, password, resilience).await
    }

    /// Logs on with a given retry policy and breaker (pass a clone of a long-lived
    /// [`Resilience`] to keep one breaker across sessions).
    pub async fn logon_with(
        cfg: &PvwaConfig,
        password: &SecretString,
        resilience: Resilience,
    ) -> Result<Self, CyberArkError> {
        let client = Self::build(cfg, password, resilience)?;
        client
            .resilience
            .run(Safety::Idempotent, || client.refresh_token())
            .await?;
        Ok(client)
    }

    /// Privilege Cloud Shared Services: obtains an OAuth2 `client_credentials` platform token
    /// from the Identity tenant (`POST {identity_url}/oauth2/platformtoken`) and sends it as
    /// `Authorization: Bearer <token>` to the Privilege Cloud API at
    /// `{pvwa_url}/PasswordVault/API/...`. The token is fetched again shortly before it
    /// expires and after a `401`. `ca_cert` (else the Mozilla roots) is trusted for both hosts.
    pub async fn logon_ispss(
        identity_url: &str,
        pvwa_url: &str,
        client_id: &str,
        client_secret: &SecretString,
        ca_cert: Option<&Path>,
        resilience: Resilience,
    ) -> Result<Self, CyberArkError> {
        let auth = PvwaAuth::ispss(identity_url, client_id, client_secret)?;
        Self::connect(
            ispss_base(pvwa_url),
            "PasswordVault",
            auth,
            ca_cert,
            resilience,
        )
        .await
    }

    /// Authenticates with any [`PvwaAuth`] against `{pvwa_url}/{app_name}/`.
    pub async fn connect(
        pvwa_url: &str,
        app_name: &str,
        auth: PvwaAuth,
        ca_cert: Option<&Path>,
        resilience: Resilience,
    ) -> Result<Self, CyberArkError> {
        let client = Self::build_with(pvwa_url, app_name, auth, ca_cert, resilience)?;
        client
            .resilience
            .run(Safety::Idempotent, || client.refresh_token())
            .await?;
        Ok(client)
    }

    /// The retry policy and circuit breaker in use.
    pub fn resilience(&self) -> &Resilience {
        &self.resilience
    }

    /// Sets the page size (`limit`, 1–1000) of safe and member lists; they still return every
    /// item, following `nextLink`.
    pub fn with_page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size.clamp(1, 1000);
        self
    }

    /// Builds the client without logging on.
    pub(crate) fn build(
        cfg: &PvwaConfig,
        password: &SecretString,
        resilience: Resilience,
    ) -> Result<Self, CyberArkError> {
        if cfg.auth_method == PvwaAuthMethod::Ispss {
            let identity_url = cfg.identity_url.as_deref().ok_or_else(|| {
                CyberArkError::Config("ISPSS authentication needs the Identity tenant URL".into())
            })?;
            // Privilege Cloud: the service user's name and password are the OAuth2 client id
            // and secret.
            let auth = PvwaAuth::ispss(identity_url, &cfg.username, password)?;
            return Self::build_with(
                ispss_base(&cfg.url),
                "PasswordVault",
                auth,
                cfg.ca_cert.as_deref(),
                resilience,
            );
        }
        let auth = PvwaAuth::Logon {
            method: cfg.auth_method,
            username: cfg.username.clone(),
            password: password.clone(),
        };
        Self::build_with(
            &cfg.url,
            &cfg.app_name,
            auth,
            cfg.ca_cert.as_deref(),
            resilience,
        )
    }

    pub(crate) fn build_with(
        url: &str,
        app_name: &str,
        auth: PvwaAuth,
        ca_cert: Option<&Path>,
        resilience: Resilience,
    ) -> Result<Self, CyberArkError> {
        let base = tls::base_url(url, "PVWA")?;
        let app = app_name.trim().trim_matches('/');
        if app.is_empty() || app.contains(['?', '#', '%', '+', '&']) {
            return Err(CyberArkError::Config(format!(
                "PVWA application name `{app}` is invalid"
            )));
        }
        let app_base = base
            .join(&format!("{}/", enc(app)))
            .map_err(|e| CyberArkError::Config(format!("PVWA URL is invalid: {e}")))?;
        let tls = tls::client_config(ca_cert, None, None)?;
        Ok(PvwaClient {
            http: tls::http_client(tls, REQUEST_TIMEOUT)?,
            app_base,
            auth,
            token: Arc::new(Mutex::new(Session::empty())),
            resilience,
            page_size: DEFAULT_PAGE_SIZE,
        })
    }

    fn url(&self, rel: &str) -> Result<url::Url, CyberArkError> {
        self.app_base
            .join(rel)
            .map_err(|e| CyberArkError::Config(format!("cannot build a PVWA URL: {e}")))
    }

    fn auth_header(&self) -> Result<HeaderValue, CyberArkError> {
        let session = self.token.lock().unwrap_or_else(|p| p.into_inner());
        let token = session.token.expose_secret();
        let text = Zeroizing::new(if self.auth.is_bearer() {
            format!("Bearer {token}")
        } else {
            token.to_string()
        });
        let mut value = HeaderValue::from_str(&text).map_err(|_| CyberArkError::Protocol {
            endpoint: ENDPOINT,
            detail: "the session token is not a valid header value".into(),
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// Sends one request. `body` is JSON already encoded (it may hold a secret, hence the
    /// wiping buffer; reqwest's own copy is outside our control).
    async fn send_once(
        &self,
        method: &Method,
        url: &url::Url,
        body: Option<&[u8]>,
    ) -> Result<(u16, Zeroizing<Vec<u8>>), Failure> {
        let mut req = self
            .http
            .request(method.clone(), url.clone())
            .header(AUTHORIZATION, self.auth_header()?)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_vec());
        }
        let resp = req.send().await.map_err(|e| send_failure(ENDPOINT, e))?;
        let status = resp.status().as_u16();
        Ok((status, read_body(ENDPOINT, resp, PVWA_BODY_LIMIT).await?))
    }

    /// One authenticated attempt; re-logs on once after `401 PASWS006E` (ISPSS: any `401`).
    /// A platform token due for refresh is replaced first.
    async fn call_once(
        &self,
        method: &Method,
        url: &url::Url,
        body: Option<&[u8]>,
    ) -> Result<Zeroizing<Vec<u8>>, Failure> {
        let mut relogged = false;
        if self.token_due() {
            tracing::debug!("PVWA token about to expire; fetching a new one");
            self.refresh_token().await?;
            relogged = true;
        }
        loop {
            let (status, bytes) = self.send_once(method, url, body).await?;
            if (200..300).contains(&status) {
                return Ok(bytes);
            }
            let err = classify(ENDPOINT, status, &bytes);
            let expired = status == 401
                && (self.auth.is_bearer()
                    || err
                        .code()
                        .is_some_and(|c| c.eq_ignore_ascii_case("PASWS006E")));
            if expired && !relogged {
                tracing::debug!("PVWA session expired; logging on again");
                // The request was refused, not carried out, so sending it again is safe.
                self.refresh_token().await.map_err(|f| f.error)?;
                relogged = true;
                continue;
            }
            return Err(err.into());
        }
    }

    /// One authenticated call under the breaker; GETs are retried on unavailability, other
    /// methods only when the request was never sent.
    async fn call(
        &self,
        method: Method,
        url: url::Url,
        body: Option<&[u8]>,
    ) -> Result<Zeroizing<Vec<u8>>, CyberArkError> {
        let safety = if method == Method::GET {
            Safety::Idempotent
        } else {
            Safety::NotIdempotent
        };
        self.resilience
            .run(safety, || self.call_once(&method, &url, body))
            .await
    }

    /// Encodes a JSON request body into a wiping buffer.
    fn json_body<T: serde::Serialize>(value: &T) -> Result<Zeroizing<Vec<u8>>, CyberArkError> {
        serde_json::to_vec(value)
            .map(Zeroizing::new)
            .map_err(|e| CyberArkError::Config(format!("cannot encode a PVWA request: {e}")))
    }

    fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, CyberArkError> {
        serde_json::from_slice(bytes).map_err(|e| CyberArkError::Protocol {
            endpoint: ENDPOINT,
            detail: format!("{what} is malformed ({e})"),
        })
    }

    fn account_path(id: &str, suffix: &str) -> Result<String, CyberArkError> {
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(CyberArkError::Config(format!(
                "`{id}` is not a PVWA account id"
            )));
        }
        Ok(format!("API/Accounts/{id}{suffix}"))
    }

    /// Reads one account.
    pub async fn get_account(&self, id: &str) -> Result<Account, CyberArkError> {
        let url = self.url(&Self::account_path(id, "")?)?;
        let bytes = self.call(Method::GET, url, None).await?;
        Self::parse(&bytes, "account")
    }

    /// Asks the CPM to change the account (and its group) now. Returns before the CPM is done.
    pub async fn change(&self, id: &str) -> Result<(), CyberArkError> {
        let url = self.url(&Self::account_path(id, "/Change")?)?;
        let body = Self::json_body(&serde_json::json!({ "ChangeEntireGroup": true }))?;
        self.call(Method::POST, url, Some(&body)).await.map(drop)
    }

    /// Checks an exclusive account in; a CPM-managed account is then changed immediately.
    pub async fn check_in(&self, id: &str) -> Result<(), CyberArkError> {
        let url = self.url(&Self::account_path(id, "/CheckIn")?)?;
        self.call(Method::POST, url, None).await.map(drop)
    }

    /// Ends the session. An ISPSS platform token cannot be ended; it simply expires.
    pub async fn logoff(self) -> Result<(), CyberArkError> {
        if self.auth.is_bearer() {
            return Ok(());
        }
        let url = self.url("API/Auth/Logoff")?;
        let permit = self.resilience.breaker().acquire()?;
        let result = match self.send_once(&Method::POST, &url, None).await {
            Ok((status, _)) if (200..300).contains(&status) => Ok(()),
            Ok((status, bytes)) => Err(classify(ENDPOINT, status, &bytes)),
            Err(f) => Err(f.error),
        };
        permit.record(&result);
        result
    }
}

#[path = "pvwa_admin.rs"]
mod admin;
#[path = "pvwa_auth.rs"]
mod auth;
#[path = "pvwa_ops.rs"]
mod ops;
#[path = "pvwa_safes.rs"]
mod safes;
#[cfg(test)]
pub(crate) use ops::{decode_secret, poll_cpm};

#[cfg(test)]
#[path = "pvwa_tests.rs"]
mod tests;
