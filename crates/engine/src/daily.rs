//! `arkbridge audit daily`: the daily compliance audit.
//!
//! [`Bridge::daily_audit`] runs the incremental scan of the audited spaces (the `[daily]` spaces,
//! else the grants'), gathers the facts each check needs from Confluence, the PVWA and the
//! store, evaluates the checks (pure functions in `daily_checks.rs` and `daily_checks_log.rs`,
//! each mapped to the SOC 2 criteria it evidences), stores the report and records a
//! `report.daily` audit event. [`Bridge::post_daily_report`] replaces a Confluence page's body
//! with the report in storage format. Renderings: `daily_render.rs` (text, self-contained HTML)
//! and `daily_page.rs` (Confluence storage format); JSON is the report's serde form.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;

use arkbridge_confluence::EditError;
use arkbridge_core::audit::{Action, AuditEvent, Outcome, Target};
use arkbridge_core::storage::runbooks;
use arkbridge_store::{FindingState, LeaseState, Store};

use crate::{BRIDGE_ACTOR, Bridge, EngineError, now_micros, script_sha256};

#[path = "daily_access.rs"]
mod access;
#[path = "daily_checks.rs"]
mod checks;
#[path = "daily_checks_log.rs"]
mod checks_log;
#[path = "daily_page.rs"]
mod page;
#[path = "daily_render.rs"]
mod render;
#[path = "daily_report.rs"]
mod report;

pub use access::{
    BridgeIdentity, Held, MembershipFact, app_id_needs, configured_safes, least_privilege_check,
    pvwa_user_needs,
};
pub use checks::{
    AccountLookup, AuditedPage, bindings_check, finding_evidence, findings_check,
    inline_secrets_check, lookup_key, safe_members_check,
};
pub use checks_log::{
    BlockApprovals, approvals_check, audit_chain_check, is_cpm_change, rotation_check,
};
pub use page::render_storage;
pub use render::{render_html, render_text};
pub use report::{
    CheckId, CheckResult, DailyReport, Evidence, FindingEvidence, ScanEvidence, Status, Summary,
    rfc3339,
};

/// The page size of the space crawl.
const CRAWL_PAGE_SIZE: u32 = 50;

/// What posting the report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedReport {
    pub page_id: String,
    /// The page's version after the update.
    pub version: u64,
    /// False when the page already showed exactly this report.
    pub changed: bool,
}

impl<S: Store> Bridge<S> {
    /// Runs the daily audit: the incremental scan, then every check. The report is stored and
    /// recorded on the audit log (`report.daily`, `failure` when a check failed); its id is set.
    pub async fn daily_audit(&self) -> Result<DailyReport, EngineError> {
        let config = &self.config;
        let now = now_micros();
        let lookback = config.daily.lookback_hours;
        let since = now - i64::from(lookback) * 3_600 * 1_000_000;
        let spaces = config.daily.spaces_for(&config.grants);

        let scan = self.run_incremental_scan(&spaces).await;
        let (pages, space_errors) = self.audited_pages(&spaces).await;

        let lookups = self.binding_lookups(&pages).await;
        let bindings = bindings_check(&space_errors, &pages, &config.grants, &lookups);

        let plan = self.policy_plan(false).await.map_err(|e| e.to_string());
        let members = safe_members_check(plan.as_ref().map_err(Clone::clone));

        let privileges = least_privilege_check(&self.membership_facts().await);

        let leases = self.store.leases_created_since(since).await?;
        let activities = self.lease_activities(&leases).await;
        let rotation = rotation_check(&leases, &activities, lookback);

        let inline = inline_secrets_check(config);

        // With a signing key configured, its public half checks every checkpoint's signature.
        let keys = match self.audit_signing_key().await {
            Ok(key) => key.map(|k| vec![k.verifier().clone()]),
            Err(e) => {
                tracing::warn!(error = %e, "daily audit: checkpoint signatures not checked");
                None
            }
        };
        let status = arkbridge_audit::audit_status(&self.store, keys.as_deref())
            .await
            .map_err(|e| e.to_string());
        let chain = audit_chain_check(status.as_ref().map_err(Clone::clone));

        let mut blocks = Vec::new();
        for page in &pages {
            for rb in page.runbooks.iter().flatten() {
                let approvals = self.store.approvals(&page.id, &rb.name).await?;
                if !approvals.is_empty() {
                    blocks.push(BlockApprovals {
                        page_id: page.id.clone(),
                        title: page.title.clone(),
                        block: rb.name.clone(),
                        current_sha256: script_sha256(&rb.script),
                        approvals,
                    });
                }
            }
        }
        let approvals = approvals_check(&blocks, now, config.daily.approval_max_age_days);

        let new_findings = self.store.findings(Some(FindingState::New)).await?;
        let findings = findings_check(&new_findings, &scan);

        let mut report = DailyReport {
            version: 1,
            generated_at: rfc3339(now),
            generated_micros: now,
            period_start: rfc3339(since),
            lookback_hours: lookback,
            spaces,
            passed: false,
            summary: Summary::default(),
            checks: vec![
                bindings, members, privileges, rotation, inline, chain, approvals, findings,
            ],
            checkpoint: status.ok().and_then(|s| s.latest),
            findings: new_findings.iter().map(finding_evidence).collect(),
            scan,
            report_id: None,
        };
        report.tally();
        self.record_daily_report(&mut report).await?;
        Ok(report)
    }

