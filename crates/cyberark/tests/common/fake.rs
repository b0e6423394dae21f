//! A canned-answer HTTP server (plain HTTP on `127.0.0.1`) for the reference tests whose answer
//! the simulator never gives: error codes listed in the reference that no simulated situation
//! produces (APPAP228E, CASVL010E, PASWS291E ...), a redirect. With [`Fake::start`] the PVWA
//! logon succeeds with a realistic token and every other request gets the answer of the test's
//! closure; with [`Fake::start_all`] the closure answers the logon too. Requests are recorded so
//! tests can check the path the client used.

use std::sync::{Arc, Mutex};

use arkbridge_core::config::{CcpConfig, PvwaAuthMethod};
use arkbridge_cyberark::{CcpClient, CyberArkError, PvwaAuth, PvwaClient};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;

use super::no_retry;

/// A PVWA session token of realistic length, as the JSON string literal the logon returns.
const TOKEN_JSON: &str = "\"ZmY2YjNhMjEtOGQ5ZS00YzFhLWE2ZjgtMDAwMDAwMDAwMDAwOzA5ODc2NTQzMjE=\"";

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
}

/// What the fake answers: a status, a JSON body and, for redirects, a `Location`.
pub(crate) struct Canned {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) location: Option<String>,
}

/// A JSON answer.
pub(crate) fn canned(status: u16, body: &str) -> Canned {
    Canned {
        status,
        body: body.to_string(),
        location: None,
    }
}

type Respond = dyn Fn(&Seen) -> Canned + Send + Sync;

pub(crate) struct Fake {
    pub(crate) url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    /// Starts a server that answers every request but the PVWA logon with `respond`.
    pub(crate) async fn start(respond: impl Fn(&Seen) -> Canned + Send + Sync + 'static) -> Fake {
        Self::serve(true, Arc::new(respond)).await
    }

    /// Starts a server that answers every request, the PVWA logon included, with `respond`.
    pub(crate) async fn start_all(
        respond: impl Fn(&Seen) -> Canned + Send + Sync + 'static,
    ) -> Fake {
        Self::serve(false, Arc::new(respond)).await
    }

    async fn serve(auto_logon: bool, respond: Arc<Respond>) -> Fake {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen.clone();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri| {
            let log = log.clone();
            let respond = respond.clone();
            async move {
                let req = Seen {
                    method: method.to_string(),
                    path: uri.path().to_string(),
                    query: uri.query().unwrap_or("").to_string(),
                };
                log.lock().unwrap().push(req.clone());
                if auto_logon && req.path.to_ascii_lowercase().ends_with("/logon") {
                    return answer(canned(200, TOKEN_JSON));
                }
                answer(respond(&req))
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Fake {
            url: format!("http://{addr}"),
            seen,
        }
    }

    /// Every request so far.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// A CCP client for this server (AppID `arkbridge`, no retries).
    pub(crate) fn ccp(&self) -> CcpClient {
        CcpClient::with_resilience(&ccp_config(&self.url), no_retry("ccp")).unwrap()
    }

    /// A PVWA session on this server (`/PasswordVault`, CyberArk logon, no retries).
    pub(crate) async fn pvwa(&self) -> PvwaClient {
        self.pvwa_logon().await.unwrap()
    }

    /// The logon of [`pvwa`](Self::pvwa), for tests where the logon itself is refused.
    pub(crate) async fn pvwa_logon(&self) -> Result<PvwaClient, CyberArkError> {
        let auth = PvwaAuth::Logon {
            method: PvwaAuthMethod::CyberArk,
            username: "arkbridge-svc".into(),
            password: SecretString::from("pw-not-a-real-one"),
        };
        PvwaClient::connect(&self.url, "PasswordVault", auth, None, no_retry("pvwa")).await
    }
}

/// A CCP configuration for `url` with the defaults of `arkbridge.toml` (built through serde so
/// that fields added to the config later keep their defaults here).
pub(crate) fn ccp_config(url: &str) -> CcpConfig {
    serde_json::from_value(serde_json::json!({"url": url, "app_id": "arkbridge"})).unwrap()
}

fn answer(c: Canned) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Some(location) = c.location {
        headers.insert(header::LOCATION, HeaderValue::from_str(&location).unwrap());
    }
    let status = StatusCode::from_u16(c.status).unwrap();
    (status, headers, c.body).into_response()
}
