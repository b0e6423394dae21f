//! The bridge's durable state: runs, credential leases, approvals and the audit log.
//!
//! [`Store`] is the interface the rest of arkbridge uses; [`SqliteStore`] is the embedded
//! default (SQLite in WAL mode); [`PgStore`] implements the same trait on PostgreSQL, for one or
//! several replicas on one database, and [`AnyStore`] holds whichever the config selects, so
//! callers do not change. No table holds a secret value: leases name accounts, never their
//! content.
//!
//! The audit log is append-only: each record is stored in canonical form with its Merkle leaf
//! hash and the interior nodes it completes (`arkbridge_core::audit::tree`), next to the signed
//! checkpoints over it and the forwarding cursors. Appends are serialised by the database's write
//! lock and grouped into shared transactions when callers append concurrently.

mod audit_append;
mod audit_migrate;
mod audit_model;
mod commit_queue;
mod findings_model;
mod group_commit;
mod model;
mod pg;
mod pg_any;
mod pg_append;
mod pg_audit;
mod pg_cluster;
mod pg_findings;
mod pg_group_commit;
mod pg_migrate;
mod pg_queue;
mod pg_rows;
mod pg_snapshots;
mod pg_store;
mod sqlite;
mod sqlite_audit;
mod sqlite_findings;
mod sqlite_lease_history;
mod sqlite_leases;
mod sqlite_principals;
mod sqlite_snapshots;

use std::future::Future;

pub use audit_model::{AuditFilter, NewCheckpoint, StoredCheckpoint, StoredLeaf};
pub use findings_model::{DailyReportRecord, FindingRecord, FindingState, NewFinding};
pub use model::{
    ApprovalRecord, Lease, LeaseState, NewApproval, NewLease, Principal, RunGuard, RunRecord,
    RunStatus,
};
pub use pg::{PgOptions, PgStore, PgTls};
pub use pg_any::AnyStore;
pub use pg_cluster::{Cluster, LockSession, ReplicaRow, RunOwner, lock_key};
pub use pg_migrate::copy_sqlite_to_pg;
pub use pg_queue::{QueueListener, QueuedRun, StoredChunk};
pub use sqlite::SqliteStore;
pub use sqlite_lease_history::TimedLease;

use arkbridge_core::audit::tree::NodeId;
use arkbridge_core::audit::{AuditEvent, AuditRecord};
use arkbridge_core::merkle::Hash;

