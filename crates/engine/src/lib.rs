//! The run flow: everything between "this user asks to run this block" and "the result is on the
//! page and the credentials are rotated".
//!
//! [`Bridge`] holds the clients and the store. [`Bridge::connect`] resolves the bridge's own
//! credentials through the CCP, opens the store and, before anything else, rotates the leases that
//! a crashed process left open. [`Bridge::run`] carries out one run (see `run.rs` for the steps).
//! This crate decides and orders; the clients talk to CyberArk and Confluence, the runner runs the
//! script and the store keeps state.

mod approve;
mod bootstrap;
mod checkpoints;
mod cluster_locks;
mod comment;
mod credentials;
pub mod daily;
mod decision;
mod doctor;
mod error;
mod fallback;
mod identity;
mod lease_lock;
mod live;
mod lock;
mod metrics;
mod principals;
mod read_only;
mod reconcile;
mod recovery;
mod ro_cache;
mod rotation;
mod run;
mod scan;
mod store_select;
mod triage;
mod ttl;
mod vault;

use std::path::PathBuf;
use std::sync::Arc;

use arkbridge_confluence::ConfluenceClient;
use arkbridge_core::audit::{Actor, AuditEvent, AuditRecord, AuthMethod};
use arkbridge_core::config::{Config, IdentityProvider};
use arkbridge_cyberark::{BreakerConfig, CcpClient, PvwaClient, Resilience, RetryPolicy};
use arkbridge_store::{AnyStore, Store};
use secrecy::SecretString;
use tokio::sync::Mutex;

pub use approve::ApprovalReport;
pub use bootstrap::allow_inline_secrets_from_command_line;
pub use checkpoints::{
    BackgroundAudit, CheckpointPublisher, PublishReport, SIGNING_KEY_FIELD, audit_tools,
    signing_key_from,
};
pub use cluster_locks::Replica;
pub use decision::script_sha256;
pub use doctor::{Check, CheckStatus, DoctorOptions, DoctorReport, diagnose};
pub use error::EngineError;
pub use identity::VerifiedUser;
pub use live::{Admission, BindingSummary, PageRunbooks, Readiness, RunbookSummary, ServiceCheck};
pub use metrics::{Counter, METRICS, Metrics};
pub use reconcile::{ApplyReport, PolicyPlan};
pub use rotation::RecoveryReport;
pub use run::{RunReport, RunRequest};
pub use scan::{ScanHit, ScanProgress, ScanReport, ScanRequest, ScannedDoc, Since};
pub use store_select::open as open_store;
pub use vault::{VaultItem, VaultReport, VaultRequest};

/// The actor name of the bridge's own audit events.
pub const BRIDGE_ACTOR: &str = "arkbridge";

/// The bridge: config, clients and store, ready to run.
pub struct Bridge<S: Store = AnyStore> {
    config: Arc<Config>,
    store: S,
    ccp: CcpClient,
    /// The second CCP of `[cyberark.fallback_ccp]`, for read-only fallbacks.
    fallback_ccp: Option<CcpClient>,
    /// The in-memory cache of read-only fallback values (`[cyberark.fallback_cache]`).
    ro_cache: Option<ro_cache::RoCache>,
    confluence: ConfluenceClient,
    pvwa_password: SecretString,
    /// The bridge's other credentials resolved at start (`bootstrap.rs`), by config field.
    secrets: bootstrap::BridgeSecrets,
    pvwa: Mutex<Option<PvwaClient>>,
    /// One retry policy and circuit breaker for every PVWA session of this bridge, so a PVWA
    /// outage keeps the circuit open across logons instead of starting each session closed.
    pvwa_resilience: Resilience,
    locks_dir: PathBuf,
    /// This process among the replicas, and what they share (PostgreSQL only): see
    /// `cluster_locks.rs`.
    replica: cluster_locks::Replica,
    cluster: Option<arkbridge_store::Cluster>,
    /// The runs executing in this process (`cluster_locks.rs`).
    active_runs: std::sync::Mutex<std::collections::HashSet<String>>,
    /// The issuer and subject of each user verified in this process, by the e-mail the flow
    /// passes around as the actor, so that their audit records name the token's `sub`.
    principals: std::sync::Mutex<std::collections::HashMap<String, (String, String)>>,
    /// The LDAP directory of `[identity.ldap]`, bound at first use.
    ldap: tokio::sync::OnceCell<arkbridge_identity::LdapDirectory>,
    /// The checkpoint signing key of `[audit]`, fetched at first use (`checkpoints.rs`).
    audit_key: tokio::sync::OnceCell<Arc<arkbridge_audit::SigningKey>>,
}

impl<S: Store> std::fmt::Debug for Bridge<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("data_dir", &self.config.data_dir)
            .finish_non_exhaustive()
    }
}

impl Bridge<AnyStore> {
    /// Opens the store the config names (`store_select.rs`: the embedded SQLite file in the data
    /// folder, or PostgreSQL when `[store] url` is set) and connects.
    pub async fn connect(
        config: Config,
    ) -> Result<(Bridge<AnyStore>, RecoveryReport), EngineError> {
        let store = store_select::open(&config).await?;
        Bridge::with_store(config, store).await
    }
}

