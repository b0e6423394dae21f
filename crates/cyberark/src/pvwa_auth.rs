//! How a [`PvwaClient`] authenticates, and obtaining its token.
//!
//! * Self-Hosted (and "standard" Privilege Cloud): `POST /{app}/API/auth/{method}/Logon` with
//!   `concurrentSession: true`; the token is sent raw (`Authorization: <token>`). It has no known
//!   lifetime; a `401 PASWS006E` triggers one re-logon.
//! * Privilege Cloud Shared Services (ISPSS): an OAuth2 `client_credentials` platform token from
//!   the Identity tenant (`POST {identity_url}/oauth2/platformtoken`, form-encoded), sent as
//!   `Authorization: Bearer <token>`. It is fetched again shortly before `expires_in` elapses
//!   (3600 s when missing), measured with `tokio::time`, and after any `401`.
//!
//! Secrets (password, client secret, tokens) are [`SecretString`]s, never in `Debug` or errors;
//! request bodies holding them are wiping buffers.

use std::fmt;
use std::time::Duration;

use arkbridge_core::config::PvwaAuthMethod;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::time::Instant;
use zeroize::Zeroizing;

use super::{ENDPOINT, PvwaClient};
use crate::body::{PVWA_BODY_LIMIT, read_body};
use crate::error::{CyberArkError, classify};
use crate::retry::{Failure, send_failure};
use crate::token::decode_token;

/// Endpoint name of the Identity tenant in errors.
const IDENTITY: &str = "identity";
/// Lifetime assumed when the token answer has no `expires_in` (CyberArk's scripts do the same).
pub(crate) const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// Longest head start of a refresh before the token expires.
const MAX_MARGIN: Duration = Duration::from_secs(60);

/// How the client authenticates to the PVWA.
#[derive(Clone)]
pub enum PvwaAuth {
    /// PVWA logon (`/API/auth/{method}/Logon`) with a user name and password.
    Logon {
        method: PvwaAuthMethod,
        username: String,
        password: SecretString,
    },
    /// ISPSS: OAuth2 `client_credentials` platform token from `token_url`.
    Ispss {
        /// `{identity_url}/oauth2/platformtoken`
        token_url: url::Url,
        client_id: String,
        client_secret: SecretString,
    },
}

impl fmt::Debug for PvwaAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PvwaAuth::Logon {
                method, username, ..
            } => f
                .debug_struct("Logon")
                .field("method", method)
                .field("username", username)
                .finish_non_exhaustive(),
            PvwaAuth::Ispss {
                token_url,
                client_id,
                ..
            } => f
                .debug_struct("Ispss")
                .field("token_url", &token_url.as_str())
                .field("client_id", client_id)
                .finish_non_exhaustive(),
        }
    }
}

impl PvwaAuth {
    /// ISPSS authentication against the Identity tenant at `identity_url`.
    pub fn ispss(
        identity_url: &str,
        client_id: &str,
        client_secret: &SecretString,
    ) -> Result<Self, CyberArkError> {
        let base = crate::tls::base_url(identity_url, "Identity")?;
        let token_url = url::Url::parse(&format!(
            "{}/oauth2/platformtoken",
            base.as_str().trim_end_matches('/')
        ))
        .map_err(|e| CyberArkError::Config(format!("Identity URL is invalid: {e}")))?;
        if client_id.trim().is_empty() {
            return Err(CyberArkError::Config("the ISPSS client id is empty".into()));
        }
        Ok(PvwaAuth::Ispss {
            token_url,
            client_id: client_id.trim().to_string(),
            client_secret: client_secret.clone(),
        })
    }

    pub(crate) fn is_bearer(&self) -> bool {
        matches!(self, PvwaAuth::Ispss { .. })
    }
}

/// The current token and when to fetch a new one (`None`: only when refused).
pub(crate) struct Session {
    pub(crate) token: SecretString,
    pub(crate) refresh_at: Option<Instant>,
}

impl Session {
    pub(crate) fn empty() -> Self {
        Session {
            token: SecretString::from(""),
            refresh_at: None,
        }
    }
}

/// When to refresh a token that lives `lifetime` from `now`: a fifth of the lifetime early, at
/// most a minute early.
pub(crate) fn refresh_at(now: Instant, lifetime: Duration) -> Instant {
    now + lifetime - (lifetime / 5).min(MAX_MARGIN)
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct LogonBody<'a> {
    username: &'a str,
    password: &'a str,
    concurrent_session: bool,
}

/// Reads `expires_in` (a number or a numeric string) and checks `token_type`.
fn token_lifetime(body: &[u8]) -> Result<Duration, String> {
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) else {
        return Err("the token answer is not a JSON object".into());
    };
    if let Some(t) = obj.get("token_type").and_then(Value::as_str)
        && !t.eq_ignore_ascii_case("bearer")
    {
        return Err(format!(
            "token_type `{}` is not Bearer",
            crate::error::clean(t)
        ));
    }
    let secs = match obj.get("expires_in") {
        None | Some(Value::Null) => return Ok(DEFAULT_LIFETIME),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    match secs {
        Some(s) if s.is_finite() && s >= 0.0 => Ok(Duration::from_secs_f64(s.min(1e9))),
        _ => Err("expires_in is not a number of seconds".into()),
    }
}

