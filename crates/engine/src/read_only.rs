//! The read-only fallback of a run, and the refresh of the read-only cache.
//!
//! When CyberArk is unavailable (`fallback.rs`), a run goes on read-only only if every binding
//! can be resolved: a `write` block with a binding that names no `fallback` is refused before
//! anything else happens, and a binding whose fallback no source can resolve refuses the whole
//! run, so that no script ever starts with a partial set of secrets. Each binding's fallback
//! reference (or, for a `read` block, a binding's own reference when it names no fallback) is
//! resolved from the second CCP, then the first, then, for declared fallbacks only, the
//! in-memory cache. Every binding resolved so is audited as `credential.fallback` with its
//! `source` (`fallback-ccp`, `primary-ccp` or `cache`); the runner then sets
//! `ARKBRIDGE_MODE=read-only`, and the report, summary and comment say so.
//!
//! While CyberArk answers, each run refreshes the cached values of its block's declared
//! fallbacks that are older than `refresh_after_secs` (in safes whose rotation is `none` only).
//! A long-running process can also call [`Bridge::refresh_fallback_cache`] on a timer.

use arkbridge_core::audit::{Action, AuditEvent, Target};
use arkbridge_core::config::Rotation;
use arkbridge_core::runbook::{Mode, Runbook};
use arkbridge_core::secret_ref::SecretRef;
use arkbridge_cyberark::CcpQuery;
use arkbridge_store::Store;
use secrecy::SecretString;

use crate::credentials::{Ask, Credentials, Fetched, LeaseHandle, Via, ccp_safe, same_account};
use crate::fallback::{FallbackSource, Unavailability, engine_unavailability};
use crate::ro_cache::RoCache;
use crate::{BRIDGE_ACTOR, Bridge, EngineError};

/// One binding's read-only value and where it came from.
struct Resolved {
    value: SecretString,
    source: FallbackSource,
    age_secs: Option<u64>,
}

impl<S: Store> Bridge<S> {
    /// Resolves every binding of `runbook` read-only after `outage`, or refuses the run.
    pub(crate) async fn read_only(
        &self,
        ask: &Ask<'_>,
        runbook: &Runbook,
        leases: &mut Vec<LeaseHandle>,
        fetched: &mut Fetched,
        kind: Unavailability,
        outage: &EngineError,
    ) -> Result<Credentials, EngineError> {
        tracing::warn!(run_id = ask.run_id, cause = kind.as_str(), error = %outage, "CyberArk unavailable; trying read-only fallbacks");
        let missing: Vec<&str> = runbook
            .bindings
            .iter()
            .filter(|b| b.fallback.is_none())
            .map(|b| b.variable.as_str())
            .collect();
        if runbook.mode == Mode::Write && !missing.is_empty() {
            return Err(EngineError::NoFallback(format!(
                "{outage}; the write block `{}` names no read-only fallback for {}, so it is \
                 refused and no script was started",
                runbook.name,
                missing.join(", ")
            )));
        }
        self.audit(
            ask.actor,
            AuditEvent::new(Action::CredentialFallback)
                .run(ask.run_id)
                .reason(outage.to_string())
                .details(serde_json::json!({
                    "cause": outage.to_string(), "cause_kind": kind.as_str(),
                    "without_fallback": missing, "mode": "read-only",
                })),
        )
        .await?;
        let mut ro = Credentials {
            read_only: true,
            ..Credentials::default()
        };
        for b in &runbook.bindings {
            let reference = b.fallback.as_ref().unwrap_or(&b.reference);
            let declared = b.fallback.is_some();
            let got = self
                .resolve_read_only(ask, reference, declared, leases, fetched, outage)
                .await?;
            self.audit(
                ask.actor,
                AuditEvent::new(Action::CredentialFallback)
                    .run(ask.run_id)
                    .target(Target::account(&reference.safe, &reference.object))
                    .details(serde_json::json!({
                        "variable": b.variable, "reference": reference.to_string(),
                        "source": got.source.as_str(), "age_secs": got.age_secs,
                        "cause_kind": kind.as_str(),
                    })),
            )
            .await?;
            ro.push(b, got.value);
        }
        Ok(ro)
    }

