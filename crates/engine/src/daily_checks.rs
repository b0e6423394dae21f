//! The daily audit's checks of configuration and access, as pure functions of facts gathered
//! beforehand (see `daily.rs`), so each can be tested without a service: runbook bindings, safe
//! member drift, inline secrets and open secret findings. (The bridge's own privileges are
//! checked in `daily_access.rs`.)

use std::collections::{BTreeMap, HashMap};

use arkbridge_core::config::Config;
use arkbridge_core::policy::Grant;
use arkbridge_core::runbook::Runbook;
use arkbridge_store::FindingRecord;

use super::report::{
    CheckId, CheckResult, Evidence, FindingEvidence, ScanEvidence, Status, rfc3339,
};
use crate::PolicyPlan;

/// A page of an audited space, with its runbook blocks (or why they could not be read).
#[derive(Debug, Clone)]
pub struct AuditedPage {
    pub id: String,
    pub title: String,
    pub version: u64,
    pub space: String,
    pub runbooks: Result<Vec<Runbook>, String>,
}

/// What the PVWA said about an account a binding names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountLookup {
    /// It exists, with this PVWA account id.
    Found(String),
    /// The safe has no such account.
    Missing,
    /// The PVWA could not say (the safe is not visible, or it did not answer).
    Unknown(String),
}

/// The key of [`AccountLookup`]s: safe and object, lower-cased (CyberArk ignores case).
pub fn lookup_key(safe: &str, object: &str) -> (String, String) {
    (safe.to_ascii_lowercase(), object.to_ascii_lowercase())
}

