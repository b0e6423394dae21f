//! The daily compliance report: each check with the SOC 2 criteria it evidences, its status and
//! its evidence, plus the audit log's checkpoint and the open secret findings.
//!
//! Nothing in a report is a secret: evidence names pages, blocks, safes, accounts, leases and
//! approvals by id; findings carry the scanner's masked preview only.

use std::collections::BTreeMap;

use arkbridge_audit::CheckpointFacts;
use serde::Serialize;

/// How a check, or one piece of its evidence, came out. Ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    /// A fact worth showing that is neither good nor bad (a voided approval, a lease whose
    /// safe is not rotated by arkbridge). Evidence only; a check is never `info`.
    Info,
    /// Passes, but something could not be confirmed or should be looked at.
    Warn,
    Fail,
    /// The check could not be carried out (a service did not answer). Counts as a failure: a
    /// control without evidence is not shown to work.
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Info => "info",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Error => "error",
        }
    }

    /// The upper-case label of reports and status macros.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Info => "INFO",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Error => "ERROR",
        }
    }

    /// Whether this fails the report.
    pub fn is_failing(self) -> bool {
        matches!(self, Status::Fail | Status::Error)
    }
}

/// The checks, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckId {
    Bindings,
    SafeMembers,
    LeastPrivilege,
    Rotation,
    InlineSecrets,
    AuditChain,
    Approvals,
    Findings,
}

impl CheckId {
    pub const ALL: [CheckId; 8] = [
        CheckId::Bindings,
        CheckId::SafeMembers,
        CheckId::LeastPrivilege,
        CheckId::Rotation,
        CheckId::InlineSecrets,
        CheckId::AuditChain,
        CheckId::Approvals,
        CheckId::Findings,
    ];

    /// The stable id used in JSON and on the audit log.
    pub fn id(self) -> &'static str {
        match self {
            CheckId::Bindings => "runbook-bindings",
            CheckId::SafeMembers => "safe-members",
            CheckId::LeastPrivilege => "least-privilege",
            CheckId::Rotation => "lease-rotation",
            CheckId::InlineSecrets => "inline-secrets",
            CheckId::AuditChain => "audit-chain",
            CheckId::Approvals => "stale-approvals",
            CheckId::Findings => "secret-findings",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            CheckId::Bindings => {
                "Every runbook binding resolves to an existing account in a safe bound to its space"
            }
            CheckId::SafeMembers => "CyberArk safe members match the grants",
            CheckId::LeastPrivilege => {
                "The bridge's AppID and PVWA user hold no more than they need"
            }
            CheckId::Rotation => {
                "Every lease of the period was rotated, as CyberArk's account activities show"
            }
            CheckId::InlineSecrets => "No config holds an inline secret",
            CheckId::AuditChain => "The audit log verifies, with the latest signed checkpoint",
            CheckId::Approvals => "No approval is stale",
            CheckId::Findings => "No new secret findings",
        }
    }

    /// The SOC 2 (2017 Trust Services Criteria) criteria the check evidences.
    pub fn criteria(self) -> &'static [&'static str] {
        match self {
            CheckId::Bindings => &["CC6.1", "CC6.3"],
            CheckId::SafeMembers => &["CC6.2", "CC6.3"],
            CheckId::LeastPrivilege => &["CC6.3"],
            CheckId::Rotation => &["CC6.1", "CC7.2"],
            CheckId::InlineSecrets => &["CC6.1", "CC6.7"],
            CheckId::AuditChain => &["CC7.2", "CC7.3"],
            CheckId::Approvals => &["CC8.1"],
            CheckId::Findings => &["CC6.1", "CC6.6"],
        }
    }
}

/// One piece of evidence: what was looked at, how it came out, and the facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub subject: String,
    pub status: Status,
    pub detail: String,
}

