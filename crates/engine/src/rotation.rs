//! Settling leases after a run: each account is rotated as its safe's policy says, a failed
//! rotation is tried again with backoff (`[rotation]`), and one that fails every try raises an
//! alert: a `rotation.failed` audit event with `details.alert = true`, an error log line, the
//! `arkbridge_rotation_failures_total` metric, and the lease left in `rotation-failed`, which
//! the daily report lists (`Store::rotation_failures_since`) and recovery tries again.
//! Recovering what a crashed process left open is in `recovery.rs`.

use std::future::Future;
use std::time::Duration;

use arkbridge_core::audit::{Action, AuditEvent, Outcome, Target};
use arkbridge_core::config::{Rotation, RotationConfig};
use arkbridge_core::secret_ref::SecretRef;
use arkbridge_store::{LeaseState, Store};
use serde::Serialize;

use crate::credentials::LeaseHandle;
use crate::metrics::{Counter, METRICS};
use crate::{Bridge, EngineError};

/// What recovery did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct RecoveryReport {
    /// Runs whose process had died with leases open.
    pub crashed_runs: Vec<String>,
    /// Orphaned process groups of those runs that were still alive and were killed.
    pub killed_groups: Vec<i32>,
    /// Private directories (secret files included) of those runs that were removed.
    pub workspaces_removed: usize,
    /// Accounts rotated (`Safe/Object`).
    pub rotated: Vec<String>,
    /// Accounts whose rotation failed again.
    pub failed: Vec<String>,
    /// Leases closed without rotation (policy `none`, or never issued).
    pub released: Vec<String>,
    /// Runs still alive in another process, and accounts another live run holds (which that
    /// run rotates when it ends): left alone.
    pub in_progress: usize,
    /// Leases of dead runs left for later because a live run holds their account: recovery
    /// should be tried again soon.
    pub deferred: usize,
}

impl RecoveryReport {
    /// Whether recovery found nothing to do.
    pub fn is_empty(&self) -> bool {
        self.crashed_runs.is_empty()
            && self.rotated.is_empty()
            && self.failed.is_empty()
            && self.released.is_empty()
    }
}

/// A rotation that failed every try.
#[derive(Debug)]
pub(crate) struct GaveUp<E> {
    pub(crate) attempts: u32,
    pub(crate) last: E,
}

/// Calls `attempt` (with its number, from 1) until it succeeds or `cfg.attempts` tries failed,
/// waiting `cfg.delay_after(n)` on tokio's clock after failure `n`; `on_retry` hears of each
/// failure that is tried again, with the wait before the next try.
pub(crate) async fn retry<T, E, F, Fut>(
    cfg: &RotationConfig,
    mut attempt: F,
    mut on_retry: impl AsyncFnMut(u32, &E, Duration),
) -> Result<(T, u32), GaveUp<E>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut n = 1;
    loop {
        match attempt(n).await {
            Ok(v) => return Ok((v, n)),
            Err(e) if n >= cfg.attempts => {
                return Err(GaveUp {
                    attempts: n,
                    last: e,
                });
            }
            Err(e) => {
                let wait = cfg.delay_after(n);
                on_retry(n, &e, wait).await;
                tokio::time::sleep(wait).await;
                n += 1;
            }
        }
    }
}

impl<S: Store> Bridge<S> {
    /// Settles the leases of a finished run. Returns the accounts rotated.
    pub(crate) async fn settle(
        &self,
        actor: &str,
        run_id: &str,
        leases: &[LeaseHandle],
    ) -> Result<Vec<String>, EngineError> {
        let mut rotated = Vec::new();
        for l in leases {
            if !l.issued && l.rotation == Rotation::None {
                continue; // never issued: already released when the retrieval failed
            }
            self.store
                .update_lease(l.id, LeaseState::RunFinished, None, None)
                .await?;
            if self
                .rotate(
                    actor,
                    run_id,
                    l.id,
                    &l.reference,
                    l.rotation,
                    l.account_id.as_deref(),
                )
                .await?
            {
                rotated.push(format!("{}/{}", l.reference.safe, l.reference.object));
            }
        }
        Ok(rotated)
    }