    /// The incremental scan of the configured spaces (pages modified since each space's last
    /// complete scan, every page the first time), so that the findings check sees today's leaks.
    /// A scan that fails turns the findings check into an error, never a pass.
    pub async fn run_incremental_scan(&self, spaces: &[String]) -> ScanEvidence {
        let request = crate::ScanRequest {
            spaces: spaces.to_vec(),
            since: crate::Since::Last,
            ..crate::ScanRequest::default()
        };
        match self.scan(crate::BRIDGE_ACTOR, &request, |_| {}).await {
            Ok(report) => ScanEvidence {
                ran: true,
                spaces: spaces.to_vec(),
                detail: format!(
                    "scanned {} page{} modified since the last scan ({} bytes): {} finding{}, {} new",
                    report.report.pages.len(),
                    if report.report.pages.len() == 1 {
                        ""
                    } else {
                        "s"
                    },
                    report.bytes,
                    report.hits.len(),
                    if report.hits.len() == 1 { "" } else { "s" },
                    report.new_hits().count()
                ),
                error: None,
            },
            Err(e) => ScanEvidence {
                ran: false,
                spaces: spaces.to_vec(),
                detail: "the incremental scan failed".into(),
                error: Some(e.to_string()),
            },
        }
    }

    /// The current pages of each space with their runbooks, and the spaces that could not be
    /// read (with why).
    async fn audited_pages(&self, spaces: &[String]) -> (Vec<AuditedPage>, Vec<(String, String)>) {
        let mut pages = Vec::new();
        let mut errors = Vec::new();
        for key in spaces {
            let space = match self.confluence.space_by_key(key).await {
                Ok(Some(s)) => s,
                Ok(None) => {
                    errors.push((
                        key.clone(),
                        "no such space, or the bridge's Confluence user cannot see it".into(),
                    ));
                    continue;
                }
                Err(e) => {
                    errors.push((key.clone(), e.to_string()));
                    continue;
                }
            };
            let listed = match self.confluence.space_pages(&space, true, CRAWL_PAGE_SIZE) {
                Ok(paged) => paged.collect_all().await,
                Err(e) => Err(e),
            };
            match listed {
                Ok(list) => {
                    pages.extend(list.into_iter().filter(|p| p.status == "current").map(|p| {
                        AuditedPage {
                            runbooks: runbooks(&p.body_storage).map_err(|e| e.to_string()),
                            id: p.id,
                            title: p.title,
                            version: p.version,
                            space: space.key.clone(),
                        }
                    }))
                }
                Err(e) => errors.push((key.clone(), e.to_string())),
            }
        }
        (pages, errors)
    }

    /// Looks up, once each, every account the pages' bindings and fallbacks name.
    async fn binding_lookups(
        &self,
        pages: &[AuditedPage],
    ) -> HashMap<(String, String), AccountLookup> {
        let mut out = HashMap::new();
        let refs = pages
            .iter()
            .flat_map(|p| p.runbooks.iter().flatten())
            .flat_map(|rb| rb.bindings.iter())
            .flat_map(|b| std::iter::once(&b.reference).chain(b.fallback.as_ref()));
        for r in refs {
            let key = lookup_key(&r.safe, &r.object);
            if out.contains_key(&key) {
                continue;
            }
            let found = self
                .with_pvwa(async |p| p.find_account(&r.safe, &r.object).await)
                .await;
            let lookup = match found {
                Ok(Some(a)) => AccountLookup::Found(a.id),
                Ok(None) => AccountLookup::Missing,
                Err(e) => AccountLookup::Unknown(e.to_string()),
            };
            out.insert(key, lookup);
        }
        out
    }

