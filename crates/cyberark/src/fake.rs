//! Test-only fake CyberArk server: plain HTTP on `127.0.0.1`, an axum fallback handler that
//! records every request and answers through a per-test closure.
//!
//! The server runs on the test's own runtime, so `#[tokio::test(start_paused = true)]` works:
//! loopback I/O is ready as soon as it is written, and a [`Reply::Hang`] handler sleeps on paused
//! time until the client's own request timeout fires. [`dead_url`] gives a URL where nothing
//! listens (connection refused: a connect error, the request was never sent).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arkbridge_core::config::{CcpConfig, PvwaAuthMethod, PvwaConfig};
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) authorization: Option<String>,
    pub(crate) body: String,
}

/// What the fake answers.
pub(crate) enum Reply {
    /// A status and a body (sent as `application/json`).
    Status(u16, String),
    /// Never answers (an hour of paused time).
    Hang,
}

pub(crate) fn reply(status: u16, body: &str) -> Reply {
    Reply::Status(status, body.to_string())
}

type Handler = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

/// A running fake server.
pub(crate) struct Fake {
    pub(crate) url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    /// Starts a server; `respond` gets each request and how many requests came before it.
    pub(crate) async fn start(
        respond: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
    ) -> Fake {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let respond: Arc<Handler> = Arc::new(respond);
        let log = seen.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let log = log.clone();
                let respond = respond.clone();
                async move {
                    let req = Seen {
                        method: method.to_string(),
                        path: uri.path().to_string(),
                        query: uri.query().unwrap_or("").to_string(),
                        authorization: headers
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string),
                        body: String::from_utf8_lossy(&body).into_owned(),
                    };
                    let n = {
                        let mut log = log.lock().unwrap();
                        log.push(req.clone());
                        log.len() - 1
                    };
                    match respond(&req, n) {
                        Reply::Status(status, body) => answer(status, body),
                        Reply::Hang => {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            answer(500, String::new())
                        }
                    }
                }
            },
        );
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

    /// How many requests had a path ending in `suffix` (ignoring case).
    pub(crate) fn count(&self, suffix: &str) -> usize {
        let suffix = suffix.to_ascii_lowercase();
        self.seen()
            .iter()
            .filter(|s| s.path.to_ascii_lowercase().ends_with(&suffix))
            .count()
    }
}

fn answer(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    (status, [("content-type", "application/json")], body).into_response()
}

/// A URL on a port where nothing listens.
pub(crate) async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

pub(crate) fn ccp_config(url: &str) -> CcpConfig {
    CcpConfig {
        url: url.into(),
        web_service: "AIMWebService".into(),
        app_id: "arkbridge".into(),
        ca_cert: None,
        client_cert: None,
        client_key: None,
        client_pkcs12: None,
        client_pkcs12_password_file: None,
        client_pkcs12_password_env: None,
        connection_timeout_secs: 30,
    }
}

pub(crate) fn pvwa_config(url: &str) -> PvwaConfig {
    PvwaConfig {
        url: url.into(),
        app_name: "PasswordVault".into(),
        auth_method: PvwaAuthMethod::CyberArk,
        username: "arkbridge-svc".into(),
        password: arkbridge_core::config::ConfigSecret::Inline("unused".into()),
        identity_url: None,
        ca_cert: None,
        cpm_wait_secs: 60,
    }
}

/// A token of realistic length, as a JSON string literal.
pub(crate) const TOKEN_JSON: &str = "\"dG9rZW4tdG9rZW4tdG9rZW4tdG9rZW4tdG9rZW4tdG9rZW4tdG9rZW4=\"";