    /// Carries out a lease's rotation policy, trying again with backoff. Returns whether the
    /// account was rotated. A rotation that failed every try raises the alert (see the module's
    /// documentation) and is reported as `false`.
    pub(crate) async fn rotate(
        &self,
        actor: &str,
        run_id: &str,
        lease_id: i64,
        reference: &SecretRef,
        rotation: Rotation,
        account_id: Option<&str>,
    ) -> Result<bool, EngineError> {
        let target =
            Target::account(&reference.safe, &reference.object).with_account_id(account_id);
        let (Rotation::AfterRun | Rotation::Checkin, Some(id)) = (rotation, account_id) else {
            self.store
                .update_lease(lease_id, LeaseState::Released, None, None)
                .await?;
            return Ok(false);
        };
        self.store
            .update_lease(lease_id, LeaseState::Rotating, None, None)
            .await?;
        let wait = Duration::from_secs(self.config.cyberark.pvwa.cpm_wait_secs);
        let cfg = &self.config.rotation;
        let result = retry(
            cfg,
            |n| async move {
                self.with_pvwa(async |p| {
                    // A `success` left by an earlier change must not pass for this one.
                    let before = p
                        .get_account(id)
                        .await?
                        .secret_management
                        .last_modified_time;
                    // A check-in that did not lead to a change is not repeated: the account is
                    // already checked in, so later tries ask for the change itself.
                    match (rotation, n) {
                        (Rotation::Checkin, 1) => p.check_in(id).await?,
                        _ => p.change(id).await?,
                    }
                    p.wait_for_change_after(id, before, wait).await
                })
                .await
            },
            async |n, e: &arkbridge_cyberark::CyberArkError, delay| {
                METRICS.inc(Counter::RotationRetries);
                tracing::warn!(lease = lease_id, account = %reference.account(), attempt = n, error = %e, retry_in_ms = delay.as_millis() as u64, "rotation failed; trying again");
                let event = AuditEvent::new(Action::RotationRequested)
                    .run(run_id)
                    .target(target.clone())
                    .outcome(Outcome::Failure)
                    .reason(e.to_string())
                    .details(serde_json::json!({
                        "lease": lease_id, "account_id": id, "rotation": rotation.as_str(),
                        "attempt": n, "error": e.to_string(), "retry_in_ms": delay.as_millis() as u64,
                    }));
                if let Err(audit) = self.audit(actor, event).await {
                    tracing::error!(lease = lease_id, error = %audit, "cannot audit a failed rotation try");
                }
            },
        )
        .await;
        match result {
            Ok((_, attempts)) => {
                METRICS.inc(Counter::Rotations);
                self.store
                    .update_lease(lease_id, LeaseState::Rotated, None, None)
                    .await?;
                self.audit(
                    actor,
                    AuditEvent::new(Action::RotationDone)
                        .run(run_id)
                        .target(target)
                        .details(serde_json::json!({
                            "lease": lease_id, "account_id": id, "rotation": rotation.as_str(),
                            "attempts": attempts,
                        })),
                )
                .await?;
                Ok(true)
            }
            Err(GaveUp { attempts, last: e }) => {
                METRICS.inc(Counter::RotationAlerts);
                tracing::error!(lease = lease_id, account = %reference.account(), attempts, error = %e, alert = true, "ALERT: rotation failed after every try; the credential a run held is still valid");
                self.store
                    .update_lease(
                        lease_id,
                        LeaseState::RotationFailed,
                        None,
                        Some(&e.to_string()),
                    )
                    .await?;
                self.audit(
                    actor,
                    AuditEvent::new(Action::RotationFailed)
                        .run(run_id)
                        .target(target)
                        .outcome(Outcome::Failure)
                        .reason(e.to_string())
                        .details(serde_json::json!({
                            "lease": lease_id, "account_id": id, "rotation": rotation.as_str(),
                            "error": e.to_string(), "attempts": attempts, "alert": true,
                        })),
                )
                .await?;
                Ok(false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn cfg(attempts: u32, base_delay_ms: u64, max_delay_ms: u64) -> RotationConfig {
        RotationConfig {
            attempts,
            base_delay_ms,
            max_delay_ms,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn failing_rotation_is_tried_the_configured_times_with_backoff_then_given_up() {
        let t0 = tokio::time::Instant::now();
        let tries = Cell::new(Vec::new());
        let mut retries = Vec::new();
        let got = retry(
            &cfg(4, 1000, 3000),
            |n| {
                let mut v = tries.take();
                v.push((n, t0.elapsed().as_millis() as u64));
                tries.set(v);
                async move { Err::<(), _>(format!("CPM failed #{n}")) }
            },
            async |n, e: &String, wait| retries.push((n, e.clone(), wait.as_millis() as u64)),
        )
        .await;
        let e = got.unwrap_err();
        assert_eq!((e.attempts, e.last.as_str()), (4, "CPM failed #4"));
        // Tries at 0, 1 s, 1+2 s and 1+2+3 s (the cap).
        assert_eq!(tries.take(), [(1, 0), (2, 1000), (3, 3000), (4, 6000)]);
        assert_eq!(
            retries,
            [
                (1, "CPM failed #1".to_string(), 1000),
                (2, "CPM failed #2".to_string(), 2000),
                (3, "CPM failed #3".to_string(), 3000),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn rotation_that_succeeds_on_a_retry_reports_its_attempts() {
        let t0 = tokio::time::Instant::now();
        let got = retry(
            &cfg(3, 500, 500),
            |n| async move { if n < 2 { Err("busy") } else { Ok("changed") } },
            async |_, _: &&str, _| {},
        )
        .await;
        assert_eq!(got.unwrap(), ("changed", 2));
        assert_eq!(t0.elapsed(), Duration::from_millis(500));
    }

    #[tokio::test(start_paused = true)]
    async fn single_attempt_never_waits() {
        let t0 = tokio::time::Instant::now();
        let got = retry(
            &cfg(1, 5000, 5000),
            |_| async { Err::<(), _>("down") },
            async |_, _: &&str, _| panic!("no retry with one attempt"),
        )
        .await;
        assert_eq!(got.unwrap_err().attempts, 1);
        assert_eq!(t0.elapsed(), Duration::ZERO);
    }
}
