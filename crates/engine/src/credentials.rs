//! Handing a run its credentials: one lease per retrieval, written before the CCP is asked, and
//! the switch to the read-only fallback (`read_only.rs`) when CyberArk is unavailable.
//!
//! For a safe whose policy rotates after the run, the account is first looked up in the PVWA: if
//! the bridge could not rotate it afterwards, it does not fetch it at all. Only unavailability
//! (`fallback.rs`) switches to read-only; any other error ends the acquisition as it is.

use arkbridge_core::audit::{Action, AuditEvent, Outcome, Target};
use arkbridge_core::config::Rotation;
use arkbridge_core::runbook::{Binding, BindingKind, Runbook};
use arkbridge_core::secret_ref::SecretRef;
use arkbridge_cyberark::{CcpAccount, CcpQuery};
use arkbridge_store::{LeaseState, NewLease, Store};
use secrecy::SecretString;

use crate::fallback::engine_unavailability;
use crate::{Bridge, EngineError, now_micros};

/// A lease taken by this run, to be settled after it.
#[derive(Debug, Clone)]
pub(crate) struct LeaseHandle {
    pub(crate) id: i64,
    pub(crate) reference: SecretRef,
    pub(crate) rotation: Rotation,
    pub(crate) account_id: Option<String>,
    pub(crate) issued: bool,
}

/// The values a run gets, by binding.
#[derive(Default)]
pub(crate) struct Credentials {
    pub(crate) env: Vec<(String, SecretString)>,
    pub(crate) files: Vec<(String, SecretString)>,
    /// Set when CyberArk was unavailable and fallbacks were used.
    pub(crate) read_only: bool,
}

impl Credentials {
    pub(crate) fn push(&mut self, b: &Binding, v: SecretString) {
        match b.kind {
            BindingKind::Env => self.env.push((b.variable.clone(), v)),
            BindingKind::File => self.files.push((b.variable.clone(), v)),
        }
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &SecretString> {
        self.env.iter().chain(&self.files).map(|(_, v)| v)
    }
}

/// Everything a retrieval needs to say who asked and why.
pub(crate) struct Ask<'a> {
    pub(crate) run_id: &'a str,
    pub(crate) actor: &'a str,
    pub(crate) reason: String,
}

impl<S: Store> Bridge<S> {
    /// Fetches every binding of `runbook`. Leases taken are pushed to `leases` even when this
    /// fails, so that the caller settles them whatever happens.
    pub(crate) async fn acquire(
        &self,
        ask: &Ask<'_>,
        runbook: &Runbook,
        leases: &mut Vec<LeaseHandle>,
    ) -> Result<Credentials, EngineError> {
        let mut creds = Credentials::default();
        let mut fetched = Fetched::new();
        for b in &runbook.bindings {
            match self
                .fetch(ask, &b.reference, leases, &mut fetched, Via::Primary)
                .await
            {
                Ok(v) => creds.push(b, v),
                Err(e) => {
                    let Some((kind, _)) = engine_unavailability(&e) else {
                        return Err(e);
                    };
                    // Values already fetched are dropped here (their leases are settled by the
                    // caller): a read-only run gets read-only values only.
                    drop(creds);
                    return self
                        .read_only(ask, runbook, leases, &mut fetched, kind, &e)
                        .await;
                }
            }
        }
        // CyberArk answered: the moment to refresh the read-only cache for a later outage.
        self.refresh_ro_cache(ask.run_id, runbook).await;
        Ok(creds)
    }

    /// The value of one reference. Each account is retrieved once per run (one lease, one CCP
    /// call), however many bindings read it: two leases on one account would rotate it twice.
    pub(crate) async fn fetch(
        &self,
        ask: &Ask<'_>,
        reference: &SecretRef,
        leases: &mut Vec<LeaseHandle>,
        fetched: &mut Fetched,
        via: Via,
    ) -> Result<SecretString, EngineError> {
        let idx = match fetched.iter().position(|(r, _)| same_account(r, reference)) {
            Some(i) => i,
            None => {
                let account = self.retrieve(ask, reference, leases, via).await?;
                fetched.push((reference.account(), account));
                fetched.len() - 1
            }
        };
        fetched[idx]
            .1
            .secret_property(reference.property())
            .ok_or_else(|| {
                EngineError::Runbook(format!(
                    "{reference}: the account has no property {}",
                    reference.property()
                ))
            })
    }

