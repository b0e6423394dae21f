//! Test support: an in-memory transport that hands each request straight to an axum router, and
//! clients built on it.
//!
//! Real sockets do not mix with tokio's paused clock (while the runtime waits on a socket the
//! clock jumps to the next timer, which fires the request timeouts), so the timing tests run the
//! same kind of axum handlers in memory. Everything above the transport (pacing, retries,
//! `Retry-After`, paging, error mapping) is the production code path.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arkbridge_core::config::{ConfigSecret, ConfluenceAuth, ConfluenceConfig, ConfluenceFlavor};
use axum::Router;
use secrecy::SecretString;
use tokio::time::Instant;
use tower::ServiceExt as _;

use crate::client::ConfluenceClient;
use crate::transport::{BODY_LIMIT, Exchange, Failure, Outgoing, Reply, Transport};

pub(crate) const TOKEN: &str = "tok-hunter2";

/// Serves requests with an axum router, without sockets.
pub(crate) struct RouterTransport {
    router: Router,
}

impl Transport for RouterTransport {
    fn send(&self, request: Outgoing) -> Exchange<'_> {
        let router = self.router.clone();
        Box::pin(async move {
            let mut builder = axum::http::Request::builder()
                .method(request.method)
                .uri(request.url);
            for (name, value) in &request.headers {
                builder = builder.header(name, value);
            }
            let req = builder
                .body(axum::body::Body::from(request.body.unwrap_or_default()))
                .map_err(|e| Failure::NotSent(e.to_string()))?;
            let resp = match router.oneshot(req).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = axum::body::to_bytes(resp.into_body(), BODY_LIMIT)
                .await
                .map_err(|e| Failure::Broken(e.to_string()))?;
            Ok(Reply {
                status,
                headers,
                body: body.to_vec(),
            })
        })
    }
}

/// A Cloud basic-auth config for `url`.
pub(crate) fn cloud_config(url: &str) -> ConfluenceConfig {
    ConfluenceConfig {
        url: url.into(),
        flavor: ConfluenceFlavor::Cloud,
        auth: ConfluenceAuth::Basic,
        user: "bot@example.com".into(),
        token: ConfigSecret::Inline(String::new()),
        cloud_id: None,
        gateway_url: None,
        ca_cert: None,
        max_requests_per_second: None,
    }
}

/// A Data Center personal-access-token config for `url`.
pub(crate) fn dc_config(url: &str) -> ConfluenceConfig {
    ConfluenceConfig {
        flavor: ConfluenceFlavor::DataCenter,
        auth: ConfluenceAuth::Pat,
        user: String::new(),
        ..cloud_config(url)
    }
}

/// A client on `router`, answering as if it were `cfg.url`.
pub(crate) fn client_on(router: Router, cfg: &ConfluenceConfig) -> ConfluenceClient {
    ConfluenceClient::with_transport(
        cfg,
        SecretString::from(TOKEN),
        Box::new(RouterTransport { router }),
    )
    .unwrap()
}

/// A Cloud client on `router` at `http://x.test`.
pub(crate) fn cloud_client(router: Router) -> ConfluenceClient {
    client_on(router, &cloud_config("http://x.test"))
}

/// A Data Center client on `router` at `http://dc.test/confluence`.
pub(crate) fn dc_client(router: Router) -> ConfluenceClient {
    client_on(router, &dc_config("http://dc.test/confluence"))
}

/// When each request reached a handler, on tokio's clock (paused in timing tests).
#[derive(Clone)]
pub(crate) struct Hits {
    start: Instant,
    at: Arc<Mutex<Vec<Duration>>>,
}

impl Hits {
    pub(crate) fn new() -> Hits {
        Hits {
            start: Instant::now(),
            at: Arc::default(),
        }
    }

    /// Records a hit and returns how many came before it.
    pub(crate) fn hit(&self) -> usize {
        let mut at = self.at.lock().unwrap();
        at.push(self.start.elapsed());
        at.len() - 1
    }

    pub(crate) fn times(&self) -> Vec<Duration> {
        self.at.lock().unwrap().clone()
    }

    pub(crate) fn count(&self) -> usize {
        self.at.lock().unwrap().len()
    }
}
