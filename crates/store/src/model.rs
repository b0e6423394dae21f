//! The rows the store keeps: runs, leases and approvals.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// How a run ended (or that it has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Denied,
    Error,
}

/// One run of a runbook block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub id: String,
    pub page_id: String,
    pub page_version: i64,
    pub block: String,
    pub user_email: String,
    pub mode: String,
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    pub started_micros: i64,
    pub finished_micros: Option<i64>,
    pub comment_id: Option<String>,
}

/// The life of a lease: a credential handed to one run, and its rotation afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeaseState {
    /// Written before the credential is requested.
    Requested,
    /// The credential was handed over.
    Issued,
    /// The run is over; rotation is due.
    RunFinished,
    Rotating,
    Rotated,
    RotationFailed,
    /// Nothing to rotate (the safe's policy is `none`, or the credential was never issued).
    Released,
}

/// An approval to record: one exact script of one block, approved by one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApproval {
    pub page_id: String,
    pub block: String,
    /// SHA-256 (lower-case hex) of the block's text.
    pub script_sha256: String,
    pub page_version: i64,
    pub approver: String,
    /// The approver's identity-provider groups as verified when they approved.
    pub approver_groups: Vec<String>,
    pub created_micros: i64,
}

/// A recorded approval, with the audit record that vouches for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalRecord {
    pub id: i64,
    pub page_id: String,
    pub block: String,
    pub script_sha256: String,
    pub page_version: i64,
    pub approver: String,
    /// The approver's groups when they approved; `None` for approvals recorded before arkbridge
    /// kept them.
    pub approver_groups: Option<Vec<String>>,
    pub created_micros: i64,
    pub audit_seq: i64,
}

/// What a verified sign-in established about a person, kept so that decisions about them (as a
/// block's last editor) can be made while they are not the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// Lower-case e-mail, the key.
    pub email: String,
    pub issuer: String,
    pub subject: String,
    pub confluence_account: Option<String>,
    pub groups: Vec<String>,
    /// When the identity provider last vouched for this (Unix microseconds).
    pub verified_micros: i64,
}

/// A lease to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLease {
    pub run_id: String,
    pub safe: String,
    pub object: String,
    pub account_id: Option<String>,
    /// The rotation policy in force when the lease was taken (`after-run`, `checkin`, `none`).
    pub rotation: String,
    pub created_micros: i64,
}

/// A stored lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub id: i64,
    pub run_id: String,
    pub safe: String,
    pub object: String,
    pub account_id: Option<String>,
    pub rotation: String,
    pub state: LeaseState,
    pub error: Option<String>,
}

/// What a run's watchdog and crash recovery need to know about it: its credentials' deadline,
/// and its script's process group once started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunGuard {
    pub run_id: String,
    /// The time by which the run's credentials are due for rotation (Unix microseconds).
    pub deadline_micros: i64,
    /// The script's process group id (its leader's pid), once the script started.
    pub pgid: Option<i32>,
    /// The group leader's start time in clock ticks since boot (`/proc/PID/stat` field 22):
    /// with the pid it names the process uniquely, even after the pid is reused.
    pub process_start: Option<u64>,
}

macro_rules! string_enum {
    ($ty:ty { $($variant:ident => $s:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),* }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s { $($s => Ok(Self::$variant),)* other => Err(other.to_string()) }
            }
        }
    };
}

string_enum!(RunStatus {
    Running => "running",
    Succeeded => "succeeded",
    Failed => "failed",
    TimedOut => "timed-out",
    Denied => "denied",
    Error => "error",
});

string_enum!(LeaseState {
    Requested => "requested",
    Issued => "issued",
    RunFinished => "run-finished",
    Rotating => "rotating",
    Rotated => "rotated",
    RotationFailed => "rotation-failed",
    Released => "released",
});

/// Writes or replaces a run's guard (the same SQL on SQLite and PostgreSQL). A guard written
/// without a process group keeps the one already recorded, so a late deadline update cannot hide
/// a running script.
pub(crate) const SET_GUARD_SQL: &str = "INSERT INTO run_guards \
     (run_id, deadline_micros, pgid, process_start, updated_micros) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (run_id) DO UPDATE SET deadline_micros = excluded.deadline_micros, \
     pgid = COALESCE(excluded.pgid, run_guards.pgid), \
     process_start = COALESCE(excluded.process_start, run_guards.process_start), \
     updated_micros = excluded.updated_micros";

/// Reads a run's guard (both backends).
pub(crate) const GUARD_SQL: &str =
    "SELECT run_id, deadline_micros, pgid, process_start FROM run_guards WHERE run_id = $1";

impl RunGuard {
    /// `process_start` as the signed column stores it.
    pub(crate) fn process_start_column(&self) -> crate::Result<Option<i64>> {
        self.process_start
            .map(|s| i64::try_from(s).map_err(|_| corrupt_start(s.to_string())))
            .transpose()
    }

    /// `process_start` from the signed column.
    pub(crate) fn process_start_from_column(start: Option<i64>) -> crate::Result<Option<u64>> {
        start
            .map(|s| u64::try_from(s).map_err(|_| corrupt_start(s.to_string())))
            .transpose()
    }
}

fn corrupt_start(value: String) -> crate::StoreError {
    crate::StoreError::Corrupt {
        what: "run_guards.process_start",
        value,
    }
}

impl LeaseState {
    /// Whether the lease is still in flight, or was left so by a crash. A failed rotation
    /// (`rotation-failed`) is owed too but is not open: the run ended; recovery tries it again at
    /// every start.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            LeaseState::Requested
                | LeaseState::Issued
                | LeaseState::RunFinished
                | LeaseState::Rotating
        )
    }
}