impl Evidence {
    pub fn new(subject: impl Into<String>, status: Status, detail: impl Into<String>) -> Self {
        Evidence {
            subject: subject.into(),
            status,
            detail: detail.into(),
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub id: &'static str,
    pub title: &'static str,
    pub criteria: Vec<&'static str>,
    pub status: Status,
    /// One sentence: the outcome in numbers.
    pub summary: String,
    pub counts: BTreeMap<&'static str, u64>,
    pub evidence: Vec<Evidence>,
}

impl CheckResult {
    /// A result whose status is the worst of its evidence (`info` counts as a pass).
    pub fn from_evidence(
        check: CheckId,
        summary: impl Into<String>,
        counts: BTreeMap<&'static str, u64>,
        evidence: Vec<Evidence>,
    ) -> CheckResult {
        let status = evidence
            .iter()
            .map(|e| match e.status {
                Status::Info => Status::Pass,
                s => s,
            })
            .max()
            .unwrap_or(Status::Pass);
        CheckResult {
            id: check.id(),
            title: check.title(),
            criteria: check.criteria().to_vec(),
            status,
            summary: summary.into(),
            counts,
            evidence,
        }
    }

    /// A check that could not be carried out.
    pub fn error(check: CheckId, why: impl Into<String>) -> CheckResult {
        let why = why.into();
        CheckResult::from_evidence(
            check,
            format!("could not be checked: {why}"),
            BTreeMap::new(),
            vec![Evidence::new(check.id(), Status::Error, why)],
        )
    }
}

/// A secret finding as the report shows it: where, what kind, and the masked preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingEvidence {
    pub id: i64,
    pub page_id: Option<String>,
    pub title: Option<String>,
    pub space: Option<String>,
    pub file_path: Option<String>,
    pub detector: String,
    pub severity: String,
    /// The scanner's masked preview (never the value).
    pub preview: String,
    /// RFC 3339 UTC.
    pub first_seen: String,
}

/// Whether the incremental scan ran before the checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanEvidence {
    pub ran: bool,
    pub spaces: Vec<String>,
    pub detail: String,
    /// Why the scan failed, when it was attempted and failed.
    pub error: Option<String>,
}

/// Counts of checks by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub error: usize,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DailyReport {
    /// The report format's version.
    pub version: u32,
    /// RFC 3339 UTC.
    pub generated_at: String,
    pub generated_micros: i64,
    /// The start of the period the lease check covers, RFC 3339 UTC.
    pub period_start: String,
    pub lookback_hours: u32,
    pub spaces: Vec<String>,
    pub passed: bool,
    pub summary: Summary,
    pub checks: Vec<CheckResult>,
    /// The latest signed checkpoint of the audit log, if there is one.
    pub checkpoint: Option<CheckpointFacts>,
    /// The open (`new`) secret findings.
    pub findings: Vec<FindingEvidence>,
    pub scan: ScanEvidence,
    /// The report's id in the store, once stored.
    pub report_id: Option<i64>,
}

impl DailyReport {
    /// Sets `passed` and `summary` from the checks.
    pub fn tally(&mut self) {
        let mut s = Summary::default();
        for c in &self.checks {
            match c.status {
                Status::Pass | Status::Info => s.pass += 1,
                Status::Warn => s.warn += 1,
                Status::Fail => s.fail += 1,
                Status::Error => s.error += 1,
            }
        }
        self.passed = s.fail == 0 && s.error == 0;
        self.summary = s;
    }

    /// The ids of the checks that failed (or could not be carried out).
    pub fn failed_checks(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|c| c.status.is_failing())
            .map(|c| c.id)
            .collect()
    }

    /// One line: how many checks passed, and which failed.
    pub fn headline(&self) -> String {
        let failed = self.failed_checks();
        let n = self.checks.len();
        if failed.is_empty() {
            let warn = if self.summary.warn > 0 {
                format!(" ({} with warnings)", self.summary.warn)
            } else {
                String::new()
            };
            format!("PASS: all {n} checks passed{warn}")
        } else {
            format!(
                "FAIL: {} of {n} checks failed: {}",
                failed.len(),
                failed.join(", ")
            )
        }
    }
}

/// Microseconds since the epoch as RFC 3339 UTC (seconds precision).
pub fn rfc3339(micros: i64) -> String {
    jiff::Timestamp::from_microsecond(micros)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| micros.to_string())
}
