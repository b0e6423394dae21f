//! `arkbridge policy plan` and `policy apply`: making CyberArk's safe members match the grants.
//!
//! The plan is computed by `arkbridge_core::reconcile` from the grants, the members the PVWA
//! lists for every safe the grants name (or arkbridge manages), and the members arkbridge added
//! before (kept in the store). Applying it adds, updates and removes members through the PVWA,
//! one change at a time, each on the audit log with its outcome; a failed change stops the
//! apply, so nothing is left half-known.

use std::collections::BTreeSet;

use arkbridge_core::audit::{Action, AuditEvent, Outcome, Target};
use arkbridge_core::reconcile::{Change, CurrentMember, Plan, desired_members, plan};
use arkbridge_cyberark::{MemberType, NewSafeMember, Permissions, PvwaClient};
use arkbridge_store::Store;
use serde::Serialize;

use crate::{BRIDGE_ACTOR, Bridge, EngineError, now_micros};

/// A plan with what it could not express.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyPlan {
    pub plan: Plan,
    /// Subjects of grants that name only a Confluence role: there is no group to add to a safe.
    pub not_expressible: Vec<String>,
}

/// What `policy apply` did.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    pub applied: Vec<String>,
    pub audit_seqs: Vec<i64>,
}

/// The permission keys as the client's `Permissions` (all others false).
fn permissions(keys: &BTreeSet<String>) -> Result<Permissions, EngineError> {
    let mut p = Permissions::none();
    for k in keys {
        if !p.set(k, true) {
            return Err(EngineError::Setup(format!(
                "`{k}` is not a CyberArk safe-member permission (check [policy] read_permissions \
                 and write_permissions)"
            )));
        }
    }
    Ok(p)
}

impl<S: Store> Bridge<S> {
    /// The changes that would make CyberArk's safe members match the grants.
    pub async fn policy_plan(&self, prune: bool) -> Result<PolicyPlan, EngineError> {
        let settings = &self.config.policy;
        let (desired, not_expressible) = desired_members(&self.config.grants, settings);
        let managed: BTreeSet<(String, String)> =
            self.store.managed_members().await?.into_iter().collect();
        let mut safes: Vec<String> = Vec::new();
        for safe in desired
            .iter()
            .map(|d| &d.safe)
            .chain(managed.iter().map(|(s, _)| s))
        {
            if !safes.iter().any(|s| s.eq_ignore_ascii_case(safe)) {
                safes.push(safe.clone());
            }
        }
        let mut current = Vec::new();
        for safe in safes {
            let members = self
                .with_pvwa(async |p| p.list_safe_members(&safe, None).await)
                .await?;
            let members = members
                .into_iter()
                .map(|m| CurrentMember {
                    is_group: matches!(m.member_type, Some(MemberType::Group)),
                    is_predefined: m.is_predefined_user.unwrap_or(false),
                    permissions: m
                        .permissions
                        .iter()
                        .filter(|(_, on)| *on)
                        .map(|(k, _)| k.to_string())
                        .collect(),
                    member: m.member_name,
                })
                .collect();
            current.push((safe, members));
        }
        let mut protected = vec![
            self.config.cyberark.ccp.app_id.clone(),
            self.config.cyberark.pvwa.username.clone(),
        ];
        if let Some(who) = &settings.apply_as {
            protected.push(who.username.clone());
        }
        Ok(PolicyPlan {
            plan: plan(&desired, &current, &managed, &protected, prune),
            not_expressible,
        })
    }

    /// The PVWA session `policy apply` works in: `[policy] apply_as` (its password fetched
    /// through the CCP now), else a new session of the bridge's own PVWA user.
    async fn apply_session(&self) -> Result<PvwaClient, EngineError> {
        let mut cfg = self.config.cyberark.pvwa.clone();
        let password = match &self.config.policy.apply_as {
            Some(who) => {
                cfg.username = who.username.clone();
                crate::bootstrap::one(
                    &self.ccp,
                    &self.store,
                    "policy.apply_as.password",
                    &who.password,
                )
                .await?
            }
            None => self.pvwa_password.clone(),
        };
        tracing::info!(user = %cfg.username, "policy apply: logging on to the PVWA");
        Ok(PvwaClient::logon_with(&cfg, &password, self.pvwa_resilience.clone()).await?)
    }

    /// Applies a plan through the PVWA, recording each change on the audit log.
    pub async fn policy_apply(
        &self,
        actor: &str,
        plan: &PolicyPlan,
    ) -> Result<ApplyReport, EngineError> {
        let session = self.apply_session().await?;
        let result = self.apply_in(&session, actor, plan).await;
        if let Err(e) = session.logoff().await {
            tracing::warn!(error = %e, "PVWA logoff after policy apply failed");
        }
        result
    }

    async fn apply_in(
        &self,
        pvwa: &PvwaClient,
        actor: &str,
        plan: &PolicyPlan,
    ) -> Result<ApplyReport, EngineError> {
        let directory = &self.config.policy.member_directory;
        let mut report = ApplyReport {
            applied: Vec::new(),
            audit_seqs: Vec::new(),
        };
        for change in &plan.plan.changes {
            let result = match change {
                Change::Add {
                    safe,
                    member,
                    permissions: p,
                } => {
                    let new = NewSafeMember {
                        member_type: Some(MemberType::Group),
                        ..NewSafeMember::directory_group(member, directory, permissions(p)?)
                    };
                    pvwa.add_safe_member(safe, &new).await.map(|_| ())
                }
                Change::Update {
                    safe, member, to, ..
                } => {
                    let p = permissions(to)?;
                    pvwa.update_safe_member(safe, member, &p, None)
                        .await
                        .map(|_| ())
                }
                Change::Remove { safe, member, .. } => pvwa.remove_safe_member(safe, member).await,
            };
            let event = AuditEvent::new(Action::PolicyApplied)
                .target(Target {
                    safe: Some(change.safe().to_string()),
                    ..Target::default()
                })
                .details(serde_json::json!({ "change": change }));
            let who = if actor.is_empty() {
                BRIDGE_ACTOR
            } else {
                actor
            };
            match result {
                Ok(()) => {
                    match change {
                        Change::Add { safe, member, .. } | Change::Update { safe, member, .. } => {
                            self.store.mark_managed(safe, member, now_micros()).await?;
                        }
                        Change::Remove { safe, member, .. } => {
                            self.store.unmark_managed(safe, member).await?;
                        }
                    }
                    let rec = self.audit(who, event.reason(change.describe())).await?;
                    report.applied.push(change.describe());
                    report.audit_seqs.push(rec.seq);
                }
                Err(e) => {
                    self.audit(
                        who,
                        event
                            .outcome(Outcome::Failure)
                            .reason(format!("{}: {e}", change.describe())),
                    )
                    .await?;
                    return Err(EngineError::CyberArk(e));
                }
            }
        }
        Ok(report)
    }
}
