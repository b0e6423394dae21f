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
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arkbridge_core::config::{PvwaAuthMethod, PvwaConfig};
use percent_encoding::utf8_percent_encode;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::account::{Account, AccountPage, pick_account, resolve_next_link};
use crate::body::{PVWA_BODY_LIMIT, read_body};
use crate::breaker::BreakerConfig;
use crate::error::{CyberArkError, classify};
use crate::retry::{Failure, Resilience, RetryPolicy, Safety, send_failure};
use crate::tls;
use crate::token::decode_token;

const ENDPOINT: &str = "pvwa";
/// Whole-request timeout for PVWA calls.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Guard against a server that keeps handing out `nextLink`s.
const MAX_PAGES: usize = 200;

/// An authenticated PVWA session. Clones share the token and the circuit breaker.
#[derive(Clone)]
pub struct PvwaClient {
    http: reqwest::Client,
    /// `{url}/{app_name}/`
    app_base: url::Url,
    auth_method: PvwaAuthMethod,
    username: String,
    password: SecretString,
    token: Arc<Mutex<SecretString>>,
    resilience: Resilience,
}

impl fmt::Debug for PvwaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PvwaClient")
            .field("app_base", &self.app_base.as_str())
            .field("auth_method", &self.auth_method)
            .field("username", &self.username)
            .field("resilience", &self.resilience)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct LogonBody<'a> {
    username: &'a str,
    password: &'a str,
    concurrent_session: bool,
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

impl PvwaClient {
    /// Logs on (default retry policy and a fresh breaker) and returns the session.
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

    /// The retry policy and circuit breaker in use.
    pub fn resilience(&self) -> &Resilience {
        &self.resilience
    }

    /// Builds the client without logging on.
    pub(crate) fn build(
        cfg: &PvwaConfig,
        password: &SecretString,
        resilience: Resilience,
    ) -> Result<Self, CyberArkError> {
        let base = tls::base_url(&cfg.url, "PVWA")?;
        let app = cfg.app_name.trim().trim_matches('/');
        if app.is_empty() || app.contains(['?', '#', '%', '+', '&']) {
            return Err(CyberArkError::Config(format!(
                "PVWA application name `{app}` is invalid"
            )));
        }
        let app_base = base
            .join(&format!("{}/", enc(app)))
            .map_err(|e| CyberArkError::Config(format!("PVWA URL is invalid: {e}")))?;
        let tls = tls::client_config(cfg.ca_cert.as_deref(), None, None)?;
        Ok(PvwaClient {
            http: tls::http_client(tls, REQUEST_TIMEOUT)?,
            app_base,
            auth_method: cfg.auth_method,
            username: cfg.username.clone(),
            password: password.clone(),
            token: Arc::new(Mutex::new(SecretString::from(""))),
            resilience,
        })
    }

    fn url(&self, rel: &str) -> Result<url::Url, CyberArkError> {
        self.app_base
            .join(rel)
            .map_err(|e| CyberArkError::Config(format!("cannot build a PVWA URL: {e}")))
    }

    /// Performs one logon call and stores the new token.
    async fn refresh_token(&self) -> Result<(), Failure> {
        let url = self.url(&format!(
            "API/auth/{}/Logon",
            self.auth_method.path_segment()
        ))?;
        let body = Zeroizing::new(
            serde_json::to_vec(&LogonBody {
                username: &self.username,
                password: self.password.expose_secret(),
                concurrent_session: true,
            })
            .map_err(|e| CyberArkError::Config(format!("cannot encode the logon body: {e}")))?,
        );
        let resp = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| send_failure(ENDPOINT, e))?;
        let status = resp.status().as_u16();
        let bytes = read_body(ENDPOINT, resp, PVWA_BODY_LIMIT).await?;
        if !(200..300).contains(&status) {
            return Err(classify(ENDPOINT, status, &bytes).into());
        }
        let token = decode_token(&bytes).map_err(|detail| CyberArkError::Protocol {
            endpoint: ENDPOINT,
            detail: format!("logon answer: {detail}"),
        })?;
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = token;
        Ok(())
    }

    fn auth_header(&self) -> Result<HeaderValue, CyberArkError> {
        let token = self.token.lock().unwrap_or_else(|p| p.into_inner());
        let mut value =
            HeaderValue::from_str(token.expose_secret()).map_err(|_| CyberArkError::Protocol {
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

    /// One authenticated attempt; re-logs on once after `401 PASWS006E`.
    async fn call_once(
        &self,
        method: &Method,
        url: &url::Url,
        body: Option<&[u8]>,
    ) -> Result<Zeroizing<Vec<u8>>, Failure> {
        let mut relogged = false;
        loop {
            let (status, bytes) = self.send_once(method, url, body).await?;
            if (200..300).contains(&status) {
                return Ok(bytes);
            }
            let err = classify(ENDPOINT, status, &bytes);
            let expired = status == 401
                && err
                    .code()
                    .is_some_and(|c| c.eq_ignore_ascii_case("PASWS006E"));
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

    /// Finds the account named exactly `name` (case-insensitively) in `safe`, following
    /// `nextLink`. An exact-case match wins over case-insensitive ones; two candidates are an error.
    pub async fn find_account(
        &self,
        safe: &str,
        name: &str,
    ) -> Result<Option<Account>, CyberArkError> {
        check_value("safe name", safe)?;
        check_value("account name", name)?;
        let first = format!(
            "API/Accounts?filter={}&search={}",
            enc(&format!("safeName eq {safe}")),
            enc(name)
        );
        let mut next = Some(self.url(&first)?);
        let mut candidates: Vec<Account> = Vec::new();
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(CyberArkError::Protocol {
                    endpoint: ENDPOINT,
                    detail: format!("account list has more than {MAX_PAGES} pages"),
                });
            }
            let bytes = self.call(Method::GET, url, None).await?;
            let page: AccountPage = Self::parse(&bytes, "account list")?;
            candidates.extend(page.value.into_iter().filter(|a| {
                a.name.eq_ignore_ascii_case(name) && a.safe_name.eq_ignore_ascii_case(safe)
            }));
            if let Some(link) = page.next_link.filter(|l| !l.trim().is_empty()) {
                next = Some(resolve_next_link(&self.app_base, &link).map_err(|detail| {
                    CyberArkError::Protocol {
                        endpoint: ENDPOINT,
                        detail,
                    }
                })?);
            }
        }
        pick_account(candidates, safe, name)
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

    /// Ends the session.
    pub async fn logoff(self) -> Result<(), CyberArkError> {
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

#[path = "pvwa_ops.rs"]
mod ops;
#[cfg(test)]
pub(crate) use ops::{decode_secret, poll_cpm};

#[cfg(test)]
#[path = "pvwa_tests.rs"]
mod tests;
