//! The Confluence client: construction, authentication, and the one path every request takes
//! (pacing, retries, statistics, error mapping). The API calls are in the modules named after
//! what they touch (`pages`, `edit`, `spaces`, `content_meta`, `directory`, `crawl`).
//!
//! Every request first waits for its slot in the shared [`Pacer`] (the optional rate cap, and any
//! pause a `Retry-After` announced), then goes through the transport; the answer is retried as
//! [`retry`](crate::retry) decides. A 429 or 503 with `Retry-After` pauses every clone of the
//! client, not just the request that got it. The token lives only in the sensitive
//! `Authorization` header; `Debug` shows the API root and the user, never the header.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use arkbridge_core::config::{ConfluenceAuth, ConfluenceConfig, ConfluenceFlavor};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use secrecy::SecretString;
use serde_json::Value;

use crate::endpoint::{Credentials, Endpoints};
use crate::error::{ConfluenceError, classify};
use crate::pacing::{ClientStats, Pacer, RateLimit};
use crate::retry::{self, Repeat, RetryPolicy};
use crate::tls;
use crate::transport::{HttpTransport, Outgoing, Reply, Transport};

/// Everything but RFC 3986 unreserved characters is encoded (a space becomes `%20`).
const QUERY_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a query or path value.
pub(crate) fn enc(s: &str) -> String {
    utf8_percent_encode(s, QUERY_SET).to_string()
}

struct Inner {
    transport: Box<dyn Transport>,
    endpoints: Endpoints,
    credentials: Credentials,
    pacer: Pacer,
}

/// A Confluence Cloud or Data Center client. Cheap to clone; clones share the rate cap, the
/// request counters and the credentials.
#[derive(Clone)]
pub struct ConfluenceClient {
    inner: Arc<Inner>,
    retry: RetryPolicy,
}

impl fmt::Debug for ConfluenceClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfluenceClient")
            .field("flavor", &self.inner.endpoints.flavor)
            .field("api", &self.inner.endpoints.api_root())
            .field("auth", &self.inner.credentials.kind())
            .field("user", &self.inner.credentials.user())
            .finish_non_exhaustive()
    }
}

impl ConfluenceClient {
    /// Builds the client (reads the CA bundle, if any). Never contacts Confluence. The token is
    /// the API token, OAuth access token, personal access token or password that
    /// `cfg.auth` names; `cfg.max_requests_per_second` sets the rate cap.
    pub fn new(cfg: &ConfluenceConfig, token: SecretString) -> Result<Self, ConfluenceError> {
        let http = tls::http_client(tls::client_config(cfg.ca_cert.as_deref())?)?;
        Self::with_transport(cfg, token, Box::new(HttpTransport { http }))
    }

    pub(crate) fn with_transport(
        cfg: &ConfluenceConfig,
        token: SecretString,
        transport: Box<dyn Transport>,
    ) -> Result<Self, ConfluenceError> {
        let endpoints = Endpoints::new(cfg)?;
        match (cfg.flavor, cfg.auth) {
            (ConfluenceFlavor::Cloud, ConfluenceAuth::Pat) => {
                return Err(ConfluenceError::Config(
                    "personal access tokens are for Data Center".into(),
                ));
            }
            (ConfluenceFlavor::Cloud, ConfluenceAuth::Oauth) if cfg.cloud_id.is_none() => {
                return Err(ConfluenceError::Config(
                    "OAuth tokens only work through the gateway: set confluence.cloud_id".into(),
                ));
            }
            _ => {}
        }
        let credentials = Credentials::new(cfg.auth, &cfg.user, &token)?;
        let limit = cfg
            .max_requests_per_second
            .map(|rate| RateLimit::new(rate, 1))
            .transpose()?;
        Ok(ConfluenceClient {
            inner: Arc::new(Inner {
                transport,
                endpoints,
                credentials,
                pacer: Pacer::new(limit),
            }),
            retry: RetryPolicy::default(),
        })
    }