impl<S: Store> Bridge<S> {
    /// Connects with a given store: fetches the bridge's own credentials through the CCP, then
    /// recovers leases left open by a crash.
    pub async fn with_store(
        config: Config,
        store: S,
    ) -> Result<(Bridge<S>, RecoveryReport), EngineError> {
        let ccp = CcpClient::new(&config.cyberark.ccp)?;
        let fallback_ccp = match &config.cyberark.fallback_ccp {
            Some(c) => Some(CcpClient::with_resilience(
                c,
                Resilience::new(
                    "fallback-ccp",
                    RetryPolicy::default(),
                    BreakerConfig::default(),
                ),
            )?),
            None => None,
        };
        let sources = bootstrap::CcpSources {
            primary: &ccp,
            fallback: fallback_ccp.as_ref(),
        };
        let mut secrets = bootstrap::resolve(&config, &sources, &store).await?;
        let confluence =
            ConfluenceClient::new(&config.confluence, secrets.take("confluence.token")?)?;
        let pvwa_password = secrets.take("cyberark.pvwa.password")?;
        let ro_cache = config
            .cyberark
            .fallback_cache
            .as_ref()
            .map(ro_cache::RoCache::new);
        let locks_dir = config.data_dir.join("runs");
        std::fs::create_dir_all(&locks_dir).map_err(|e| {
            EngineError::Setup(format!("cannot create {}: {e}", locks_dir.display()))
        })?;
        let cluster = store.cluster();
        let bridge = Bridge {
            config: Arc::new(config),
            store,
            ccp,
            fallback_ccp,
            ro_cache,
            confluence,
            pvwa_password,
            secrets,
            pvwa: Mutex::new(None),
            pvwa_resilience: Resilience::new(
                "pvwa",
                RetryPolicy::default(),
                BreakerConfig::default(),
            ),
            locks_dir,
            replica: cluster_locks::Replica::this_process(),
            cluster,
            active_runs: std::sync::Mutex::default(),
            principals: std::sync::Mutex::default(),
            ldap: tokio::sync::OnceCell::new(),
            audit_key: tokio::sync::OnceCell::new(),
        };
        let report = bridge.recover().await?;
        Ok((bridge, report))
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn confluence(&self) -> &ConfluenceClient {
        &self.confluence
    }

    /// A bridge credential resolved at start, by its config field (the web UI's
    /// `server.web.client_secret`); `None` for a field the config does not set.
    pub fn bridge_secret(&self, field: &str) -> Option<&SecretString> {
        self.secrets.get(field)
    }

    /// Signs the shutdown checkpoint of `[audit]` when this command added records, then logs
    /// off the PVWA session, if one is open.
    pub async fn shutdown(&self) {
        // The shutdown checkpoint of `[audit]` (`checkpoints.rs`). The records are durable
        // already; a checkpoint that cannot be written is reported, not fatal.
        if let Err(e) = self.checkpoint_at_exit().await {
            tracing::warn!(error = %e, "the audit checkpoint at exit was not written");
        }
        let session = self.pvwa.lock().await.take();
        if let Some(pvwa) = session
            && let Err(e) = pvwa.logoff().await
        {
            tracing::warn!(error = %e, "PVWA logoff failed");
        }
    }

    /// Appends one audit event, stamped now and with its actor (see [`Bridge::stamp`]).
    pub(crate) async fn audit(
        &self,
        actor: &str,
        event: AuditEvent,
    ) -> Result<AuditRecord, EngineError> {
        Ok(self.store.append_audit(self.stamp(actor, event)).await?)
    }

    /// Stamps an event with the time and the actor: [`BRIDGE_ACTOR`] is arkbridge itself, anyone
    /// else a user verified by the configured identity provider, in the session of the run.
    pub(crate) fn stamp(&self, actor: &str, mut event: AuditEvent) -> AuditEvent {
        event.time_us = now_micros();
        event.actor = if actor == BRIDGE_ACTOR {
            Actor::system()
        } else {
            let known = self
                .principals
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(actor)
                .cloned();
            match (self.config.identity.provider, known) {
                (IdentityProvider::LocalTrusted, _) => {
                    Actor::user("local-trusted", actor, AuthMethod::CliLocal)
                }
                (IdentityProvider::Oidc, Some((issuer, subject))) => Actor {
                    // The e-mail the token carried: readable in tables, while `subject` stays
                    // the provider's stable id.
                    name: Some(actor.to_string()),
                    ..Actor::user(&issuer, &subject, AuthMethod::Oidc)
                },
                // A user this process did not verify itself (an approver recorded earlier): the
                // configured issuer vouched for them by e-mail.
                (IdentityProvider::Oidc, None) => {
                    let issuer = self
                        .config
                        .identity
                        .oidc
                        .as_ref()
                        .map_or("oidc", |o| o.issuer.as_str());
                    Actor::user(issuer, actor, AuthMethod::Oidc)
                }
            }
        };
        event.actor.session_id = event.run_id.clone();
        event
    }

    /// Records a verified user's issuer and subject for the audit records of their actions.
    pub fn remember(&self, user: &VerifiedUser) {
        self.principals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                user.email.clone(),
                (user.issuer.clone(), user.subject.clone()),
            );
    }

    /// Runs `f` with a logged-on PVWA session, logging on at first use.
    pub(crate) async fn with_pvwa<T>(
        &self,
        f: impl AsyncFnOnce(&PvwaClient) -> Result<T, arkbridge_cyberark::CyberArkError>,
    ) -> Result<T, arkbridge_cyberark::CyberArkError> {
        let mut guard = self.pvwa.lock().await;
        if guard.is_none() {
            *guard = Some(
                PvwaClient::logon_with(
                    &self.config.cyberark.pvwa,
                    &self.pvwa_password,
                    self.pvwa_resilience.clone(),
                )
                .await?,
            );
        }
        f(guard.as_ref().expect("logged on above")).await
    }
}

pub(crate) fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}
