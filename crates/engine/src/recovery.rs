//! Recovering what a crashed process left open. Every command that opens the store calls
//! [`Bridge::recover`] first; `arkbridge recover` does only this.
//!
//! For each run with leases still owed a rotation whose run lock is free (its process is dead,
//! see `lock.rs`): if the run had not finished, its orphaned script is killed (the process group
//! recorded when it started, checked to still be ours: `arkbridge_runner::kill_orphaned_group`),
//! its private directory with its secret files is removed, and the run is recorded as ended in
//! error. Then each lease is rotated (with the retries and alert of `rotation.rs`) or released.
//! Leases whose rotation failed before are tried again here. An account another live run holds
//! right now is left to that run, which rotates it when it ends.

use std::time::Duration;

use arkbridge_core::audit::{Action, AuditEvent, Outcome};
use arkbridge_core::config::Rotation;
use arkbridge_core::secret_ref::SecretRef;
use arkbridge_runner::OrphanOutcome;
use arkbridge_store::{Lease, LeaseState, RunStatus, Store};

use crate::metrics::{Counter, METRICS};
use crate::rotation::RecoveryReport;
use crate::{BRIDGE_ACTOR, Bridge, EngineError, lease_lock, now_micros};

impl<S: Store> Bridge<S> {
    /// Recovers every run a dead process left with leases owed a rotation (see the module's
    /// documentation).
    pub async fn recover(&self) -> Result<RecoveryReport, EngineError> {
        let mut runs: Vec<String> = Vec::new();
        for l in self.store.open_leases().await? {
            if !runs.contains(&l.run_id) {
                runs.push(l.run_id);
            }
        }
        let mut report = RecoveryReport::default();
        for run_id in runs {
            // On PostgreSQL the run may be another replica's that is only cut off for a moment:
            // its replica must have missed its heartbeats too (asked first, as it is cheaper
            // than a lock session).
            let (dead, on_this_host) = self.run_is_dead(&run_id).await?;
            if !dead {
                report.in_progress += 1;
                continue;
            }
            let Some(held) = self.try_hold_run(&run_id).await? else {
                report.in_progress += 1;
                continue;
            };
            // Read again under the lock: the run may have settled its leases meanwhile.
            let leases: Vec<Lease> = self
                .store
                .leases_for_run(&run_id)
                .await?
                .into_iter()
                .filter(|l| l.state.is_open() || l.state == LeaseState::RotationFailed)
                .collect();
            if leases.is_empty() {
                continue;
            }
            // A run that recorded its own end (it stopped when its locks were lost) is not
            // ended a second time.
            let ended = self
                .store
                .get_run(&run_id)
                .await?
                .is_some_and(|r| r.status != RunStatus::Running);
            if !ended && leases.iter().any(|l| l.state.is_open()) {
                self.end_crashed_run(&run_id, &leases, on_this_host, &mut report)
                    .await?;
            }
            for l in leases {
                self.recover_lease(&held, &run_id, l, &mut report).await?;
            }
        }
        Ok(report)
    }

    /// Kills a crashed run's orphaned script, removes its private directory and records its end.
    async fn end_crashed_run(
        &self,
        run_id: &str,
        leases: &[Lease],
        on_this_host: bool,
        report: &mut RecoveryReport,
    ) -> Result<(), EngineError> {
        report.crashed_runs.push(run_id.to_string());
        let mut killed = None;
        // A process group number means something only on the host that recorded it.
        if on_this_host
            && let Some(guard) = self.store.run_guard(run_id).await?
            && let Some(pgid) = guard.pgid
        {
            // The group is killed before anything is rotated: a script still running must not
            // go on with a credential (or see it change under it).
            match arkbridge_runner::kill_orphaned_group(pgid, guard.process_start, run_id) {
                Ok(OrphanOutcome::Killed { members }) => {
                    METRICS.inc(Counter::OrphansKilled);
                    tracing::warn!(
                        run_id,
                        pgid,
                        members,
                        "killed the orphaned script of a crashed run"
                    );
                    report.killed_groups.push(pgid);
                    killed = Some(pgid);
                }
                Ok(OrphanOutcome::Gone) => {}
                Ok(OrphanOutcome::NotOurs) => {
                    tracing::info!(
                        run_id,
                        pgid,
                        "the recorded process group now belongs to another program; left alone"
                    );
                }
                Err(e) => {
                    tracing::error!(run_id, pgid, error = %e, "cannot check the orphaned script's process group");
                }
            }
        }
        let workspaces = arkbridge_runner::remove_leftover_workspaces(run_id);
        report.workspaces_removed += workspaces;
        tracing::warn!(
            run_id,
            leases = leases.len(),
            workspaces,
            "recovering leases of a run that did not finish"
        );
        self.audit(
            BRIDGE_ACTOR,
            AuditEvent::new(Action::RunFinished)
                .run(run_id)
                .outcome(Outcome::Failure)
                .reason("the run's process died; its open leases are recovered")
                .details(serde_json::json!({
                    "open_leases": leases.iter().map(|l| l.id).collect::<Vec<_>>(),
                    "workspaces_removed": workspaces,
                    "killed_process_group": killed,
                })),
        )
        .await?;
        if let Some(run) = self.store.get_run(run_id).await?
            && run.status == RunStatus::Running
        {
            self.store
                .finish_run(run_id, RunStatus::Error, None, now_micros())
                .await?;
        }
        Ok(())
    }

    /// Rotates or releases one lease of a dead run.
    async fn recover_lease(
        &self,
        held: &crate::cluster_locks::RunHold,
        run_id: &str,
        l: Lease,
        report: &mut RecoveryReport,
    ) -> Result<(), EngineError> {
        let reference = SecretRef::new(&l.safe, &l.object);
        let rotation = Rotation::parse(&l.rotation).unwrap_or(Rotation::None);
        let name = format!("{}/{}", l.safe, l.object);
        if rotation == Rotation::None || l.account_id.is_none() {
            self.store
                .update_lease(l.id, LeaseState::Released, None, None)
                .await?;
            report.released.push(name);
            return Ok(());
        }
        // Not while a live run holds the account: rotating would break it mid-flight, and its
        // own rotation at its end replaces the credential this lease handed out anyway.
        let account = self
            .lock_accounts_held(held, run_id, std::slice::from_ref(&name), Duration::ZERO)
            .await;
        let _account = match account {
            Ok(held) => held,
            Err(lease_lock::LockError::Busy { .. }) => {
                report.in_progress += 1;
                report.deferred += 1;
                return Ok(());
            }
            Err(e) => return Err(EngineError::Setup(e.to_string())),
        };
        if self
            .rotate(
                BRIDGE_ACTOR,
                run_id,
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
        Ok(())
    }
}
