//! The HTTP layer under the client, behind a small trait.
//!
//! [`HttpTransport`] is reqwest on the rustls configuration of [`crate::tls`]. The trait exists so
//! that the retry and rate-limit timing can be tested on tokio's paused clock with an in-memory
//! server: a real socket wait lets the paused clock jump ahead and fire the request timeouts.
//! A transport reports *how* a request failed, because that decides whether it may be retried:
//! a request that was never sent can always be repeated, one that timed out or broke mid-answer
//! only when repeating it is harmless.

use std::future::Future;
use std::pin::Pin;

use reqwest::Method;
use reqwest::header::HeaderMap;

use crate::error::{ConfluenceError, clean};

/// Largest answer accepted.
pub(crate) const BODY_LIMIT: usize = 10 * 1024 * 1024;

/// One request, with every header (including authorization) already set.
pub(crate) struct Outgoing {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Vec<u8>>,
}

/// One HTTP answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

/// Why no answer came back.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The connection could not be made: the server cannot have seen the request.
    NotSent(String),
    /// No answer in time: the server may or may not have acted.
    TimedOut(String),
    /// The exchange broke after the request may have been sent.
    Broken(String),
    /// The answer was larger than [`BODY_LIMIT`].
    TooLarge,
}

impl Failure {
    pub(crate) fn into_error(self) -> ConfluenceError {
        let detail = match self {
            Failure::NotSent(d) => format!("connection failed: {d}"),
            Failure::TimedOut(d) => format!("timed out: {d}"),
            Failure::Broken(d) => format!("request failed: {d}"),
            Failure::TooLarge => {
                return ConfluenceError::Protocol {
                    detail: format!("the answer is larger than {BODY_LIMIT} bytes"),
                };
            }
        };
        ConfluenceError::Unavailable {
            status: None,
            detail: clean(&detail),
        }
    }
}

/// A future of one exchange.
pub(crate) type Exchange<'a> = Pin<Box<dyn Future<Output = Result<Reply, Failure>> + Send + 'a>>;

/// Sends one request and reads the whole (capped) answer.
pub(crate) trait Transport: Send + Sync {
    fn send(&self, request: Outgoing) -> Exchange<'_>;
}

/// reqwest over rustls.
pub(crate) struct HttpTransport {
    pub(crate) http: reqwest::Client,
}

/// Describes a reqwest error without its URL (which may carry a cursor but never a secret; the
/// URL is left out to keep messages short).
fn describe(err: reqwest::Error) -> String {
    arkbridge_core::error_chain(&err.without_url())
}

async fn read_capped(mut resp: reqwest::Response) -> Result<Vec<u8>, Failure> {
    if resp.content_length().is_some_and(|n| n > BODY_LIMIT as u64) {
        return Err(Failure::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| {
        if e.is_timeout() {
            Failure::TimedOut(describe(e))
        } else {
            Failure::Broken(describe(e))
        }
    })? {
        if body.len() + chunk.len() > BODY_LIMIT {
            return Err(Failure::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl Transport for HttpTransport {
    fn send(&self, request: Outgoing) -> Exchange<'_> {
        Box::pin(async move {
            let mut req = self
                .http
                .request(request.method, &request.url)
                .headers(request.headers);
            if let Some(body) = request.body {
                req = req.body(body);
            }
            let resp = req.send().await.map_err(|e| {
                if e.is_connect() {
                    Failure::NotSent(describe(e))
                } else if e.is_timeout() {
                    Failure::TimedOut(describe(e))
                } else {
                    Failure::Broken(describe(e))
                }
            })?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = read_capped(resp).await?;
            Ok(Reply {
                status,
                headers,
                body,
            })
        })
    }
}
