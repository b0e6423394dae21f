//! The audit log's rows as the store hands them out: raw leaves for verifiers, checkpoints, and
//! the filter of `audit show` and `audit export`.

/// One audit row exactly as stored, unparsed, so a verifier judges what is really there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLeaf {
    pub seq: i64,
    /// The canonical record text.
    pub record: String,
    /// 32 bytes when intact.
    pub leaf_hash: Vec<u8>,
    /// The interior nodes this leaf completed, 32 bytes each, lowest level first.
    pub nodes: Vec<u8>,
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// 1, 2, 3, ... in the order they were written.
    pub id: i64,
    pub tree_size: u64,
    pub time_us: i64,
    /// The C2SP signed note (checkpoint text and signature lines).
    pub note: String,
}

/// A checkpoint to store after `prev_id` (`None` for the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCheckpoint {
    pub prev_id: Option<i64>,
    pub tree_size: u64,
    pub time_us: i64,
    pub note: String,
}

/// Which audit records to read. Empty fields match everything; text matches ignore case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// The actor's subject or display name.
    pub user: Option<String>,
    pub page_id: Option<String>,
    pub safe: Option<String>,
    /// An action name (`credential.issued`).
    pub action: Option<String>,
    pub run_id: Option<String>,
    /// Inclusive lower bound, UTC microseconds.
    pub since_us: Option<i64>,
    /// Exclusive upper bound, UTC microseconds.
    pub until_us: Option<i64>,
}