impl PvwaClient {
    /// Obtains a new token (logon or platform token) and stores it.
    pub(crate) async fn refresh_token(&self) -> Result<(), Failure> {
        let session = match &self.auth {
            PvwaAuth::Logon {
                method,
                username,
                password,
            } => self.logon_once(*method, username, password).await?,
            PvwaAuth::Ispss {
                token_url,
                client_id,
                client_secret,
            } => {
                self.platform_token(token_url, client_id, client_secret)
                    .await?
            }
        };
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = session;
        Ok(())
    }

    /// True when the stored token is due for a refresh.
    pub(crate) fn token_due(&self) -> bool {
        let session = self.token.lock().unwrap_or_else(|p| p.into_inner());
        session.refresh_at.is_some_and(|at| Instant::now() >= at)
    }

    async fn logon_once(
        &self,
        method: PvwaAuthMethod,
        username: &str,
        password: &SecretString,
    ) -> Result<Session, Failure> {
        let segment = method.path_segment().ok_or_else(|| {
            CyberArkError::Config(
                "ISPSS has no PVWA logon; use PvwaAuth::ispss (a platform token)".into(),
            )
        })?;
        let url = self.url(&format!("API/auth/{segment}/Logon"))?;
        let body = Self::json_body(&LogonBody {
            username,
            password: password.expose_secret(),
            concurrent_session: true,
        })?;
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
        Ok(Session {
            token,
            refresh_at: None,
        })
    }

    async fn platform_token(
        &self,
        token_url: &url::Url,
        client_id: &str,
        client_secret: &SecretString,
    ) -> Result<Session, Failure> {
        let form = Zeroizing::new(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "client_credentials")
                .append_pair("client_id", client_id)
                .append_pair("client_secret", client_secret.expose_secret())
                .finish(),
        );
        let resp = self
            .http
            .post(token_url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(form.as_bytes().to_vec())
            .send()
            .await
            .map_err(|e| send_failure(IDENTITY, e))?;
        let status = resp.status().as_u16();
        let bytes = read_body(IDENTITY, resp, PVWA_BODY_LIMIT).await?;
        let protocol = |detail: String| CyberArkError::Protocol {
            endpoint: IDENTITY,
            detail: format!("platform token answer: {detail}"),
        };
        if !(200..300).contains(&status) {
            return Err(classify(IDENTITY, status, &bytes).into());
        }
        if !bytes.trim_ascii_start().starts_with(b"{") {
            return Err(protocol("not a JSON object".into()).into());
        }
        let lifetime = token_lifetime(&bytes).map_err(protocol)?;
        let token = decode_token(&bytes).map_err(protocol)?;
        Ok(Session {
            token,
            refresh_at: Some(refresh_at(Instant::now(), lifetime)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetime_defaults_and_lenient_types() {
        assert_eq!(
            token_lifetime(br#"{"access_token":"t","token_type":"Bearer"}"#),
            Ok(DEFAULT_LIFETIME)
        );
        assert_eq!(
            token_lifetime(br#"{"expires_in":"120"}"#),
            Ok(Duration::from_secs(120))
        );
        assert_eq!(
            token_lifetime(br#"{"expires_in":3600,"token_type":"bearer"}"#),
            Ok(Duration::from_secs(3600))
        );
        assert!(token_lifetime(br#"{"expires_in":-1}"#).is_err());
        assert!(token_lifetime(br#"{"expires_in":"soon"}"#).is_err());
        assert!(token_lifetime(br#"{"token_type":"MAC"}"#).is_err());
        assert!(token_lifetime(b"\"tok\"").is_err());
    }

    #[test]
    fn refresh_is_a_fifth_early_at_most_a_minute() {
        let now = Instant::now();
        assert_eq!(
            refresh_at(now, Duration::from_secs(3600)),
            now + Duration::from_secs(3540)
        );
        assert_eq!(
            refresh_at(now, Duration::from_secs(100)),
            now + Duration::from_secs(80)
        );
        assert_eq!(refresh_at(now, Duration::ZERO), now);
    }

    #[test]
    fn debug_hides_password_and_client_secret() {
        let a = PvwaAuth::ispss(
            "https://abc1234.id.cyberark.cloud/",
            "svc@cyberark.cloud.1234",
            &SecretString::from("cs-hunter2"),
        )
        .unwrap();
        let dbg = format!("{a:?}");
        assert!(
            dbg.contains("https://abc1234.id.cyberark.cloud/oauth2/platformtoken")
                && dbg.contains("svc@cyberark.cloud.1234"),
            "{dbg}"
        );
        assert!(!dbg.contains("hunter2"), "{dbg}");
        let l = PvwaAuth::Logon {
            method: PvwaAuthMethod::Ldap,
            username: "u".into(),
            password: SecretString::from("pw-hunter2"),
        };
        assert!(!format!("{l:?}").contains("hunter2"));
        assert!(PvwaAuth::ispss("not a url", "x", &SecretString::from("s")).is_err());
        assert!(PvwaAuth::ispss("https://x", " ", &SecretString::from("s")).is_err());
    }
}
