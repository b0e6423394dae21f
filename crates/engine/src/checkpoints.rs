//! Signed checkpoints of the audit log, as the engine drives them from `[audit]`: the signing
//! key, a checkpoint at the end of every command that added records, the periodic checkpoints
//! of a long-running bridge ([`Bridge::start_background_audit`]), and publishing each one
//! outside the store.
//!
//! Publishing goes to every `[[audit.syslog]]` receiver (records first, then the checkpoint as
//! a CEF message, from durable per-receiver cursors, so a receiver that is down gets it later)
//! and, with `publish_page`, into the content property `arkbridge.audit.checkpoint` of that
//! Confluence page. A publication that fails is reported and logged, never fatal: the checkpoint
//! is stored, the syslog cursor stays behind it, and the next checkpoint replaces the property.
//!
//! The signing key is fetched through the CCP at first use, unless the start-up bootstrap
//! already resolved the field [`SIGNING_KEY_FIELD`] with the bridge's other credentials; either
//! way it goes through [`signing_key_from`], which checks the key and the key id `key_id` pins.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arkbridge_audit::forward::{ForwardSettings, Forwarder, Sent, SyslogTarget};
use arkbridge_audit::{
    AuditError, CheckpointInterval, CheckpointTask, PROPERTY_KEY, SigningKey,
    publish::property_value, spawn_schedule, write_checkpoint,
};
use arkbridge_confluence::{ConfluenceClient, ConfluenceError};
use arkbridge_core::config::{AuditConfig, Config};
use arkbridge_store::{Store, StoredCheckpoint};
use secrecy::SecretString;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{Bridge, EngineError, bootstrap};

/// The config field of the checkpoint signing key, as the bootstrap names bridge credentials.
pub const SIGNING_KEY_FIELD: &str = "audit.signing_key";

/// How long a command's end may spend delivering to each syslog receiver.
const SYSLOG_DEADLINE: Duration = Duration::from_secs(20);

/// The checkpoint signing key from its base64 PKCS#8 text (as CyberArk holds it), named by
/// `[audit] key_id`, and refused if `key_id` pins another key id. This is the one way a key
/// becomes a [`SigningKey`]; the bootstrap hands the secret it resolved to this function.
pub fn signing_key_from(
    audit: &AuditConfig,
    text: &SecretString,
) -> Result<SigningKey, EngineError> {
    let (name, pinned) = audit.key_name_and_id().map_err(EngineError::Setup)?;
    let key = SigningKey::from_base64(name, text).map_err(|e| {
        EngineError::Setup(format!("the audit signing key ({SIGNING_KEY_FIELD}): {e}"))
    })?;
    let id = key.verifier().key_id;
    if let Some(pinned) = pinned
        && pinned != id
    {
        return Err(EngineError::Setup(format!(
            "the audit signing key in CyberArk has key id {id:08x}, but audit.key_id pins \
             {pinned:08x}: the reference names another key"
        )));
    }
    Ok(key)
}

/// What one publication achieved, receiver by receiver.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishReport {
    /// Each syslog receiver (`host:port`) with what it got, or why it got nothing.
    pub syslog: Vec<(String, Result<Sent, String>)>,
    /// The Confluence page's property update, when `publish_page` is set.
    pub confluence: Option<Result<(), String>>,
}

impl PublishReport {
    /// The failures, one line each (empty when everything was delivered).
    pub fn failures(&self) -> Vec<String> {
        let syslog = self.syslog.iter().filter_map(|(to, r)| {
            r.as_ref()
                .err()
                .map(|e| format!("syslog receiver {to}: {e}"))
        });
        let page = self
            .confluence
            .iter()
            .filter_map(|r| r.as_ref().err().map(|e| format!("Confluence page: {e}")));
        syslog.chain(page).collect()
    }
}

/// Where checkpoints are published, from `[audit]`.
#[derive(Debug, Clone)]
pub struct CheckpointPublisher {
    syslog: Vec<ForwardSettings>,
    page: Option<(ConfluenceClient, String)>,
}