/// A check's counts from `usize` tallies.
pub(super) fn counts<const N: usize>(
    pairs: [(&'static str, usize); N],
) -> BTreeMap<&'static str, u64> {
    pairs.into_iter().map(|(k, v)| (k, v as u64)).collect()
}

/// Every binding (and fallback) of every runbook on the audited pages resolves to an existing
/// account in a safe that a grant binds to the page's space. `space_errors` are spaces that
/// could not be read at all.
pub fn bindings_check(
    space_errors: &[(String, String)],
    pages: &[AuditedPage],
    grants: &[Grant],
    lookups: &HashMap<(String, String), AccountLookup>,
) -> CheckResult {
    let mut evidence: Vec<Evidence> = space_errors
        .iter()
        .map(|(space, why)| Evidence::new(format!("space {space}"), Status::Error, why.clone()))
        .collect();
    let (mut blocks, mut bindings, mut bad) = (0, 0, 0);
    for page in pages {
        let where_ = format!("page {} \"{}\" ({})", page.id, page.title, page.space);
        let runbooks = match &page.runbooks {
            Ok(r) => r,
            Err(why) => {
                bad += 1;
                evidence.push(Evidence::new(
                    where_,
                    Status::Fail,
                    format!("its runbook blocks cannot be read: {why}"),
                ));
                continue;
            }
        };
        for rb in runbooks {
            blocks += 1;
            for b in &rb.bindings {
                for (r, role) in std::iter::once((&b.reference, "secret"))
                    .chain(b.fallback.as_ref().map(|f| (f, "fallback")))
                {
                    bindings += 1;
                    let subject =
                        format!("{where_} block `{}`: {} {} {r}", rb.name, role, b.variable);
                    let grant = grants
                        .iter()
                        .find(|g| g.covers_space(&page.space) && g.access_on(&r.safe).is_some());
                    let lookup = lookups.get(&lookup_key(&r.safe, &r.object));
                    let (status, detail) = match (grant, lookup) {
                        (None, _) => (
                            Status::Fail,
                            format!(
                                "no grant binds safe {} to space {}: the block can never be run",
                                r.safe, page.space
                            ),
                        ),
                        (Some(_), Some(AccountLookup::Missing)) => (
                            Status::Fail,
                            format!("safe {} has no account {}", r.safe, r.object),
                        ),
                        (Some(_), Some(AccountLookup::Unknown(why))) => (
                            Status::Error,
                            format!("whether account {} exists is unknown: {why}", r.object),
                        ),
                        (Some(_), None) => (
                            Status::Error,
                            format!("account {} was not looked up", r.object),
                        ),
                        (Some(g), Some(AccountLookup::Found(id))) => (
                            Status::Pass,
                            format!(
                                "account {id} in safe {}, bound to space {} by the grant to {}",
                                r.safe,
                                page.space,
                                g.subject()
                            ),
                        ),
                    };
                    if status.is_failing() {
                        bad += 1;
                    }
                    evidence.push(Evidence::new(subject, status, detail));
                }
            }
        }
    }
    let summary = if bad == 0 && space_errors.is_empty() {
        format!(
            "{bindings} binding(s) in {blocks} runbook block(s) on {} page(s) resolve",
            pages.len()
        )
    } else {
        format!(
            "{bad} of {bindings} binding(s) (or pages) do not resolve; {} space(s) unreadable",
            space_errors.len()
        )
    };
    CheckResult::from_evidence(
        CheckId::Bindings,
        summary,
        counts([
            ("pages", pages.len()),
            ("blocks", blocks),
            ("bindings", bindings),
            ("unresolved", bad),
        ]),
        evidence,
    )
}

/// CyberArk's safe members match the grants: the changes `policy plan` would make are drift.
/// Members left alone (predefined, the bridge's own, not arkbridge's to remove) are listed.
pub fn safe_members_check(plan: Result<&PolicyPlan, String>) -> CheckResult {
    let plan = match plan {
        Ok(p) => p,
        Err(why) => return CheckResult::error(CheckId::SafeMembers, why),
    };
    let mut evidence: Vec<Evidence> = plan
        .plan
        .changes
        .iter()
        .map(|c| {
            Evidence::new(
                format!("safe {}: {}", c.safe(), c.member()),
                Status::Fail,
                format!(
                    "drift: `policy apply` would make this change: {}",
                    c.describe()
                ),
            )
        })
        .collect();
    evidence.extend(plan.plan.left_alone.iter().map(|l| {
        Evidence::new(
            format!("safe {}: {}", l.safe, l.member),
            Status::Info,
            format!("left alone: {}", l.why),
        )
    }));
    evidence.extend(plan.not_expressible.iter().map(|s| {
        Evidence::new(
            s.clone(),
            Status::Info,
            "the grant names no group, so it has no CyberArk safe member",
        )
    }));
    let drift = plan.plan.changes.len();
    let summary = if drift == 0 {
        "safe members match the grants (no change to make)".to_string()
    } else {
        format!("{drift} change(s) needed to make the safe members match the grants")
    };
    CheckResult::from_evidence(
        CheckId::SafeMembers,
        summary,
        counts([
            ("changes", drift),
            ("left_alone", plan.plan.left_alone.len()),
        ]),
        evidence,
    )
}

/// No credential of the bridge is written inline in the config. The check names fields, never
/// values.
pub fn inline_secrets_check(config: &Config) -> CheckResult {
    let fields = config.secret_fields();
    let mut evidence: Vec<Evidence> = fields
        .iter()
        .map(|(field, secret)| match secret {
            arkbridge_core::config::ConfigSecret::Reference(r) => {
                Evidence::new(*field, Status::Pass, format!("a reference: {r}"))
            }
            arkbridge_core::config::ConfigSecret::Inline(_) => Evidence::new(
                *field,
                Status::Fail,
                "an inline value: store it in CyberArk and write its cyberark:// reference",
            ),
        })
        .collect();
    if config.allow_inline_secrets {
        evidence.push(Evidence::new(
            "allow_inline_secrets",
            Status::Warn,
            "the config allows inline secrets (development only)",
        ));
    }
    let inline = config.inline_secret_fields();
    let summary = if inline.is_empty() {
        format!(
            "all {} credential field(s) are cyberark:// references",
            fields.len()
        )
    } else {
        format!("inline secret in {}", inline.join(", "))
    };
    CheckResult::from_evidence(
        CheckId::InlineSecrets,
        summary,
        counts([("fields", fields.len()), ("inline", inline.len())]),
        evidence,
    )
}

/// The report's view of a finding.
pub fn finding_evidence(f: &FindingRecord) -> FindingEvidence {
    FindingEvidence {
        id: f.id,
        page_id: f.finding.page_id.clone(),
        title: f.finding.title.clone(),
        space: f.finding.space.clone(),
        file_path: f.finding.file_path.clone(),
        detector: f.finding.detector.clone(),
        severity: f.finding.severity.clone(),
        preview: f.finding.preview.clone(),
        first_seen: rfc3339(f.first_seen_micros),
    }
}

/// No secret finding is waiting for triage (state `new`). `findings` are the `new` ones.
pub fn findings_check(findings: &[FindingRecord], scan: &ScanEvidence) -> CheckResult {
    let mut evidence: Vec<Evidence> = findings
        .iter()
        .map(|f| {
            let place = match (&f.finding.page_id, &f.finding.file_path) {
                (Some(page), _) => format!(
                    "page {page} \"{}\"",
                    f.finding.title.as_deref().unwrap_or("")
                ),
                (None, Some(file)) => format!("file {file}"),
                (None, None) => f.finding.location_key.clone(),
            };
            Evidence::new(
                format!("finding {} on {place}", f.id),
                Status::Fail,
                format!(
                    "{} ({}, {}): {} at {}, first seen {}",
                    f.finding.detector,
                    f.finding.category,
                    f.finding.severity,
                    f.finding.preview,
                    f.finding.element_path,
                    rfc3339(f.first_seen_micros)
                ),
            )
        })
        .collect();
    match &scan.error {
        Some(why) => evidence.push(Evidence::new(
            "incremental scan",
            Status::Error,
            format!("the scan failed, so today's leaks are unknown: {why}"),
        )),
        None if !scan.ran => evidence.push(Evidence::new(
            "incremental scan",
            Status::Warn,
            scan.detail.clone(),
        )),
        None => {}
    }
    let summary = if findings.is_empty() {
        "no secret finding awaits triage".to_string()
    } else {
        format!(
            "{} secret finding(s) await triage (vault them, or mark them accepted or \
             false-positive)",
            findings.len()
        )
    };
    CheckResult::from_evidence(
        CheckId::Findings,
        summary,
        counts([("new", findings.len())]),
        evidence,
    )
}
