//! Live forwarding to a SIEM: RFC 5424 syslog over TCP or TLS, CEF messages, from durable
//! cursors in the store, so an outage loses nothing and a healthy SIEM gets nothing twice.
//!
//! Syslog over TCP has no acknowledgement, so delivery is confirmed at the end of each batch by
//! closing the connection cleanly: arkbridge connects, writes the batch (octet-counted frames),
//! shuts its side down (a TLS `close_notify`, then FIN) and waits for the receiver to close
//! *its* side, which a receiver does only after reading everything up to arkbridge's FIN. Only
//! then does the cursor move past the batch. A refused connection, a reset, or no close within
//! the timeout leaves the cursor where it was, and the whole batch is sent again later.
//!
//! So a SIEM that is down or refuses connections loses nothing and later gets each message once.
//! One that drops a connection with part of a batch unread (its kernel then answers with a
//! reset) loses nothing either, but gets again the part of that batch it had read: no sender can
//! rule that out without an acknowledgement in the protocol, so each message carries its
//! record's seq as CEF `externalId` for the SIEM to drop the repeat. "Delivered" means read by
//! the receiving process, not yet stored by it. Records go first; a checkpoint follows once every
//! record it covers has been delivered.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arkbridge_store::Store;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::AuditError;
use crate::checkpoint::SignedCheckpoint;
use crate::syslog::{checkpoint_message, frame, record_message};

/// The store cursor of forwarded records (their seq).
pub const RECORD_CURSOR: &str = "syslog.records";
/// The store cursor of forwarded checkpoints (their id).
pub const CHECKPOINT_CURSOR: &str = "syslog.checkpoints";

/// Where to send, and how.
#[derive(Clone)]
pub struct SyslogTarget {
    /// `host:port`.
    pub address: String,
    /// `None` for plain TCP.
    pub tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
}

impl std::fmt::Debug for SyslogTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyslogTarget")
            .field("address", &self.address)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, AuditError> {
    let mut store = RootCertStore::empty();
    let Some(path) = ca_file else {
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return Ok(store);
    };
    let bad = |why: String| AuditError::Invalid(format!("CA bundle {}: {why}", path.display()));
    let pem = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad("no certificate in it".into()));
    }
    for cert in certs {
        store
            .add(cert)
            .map_err(|e| bad(format!("unusable certificate: {e}")))?;
    }
    Ok(store)
}

impl SyslogTarget {
    /// `tcp://host:port` or `tls://host:port` (roots: `ca_file`, else the Mozilla roots).
    pub fn parse(url: &str, ca_file: Option<&Path>) -> Result<SyslogTarget, AuditError> {
        let bad = || {
            AuditError::Invalid(format!(
                "invalid syslog target `{url}`: use tcp://HOST:PORT or tls://HOST:PORT"
            ))
        };
        let (scheme, address) = url.split_once("://").ok_or_else(bad)?;
        let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(bad());
        }
        let tls = match scheme {
            "tcp" => None,
            "tls" => {
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| AuditError::Invalid(format!("TLS setup failed: {e}")))?
                    .with_root_certificates(roots(ca_file)?)
                    .with_no_client_auth();
                let name = ServerName::try_from(host.to_string()).map_err(|_| bad())?;
                Some((Arc::new(config), name))
            }
            _ => return Err(bad()),
        };
        Ok(SyslogTarget {
            address: address.to_string(),
            tls,
        })
    }
}

/// How the forwarder behaves.
#[derive(Debug, Clone)]
pub struct ForwardSettings {
    pub target: SyslogTarget,
    /// The RFC 5424 HOSTNAME (see [`crate::syslog::hostname`]).
    pub hostname: String,
    /// Most messages per connection.
    pub batch: usize,
    /// Connect, send and wait for the receiver's close, at most this long per batch.
    pub timeout: Duration,
    /// How often to look for new records when all are sent.
    pub poll: Duration,
    /// The first wait after a failed attempt; it doubles up to `max_backoff`.
    pub min_backoff: Duration,
    /// The longest wait between attempts while the SIEM is unreachable.
    pub max_backoff: Duration,
    /// The store cursors of this receiver: forwarded records, then forwarded checkpoints.
    pub cursors: (String, String),
}

impl ForwardSettings {
    pub fn new(target: SyslogTarget, hostname: String) -> ForwardSettings {
        ForwardSettings {
            target,
            hostname,
            batch: 500,
            timeout: Duration::from_secs(30),
            poll: Duration::from_secs(1),
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            cursors: (RECORD_CURSOR.to_string(), CHECKPOINT_CURSOR.to_string()),
        }
    }

    /// Keeps this receiver's place under cursors of its own, `syslog.<address>.records` and
    /// `syslog.<address>.checkpoints`, so that each configured receiver gets everything once
    /// whatever the others got. (`audit forward --to` keeps the plain `syslog.*` cursors.)
    pub fn own_cursors(mut self) -> ForwardSettings {
        let address = &self.target.address;
        self.cursors = (
            format!("syslog.{address}.records"),
            format!("syslog.{address}.checkpoints"),
        );
        self
    }
}

