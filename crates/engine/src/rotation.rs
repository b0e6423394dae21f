//! Settling leases after a run, and recovering those a crashed process left open.

use std::time::Duration;

use arkbridge_core::audit::{Action, AuditEvent, Outcome, Target};
use arkbridge_core::config::Rotation;
use arkbridge_core::secret_ref::SecretRef;
use arkbridge_store::{Lease, LeaseState, RunStatus, Store};
use serde::Serialize;

use crate::credentials::LeaseHandle;
use crate::{BRIDGE_ACTOR, Bridge, EngineError, lock, now_micros};

/// What start-up recovery did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct RecoveryReport {
    /// Accounts rotated for crashed runs (`Safe/Object`).
    pub rotated: Vec<String>,
    /// Accounts whose rotation failed again.
    pub failed: Vec<String>,
    /// Runs still alive in another process, left alone.
    pub in_progress: usize,
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

    /// Carries out a lease's rotation policy. Returns whether the account was rotated. A failed
    /// rotation is recorded (lease state, audit event, error log) and reported as `false`.
    async fn rotate(
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
        let result = self
            .with_pvwa(async |p| {
                // A `success` left by an earlier change must not pass for this one.
                let before = p
                    .get_account(id)
                    .await?
                    .secret_management
                    .last_modified_time;
                match rotation {
                    Rotation::Checkin => p.check_in(id).await?,
                    _ => p.change(id).await?,
                }
                p.wait_for_change_after(id, before, wait).await
            })
            .await;
        match result {
            Ok(_) => {
                self.store
                    .update_lease(lease_id, LeaseState::Rotated, None, None)
                    .await?;
                self.audit(
                    actor,
                    AuditEvent::new(Action::RotationDone)
                        .run(run_id)
                        .target(target)
                        .details(serde_json::json!({ "lease": lease_id, "account_id": id, "rotation": rotation.as_str() })),
                )
                .await?;
                Ok(true)
            }
            Err(e) => {
                tracing::error!(lease = lease_id, account = %reference.account(), error = %e, "rotation failed");
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
                        .details(serde_json::json!({ "lease": lease_id, "account_id": id, "error": e.to_string() })),
                )
                .await?;
                Ok(false)
            }
        }
    }

    /// Rotates the leases of runs whose process died (their run lock is free), and removes the
    /// private directories (secret files included) such runs left behind. Failed rotations are
    /// tried again here. Every command that opens the store calls this first.
    pub async fn recover(&self) -> Result<RecoveryReport, EngineError> {
        let mut runs: Vec<String> = Vec::new();
        for l in self.store.open_leases().await? {
            if !runs.contains(&l.run_id) {
                runs.push(l.run_id);
            }
        }
        let mut report = RecoveryReport::default();
        for run_id in runs {
            let Some(_lock) = lock::try_lock(&self.locks_dir, &run_id)
                .map_err(|e| EngineError::Setup(format!("cannot check run lock {run_id}: {e}")))?
            else {
                report.in_progress += 1;
                continue;
            };
            // Read again under the lock: the run may have settled its leases meanwhile.
            let leases: Vec<Lease> = self
                .store
                .leases_for_run(&run_id)
                .await?
                .into_iter()
                .filter(|l| l.state.is_open())
                .collect();
            if leases.is_empty() {
                continue;
            }
            let workspaces = arkbridge_runner::remove_leftover_workspaces(&run_id);
            tracing::warn!(
                run_id,
                leases = leases.len(),
                workspaces,
                "recovering leases of a run that did not finish"
            );
            self.audit(
                BRIDGE_ACTOR,
                AuditEvent::new(Action::RunFinished)
                    .run(&run_id)
                    .outcome(Outcome::Failure)
                    .reason("the run's process died; its open leases are recovered")
                    .details(serde_json::json!({
                        "open_leases": leases.iter().map(|l| l.id).collect::<Vec<_>>(),
                        "workspaces_removed": workspaces,
                    })),
            )
            .await?;
            if let Some(run) = self.store.get_run(&run_id).await?
                && run.status == RunStatus::Running
            {
                self.store
                    .finish_run(&run_id, RunStatus::Error, None, now_micros())
                    .await?;
            }
            for l in leases {
                let reference = SecretRef::new(&l.safe, &l.object);
                let rotation = Rotation::parse(&l.rotation).unwrap_or(Rotation::None);
                let name = format!("{}/{}", l.safe, l.object);
                if rotation == Rotation::None || l.account_id.is_none() {
                    self.store
                        .update_lease(l.id, LeaseState::Released, None, None)
                        .await?;
                } else if self
                    .rotate(
                        BRIDGE_ACTOR,
                        &run_id,
                        l.id,
                        &reference,
                        rotation,
                        l.account_id.as_deref(),
                    )
                    .await?
                {
                    report.rotated.push(name);
                } else {
                    report.failed.push(name);
                }
            }
        }
        Ok(report)
    }
}
