//! HTTPS serving: rustls (ring provider only) over tokio, hyper's HTTP/1 connection driver and an
//! axum `Router` per server, with graceful shutdown.
//!
//! Every request carries a [`ConnInfo`] extension: the client's socket address and, when the
//! client presented a certificate that chains to the simulator's CA, its subject CN and serial.
//! Before routing, a server may rewrite the request path (see [`PathFolder`]) so that IIS-style
//! case-insensitive paths and trailing slashes reach the right route.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{Request, Uri};
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

use crate::error::SimError;
use crate::faults::{self, Decision, Gate};
use crate::pki::{self, Pki};

/// Who is on the other end of a connection.
#[derive(Debug, Clone)]
pub(crate) struct ConnInfo {
    pub(crate) peer: SocketAddr,
    pub(crate) client_cert: Option<ClientCert>,
}

/// The verified client certificate's identity.
#[derive(Debug, Clone)]
pub(crate) struct ClientCert {
    pub(crate) subject_cn: Option<String>,
    /// Upper-case hex without separators or leading zero bytes.
    pub(crate) serial: String,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server config with the simulator's certificate. With `request_client_cert`, the server asks
/// for a client certificate (verified against the simulator CA) but also accepts anonymous
/// clients, as a CCP site with "accept client certificates" does.
pub(crate) fn server_config(
    pki: &Pki,
    request_client_cert: bool,
) -> Result<Arc<rustls::ServerConfig>, SimError> {
    let tls = |e: rustls::Error| SimError::Tls(e.to_string());
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls)?;
    let builder = if request_client_cert {
        let mut roots = RootCertStore::empty();
        roots.add(pki.ca_der.clone()).map_err(tls)?;
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .allow_unauthenticated()
            .build()
            .map_err(|e| SimError::Tls(e.to_string()))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder
        .with_single_cert(pki.server_chain.clone(), pki.server_key())
        .map_err(tls)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Binds a free port on 127.0.0.1.
pub(crate) async fn bind() -> Result<(TcpListener, SocketAddr), SimError> {
    let addr = "127.0.0.1:0";
    let err = |source| SimError::Bind {
        addr: addr.to_string(),
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(err)?;
    let local = listener.local_addr().map_err(err)?;
    Ok((listener, local))
}

/// Rewrites request paths before routing: path segments equal (ignoring ASCII case) to one of
/// `literals` are replaced by the literal's canonical spelling, and a trailing `/` is dropped.
#[derive(Clone, Copy)]
pub(crate) struct PathFolder {
    pub(crate) literals: &'static [&'static str],
}

impl PathFolder {
    pub(crate) fn fold(&self, path: &str) -> String {
        let trimmed = if path.len() > 1 {
            path.trim_end_matches('/')
        } else {
            path
        };
        let folded: Vec<&str> = trimmed
            .split('/')
            .map(|seg| {
                self.literals
                    .iter()
                    .find(|lit| lit.eq_ignore_ascii_case(seg))
                    .copied()
                    .unwrap_or(seg)
            })
            .collect();
        let joined = folded.join("/");
        if joined.is_empty() {
            "/".to_string()
        } else {
            joined
        }
    }

    fn rewrite(&self, uri: &Uri) -> Option<Uri> {
        let path = self.fold(uri.path());
        let pq = match uri.query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        let mut parts = uri.clone().into_parts();
        parts.path_and_query = Some(pq.parse().ok()?);
        Uri::from_parts(parts).ok()
    }
}

/// Serves `router` over TLS on `listener` until `shutdown` turns true, then lets open
/// connections finish their current request (bounded by a grace period).
pub(crate) fn spawn_server(
    name: &'static str,
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    router: Router,
    folder: Option<PathFolder>,
    gate: Option<Gate>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                accepted = listener.accept() => {
                    let Ok((tcp, peer)) = accepted else { continue };
                    let acceptor = acceptor.clone();
                    let router = router.clone();
                    let conn_shutdown = shutdown.clone();
                    let gate = gate.clone();
                    conns.spawn(serve_connection(name, acceptor, tcp, peer, Routing { router, folder, gate }, conn_shutdown));
                }
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        drop(listener);
        let drain = async { while conns.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(5), drain)
            .await
            .is_err()
        {
            conns.abort_all();
        }
        tracing::debug!(server = name, "stopped");
    })
}

/// How a server turns a request into a response.
struct Routing {
    router: Router,
    folder: Option<PathFolder>,
    gate: Option<Gate>,
}

/// The service error that makes hyper close the connection without answering (the
/// `drop_connection` fault).
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

async fn serve_connection(
    name: &'static str,
    acceptor: tokio_rustls::TlsAcceptor,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    routing: Routing,
    mut shutdown: watch::Receiver<bool>,
) {
    let Routing {
        router,
        folder,
        gate,
    } = routing;
    let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await;
    let tls = match handshake {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(server = name, %peer, "TLS handshake failed: {e}");
            return;
        }
        Err(_) => return,
    };
    let client_cert = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|der| pki::cert_identity(der))
        .map(|(subject_cn, serial)| ClientCert { subject_cn, serial });
    let info = ConnInfo { peer, client_cert };
    let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
        if let Some(folder) = folder
            && let Some(uri) = folder.rewrite(req.uri())
        {
            *req.uri_mut() = uri;
        }
        tracing::debug!(server = name, method = %req.method(), path = req.uri().path(), "request");
        req.extensions_mut().insert(info.clone());
        let router = router.clone();
        let gate = gate.clone();
        async move {
            let decision = match &gate {
                Some(g) => g.decide(req.uri().path()).await,
                None => Decision::Pass { malformed: false },
            };
            match decision {
                Decision::Drop => Err(Dropped),
                Decision::Respond(resp) => Ok(resp),
                Decision::Pass { malformed } => {
                    let resp = match router.oneshot(req).await {
                        Ok(resp) => resp,
                        Err(never) => match never {},
                    };
                    Ok(if malformed {
                        faults::malform(resp).await
                    } else {
                        resp
                    })
                }
            }
        }
    });
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_literals_and_trailing_slash() {
        let f = PathFolder {
            literals: &["PasswordVault", "API", "Accounts"],
        };
        assert_eq!(
            f.fold("/passwordvault/api/accounts/"),
            "/PasswordVault/API/Accounts"
        );
        assert_eq!(
            f.fold("/PASSWORDVAULT/Api/Accounts/12_3"),
            "/PasswordVault/API/Accounts/12_3"
        );
        assert_eq!(f.fold("/"), "/");
    }
}
