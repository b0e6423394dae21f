//! The audit log's state in one value, for the daily report (issue 8) and any other summary: the
//! latest checkpoint (tree size, root, time, key) and the outcome of a full verification.
//!
//! [`audit_status`] runs the same pass as `arkbridge audit verify` (so its cost is the whole
//! log's: about 5 µs per record) and never fails because the log is broken: a broken log is a
//! result to report, named by its first bad record or checkpoint. Only a store that cannot be
//! read at all is an error.

use arkbridge_store::{Store, StoreError};
use serde::Serialize;

use crate::keys::VerifierKey;
use crate::publish::CheckpointFacts;
use crate::verify::{VerifyOptions, verify_log};

/// What a full verification found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifySummary {
    /// Every record and checkpoint held.
    pub ok: bool,
    /// Records checked (the whole log when `ok`).
    pub records: u64,
    /// The recomputed root of the whole log, base64; `None` when the log is broken.
    pub root: Option<String>,
    /// Checkpoints stored.
    pub checkpoints: usize,
    /// Whether checkpoint signatures were checked (a public key was given).
    pub signatures_checked: bool,
    /// Records after the latest checkpoint, not yet signed.
    pub unsigned_records: u64,
    /// The first record or checkpoint that failed, in the words of `audit verify`.
    pub failure: Option<String>,
}

/// The latest checkpoint and a verification of the whole log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditStatus {
    /// `None` before the first checkpoint.
    pub latest: Option<CheckpointFacts>,
    pub verify: VerifySummary,
}

/// Reads the latest checkpoint and verifies the whole log, with checkpoint signatures checked
/// against `keys` when given (the report should give them: without keys a forged checkpoint
/// is only caught if it does not match the records).
pub async fn audit_status<S: Store>(
    store: &S,
    keys: Option<&[VerifierKey]>,
) -> Result<AuditStatus, StoreError> {
    let checkpoints = store.audit_checkpoints().await?;
    // A latest checkpoint too damaged to read is reported by the verification below.
    let latest = checkpoints.last().and_then(|c| CheckpointFacts::of(c).ok());
    let options = VerifyOptions {
        keys: keys.map(<[VerifierKey]>::to_vec),
        trusted: Vec::new(),
    };
    let failed = |failure: String| VerifySummary {
        ok: false,
        records: 0,
        root: None,
        checkpoints: checkpoints.len(),
        signatures_checked: keys.is_some(),
        unsigned_records: 0,
        failure: Some(failure),
    };
    let verify = match verify_log(store, &options).await {
        Ok(Ok(report)) => VerifySummary {
            ok: true,
            records: report.records,
            root: Some(report.root_base64()),
            checkpoints: report.checkpoints,
            signatures_checked: report.signatures_checked,
            unsigned_records: report.records - report.latest_checkpoint_size,
            failure: None,
        },
        Ok(Err(failure)) => failed(failure.to_string()),
        // A row too damaged to read is a broken log, as `audit verify` reports it.
        Err(e @ StoreError::Corrupt { .. }) => failed(e.to_string()),
        Err(e) => return Err(e),
    };
    Ok(AuditStatus { latest, verify })
}
