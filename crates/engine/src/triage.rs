//! Triage of the scanner's findings: someone decides that a finding is an accepted risk or a
//! false positive (or takes it back to `new`), with a note. Audited; `vaulted` is set only by
//! `arkbridge vault`, which moves the value.

use arkbridge_core::audit::{Action, AuditEvent, Target};
use arkbridge_store::{FindingRecord, FindingState, Store};

use crate::{Bridge, EngineError};

impl<S: Store> Bridge<S> {
    /// Sets a finding's triage state. Refuses `vaulted` (only `vault` moves a value) and a
    /// finding that does not exist.
    pub async fn triage_finding(
        &self,
        actor: &str,
        id: i64,
        state: FindingState,
        note: Option<&str>,
    ) -> Result<FindingRecord, EngineError> {
        if state == FindingState::Vaulted {
            return Err(EngineError::Setup(
                "a finding becomes vaulted when `arkbridge vault --apply` moves its value".into(),
            ));
        }
        let before = self
            .store
            .finding(id)
            .await?
            .ok_or_else(|| EngineError::Setup(format!("there is no finding #{id}")))?;
        if before.state == FindingState::Vaulted {
            return Err(EngineError::Setup(format!(
                "finding #{id} is vaulted already ({})",
                before
                    .vaulted_ref
                    .as_deref()
                    .unwrap_or("moved into CyberArk")
            )));
        }
        self.store
            .triage_finding(id, state, actor, note, None)
            .await?;
        let f = &before.finding;
        let target = match &f.page_id {
            Some(page) => Target::page(page),
            None => Target::default(),
        };
        self.audit(
            actor,
            AuditEvent::new(Action::ScanFinding)
                .target(target)
                .reason(format!(
                    "finding #{id} triaged: {} -> {}",
                    before.state.as_str(),
                    state.as_str()
                ))
                .details(serde_json::json!({
                    "finding": id,
                    "triage": state.as_str(),
                    "previous": before.state.as_str(),
                    "note": note,
                    "detector": f.detector,
                    "preview": f.preview,
                    "fingerprint": f.fingerprint,
                })),
        )
        .await?;
        self.store
            .finding(id)
            .await?
            .ok_or_else(|| EngineError::Setup(format!("finding #{id} disappeared")))
    }
}