/// What one call sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    pub records: u64,
    pub checkpoints: u64,
}

/// Forwards a store's audit log (borrowed, so that a caller holding only `&S` can forward).
#[derive(Debug)]
pub struct Forwarder<'s, S> {
    store: &'s S,
    settings: ForwardSettings,
}

/// Writes `bytes`, closes the sending side, and waits for the receiver to close its side.
async fn deliver<T: AsyncRead + AsyncWrite + Unpin>(
    mut io: T,
    bytes: &[u8],
) -> std::io::Result<()> {
    io.write_all(bytes).await?;
    io.flush().await?;
    io.shutdown().await?;
    let mut sink = [0u8; 1024];
    loop {
        match io.read(&mut sink).await {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            // A TLS receiver that closes without close_notify still closed after reading.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

impl<'s, S: Store> Forwarder<'s, S> {
    pub fn new(store: &'s S, settings: ForwardSettings) -> Forwarder<'s, S> {
        Forwarder { store, settings }
    }

    pub fn settings(&self) -> &ForwardSettings {
        &self.settings
    }

    async fn send(&self, bytes: &[u8]) -> Result<(), AuditError> {
        let target = &self.settings.target;
        let attempt = async {
            let tcp = TcpStream::connect(&target.address).await?;
            tcp.set_nodelay(true)?;
            match &target.tls {
                None => deliver(tcp, bytes).await,
                Some((config, name)) => {
                    let tls = tokio_rustls::TlsConnector::from(config.clone())
                        .connect(name.clone(), tcp)
                        .await?;
                    deliver(tls, bytes).await
                }
            }
        };
        match tokio::time::timeout(self.settings.timeout, attempt).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(AuditError::Io(format!(
                "syslog delivery to {} failed: {e}",
                target.address
            ))),
            Err(_) => Err(AuditError::Io(format!(
                "syslog delivery to {} was not confirmed within {:?}",
                target.address, self.settings.timeout
            ))),
        }
    }

    /// Sends one batch (records first, then covered checkpoints) and moves its cursor.
    /// Returns what was sent; nothing when all is delivered.
    pub async fn forward_batch(&self) -> Result<Sent, AuditError> {
        let host = &self.settings.hostname;
        let batch = self.settings.batch.max(1);
        let (record_cursor, checkpoint_cursor) = &self.settings.cursors;
        let records_done = self.store.audit_cursor(record_cursor).await?;
        let records = self.store.audit_records(records_done, batch as i64).await?;
        if let Some(last) = records.last() {
            let mut bytes = Vec::new();
            for r in &records {
                frame(&record_message(r, host), &mut bytes);
            }
            self.send(&bytes).await?;
            self.store.set_audit_cursor(record_cursor, last.seq).await?;
            return Ok(Sent {
                records: records.len() as u64,
                checkpoints: 0,
            });
        }
        let checkpoints_done = self.store.audit_cursor(checkpoint_cursor).await?;
        let mut bytes = Vec::new();
        let mut last = None;
        let mut n = 0;
        for stored in self.store.audit_checkpoints().await? {
            if stored.id <= checkpoints_done || n == batch {
                continue;
            }
            if stored.tree_size > records_done as u64 {
                break;
            }
            let cp = SignedCheckpoint::parse(&stored.note)?;
            frame(&checkpoint_message(stored.id, &cp, host), &mut bytes);
            last = Some(stored.id);
            n += 1;
        }
        let Some(last) = last else {
            return Ok(Sent::default());
        };
        self.send(&bytes).await?;
        self.store.set_audit_cursor(checkpoint_cursor, last).await?;
        Ok(Sent {
            records: 0,
            checkpoints: n as u64,
        })
    }

    /// Sends batches until everything is delivered (or one fails).
    pub async fn forward_pending(&self) -> Result<Sent, AuditError> {
        let mut total = Sent::default();
        loop {
            let sent = self.forward_batch().await?;
            if sent == Sent::default() {
                return Ok(total);
            }
            total.records += sent.records;
            total.checkpoints += sent.checkpoints;
        }
    }

    /// Forwards until `stop` turns true: new records within `poll`, and after a failure again
    /// with exponential backoff (`min_backoff` doubling up to `max_backoff`). A batch in flight
    /// is always finished, so stopping never leaves a cursor behind what was delivered.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) {
        let min = self.settings.min_backoff;
        let mut backoff = min;
        while !*stop.borrow() {
            let wait = match self.forward_batch().await {
                Ok(sent) if sent != Sent::default() => {
                    backoff = min;
                    continue;
                }
                Ok(_) => self.settings.poll,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "audit forwarding paused");
                    let wait = backoff;
                    backoff = (backoff * 2).min(self.settings.max_backoff);
                    wait
                }
            };
            tokio::select! {
                changed = stop.changed() => if changed.is_err() {
                    return; // The stop handle is gone: nobody can stop this loop any more.
                },
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
