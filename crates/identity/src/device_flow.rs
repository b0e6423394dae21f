//! The OAuth 2.0 device authorization grant (RFC 8628), with which the CLI signs a user in, and
//! the refresh token grant (RFC 6749 §6) that keeps that sign-in going.
//!
//! The endpoints come from the issuer's discovery document. [`DeviceFlow::start`] asks for a
//! device code and a user code; the person opens the verification URI, enters the code and signs
//! in; meanwhile [`DeviceFlow::poll`] asks the token endpoint every `interval` seconds, waits 5
//! seconds longer after each `slow_down` (§3.5), keeps waiting on `authorization_pending` and
//! stops on `access_denied`, `expired_token` or when the code's lifetime has passed. The device
//! code and the tokens are [`SecretString`]s: they are never logged, and a failed answer's body is
//! never echoed (only the OAuth `error` and `error_description`).
//!
//! With scope `offline_access` ([`OFFLINE_SCOPES`]) the provider adds a refresh token;
//! [`DeviceFlow::refresh`] trades it for new tokens, keeping the ID token and the refresh token
//! it had when the answer brings no new ones (OIDC Core §12.2, RFC 6749 §6), and tells an
//! `invalid_grant` (the sign-in is over: revoked, expired or reused) apart from other failures.

use std::path::Path;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;
use url::Url;

use crate::error::IdentityError;
use crate::http::{self, https_client};
use crate::oidc_discovery;

/// The `grant_type` of the token requests (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The scopes the CLI asks for.
pub const DEFAULT_SCOPES: &str = "openid profile email groups";
/// The scopes of a sign-in that is refreshed: [`DEFAULT_SCOPES`] and `offline_access`.
pub const OFFLINE_SCOPES: &str = "openid profile email groups offline_access";
/// The `grant_type` of a refresh (RFC 6749 §6).
pub const REFRESH_GRANT: &str = "refresh_token";

const MAX_ANSWER_BYTES: usize = 64 * 1024;
const DEFAULT_INTERVAL_SECS: u64 = 5;
const SLOW_DOWN_SECS: u64 = 5;

/// Why a device sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum DeviceFlowError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("the provider {issuer} offers no {endpoint} in its discovery document")]
    NoEndpoint {
        issuer: String,
        endpoint: &'static str,
    },
    #[error("{what} at {url} failed: {reason}")]
    Http {
        what: &'static str,
        url: String,
        reason: String,
    },
    #[error("the provider refused the {what}: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        what: &'static str,
        error: String,
        description: Option<String>,
    },
    #[error("the sign-in was denied at the provider")]
    AccessDenied,
    #[error("the code expired before the sign-in was approved; run `arkbridge login` again")]
    Expired,
    #[error("the provider's {what} is malformed: {reason}")]
    Malformed { what: &'static str, reason: String },
    #[error("the provider no longer accepts the refresh token (invalid_grant)")]
    RefreshRefused,
}

/// A pending device authorization: what to show the person, and the device code to poll with.
pub struct DeviceAuthorization {
    device_code: SecretString,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    /// Seconds the codes live.
    pub expires_in: u64,
    /// Seconds between polls.
    pub interval: u64,
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("device_code", &"[redacted]")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish()
    }
}

/// The tokens a successful sign-in yields.
pub struct TokenSet {
    pub id_token: SecretString,
    pub access_token: SecretString,
    /// With scope `offline_access`: what [`DeviceFlow::refresh`] trades for new tokens.
    pub refresh_token: Option<SecretString>,
    /// The access token's lifetime in seconds, when the provider said.
    pub expires_in: Option<u64>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("id_token", &"[redacted]")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// What to do after a token request that did not yield tokens (RFC 8628 §3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    /// Poll again after this many seconds.
    Wait(u64),
    Fail(String),
}

/// The next step after the OAuth error `error`, polling every `interval` seconds so far.
pub(crate) fn after_error(error: &str, interval: u64) -> Next {
    match error {
        "authorization_pending" => Next::Wait(interval),
        "slow_down" => Next::Wait(interval + SLOW_DOWN_SECS),
        other => Next::Fail(other.to_string()),
    }
}

