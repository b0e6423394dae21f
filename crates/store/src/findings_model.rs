//! The rows of the scanner's triage memory and of the daily audit reports.

use serde::Serialize;

/// Where a finding stands in triage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingState {
    /// Not looked at yet: what a daily run reports.
    New,
    /// A real secret someone decided to keep where it is (with a note).
    Accepted,
    FalsePositive,
    /// Moved into CyberArk by `arkbridge vault`; the page holds a reference now.
    Vaulted,
}

impl FindingState {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingState::New => "new",
            FindingState::Accepted => "accepted",
            FindingState::FalsePositive => "false-positive",
            FindingState::Vaulted => "vaulted",
        }
    }

    pub fn parse(s: &str) -> Option<FindingState> {
        match s {
            "new" => Some(FindingState::New),
            "accepted" => Some(FindingState::Accepted),
            "false-positive" => Some(FindingState::FalsePositive),
            "vaulted" => Some(FindingState::Vaulted),
            _ => None,
        }
    }
}

/// A finding as a scan saw it. It holds no secret: a masked preview and a keyed fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewFinding {
    /// Keyed HMAC-SHA256 of the full value (hex).
    pub fingerprint: String,
    /// `page:<id>` or `file:<relative path>`: with the fingerprint, what makes a finding the same
    /// one in a later scan.
    pub location_key: String,
    pub page_id: Option<String>,
    pub page_version: Option<i64>,
    pub title: Option<String>,
    pub author: Option<String>,
    pub space: Option<String>,
    pub file_path: Option<String>,
    pub element_path: String,
    pub char_offset: i64,
    pub char_length: i64,
    pub detector: String,
    pub category: String,
    pub severity: String,
    pub preview: String,
}

/// A finding in the store, with its triage state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingRecord {
    pub id: i64,
    #[serde(flatten)]
    pub finding: NewFinding,
    pub state: FindingState,
    pub first_seen_micros: i64,
    pub last_seen_micros: i64,
    pub triaged_by: Option<String>,
    pub triage_note: Option<String>,
    /// The `cyberark://` reference that replaced the value, once vaulted.
    pub vaulted_ref: Option<String>,
}

/// A stored daily audit report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DailyReportRecord {
    pub id: i64,
    pub created_micros: i64,
    pub passed: bool,
    /// The report as JSON text.
    pub report: String,
}
