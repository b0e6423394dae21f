//! Live forwarding against a small syslog receiver of our own on loopback (octet-counted RFC 5424
//! frames, over TCP or TLS): a SIEM outage loses nothing and repeats nothing, TLS works with a
//! private CA, and a receiver that drops a batch half-read gets it again.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arkbridge_audit::forward::{
    CHECKPOINT_CURSOR, ForwardSettings, Forwarder, RECORD_CURSOR, SyslogTarget,
};
use arkbridge_store::Store;
use common::TestLog;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How a receiver treats each connection.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// Read every frame until the sender closes, then close.
    Normal,
    /// Read one frame, then drop the connection with the rest unread (a crash).
    CrashAfterOneFrame,
}

/// A syslog receiver: every frame it read, in order; `count` changes with each.
struct Receiver {
    addr: SocketAddr,
    frames: Arc<Mutex<Vec<String>>>,
    count: watch::Receiver<usize>,
    task: JoinHandle<()>,
}

/// Reads one octet-counted frame; `None` at a clean end of stream.
async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> Option<String> {
    let mut len = Vec::new();
    loop {
        let mut b = [0u8; 1];
        match r.read(&mut b).await {
            Ok(0) | Err(_) => return None,
            Ok(_) if b[0] == b' ' => break,
            Ok(_) => len.push(b[0]),
        }
    }
    let len: usize = String::from_utf8(len).ok()?.parse().ok()?;
    let mut msg = vec![0u8; len];
    r.read_exact(&mut msg).await.ok()?;
    String::from_utf8(msg).ok()
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    behaviour: Behaviour,
    frames: Arc<Mutex<Vec<String>>>,
    count: watch::Sender<usize>,
) {
    while let Some(f) = read_frame(&mut s).await {
        let n = {
            let mut all = frames.lock().unwrap();
            all.push(f);
            all.len()
        };
        count.send_replace(n);
        if behaviour == Behaviour::CrashAfterOneFrame {
            return; // Dropped with the rest of the batch unread.
        }
    }
    let _ = s.shutdown().await;
}

impl Receiver {
    async fn start(
        addr: &str,
        tls: Option<tokio_rustls::TlsAcceptor>,
        behaviour: Behaviour,
        frames: Arc<Mutex<Vec<String>>>,
    ) -> Receiver {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, count) = watch::channel(frames.lock().unwrap().len());
        let shared = frames.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (frames, tx, tls) = (shared.clone(), tx.clone(), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        None => serve(tcp, behaviour, frames, tx).await,
                        Some(acceptor) => {
                            if let Ok(s) = acceptor.accept(tcp).await {
                                serve(s, behaviour, frames, tx).await;
                            }
                        }
                    }
                });
            }
        });
        Receiver {
            addr,
            frames,
            count,
            task,
        }
    }

    async fn wait_for(&mut self, n: usize) {
        while *self.count.borrow_and_update() < n {
            self.count.changed().await.unwrap();
        }
    }

    /// The SIEM goes down: the port refuses connections once the listener is gone.
    async fn stop(self) -> Arc<Mutex<Vec<String>>> {
        self.task.abort();
        let _ = self.task.await;
        self.frames
    }
}

fn settings(target: SyslogTarget) -> ForwardSettings {
    let mut s = ForwardSettings::new(target, "bridge-1".into());
    s.poll = Duration::from_millis(10);
    s.min_backoff = Duration::from_millis(10);
    s.max_backoff = Duration::from_millis(40);
    s.batch = 4;
    s
}

/// The record seqs (CEF `externalId`) and checkpoint ids of the frames, in order.
fn ids(frames: &[String]) -> Vec<String> {
    frames
        .iter()
        .map(|f| {
            assert!(f.starts_with("<"), "{f}");
            assert!(f.contains(" bridge-1 arkbridge - "), "{f}");
            let at = f.find(" externalId=").unwrap() + 12;
            f[at..].split(' ').next().unwrap().to_string()
        })
        .collect()
}

#[tokio::test]
async fn a_siem_outage_loses_nothing_and_repeats_nothing() {
    let log = TestLog::new().await;
    let frames: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut receiver =
        Receiver::start("127.0.0.1:0", None, Behaviour::Normal, frames.clone()).await;
    let addr = receiver.addr;
    let target = SyslogTarget::parse(&format!("tcp://{addr}"), None).unwrap();
    let forwarder = Forwarder::new(&log.store, settings(target.clone()));

    log.append(0, 6).await;
    assert_eq!(forwarder.forward_pending().await.unwrap().records, 6);
    receiver.wait_for(6).await;
    let frames = receiver.stop().await;

    // While the SIEM is down, records and a checkpoint pile up; nothing moves.
    log.append(6, 7).await;
    log.checkpoint().await;
    assert!(forwarder.forward_batch().await.is_err());
    assert_eq!(log.store.audit_cursor(RECORD_CURSOR).await.unwrap(), 6);

    // Live forwarding keeps trying (with backoff) while the SIEM is down.
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn({
        let store = log.store.clone();
        async move { Forwarder::new(&store, settings(target)).run(stopped).await }
    });

    // The SIEM comes back on the same port; the forwarder catches up by itself.
    let mut receiver =
        Receiver::start(&addr.to_string(), None, Behaviour::Normal, frames.clone()).await;
    receiver.wait_for(14).await;
    stop.send(true).unwrap();
    running.await.unwrap();

    let got = ids(&frames.lock().unwrap());
    let mut want: Vec<String> = (1..=13).map(|s| s.to_string()).collect();
    want.push("checkpoint-1".into());
    assert_eq!(got, want);
    assert_eq!(log.store.audit_cursor(RECORD_CURSOR).await.unwrap(), 13);
    assert_eq!(log.store.audit_cursor(CHECKPOINT_CURSOR).await.unwrap(), 1);
    // The checkpoint message carries the whole signed note, newlines escaped.
    let cp = frames.lock().unwrap()[13].clone();
    assert!(
        cp.contains("|900|Audit Checkpoint|") && cp.contains("\\n\u{2014} "),
        "{cp}"
    );
}