/// One provider's device grant for one public client.
#[derive(Debug)]
pub struct DeviceFlow {
    client: reqwest::Client,
    client_id: String,
    device_endpoint: Url,
    token_endpoint: Url,
}

impl DeviceFlow {
    /// Reads the issuer's discovery document and checks its device and token endpoints.
    pub async fn discover(
        issuer: &str,
        client_id: &str,
        ca_cert: Option<&Path>,
    ) -> Result<Self, DeviceFlowError> {
        let client = https_client(ca_cert)?;
        let metadata = oidc_discovery::discover(&client, issuer).await?;
        let endpoint = |value: Option<String>, endpoint: &'static str| {
            let raw = value.ok_or_else(|| DeviceFlowError::NoEndpoint {
                issuer: issuer.to_string(),
                endpoint,
            })?;
            http::https_url(&raw, endpoint).map_err(DeviceFlowError::from)
        };
        Ok(Self {
            client,
            client_id: client_id.to_string(),
            device_endpoint: endpoint(
                metadata.device_authorization_endpoint,
                "device_authorization_endpoint",
            )?,
            token_endpoint: endpoint(metadata.token_endpoint, "token_endpoint")?,
        })
    }

    /// Starts a sign-in: a device code and the user code to show.
    pub async fn start(&self, scope: &str) -> Result<DeviceAuthorization, DeviceFlowError> {
        let what = "device authorization request";
        let body = self
            .post(
                &self.device_endpoint,
                what,
                &[("client_id", &self.client_id), ("scope", scope)],
            )
            .await?
            .map_err(|(error, description)| DeviceFlowError::Refused {
                what,
                error,
                description,
            })?;
        #[derive(Deserialize)]
        struct Answer {
            device_code: String,
            user_code: String,
            verification_uri: String,
            verification_uri_complete: Option<String>,
            expires_in: u64,
            interval: Option<u64>,
        }
        let a: Answer = serde_json::from_value(body).map_err(|e| DeviceFlowError::Malformed {
            what: "device authorization answer",
            reason: e.to_string(),
        })?;
        Ok(DeviceAuthorization {
            device_code: SecretString::from(a.device_code),
            user_code: a.user_code,
            verification_uri: a.verification_uri,
            verification_uri_complete: a.verification_uri_complete,
            expires_in: a.expires_in,
            interval: a.interval.unwrap_or(DEFAULT_INTERVAL_SECS).max(1),
        })
    }

    /// Polls the token endpoint until the person approves or denies, or the code expires.
    pub async fn poll(&self, auth: &DeviceAuthorization) -> Result<TokenSet, DeviceFlowError> {
        poll_loop(auth.expires_in, auth.interval, || async {
            let form = [
                ("grant_type", DEVICE_CODE_GRANT),
                ("device_code", auth.device_code.expose_secret()),
                ("client_id", self.client_id.as_str()),
            ];
            self.post(&self.token_endpoint, TOKEN_REQUEST, &form).await
        })
        .await
    }

    /// Trades `refresh_token` for new tokens. `id_token` is the one in hand, kept when the
    /// answer brings none; so is the refresh token when the provider does not rotate it.
    /// `RefreshRefused` means the sign-in is over (the provider answered `invalid_grant`).
    pub async fn refresh(
        &self,
        refresh_token: &SecretString,
        id_token: &SecretString,
    ) -> Result<TokenSet, DeviceFlowError> {
        let what = "refresh token request";
        let form = [
            ("grant_type", REFRESH_GRANT),
            ("refresh_token", refresh_token.expose_secret()),
            ("client_id", self.client_id.as_str()),
        ];
        match self.post(&self.token_endpoint, what, &form).await? {
            Ok(body) => refreshed(body, refresh_token, id_token),
            Err((error, _)) if error == "invalid_grant" => Err(DeviceFlowError::RefreshRefused),
            Err((error, description)) => Err(DeviceFlowError::Refused {
                what,
                error,
                description,
            }),
        }
    }

    /// POSTs a form; `Ok(Ok(json))` for 200, `Ok(Err((error, description)))` for an OAuth error.
    async fn post(
        &self,
        url: &Url,
        what: &'static str,
        form: &[(&str, &str)],
    ) -> Result<Answer, DeviceFlowError> {
        let fail = |reason: String| DeviceFlowError::Http {
            what,
            url: url.to_string(),
            reason,
        };
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut response = self
            .client
            .post(url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        let status = response.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| fail(e.to_string()))? {
            if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(fail(format!("answer larger than {MAX_ANSWER_BYTES} bytes")));
            }
            bytes.extend_from_slice(&chunk);
        }
        // The body is parsed but never quoted: a success holds tokens.
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        if status == reqwest::StatusCode::OK {
            return json.map(Ok).ok_or_else(|| DeviceFlowError::Malformed {
                what,
                reason: "the answer is not JSON".into(),
            });
        }
        let error = json
            .as_ref()
            .and_then(|j| j.get("error")?.as_str().map(str::to_string));
        match error {
            Some(error) => {
                let description = json
                    .as_ref()
                    .and_then(|j| j.get("error_description")?.as_str())
                    .map(str::to_string);
                Ok(Err((error, description)))
            }
            None => Err(fail(format!("HTTP status {status}"))),
        }
    }
}