/// A store failure. The message names the operation; it never holds a secret (none is stored).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("store migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store query failed ({what}): {source}")]
    Query {
        what: &'static str,
        source: sqlx::Error,
    },
    #[error("the store holds an unexpected value in {what}: {value}")]
    Corrupt { what: &'static str, value: String },
    #[error("no {what} with id {id}")]
    NotFound { what: &'static str, id: String },
    /// A compare-and-set lost: someone else changed the row first (e.g. two checkpoint writers).
    #[error("{0}")]
    Conflict(String),
    /// The caller's append was cancelled together with the transaction carrying it; the record
    /// may or may not have been stored.
    #[error("the audit append was interrupted before it was known to be stored")]
    Interrupted,
    /// The transaction that carried this append (and others, grouped) failed; nothing of it was
    /// stored.
    #[error("audit append failed: {0}")]
    AppendFailed(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Maps a query's error to the store's, naming what was being done (every backend uses it).
pub(crate) fn q(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Query { what, source }
}

/// Everything arkbridge keeps durably.
pub trait Store: Send + Sync + 'static {
    /// Records a new run (status `running`).
    fn insert_run(&self, run: &RunRecord) -> impl Future<Output = Result<()>> + Send;
    /// Records how a run ended.
    fn finish_run(
        &self,
        id: &str,
        status: RunStatus,
        exit_code: Option<i32>,
        finished_micros: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Records the id of the comment posted for a run.
    fn set_run_comment(
        &self,
        id: &str,
        comment_id: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    fn get_run(&self, id: &str) -> impl Future<Output = Result<Option<RunRecord>>> + Send;

    /// Writes a lease before its credential is requested; returns its id.
    fn insert_lease(&self, lease: &NewLease) -> impl Future<Output = Result<i64>> + Send;
    /// Moves a lease to a new state, optionally recording the account id or an error.
    fn update_lease(
        &self,
        id: i64,
        state: LeaseState,
        account_id: Option<&str>,
        error: Option<&str>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Leases whose rotation has not finished (left open by a crash, still in flight, or failed).
    fn open_leases(&self) -> impl Future<Output = Result<Vec<Lease>>> + Send;
    fn leases_for_run(&self, run_id: &str) -> impl Future<Output = Result<Vec<Lease>>> + Send;

    /// Records an approval together with its audit event, in one transaction: both or neither.
    fn record_approval(
        &self,
        approval: &NewApproval,
        event: AuditEvent,
    ) -> impl Future<Output = Result<(ApprovalRecord, AuditRecord)>> + Send;
    /// Every approval recorded for a block of a page, oldest first, whatever script it was for.
    fn approvals(
        &self,
        page_id: &str,
        block: &str,
    ) -> impl Future<Output = Result<Vec<ApprovalRecord>>> + Send;

    /// Remembers that arkbridge added `member` to `safe` (names compare ignoring case).
    fn mark_managed(
        &self,
        safe: &str,
        member: &str,
        at_micros: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Forgets a member arkbridge removed.
    fn unmark_managed(&self, safe: &str, member: &str) -> impl Future<Output = Result<()>> + Send;
    /// Every `(safe, member)` arkbridge added and has not removed.
    fn managed_members(&self) -> impl Future<Output = Result<Vec<(String, String)>>> + Send;

    /// Keeps what a verified sign-in established about a person, replacing what was kept before.
    fn remember_principal(&self, principal: &Principal) -> impl Future<Output = Result<()>> + Send;
    /// The person last verified with this Confluence account id, if any.
    fn principal_by_account(
        &self,
        account: &str,
    ) -> impl Future<Output = Result<Option<Principal>>> + Send;

    // The secret scanner's triage memory and the daily audit.

    /// Records a finding seen at `now_micros`; a known one (same fingerprint and location) keeps
    /// its triage state. Returns the row and whether it is new.
    fn record_finding(
        &self,
        finding: &NewFinding,
        now_micros: i64,
    ) -> impl Future<Output = Result<(FindingRecord, bool)>> + Send;
    /// Findings in `state` (all when `None`), oldest first.
    fn findings(
        &self,
        state: Option<FindingState>,
    ) -> impl Future<Output = Result<Vec<FindingRecord>>> + Send;
    fn finding(&self, id: i64) -> impl Future<Output = Result<Option<FindingRecord>>> + Send;
    /// Sets a finding's triage state; `false` when there is no such finding.
    fn triage_finding(
        &self,
        id: i64,
        state: FindingState,
        by: &str,
        note: Option<&str>,
        vaulted_ref: Option<&str>,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// The `lastmodified` bound of the space's last complete scan.
    fn scan_cursor(&self, space: &str) -> impl Future<Output = Result<Option<i64>>> + Send;
    fn set_scan_cursor(&self, space: &str, micros: i64) -> impl Future<Output = Result<()>> + Send;
    fn save_daily_report(
        &self,
        created_micros: i64,
        passed: bool,
        report: &str,
    ) -> impl Future<Output = Result<i64>> + Send;
    /// The latest `limit` daily reports, newest first.
    fn daily_reports(
        &self,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<DailyReportRecord>>> + Send;

    // Rule 4 while the PVWA is unavailable.

    /// Keeps a safe's member list (JSON) as the PVWA listed it at `at_micros`.
    fn save_safe_members(
        &self,
        safe: &str,
        members_json: &str,
        at_micros: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The last kept member list of a safe (names compare ignoring case) and when it was read.
    fn safe_members_snapshot(
        &self,
        safe: &str,
    ) -> impl Future<Output = Result<Option<(String, i64)>>> + Send;

    /// Appends an event to the audit log and returns it once it is durable. Concurrent appends
    /// may share one transaction (group commit); each caller still gets its own record.
    fn append_audit(&self, event: AuditEvent) -> impl Future<Output = Result<AuditRecord>> + Send;
    /// Appends several events in one transaction, in order: all or none.
    fn append_audit_batch(
        &self,
        events: Vec<AuditEvent>,
    ) -> impl Future<Output = Result<Vec<AuditRecord>>> + Send;
    /// Log before act: moves lease `lease_id` from `requested` to `issued` and appends `event`
    /// (the `credential.issued` record) in one transaction. The credential may be handed over
    /// only once this returns `Ok`; on an error neither change is stored.
    fn issue_credential(
        &self,
        lease_id: i64,
        event: AuditEvent,
    ) -> impl Future<Output = Result<AuditRecord>> + Send;
    /// Audit records with `seq > after`, in order, at most `limit`.
    fn audit_records(
        &self,
        after: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<AuditRecord>>> + Send;
    /// Audit records matching `filter` with `seq > after`, in order, at most `limit`.
    fn audit_query(
        &self,
        filter: &AuditFilter,
        after: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<AuditRecord>>> + Send;
    /// Audit rows exactly as stored (not parsed), with `seq > after`, in order: what a verifier
    /// reads.
    fn audit_leaves(
        &self,
        after: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<StoredLeaf>>> + Send;
    /// The number of audit records (the highest seq).
    fn audit_size(&self) -> impl Future<Output = Result<u64>> + Send;
    /// The stored Merkle nodes `(level, index)`, in the order asked.
    fn audit_nodes(&self, ids: &[NodeId]) -> impl Future<Output = Result<Vec<Hash>>> + Send;
    /// Every checkpoint, oldest first.
    fn audit_checkpoints(&self) -> impl Future<Output = Result<Vec<StoredCheckpoint>>> + Send;
    /// Stores a checkpoint if the latest one is still `checkpoint.prev_id` (else
    /// [`StoreError::Conflict`]), so two writers cannot fork the checkpoint chain.
    fn add_checkpoint(
        &self,
        checkpoint: &NewCheckpoint,
    ) -> impl Future<Output = Result<StoredCheckpoint>> + Send;
    /// Where consumer `name` stands (0 before it has taken anything).
    fn audit_cursor(&self, name: &str) -> impl Future<Output = Result<i64>> + Send;
    /// Moves consumer `name` to `seq`, durably.
    fn set_audit_cursor(&self, name: &str, seq: i64) -> impl Future<Output = Result<()>> + Send;

    // The daily compliance audit.

    /// Every lease created at or after `since_micros`, whatever its state, oldest first.
    fn leases_created_since(
        &self,
        since_micros: i64,
    ) -> impl Future<Output = Result<Vec<TimedLease>>> + Send;

    // Durable leases: the run watchdog, crash recovery and rotation alerts.

    /// Writes the guard of a run (its credentials' deadline, its script's process group); a
    /// guard without a process group keeps the one recorded before. Leases written after it
    /// carry its deadline.
    fn set_run_guard(&self, guard: &RunGuard) -> impl Future<Output = Result<()>> + Send;
    fn run_guard(&self, run_id: &str) -> impl Future<Output = Result<Option<RunGuard>>> + Send;
    /// Leases in `rotation-failed` whose last change is at or after `since_micros`, oldest
    /// first: the alerts a report covering that period lists.
    fn rotation_failures_since(
        &self,
        since_micros: i64,
    ) -> impl Future<Output = Result<Vec<TimedLease>>> + Send;

    // Several replicas (PostgreSQL only).

    /// What replicas sharing this store cooperate through; `None` for a store only one process
    /// uses (the embedded SQLite file).
    fn cluster(&self) -> Option<Cluster> {
        None
    }
}