#[tokio::test]
async fn forwarding_resumes_from_the_durable_cursor_after_a_restart() {
    let log = TestLog::new().await;
    let frames: Arc<Mutex<Vec<String>>> = Arc::default();
    let receiver = Receiver::start("127.0.0.1:0", None, Behaviour::Normal, frames.clone()).await;
    let target = SyslogTarget::parse(&format!("tcp://{}", receiver.addr), None).unwrap();
    log.append(0, 5).await;
    let sent = Forwarder::new(&log.store, settings(target.clone()))
        .forward_pending()
        .await
        .unwrap();
    assert_eq!(sent.records, 5);
    log.append(5, 2).await;
    // A new forwarder (a restarted process) starts where the store says.
    let store = arkbridge_store::SqliteStore::open(&log.path())
        .await
        .unwrap();
    let sent = Forwarder::new(&store, settings(target))
        .forward_pending()
        .await
        .unwrap();
    assert_eq!(sent.records, 2);
    let got = ids(&frames.lock().unwrap());
    assert_eq!(got, ["1", "2", "3", "4", "5", "6", "7"]);
}

#[tokio::test]
async fn a_receiver_that_drops_a_batch_half_read_gets_it_again() {
    let log = TestLog::new().await;
    let frames: Arc<Mutex<Vec<String>>> = Arc::default();
    let crashing = Receiver::start(
        "127.0.0.1:0",
        None,
        Behaviour::CrashAfterOneFrame,
        frames.clone(),
    )
    .await;
    let addr = crashing.addr;
    let target = SyslogTarget::parse(&format!("tcp://{addr}"), None).unwrap();
    let forwarder = Forwarder::new(&log.store, settings(target));
    log.append(0, 3).await;
    // The receiver reads frame 1 and drops the connection with frames 2 and 3 unread: the
    // kernel resets it, so the batch is not confirmed and the cursor stays.
    assert!(forwarder.forward_batch().await.is_err());
    assert_eq!(log.store.audit_cursor(RECORD_CURSOR).await.unwrap(), 0);
    let frames = crashing.stop().await;
    let _receiver =
        Receiver::start(&addr.to_string(), None, Behaviour::Normal, frames.clone()).await;
    assert_eq!(forwarder.forward_pending().await.unwrap().records, 3);
    // Nothing is lost; the one frame the crashed receiver had read comes again, with its seq,
    // for the SIEM to drop.
    assert_eq!(ids(&frames.lock().unwrap()), ["1", "1", "2", "3"]);
}

#[tokio::test]
async fn forwarding_over_tls_checks_the_receivers_certificate() {
    let log = TestLog::new().await;
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let ca = log.dir.path().join("ca.pem");
    std::fs::write(&ca, cert.cert.pem()).unwrap();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let frames: Arc<Mutex<Vec<String>>> = Arc::default();
    let receiver = Receiver::start(
        "127.0.0.1:0",
        Some(acceptor),
        Behaviour::Normal,
        frames.clone(),
    )
    .await;
    let port = receiver.addr.port();
    log.append(0, 3).await;

    // A receiver whose certificate the configured CA did not issue is refused.
    let untrusted = SyslogTarget::parse(&format!("tls://localhost:{port}"), None).unwrap();
    assert!(
        Forwarder::new(&log.store, settings(untrusted))
            .forward_batch()
            .await
            .is_err()
    );
    assert!(frames.lock().unwrap().is_empty());

    let target = SyslogTarget::parse(&format!("tls://localhost:{port}"), Some(&ca)).unwrap();
    let sent = Forwarder::new(&log.store, settings(target))
        .forward_pending()
        .await
        .unwrap();
    assert_eq!(sent.records, 3);
    assert_eq!(ids(&frames.lock().unwrap()), ["1", "2", "3"]);
}

#[test]
fn bad_targets_are_refused_with_a_reason() {
    for bad in [
        "udp://host:514",
        "tcp://host",
        "tcp://:514",
        "tcp://host:99999",
        "host:514",
    ] {
        let err = SyslogTarget::parse(bad, None).unwrap_err();
        assert!(err.to_string().contains("tcp://HOST:PORT"), "{bad}: {err}");
    }
    let missing = std::path::Path::new("/nonexistent/ca.pem");
    assert!(SyslogTarget::parse("tls://localhost:6514", Some(missing)).is_err());
}