    /// One retrieval: the rotation check, the lease, then the CCP `via` names.
    async fn retrieve(
        &self,
        ask: &Ask<'_>,
        reference: &SecretRef,
        leases: &mut Vec<LeaseHandle>,
        via: Via,
    ) -> Result<CcpAccount, EngineError> {
        let ccp = match via {
            Via::Primary => &self.ccp,
            Via::Fallback => self.fallback_ccp.as_ref().ok_or_else(|| {
                EngineError::Setup("no [cyberark.fallback_ccp] is configured".into())
            })?,
        };
        let rotation = self.config.rotation_for(&reference.safe);
        let account_id = match rotation {
            Rotation::None => None,
            Rotation::AfterRun | Rotation::Checkin => {
                Some(self.rotatable_account_id(reference).await?)
            }
        };
        let id = self
            .take_lease(ask, reference, rotation, account_id, leases)
            .await?;
        let target = Target::account(&reference.safe, &reference.object)
            .with_account_id(leases.last().and_then(|l| l.account_id.as_deref()));
        let mut query =
            CcpQuery::for_account(&reference.safe, &reference.object).reason(ask.reason.clone());
        // A value the CPM is about to replace must never be handed to a run.
        query.fail_request_on_password_change = true;
        match ccp.get(&query).await {
            Ok(account) => {
                // Log before act: the value is handed over only once its `credential.issued`
                // record is durable, written in one transaction with the lease's move to
                // `issued`. If that fails, the run fails closed and the value is dropped here.
                let event = self.stamp(
                    ask.actor,
                    AuditEvent::new(Action::CredentialIssued)
                        .run(ask.run_id)
                        .target(target)
                        .details(serde_json::json!({ "lease": id, "via": via.as_str() })),
                );
                self.store
                    .issue_credential(id, event)
                    .await
                    .map_err(EngineError::AuditFailed)?;
                if let Some(l) = leases.last_mut() {
                    l.issued = true;
                }
                Ok(account)
            }
            Err(e) => {
                self.store
                    .update_lease(id, LeaseState::Released, None, Some(&e.to_string()))
                    .await?;
                self.audit(
                    ask.actor,
                    AuditEvent::new(Action::CredentialRequested)
                        .run(ask.run_id)
                        .target(target)
                        .outcome(Outcome::Failure)
                        .reason(e.to_string())
                        .details(serde_json::json!({ "lease": id, "via": via.as_str(), "error": e.to_string(), "unavailable": e.is_unavailable() })),
                )
                .await?;
                if let Some(l) = leases.last_mut() {
                    l.rotation = Rotation::None;
                }
                Err(e.into())
            }
        }
    }

    /// Stores a lease before its credential is requested, and remembers it for settling.
    pub(crate) async fn take_lease(
        &self,
        ask: &Ask<'_>,
        reference: &SecretRef,
        rotation: Rotation,
        account_id: Option<String>,
        leases: &mut Vec<LeaseHandle>,
    ) -> Result<i64, EngineError> {
        let id = self
            .store
            .insert_lease(&NewLease {
                run_id: ask.run_id.to_string(),
                safe: reference.safe.clone(),
                object: reference.object.clone(),
                account_id: account_id.clone(),
                rotation: rotation.as_str().to_string(),
                created_micros: now_micros(),
            })
            .await?;
        leases.push(LeaseHandle {
            id,
            reference: reference.account(),
            rotation,
            account_id,
            issued: false,
        });
        Ok(id)
    }

    /// The PVWA id of an account the bridge will rotate after the run. An account the bridge
    /// could not rotate (invisible to its PVWA user, or not managed by the CPM) is refused
    /// before anything is fetched.
    async fn rotatable_account_id(&self, reference: &SecretRef) -> Result<String, EngineError> {
        let found = self
            .with_pvwa(async |p| p.find_account(&reference.safe, &reference.object).await)
            .await?;
        let account = found.ok_or_else(|| {
            EngineError::Runbook(format!(
                "{}: the bridge's PVWA user cannot see this account, so it could not rotate it \
                 after the run; refusing to fetch it",
                reference.account()
            ))
        })?;
        if account.secret_management.automatic_management_enabled == Some(false) {
            return Err(EngineError::Runbook(format!(
                "{}: the CPM does not manage this account, so the bridge could not rotate it \
                 after the run; refusing to fetch it (enable automatic management, or set the \
                 safe's rotation to `none`)",
                reference.account()
            )));
        }
        Ok(account.id)
    }
}

/// Accounts already retrieved in this run, by account reference.
pub(crate) type Fetched = Vec<(SecretRef, CcpAccount)>;

/// Which CCP a retrieval asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// `[cyberark.ccp]`.
    Primary,
    /// `[cyberark.fallback_ccp]`.
    Fallback,
}

impl Via {
    /// How `credential.issued` names it.
    fn as_str(self) -> &'static str {
        match self {
            Via::Primary => "ccp",
            Via::Fallback => "fallback-ccp",
        }
    }
}

pub(crate) fn same_account(a: &SecretRef, b: &SecretRef) -> bool {
    a.safe.eq_ignore_ascii_case(&b.safe) && a.object.eq_ignore_ascii_case(&b.object)
}

/// Makes a free-text value safe for a CCP query value (`+ & %` are not supported there).
pub(crate) fn ccp_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if matches!(c, '+' | '&' | '%' | ';') || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}