    /// The same client with another retry policy (this handle and its later clones).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The retry policy in use.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Sets or lifts the rate cap, for this client and every clone.
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        self.inner.pacer.set_limit(limit);
    }

    /// The rate cap in use.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.inner.pacer.limit()
    }

    /// Requests sent so far by this client and its clones.
    pub fn stats(&self) -> ClientStats {
        self.inner.pacer.stats()
    }

    /// Replaces the token (e.g. a refreshed OAuth access token) for this client and every clone.
    pub fn set_token(&self, token: SecretString) -> Result<(), ConfluenceError> {
        self.inner.credentials.replace(&token)
    }

    /// Cloud or Data Center.
    pub fn flavor(&self) -> ConfluenceFlavor {
        self.inner.endpoints.flavor
    }

    /// The browser site: Cloud without `/wiki` (e.g. `https://example.atlassian.net`), Data
    /// Center with its context path.
    pub fn site_url(&self) -> &str {
        self.inner.endpoints.site()
    }

    /// Where API calls go: the site, or the gateway `.../ex/confluence/{cloudId}`.
    pub fn api_root(&self) -> &str {
        self.inner.endpoints.api_root()
    }

    pub(crate) fn endpoints(&self) -> &Endpoints {
        &self.inner.endpoints
    }

    pub(crate) fn is_cloud(&self) -> bool {
        self.inner.endpoints.is_cloud()
    }

    /// The error for an operation this flavor has no API for.
    pub(crate) fn unsupported(&self, operation: &'static str) -> ConfluenceError {
        ConfluenceError::Unsupported {
            operation,
            flavor: self.inner.endpoints.flavor_name(),
        }
    }

    /// Sends one request, paced and retried.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        repeat: Repeat,
    ) -> Result<Reply, ConfluenceError> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| ConfluenceError::Invalid(format!("cannot encode the request: {e}")))?;
        let inner = &self.inner;
        let max_attempts = self.retry.max_attempts.max(1);
        let mut throttled_in_a_row = 0;
        let mut attempt = 1;
        loop {
            inner.pacer.acquire().await;
            inner.pacer.count_request(attempt > 1);
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, inner.credentials.header());
            headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
            if body.is_some() {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            let outgoing = Outgoing {
                method: method.clone(),
                url: url.to_string(),
                headers,
                body: body.clone(),
            };
            let unit = retry::jitter();
            let (outcome, delay) = match inner.transport.send(outgoing).await {
                Ok(reply) => {
                    if reply.status == 429 {
                        throttled_in_a_row += 1;
                        inner.pacer.count_throttled(throttled_in_a_row);
                    } else {
                        throttled_in_a_row = 0;
                    }
                    if matches!(reply.status, 429 | 503)
                        && let Some(announced) =
                            retry::retry_after(&reply.headers, SystemTime::now(), &self.retry)
                    {
                        inner
                            .pacer
                            .pause_until(tokio::time::Instant::now() + announced);
                    }
                    let delay = retry::decide(
                        &self.retry,
                        reply.status,
                        &reply.headers,
                        attempt,
                        repeat,
                        unit,
                    );
                    (Ok(reply), delay)
                }
                Err(failure) => {
                    let delay =
                        retry::transport_retry(&self.retry, &failure, attempt, repeat, unit);
                    (Err(failure.into_error()), delay)
                }
            };
            match delay {
                Some(delay) if attempt < max_attempts => {
                    tracing::debug!(
                        attempt,
                        status = outcome.as_ref().map(|r| r.status).ok(),
                        ?delay,
                        "Confluence call will be retried"
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                _ => return outcome,
            }
        }
    }

    /// Sends a request and parses a JSON answer with one of the expected statuses.
    pub(crate) async fn call(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        repeat: Repeat,
        ok: &[u16],
        what: &str,
    ) -> Result<(Value, HeaderMap), ConfluenceError> {
        let reply = self.send(method, url, body, repeat).await?;
        if !ok.contains(&reply.status) {
            return Err(classify(reply.status, &reply.body, what));
        }
        let value = serde_json::from_slice(&reply.body).map_err(|e| ConfluenceError::Protocol {
            detail: format!("the answer for {what} is not JSON ({e})"),
        })?;
        Ok((value, reply.headers))
    }

    /// GETs a JSON answer (200).
    pub(crate) async fn get_json(
        &self,
        url: &str,
        what: &str,
    ) -> Result<(Value, HeaderMap), ConfluenceError> {
        self.call(Method::GET, url, None, Repeat::Safe, &[200], what)
            .await
    }

    /// Sends a request whose answer carries nothing of interest (e.g. 204 on DELETE).
    pub(crate) async fn call_empty(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        ok: &[u16],
        what: &str,
    ) -> Result<(), ConfluenceError> {
        let reply = self.send(method, url, body, Repeat::Safe).await?;
        if !ok.contains(&reply.status) {
            return Err(classify(reply.status, &reply.body, what));
        }
        Ok(())
    }
}