const TOKEN_REQUEST: &str = "device token request";

/// A token endpoint's answer: the JSON of a 200, or an OAuth error and its description.
type Answer = Result<Value, (String, Option<String>)>;

/// Asks for tokens every `interval` seconds (waiting before each request, as §3.5 asks) until
/// they come, the provider gives up, or `expires_in` seconds have passed.
async fn poll_loop<F, Fut>(
    expires_in: u64,
    interval: u64,
    mut ask: F,
) -> Result<TokenSet, DeviceFlowError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Answer, DeviceFlowError>>,
{
    let deadline = Instant::now() + Duration::from_secs(expires_in);
    let mut interval = interval.max(1);
    loop {
        tokio::time::sleep(Duration::from_secs(interval)).await;
        if Instant::now() >= deadline {
            return Err(DeviceFlowError::Expired);
        }
        let (error, description) = match ask().await? {
            Ok(body) => return tokens(body),
            Err(e) => e,
        };
        match after_error(&error, interval) {
            Next::Wait(next) => {
                if next != interval {
                    tracing::debug!(interval = next, "the provider asked to slow down");
                }
                interval = next;
            }
            Next::Fail(e) if e == "access_denied" => return Err(DeviceFlowError::AccessDenied),
            Next::Fail(e) if e == "expired_token" => return Err(DeviceFlowError::Expired),
            Next::Fail(error) => {
                return Err(DeviceFlowError::Refused {
                    what: TOKEN_REQUEST,
                    error,
                    description,
                });
            }
        }
    }
}

fn tokens(body: Value) -> Result<TokenSet, DeviceFlowError> {
    let malformed = |reason: &str| DeviceFlowError::Malformed {
        what: "token answer",
        reason: reason.to_string(),
    };
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string);
    let id_token = text("id_token").ok_or_else(|| {
        malformed("it has no id_token (is the `openid` scope allowed for this client?)")
    })?;
    let access_token = text("access_token").ok_or_else(|| malformed("it has no access_token"))?;
    Ok(TokenSet {
        id_token: SecretString::from(id_token),
        access_token: SecretString::from(access_token),
        refresh_token: text("refresh_token").map(SecretString::from),
        expires_in: body.get("expires_in").and_then(Value::as_u64),
    })
}

/// A refresh answer: a new access token, and the ID and refresh tokens in hand unless it
/// brings new ones.
fn refreshed(
    body: Value,
    refresh_token: &SecretString,
    id_token: &SecretString,
) -> Result<TokenSet, DeviceFlowError> {
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string);
    let access_token = text("access_token").ok_or_else(|| DeviceFlowError::Malformed {
        what: "refresh answer",
        reason: "it has no access_token".into(),
    })?;
    Ok(TokenSet {
        id_token: text("id_token").map_or_else(|| id_token.clone(), SecretString::from),
        access_token: SecretString::from(access_token),
        refresh_token: Some(
            text("refresh_token").map_or_else(|| refresh_token.clone(), SecretString::from),
        ),
        expires_in: body.get("expires_in").and_then(Value::as_u64),
    })
}

#[cfg(test)]
#[path = "device_flow_tests.rs"]
mod tests;