impl CheckpointPublisher {
    /// The receivers and page of `config`; `confluence` is the client for `publish_page`.
    pub fn new(
        config: &Config,
        confluence: Option<ConfluenceClient>,
    ) -> Result<CheckpointPublisher, EngineError> {
        let mut syslog = Vec::new();
        for s in &config.audit.syslog {
            let target = SyslogTarget::parse(&s.url(), s.ca.as_deref())?;
            let host = arkbridge_audit::syslog::hostname(s.hostname.as_deref());
            let mut settings = ForwardSettings::new(target, host).own_cursors();
            settings.timeout = Duration::from_secs(10);
            syslog.push(settings);
        }
        if config.audit.publish_page.is_some()
            && config.confluence.flavor != arkbridge_core::config::ConfluenceFlavor::Cloud
        {
            return Err(EngineError::Setup(
                "audit.publish_page needs Confluence Cloud: Data Center has no v2 content \
                 properties to publish checkpoints to"
                    .into(),
            ));
        }
        let page = match (&config.audit.publish_page, confluence) {
            (None, _) => None,
            (Some(page), Some(client)) => Some((client, page.clone())),
            (Some(_), None) => {
                return Err(EngineError::Setup(
                    "audit.publish_page is set but no Confluence client was given".into(),
                ));
            }
        };
        Ok(CheckpointPublisher { syslog, page })
    }

    /// Whether anything is configured.
    pub fn is_empty(&self) -> bool {
        self.syslog.is_empty() && self.page.is_none()
    }

    /// Delivers what each syslog receiver has not had yet (records, then checkpoints), each
    /// within a deadline.
    pub async fn forward_syslog<S: Store>(&self, store: &S) -> Vec<(String, Result<Sent, String>)> {
        let mut out = Vec::new();
        for settings in &self.syslog {
            let forwarder = Forwarder::new(store, settings.clone());
            let result = match tokio::time::timeout(SYSLOG_DEADLINE, forwarder.forward_pending())
                .await
            {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err(format!(
                    "not everything was delivered within {SYSLOG_DEADLINE:?}; the rest goes next time"
                )),
            };
            out.push((settings.target.address.clone(), result));
        }
        out
    }

    /// Sets the page's `arkbridge.audit.checkpoint` property to `stored`. A concurrent change
    /// of the property (another bridge) is met by reading it again, once.
    pub async fn publish_to_page(&self, stored: &StoredCheckpoint) -> Result<(), EngineError> {
        let Some((client, page)) = &self.page else {
            return Ok(());
        };
        let value = property_value(stored)?;
        for attempt in 0..2 {
            let result = match client.page_property(page, PROPERTY_KEY).await? {
                Some(current) => client
                    .update_page_property(page, &current, &value)
                    .await
                    .map(drop),
                None => client
                    .create_page_property(page, PROPERTY_KEY, &value)
                    .await
                    .map(drop),
            };
            match result {
                Err(ConfluenceError::Conflict { .. }) if attempt == 0 => continue,
                other => return Ok(other?),
            }
        }
        Ok(())
    }

    /// Publishes `stored` everywhere configured; syslog only when `syslog` (a running
    /// forwarder delivers it otherwise). Failures are logged and reported.
    pub async fn publish<S: Store>(
        &self,
        store: &S,
        stored: &StoredCheckpoint,
        syslog: bool,
    ) -> PublishReport {
        let mut report = PublishReport::default();
        if syslog {
            report.syslog = self.forward_syslog(store).await;
        }
        if self.page.is_some() {
            report.confluence = Some(
                self.publish_to_page(stored)
                    .await
                    .map_err(|e| e.to_string()),
            );
        }
        for failure in report.failures() {
            tracing::warn!(checkpoint = stored.id, %failure, "audit checkpoint not published");
        }
        report
    }
}

