//! The audit log's integrity and its ways out: signed checkpoints, verification, proofs, export
//! and live syslog forwarding.
//!
//! The records and the tree's shape are `arkbridge_core::audit`'s; the store
//! (`arkbridge_store::Store`) keeps records, nodes, checkpoints and cursors. This crate adds:
//!
//! * [`keys`]: the Ed25519 checkpoint key (PKCS#8, through `ring`) and C2SP verifier keys;
//! * [`note`]: C2SP signed notes;
//! * [`checkpoint`]: `tlog-checkpoint` bodies with time and previous-checkpoint hash, the
//!   [`Checkpointer`], and the periodic task;
//! * [`proof`]: roots and RFC 6962 proofs from stored nodes, and offline-checkable bundles;
//! * [`verify`]: the full verification behind `arkbridge audit verify`;
//! * [`publish`]: checkpoints as published outside the store (Confluence property, SIEM), and
//!   reading them back for `audit verify --from-checkpoint`;
//! * [`status`]: the latest checkpoint and a full verification, summed up for the daily report;
//! * [`export`]: JSON Lines, CEF (CyberArk Vault conventions) and OCSF;
//! * [`syslog`] and [`forward`]: RFC 5424 over TCP or TLS from a durable cursor.
//!
//! Nothing here ever sees a secret value but the signing key, which stays inside `ring`.

pub mod checkpoint;
pub mod export;
pub mod forward;
pub mod keys;
pub mod note;
pub mod proof;
pub mod publish;
pub mod schedule;
pub mod show;
pub mod status;
pub mod syslog;
pub mod time;
pub mod verify;

pub use checkpoint::{
    Checkpoint, CheckpointInterval, CheckpointTask, Checkpointer, SignedCheckpoint,
    spawn_checkpoints, spawn_checkpoints_with, spawn_schedule, write_checkpoint,
};
pub use keys::{SigningKey, VerifierKey};
pub use publish::{CheckpointFacts, PROPERTY_KEY, published_note};
pub use status::{AuditStatus, VerifySummary, audit_status};
pub use verify::{VerifyFailure, VerifyOptions, VerifyReport, verify_log};

use arkbridge_store::StoreError;

/// The log's origin (and key name) when none is configured.
pub const DEFAULT_ORIGIN: &str = "arkbridge.local/audit";

/// Errors of this crate. Messages name what failed and never hold a secret.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    #[error(transparent)]
    Note(#[from] note::NoteError),
    #[error(transparent)]
    Checkpoint(#[from] checkpoint::CheckpointError),
    #[error(transparent)]
    Time(#[from] time::TimeError),
    /// The log no longer matches what was signed; nothing new is signed over it.
    #[error("the audit log was tampered with: {0}")]
    Tampered(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Io(String),
}