    /// The AppID's and the PVWA user's memberships of every safe the config names.
    async fn membership_facts(&self) -> Vec<MembershipFact> {
        let config = &self.config;
        let app = &config.cyberark.ccp.app_id;
        let user = &config.cyberark.pvwa.username;
        let mut facts = Vec::new();
        for safe in configured_safes(config) {
            let visible = self.with_pvwa(async |p| p.get_safe(&safe).await).await;
            for (identity, member, needed) in [
                (BridgeIdentity::AppId, app, app_id_needs()),
                (
                    BridgeIdentity::PvwaUser,
                    user,
                    pvwa_user_needs(config, &safe),
                ),
            ] {
                let held = match &visible {
                    // A safe the PVWA user cannot see is one it is not a member of; what the
                    // AppID holds there cannot be read.
                    Err(e) if e.status() == Some(404) => match identity {
                        BridgeIdentity::PvwaUser => Held::NotMember,
                        BridgeIdentity::AppId => {
                            Held::Hidden(format!("{user} cannot see safe {safe}"))
                        }
                    },
                    Err(e) => Held::Failed(e.to_string()),
                    Ok(_) => match self
                        .with_pvwa(async |p| p.get_safe_member(&safe, member).await)
                        .await
                    {
                        Ok(m) => Held::Member(m.permissions),
                        Err(e) if e.status() == Some(404) => Held::NotMember,
                        Err(e) if e.status() == Some(403) => {
                            Held::Hidden(format!("{user} may not view the members of {safe}"))
                        }
                        Err(e) => Held::Failed(e.to_string()),
                    },
                };
                facts.push(MembershipFact {
                    safe: safe.clone(),
                    member: member.clone(),
                    identity,
                    needed,
                    held,
                });
            }
        }
        facts
    }

    /// CyberArk's activity log of every account whose lease is recorded as rotated.
    async fn lease_activities(
        &self,
        leases: &[arkbridge_store::TimedLease],
    ) -> HashMap<String, Result<Vec<arkbridge_cyberark::Activity>, String>> {
        let mut out = HashMap::new();
        let ids = leases
            .iter()
            .filter(|t| t.lease.state == LeaseState::Rotated && t.lease.rotation != "none")
            .filter_map(|t| t.lease.account_id.clone());
        for id in ids {
            if out.contains_key(&id) {
                continue;
            }
            let read = self
                .with_pvwa(async |p| p.account_activities(&id).await)
                .await
                .map_err(|e| e.to_string());
            out.insert(id, read);
        }
        out
    }

    /// Stores the report and records it on the audit log.
    async fn record_daily_report(&self, report: &mut DailyReport) -> Result<(), EngineError> {
        let json = serde_json::to_string(report)
            .map_err(|e| EngineError::Setup(format!("cannot encode the daily report: {e}")))?;
        let id = self
            .store
            .save_daily_report(report.generated_micros, report.passed, &json)
            .await?;
        report.report_id = Some(id);
        let summary: BTreeMap<&str, usize> = BTreeMap::from([
            ("pass", report.summary.pass),
            ("warn", report.summary.warn),
            ("fail", report.summary.fail),
            ("error", report.summary.error),
        ]);
        let event = AuditEvent::new(Action::ReportDaily)
            .outcome(if report.passed {
                Outcome::Success
            } else {
                Outcome::Failure
            })
            .reason(report.headline())
            .details(serde_json::json!({
                "report_id": id,
                "summary": summary,
                "failed": report.failed_checks(),
                "checkpoint": report.checkpoint.as_ref().map(|c| serde_json::json!({
                    "id": c.id, "tree_size": c.tree_size, "root": c.root,
                })),
                "new_findings": report.findings.len(),
                "spaces": report.spaces,
            }));
        self.audit(BRIDGE_ACTOR, event).await?;
        Ok(())
    }

    /// Replaces the body of page `page_id` with the report (storage format), re-applying the
    /// update on a version conflict; the edit is recorded on the audit log.
    pub async fn post_daily_report(
        &self,
        report: &DailyReport,
        page_id: &str,
    ) -> Result<PostedReport, EngineError> {
        let body = render_storage(report);
        let message = format!("arkbridge daily compliance report {}", report.generated_at);
        let edited = self
            .confluence
            .edit_page(page_id, &message, |_| Ok::<_, Infallible>(body.clone()))
            .await;
        let target = Target::page(page_id);
        let edited = match edited {
            Ok(e) => e,
            Err(EditError::Confluence(e)) => {
                self.audit(
                    BRIDGE_ACTOR,
                    AuditEvent::new(Action::PageEdited)
                        .target(target)
                        .outcome(Outcome::Failure)
                        .reason(format!("daily report not posted: {e}")),
                )
                .await?;
                return Err(EngineError::Confluence(e));
            }
            Err(EditError::Edit { reason, .. }) => match reason {},
        };
        self.audit(
            BRIDGE_ACTOR,
            AuditEvent::new(Action::PageEdited)
                .target(Target {
                    page_version: Some(edited.page.version),
                    ..target
                })
                .reason("daily compliance report posted")
                .details(serde_json::json!({
                    "report_id": report.report_id,
                    "changed": edited.changed,
                    "conflicts": edited.conflicts,
                })),
        )
        .await?;
        Ok(PostedReport {
            page_id: page_id.to_string(),
            version: edited.page.version,
            changed: edited.changed,
        })
    }
}