/// A long-running bridge's audit duties: a checkpoint every interval, published, and live
/// syslog forwarding. Stop it with [`BackgroundAudit::shutdown`], which writes a last one.
#[derive(Debug)]
pub struct BackgroundAudit {
    task: CheckpointTask,
    stop_forwarding: watch::Sender<bool>,
    forwarders: Vec<JoinHandle<()>>,
    /// True while the forwarders run (they deliver each checkpoint); then the publisher does.
    forwarding: Arc<AtomicBool>,
}

impl BackgroundAudit {
    /// Starts the schedule over `store` and one forwarder per syslog receiver.
    pub fn start<S: Store + Clone>(
        store: S,
        key: Arc<SigningKey>,
        interval: CheckpointInterval,
        publisher: CheckpointPublisher,
    ) -> BackgroundAudit {
        let (stop_forwarding, stopped) = watch::channel(false);
        let forwarders = publisher
            .syslog
            .iter()
            .map(|settings| {
                let (store, settings, stopped) = (store.clone(), settings.clone(), stopped.clone());
                tokio::spawn(async move { Forwarder::new(&store, settings).run(stopped).await })
            })
            .collect();
        let publisher = Arc::new(publisher);
        BackgroundAudit::schedule(
            interval,
            stop_forwarding,
            forwarders,
            move || {
                let (store, key) = (store.clone(), key.clone());
                async move { write_checkpoint(&store, &key).await.map(|cp| (cp, store)) }
            },
            move |(cp, store): (StoredCheckpoint, S), syslog| {
                let publisher = publisher.clone();
                async move {
                    publisher.publish(&store, &cp, syslog).await;
                }
            },
        )
    }

    /// The orchestration behind [`BackgroundAudit::start`]: `write` every interval, each result
    /// handed to `publish` with whether syslog is the publisher's to do (true only once the
    /// `forwarders`, which deliver checkpoints themselves, have stopped).
    pub(crate) fn schedule<T, W, WF, P, PF>(
        interval: CheckpointInterval,
        stop_forwarding: watch::Sender<bool>,
        forwarders: Vec<JoinHandle<()>>,
        write: W,
        publish: P,
    ) -> BackgroundAudit
    where
        T: Send + 'static,
        W: Fn() -> WF + Send + Sync + 'static,
        WF: Future<Output = Result<(StoredCheckpoint, T), AuditError>> + Send + 'static,
        P: Fn((StoredCheckpoint, T), bool) -> PF + Send + Sync + 'static,
        PF: Future<Output = ()> + Send + 'static,
    {
        let forwarding = Arc::new(AtomicBool::new(!forwarders.is_empty()));
        let (write, publish, flag) = (Arc::new(write), Arc::new(publish), forwarding.clone());
        let task = spawn_schedule(interval, move || {
            let (write, publish, flag) = (write.clone(), publish.clone(), flag.clone());
            async move {
                let (cp, extra) = write().await?;
                publish((cp.clone(), extra), !flag.load(Ordering::SeqCst)).await;
                Ok(cp)
            }
        });
        BackgroundAudit {
            task,
            stop_forwarding,
            forwarders,
            forwarding,
        }
    }

    /// The latest checkpoint the schedule wrote.
    pub fn latest(&self) -> watch::Receiver<Option<StoredCheckpoint>> {
        self.task.latest()
    }

    /// Stops forwarding (a batch in flight is finished), writes the shutdown checkpoint and
    /// publishes it everywhere, syslog included.
    pub async fn shutdown(self) -> Result<StoredCheckpoint, EngineError> {
        let _ = self.stop_forwarding.send(true);
        for f in self.forwarders {
            let _ = f.await;
        }
        self.forwarding.store(false, Ordering::SeqCst);
        Ok(self.task.shutdown().await?)
    }
}

