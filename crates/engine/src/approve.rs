//! Approving a `write` block (`arkbridge approve`) and explaining a decision
//! (`arkbridge policy explain`).
//!
//! An approval binds the SHA-256 of the block's exact text, so any later edit voids it. It is
//! refused, with the reason on the audit log, when the approver is not in an approver group or
//! is the block's last editor (the policy would not count it anyway; refusing says so at once).

use arkbridge_core::audit::{Action, AuditEvent, Outcome, Target};
use arkbridge_core::policy::Decision;
use arkbridge_core::runbook::Mode;
use arkbridge_store::{ApprovalRecord, NewApproval, Store};
use serde::Serialize;

use crate::decision::script_sha256;
use crate::{Bridge, EngineError, RunRequest, VerifiedUser, now_micros};

/// What `approve` recorded.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalReport {
    pub page_id: String,
    pub page_version: u64,
    pub block: String,
    pub script_sha256: String,
    pub approver: String,
    pub audit_seq: i64,
}

impl<S: Store> Bridge<S> {
    /// Records `approver`'s approval of the block as it is now.
    pub async fn approve(
        &self,
        approver: &VerifiedUser,
        page: &str,
        block: Option<&str>,
    ) -> Result<ApprovalReport, EngineError> {
        let req = RunRequest {
            page: page.to_string(),
            block: block.map(str::to_string),
            user: approver.clone(),
        };
        let (page, space, runbook) = self.find_block(&req).await?;
        let hash = script_sha256(&runbook.script);
        let target = Target::block(&page.id, page.version, &runbook.name);
        let approvers = &self.config.policy.approver_groups;
        let refusal = if runbook.mode != Mode::Write {
            Some("only write blocks need an approval; this block is read-only".to_string())
        } else if !approver.groups.iter().any(|g| approvers.contains(g)) {
            Some(format!(
                "{} is not in an approver group [{}]",
                approver.email,
                approvers.join(", ")
            ))
        } else {
            let decision = self.decide_run(approver, &page, &space, &runbook).await?;
            let own_edit = decision
                .last_editor
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(&approver.email));
            own_edit.then(|| {
                format!(
                    "{} last edited this block and cannot approve their own change",
                    approver.email
                )
            })
        };
        if let Some(reason) = refusal {
            let rec = self
                .audit(
                    &approver.email,
                    AuditEvent::new(Action::ApprovalGranted)
                        .outcome(Outcome::Denied)
                        .reason(reason.clone())
                        .target(target)
                        .details(serde_json::json!({ "script_sha256": hash })),
                )
                .await?;
            return Err(EngineError::Denied {
                reasons: reason,
                audit_seq: rec.seq,
            });
        }
        let event = self.stamp(
            &approver.email,
            AuditEvent::new(Action::ApprovalGranted)
                .target(target)
                .details(serde_json::json!({ "script_sha256": hash })),
        );
        let (stored, rec): (ApprovalRecord, _) = self
            .store
            .record_approval(
                &NewApproval {
                    page_id: page.id.clone(),
                    block: runbook.name.clone(),
                    script_sha256: hash.clone(),
                    page_version: i64::try_from(page.version).unwrap_or(i64::MAX),
                    approver: approver.email.clone(),
                    approver_groups: approver.groups.clone(),
                    created_micros: now_micros(),
                },
                event,
            )
            .await?;
        Ok(ApprovalReport {
            page_id: stored.page_id,
            page_version: page.version,
            block: stored.block,
            script_sha256: stored.script_sha256,
            approver: stored.approver,
            audit_seq: rec.seq,
        })
    }

    /// The decision `user` would get for the block now, with every rule's reasons. Nothing is
    /// fetched from CyberArk but safe members; the explanation is audited.
    pub async fn explain(
        &self,
        user: &VerifiedUser,
        page: &str,
        block: Option<&str>,
    ) -> Result<Decision, EngineError> {
        let req = RunRequest {
            page: page.to_string(),
            block: block.map(str::to_string),
            user: user.clone(),
        };
        let (page, space, runbook) = self.find_block(&req).await?;
        let decision = self.decide_run(user, &page, &space, &runbook).await?;
        self.audit(
            &user.email,
            AuditEvent::new(Action::PolicyDecided)
                .outcome(if decision.allowed {
                    Outcome::Success
                } else {
                    Outcome::Denied
                })
                .reason(format!("explained: {}", decision.explain()))
                .target(Target::block(&page.id, page.version, &runbook.name))
                .details(serde_json::json!({ "explain": true, "reasons": decision.reasons() })),
        )
        .await?;
        Ok(decision)
    }
}