    /// One reference, from the first source that answers. A refusal from any CCP ends the
    /// search at once: it is CyberArk's decision, not an outage.
    async fn resolve_read_only(
        &self,
        ask: &Ask<'_>,
        reference: &SecretRef,
        declared: bool,
        leases: &mut Vec<LeaseHandle>,
        fetched: &mut Fetched,
        outage: &EngineError,
    ) -> Result<Resolved, EngineError> {
        let mut tried: Vec<String> = Vec::new();
        let mut ccps = vec![(Via::Primary, FallbackSource::PrimaryCcp)];
        if self.fallback_ccp.is_some() {
            ccps.insert(0, (Via::Fallback, FallbackSource::FallbackCcp));
        }
        for (via, source) in ccps {
            match self.fetch(ask, reference, leases, fetched, via).await {
                Ok(value) => {
                    return Ok(Resolved {
                        value,
                        source,
                        age_secs: None,
                    });
                }
                Err(e) if engine_unavailability(&e).is_some() => {
                    tried.push(format!("{}: {e}", source.as_str()));
                }
                Err(e) => return Err(e),
            }
        }
        match (&self.ro_cache, declared) {
            (Some(cache), true) if self.config.rotation_for(&reference.safe) == Rotation::None => {
                match cache.get(reference) {
                    Ok(cached) => {
                        let age_secs = cached.age.as_secs();
                        self.lease_cached(ask, reference, leases, age_secs).await?;
                        return Ok(Resolved {
                            value: cached.value,
                            source: FallbackSource::Cache,
                            age_secs: Some(age_secs),
                        });
                    }
                    Err(miss) => tried.push(format!("cache: {miss}")),
                }
            }
            (Some(_), true) => tried.push(format!(
                "cache: {reference} is in a safe whose rotation is not `none`, so it is never \
                 cached"
            )),
            (None, true) => tried
                .push("cache: no read-only cache is configured ([cyberark.fallback_cache])".into()),
            (_, false) => {}
        }
        Err(EngineError::NoFallback(format!(
            "{outage}; {reference} could not be resolved read-only ({}); no script was started",
            tried.join("; ")
        )))
    }

    /// The lease and `credential.issued` record of a value handed over from the cache (once per
    /// account per run), written before the value is used.
    async fn lease_cached(
        &self,
        ask: &Ask<'_>,
        reference: &SecretRef,
        leases: &mut Vec<LeaseHandle>,
        age_secs: u64,
    ) -> Result<(), EngineError> {
        if leases
            .iter()
            .any(|l| l.issued && same_account(&l.reference, reference))
        {
            return Ok(());
        }
        let id = self
            .take_lease(ask, reference, Rotation::None, None, leases)
            .await?;
        let event = self.stamp(
            ask.actor,
            AuditEvent::new(Action::CredentialIssued)
                .run(ask.run_id)
                .target(Target::account(&reference.safe, &reference.object))
                .details(serde_json::json!({ "lease": id, "via": "cache", "age_secs": age_secs })),
        );
        self.store
            .issue_credential(id, event)
            .await
            .map_err(EngineError::AuditFailed)?;
        if let Some(l) = leases.last_mut() {
            l.issued = true;
        }
        Ok(())
    }

    /// After a healthy retrieval: refreshes the cached values of the block's declared fallbacks
    /// that are due. A failure only loses freshness, so it is logged, never fatal to the run.
    pub(crate) async fn refresh_ro_cache(&self, run_id: &str, runbook: &Runbook) {
        let Some(cache) = &self.ro_cache else {
            return;
        };
        // A plain loop: an iterator adapter's closure held across the awaits below would make
        // the future lose `Send` for callers that spawn runs.
        for b in &runbook.bindings {
            let Some(reference) = &b.fallback else {
                continue;
            };
            if self.config.rotation_for(&reference.safe) != Rotation::None
                || !cache.needs_refresh(reference)
            {
                continue;
            }
            if let Err(e) = self.refresh_one(cache, reference, Some(run_id)).await {
                tracing::warn!(run_id, reference = %reference, error = %e, "cannot refresh the read-only cache");
            }
        }
    }

    /// Refreshes every cached read-only value through the first CCP, for a long-running
    /// process to call on a timer. Returns how many were refreshed; stops at the first
    /// unavailability (the values kept stay usable until they go stale).
    pub async fn refresh_fallback_cache(&self) -> Result<usize, EngineError> {
        let Some(cache) = &self.ro_cache else {
            return Ok(0);
        };
        let mut refreshed = 0;
        for reference in cache.references() {
            self.refresh_one(cache, &reference, None).await?;
            refreshed += 1;
        }
        Ok(refreshed)
    }

    async fn refresh_one(
        &self,
        cache: &RoCache,
        reference: &SecretRef,
        run_id: Option<&str>,
    ) -> Result<(), EngineError> {
        let query = CcpQuery::for_account(&reference.safe, &reference.object).reason(ccp_safe(
            &format!("arkbridge read-only cache refresh of {reference}"),
        ));
        let account = self.ccp.get(&query).await?;
        let value = account
            .secret_property(reference.property())
            .ok_or_else(|| {
                EngineError::Runbook(format!(
                    "{reference}: the account has no property {}",
                    reference.property()
                ))
            })?;
        let mut event = AuditEvent::new(Action::CredentialIssued)
            .target(Target::account(&reference.safe, &reference.object))
            .details(serde_json::json!({
                "via": "ccp", "purpose": "read-only-cache", "reference": reference.to_string(),
            }));
        if let Some(run_id) = run_id {
            event = event.run(run_id);
        }
        // Log before act: the value is kept only once its retrieval is on the audit log.
        self.audit(BRIDGE_ACTOR, event).await?;
        cache.put(reference, value);
        Ok(())
    }
}
