//! The engine's error type. Messages are for the person who asked for the run: they say what
//! failed and what to do, and never hold a secret value.

use arkbridge_audit::AuditError;
use arkbridge_confluence::ConfluenceError;
use arkbridge_core::storage::StorageError;
use arkbridge_cyberark::CyberArkError;
use arkbridge_runner::RunnerError;
use arkbridge_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Setup(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("CyberArk: {0}")]
    CyberArk(#[from] CyberArkError),
    #[error("Confluence: {0}")]
    Confluence(#[from] ConfluenceError),
    /// Signing or publishing a checkpoint of the audit log (see `checkpoints.rs`).
    #[error("audit log: {0}")]
    Audit(#[from] AuditError),
    #[error("page {page_id}: {source}")]
    Page {
        page_id: String,
        source: StorageError,
    },
    #[error(
        "page {page_id} has no runbook block{}{}",
        if .requested.is_empty() { String::new() } else { format!(" named `{}`", .requested) },
        if .available.is_empty() { String::new() } else { format!(" (blocks: {})", .available.join(", ")) }
    )]
    NoSuchBlock {
        page_id: String,
        requested: String,
        available: Vec<String>,
    },
    #[error("page {page_id} has several runbook blocks ({}); choose one with --block", .available.join(", "))]
    AmbiguousBlock {
        page_id: String,
        available: Vec<String>,
    },
    #[error("{user} is not a known user of the local-trusted identity provider")]
    UnknownUser { user: String },
    /// The caller's identity could not be established (not signed in, `--as` refused...).
    #[error("{0}")]
    Identity(String),
    #[error("denied: {reasons}")]
    Denied { reasons: String, audit_seq: i64 },
    #[error("CyberArk is unavailable and the run cannot go on read-only: {0}")]
    NoFallback(String),
    #[error("{0}")]
    Runbook(String),
    #[error("runner: {0}")]
    Runner(#[from] RunnerError),
    /// Log before act failed: the credential's `credential.issued` record could not be stored,
    /// so the credential was not handed to the run.
    #[error(
        "the audit log could not record the credential's issue, so it was not handed to the run \
         (fail closed): {0}"
    )]
    AuditFailed(StoreError),
    /// An after-run/checkin account stayed in use by another run for the whole wait
    /// (`[runner] lease_wait_secs`); see `lease_lock.rs`.
    #[error("{0}; try again when that run has finished")]
    AccountBusy(String),
    /// The run passed its deadline plus grace: the watchdog stopped it (see `ttl.rs`).
    #[error(
        "the run held its credentials past its deadline (timeout {timeout_secs} s + grace \
         {grace_secs} s): its process group was killed and its credentials rotated"
    )]
    LeaseExpired { timeout_secs: u64, grace_secs: u64 },
}

impl EngineError {
    /// The process exit code for this error: 3 for a policy denial, 4 when CyberArk is
    /// unavailable, 2 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            EngineError::Denied { .. } | EngineError::UnknownUser { .. } => 3,
            EngineError::NoFallback(_) => 4,
            EngineError::CyberArk(e) if e.is_unavailable() => 4,
            _ => 2,
        }
    }
}
