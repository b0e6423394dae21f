//! PVWA REST client (Gen2 `/{app_name}/API/...`), used for rotation: find an account, ask the
//! CPM to change it (or check it in), and wait for the CPM to finish.
//!
//! The session token comes back as a JSON string literal and is held as a [`SecretString`]; it is
//! sent raw (`Authorization: <token>`, no scheme) in a header marked sensitive. Logon always asks
//! for `concurrentSession: true`. On `401 PASWS006E` (token missing, invalid or expired) the client
//! logs on again once and retries the call once; the password is kept as a secret for that.

use std::fmt;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use arkbridge_core::config::{PvwaAuthMethod, PvwaConfig};
use percent_encoding::utf8_percent_encode;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::account::{Account, AccountPage, pick_account, resolve_next_link};
use crate::body::{PVWA_BODY_LIMIT, read_body};
use crate::error::{CyberArkError, classify, transport};
use crate::tls;
use crate::token::decode_token;

const ENDPOINT: &str = "pvwa";
/// Whole-request timeout for PVWA calls.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Guard against a server that keeps handing out `nextLink`s.
const MAX_PAGES: usize = 200;
const FIRST_POLL: Duration = Duration::from_millis(200);
const MAX_POLL: Duration = Duration::from_secs(2);

/// An authenticated PVWA session.
pub struct PvwaClient {
    http: reqwest::Client,
    /// `{url}/{app_name}/`
    app_base: url::Url,
    auth_method: PvwaAuthMethod,
    username: String,
    password: SecretString,
    token: Mutex<SecretString>,
}

impl fmt::Debug for PvwaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PvwaClient")
            .field("app_base", &self.app_base.as_str())
            .field("auth_method", &self.auth_method)
            .field("username", &self.username)
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
    /// Logs on and returns the session.
    pub async fn logon(cfg: &PvwaConfig, password: &SecretString) -> Result<Self, CyberArkError> {
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
        let client = PvwaClient {
            http: tls::http_client(tls, REQUEST_TIMEOUT)?,
            app_base,
            auth_method: cfg.auth_method,
            username: cfg.username.clone(),
            password: password.clone(),
            token: Mutex::new(SecretString::from("")),
        };
        client.refresh_token().await?;
        Ok(client)
    }

    fn url(&self, rel: &str) -> Result<url::Url, CyberArkError> {
        self.app_base
            .join(rel)
            .map_err(|e| CyberArkError::Config(format!("cannot build a PVWA URL: {e}")))
    }

    /// Performs the logon call and stores the new token.
    async fn refresh_token(&self) -> Result<(), CyberArkError> {
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
            .map_err(|e| transport(ENDPOINT, e))?;
        let status = resp.status().as_u16();
        let bytes = read_body(ENDPOINT, resp, PVWA_BODY_LIMIT).await?;
        if !(200..300).contains(&status) {
            return Err(classify(ENDPOINT, status, &bytes));
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

    async fn send_once(
        &self,
        method: &Method,
        url: &url::Url,
        body: Option<&serde_json::Value>,
    ) -> Result<(u16, Zeroizing<Vec<u8>>), CyberArkError> {
        let mut req = self
            .http
            .request(method.clone(), url.clone())
            .header(AUTHORIZATION, self.auth_header()?)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| transport(ENDPOINT, e))?;
        let status = resp.status().as_u16();
        Ok((status, read_body(ENDPOINT, resp, PVWA_BODY_LIMIT).await?))
    }

    /// One authenticated call; re-logs on once after `401 PASWS006E`.
    async fn call(
        &self,
        method: Method,
        url: url::Url,
        body: Option<serde_json::Value>,
    ) -> Result<Zeroizing<Vec<u8>>, CyberArkError> {
        let mut relogged = false;
        loop {
            let (status, bytes) = self.send_once(&method, &url, body.as_ref()).await?;
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
                self.refresh_token().await?;
                relogged = true;
                continue;
            }
            return Err(err);
        }
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
        let body = serde_json::json!({ "ChangeEntireGroup": true });
        self.call(Method::POST, url, Some(body)).await.map(drop)
    }

    /// Checks an exclusive account in; a CPM-managed account is then changed immediately.
    pub async fn check_in(&self, id: &str) -> Result<(), CyberArkError> {
        let url = self.url(&Self::account_path(id, "/CheckIn")?)?;
        self.call(Method::POST, url, None).await.map(drop)
    }

    /// Polls `secretManagement.status` until `success` (Ok), `failure` (CpmFailed) or the deadline
    /// (CpmTimeout). Polls every 200 ms at first, backing off to 2 s.
    pub async fn wait_for_cpm(
        &self,
        id: &str,
        deadline: Duration,
    ) -> Result<Account, CyberArkError> {
        poll_cpm(id, deadline, None, || self.get_account(id)).await
    }

    /// Like [`wait_for_cpm`](Self::wait_for_cpm), but a `success` only counts once
    /// `lastModifiedTime` is later than `previous_modified` (read before asking for the change)
    /// or the CPM was seen at work (`inProcess`) during this wait, so a stale `success` left by
    /// an earlier change is not mistaken for this one. (`lastModifiedTime` has one-second
    /// resolution, hence the second condition.)
    pub async fn wait_for_change_after(
        &self,
        id: &str,
        previous_modified: Option<i64>,
        deadline: Duration,
    ) -> Result<Account, CyberArkError> {
        poll_cpm(id, deadline, previous_modified, || self.get_account(id)).await
    }

    /// Ends the session.
    pub async fn logoff(self) -> Result<(), CyberArkError> {
        let url = self.url("API/Auth/Logoff")?;
        let (status, bytes) = self.send_once(&Method::POST, &url, None).await?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(classify(ENDPOINT, status, &bytes))
        }
    }
}

/// The CPM polling loop, independent of HTTP so it can be tested with paused time.
pub(crate) async fn poll_cpm<F, Fut>(
    id: &str,
    deadline: Duration,
    previous_modified: Option<i64>,
    mut fetch: F,
) -> Result<Account, CyberArkError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Account, CyberArkError>>,
{
    let end = tokio::time::Instant::now() + deadline;
    let mut interval = FIRST_POLL;
    // Whether this wait has seen the CPM at work (any status other than success/failure).
    let mut saw_work = false;
    loop {
        let account = fetch().await?;
        let status = account
            .secret_management
            .status
            .as_deref()
            .unwrap_or("")
            .trim();
        let success = status.eq_ignore_ascii_case("success");
        let fresh = match (
            previous_modified,
            account.secret_management.last_modified_time,
        ) {
            (None, _) => true,
            (Some(before), Some(now)) => now > before || saw_work,
            (Some(_), None) => saw_work,
        };
        if success && fresh {
            return Ok(account);
        }
        if status.eq_ignore_ascii_case("failure") || status.eq_ignore_ascii_case("failed") {
            return Err(CyberArkError::CpmFailed {
                account_id: id.to_string(),
                status: status.to_string(),
            });
        }
        if !success {
            saw_work = true;
        }
        let now = tokio::time::Instant::now();
        if now >= end {
            return Err(CyberArkError::CpmTimeout {
                account_id: id.to_string(),
            });
        }
        tokio::time::sleep(interval.min(end - now)).await;
        interval = (interval * 2).min(MAX_POLL);
    }
}

#[cfg(test)]
#[path = "pvwa_tests.rs"]
mod tests;