impl<S: Store> Bridge<S> {
    /// The checkpoint signing key of `[audit]`, or `None` when none is configured: the one the
    /// bootstrap resolved at start (field [`SIGNING_KEY_FIELD`]) or else fetched now through
    /// the CCP, once per bridge.
    pub async fn audit_signing_key(&self) -> Result<Option<Arc<SigningKey>>, EngineError> {
        let Some(secret) = &self.config.audit.signing_key else {
            return Ok(None);
        };
        let key = self
            .audit_key
            .get_or_try_init(|| async {
                let text = match self.secrets.get(SIGNING_KEY_FIELD) {
                    Some(text) => text.clone(),
                    None => {
                        bootstrap::one(&self.ccp, &self.store, SIGNING_KEY_FIELD, secret).await?
                    }
                };
                Ok::<_, EngineError>(Arc::new(signing_key_from(&self.config.audit, &text)?))
            })
            .await?;
        Ok(Some(key.clone()))
    }

    /// The publisher of `[audit]`, with this bridge's Confluence client.
    pub fn checkpoint_publisher(&self) -> Result<CheckpointPublisher, EngineError> {
        CheckpointPublisher::new(&self.config, Some(self.confluence.clone()))
    }

    /// Starts the periodic checkpoints of `[audit]` (for long-running commands such as
    /// `serve`): `None` when no signing key is configured. The key is fetched first, so a key
    /// that cannot be had is an error now rather than a silent gap later.
    pub async fn start_background_audit(&self) -> Result<Option<BackgroundAudit>, EngineError>
    where
        S: Clone,
    {
        let Some(key) = self.audit_signing_key().await? else {
            return Ok(None);
        };
        let interval =
            CheckpointInterval::from_minutes(self.config.audit.checkpoint_interval_minutes)?;
        Ok(Some(BackgroundAudit::start(
            self.store.clone(),
            key,
            interval,
            self.checkpoint_publisher()?,
        )))
    }

    /// The checkpoint at the end of a command: written when a key is configured and records
    /// were added since the latest checkpoint, then published. `Ok(None)` when there was
    /// nothing to do.
    pub async fn checkpoint_at_exit(
        &self,
    ) -> Result<Option<(StoredCheckpoint, PublishReport)>, EngineError> {
        if self.config.audit.signing_key.is_none() {
            return Ok(None);
        }
        let signed = self
            .store
            .audit_checkpoints()
            .await?
            .last()
            .map_or(0, |c| c.tree_size);
        if self.store.audit_size().await? == signed {
            return Ok(None);
        }
        let key = self.audit_signing_key().await?.ok_or_else(|| {
            EngineError::Setup("audit.signing_key is configured but gave no key".into())
        })?;
        let stored = write_checkpoint(&self.store, &key).await?;
        let report = self
            .checkpoint_publisher()?
            .publish(&self.store, &stored, true)
            .await;
        Ok(Some((stored, report)))
    }
}

/// For a command without a whole bridge (`arkbridge audit checkpoint`): the signing key of
/// `[audit]` (`None` when not configured or not `want_key`) and the publisher, fetching through
/// the CCP only the
/// credentials they need (the key, and the Confluence token when `publish_page` is set). Each
/// retrieval is audited like the bridge's own at start.
pub async fn audit_tools<S: Store>(
    config: &Config,
    store: &S,
    want_key: bool,
) -> Result<(Option<SigningKey>, CheckpointPublisher), EngineError> {
    let wanted = config.audit.signing_key.as_ref().filter(|_| want_key);
    let needs_ccp = wanted.is_some() || config.audit.publish_page.is_some();
    if !needs_ccp {
        return Ok((None, CheckpointPublisher::new(config, None)?));
    }
    let ccp = arkbridge_cyberark::CcpClient::new(&config.cyberark.ccp)?;
    let key = match wanted {
        Some(secret) => {
            let text = bootstrap::one(&ccp, store, SIGNING_KEY_FIELD, secret).await?;
            Some(signing_key_from(&config.audit, &text)?)
        }
        None => None,
    };
    let confluence = match &config.audit.publish_page {
        Some(_) => {
            let token =
                bootstrap::one(&ccp, store, "confluence.token", &config.confluence.token).await?;
            Some(ConfluenceClient::new(&config.confluence, token)?)
        }
        None => None,
    };
    Ok((key, CheckpointPublisher::new(config, confluence)?))
}

#[cfg(test)]
#[path = "checkpoints_tests.rs"]
mod tests;
