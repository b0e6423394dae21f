//! [`AnyStore`]: the store a config selects, SQLite or PostgreSQL, behind one type, so that the
//! engine and the commands are built once and open either (`store.url`).

use arkbridge_core::audit::tree::NodeId;
use arkbridge_core::audit::{AuditEvent, AuditRecord};
use arkbridge_core::merkle::Hash;

use crate::{
    ApprovalRecord, AuditFilter, DailyReportRecord, FindingRecord, FindingState, Lease, LeaseState,
    NewApproval, NewCheckpoint, NewFinding, NewLease, PgStore, Principal, Result, RunGuard,
    RunRecord, RunStatus, SqliteStore, Store, StoredCheckpoint, StoredLeaf, TimedLease,
};

/// The embedded SQLite store or a PostgreSQL one.
#[derive(Debug, Clone)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl AnyStore {
    /// `sqlite` or `postgres`, for logs and `doctor`.
    pub fn backend(&self) -> &'static str {
        match self {
            AnyStore::Sqlite(_) => "sqlite",
            AnyStore::Postgres(_) => "postgres",
        }
    }

    /// Closes the store's connections (the SQLite file is left checkpointed).
    pub async fn close(&self) {
        match self {
            AnyStore::Sqlite(s) => s.close().await,
            AnyStore::Postgres(s) => s.close().await,
        }
    }
}

impl From<SqliteStore> for AnyStore {
    fn from(s: SqliteStore) -> AnyStore {
        AnyStore::Sqlite(s)
    }
}

impl From<PgStore> for AnyStore {
    fn from(s: PgStore) -> AnyStore {
        AnyStore::Postgres(s)
    }
}

/// Each method hands over to the store inside.
macro_rules! delegate {
    ($self:ident, $method:ident ( $($arg:expr),* )) => {
        match $self {
            AnyStore::Sqlite(s) => s.$method($($arg),*).await,
            AnyStore::Postgres(s) => s.$method($($arg),*).await,
        }
    };
}

impl Store for AnyStore {
    fn cluster(&self) -> Option<crate::Cluster> {
        match self {
            AnyStore::Sqlite(_) => None,
            AnyStore::Postgres(s) => Some(s.pg_cluster()),
        }
    }

    async fn insert_run(&self, run: &RunRecord) -> Result<()> {
        delegate!(self, insert_run(run))
    }

    async fn finish_run(
        &self,
        id: &str,
        status: RunStatus,
        exit_code: Option<i32>,
        finished_micros: i64,
    ) -> Result<()> {
        delegate!(self, finish_run(id, status, exit_code, finished_micros))
    }

    async fn set_run_comment(&self, id: &str, comment_id: &str) -> Result<()> {
        delegate!(self, set_run_comment(id, comment_id))
    }

    async fn get_run(&self, id: &str) -> Result<Option<RunRecord>> {
        delegate!(self, get_run(id))
    }

    async fn insert_lease(&self, lease: &NewLease) -> Result<i64> {
        delegate!(self, insert_lease(lease))
    }

    async fn update_lease(
        &self,
        id: i64,
        state: LeaseState,
        account_id: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        delegate!(self, update_lease(id, state, account_id, error))
    }

    async fn open_leases(&self) -> Result<Vec<Lease>> {
        delegate!(self, open_leases())
    }

    async fn leases_for_run(&self, run_id: &str) -> Result<Vec<Lease>> {
        delegate!(self, leases_for_run(run_id))
    }

    async fn record_approval(
        &self,
        approval: &NewApproval,
        event: AuditEvent,
    ) -> Result<(ApprovalRecord, AuditRecord)> {
        delegate!(self, record_approval(approval, event))
    }

    async fn approvals(&self, page_id: &str, block: &str) -> Result<Vec<ApprovalRecord>> {
        delegate!(self, approvals(page_id, block))
    }

    async fn mark_managed(&self, safe: &str, member: &str, at_micros: i64) -> Result<()> {
        delegate!(self, mark_managed(safe, member, at_micros))
    }

    async fn unmark_managed(&self, safe: &str, member: &str) -> Result<()> {
        delegate!(self, unmark_managed(safe, member))
    }

    async fn managed_members(&self) -> Result<Vec<(String, String)>> {
        delegate!(self, managed_members())
    }

    async fn remember_principal(&self, principal: &Principal) -> Result<()> {
        delegate!(self, remember_principal(principal))
    }

    async fn principal_by_account(&self, account: &str) -> Result<Option<Principal>> {
        delegate!(self, principal_by_account(account))
    }

    async fn record_finding(
        &self,
        finding: &NewFinding,
        now_micros: i64,
    ) -> Result<(FindingRecord, bool)> {
        delegate!(self, record_finding(finding, now_micros))
    }

    async fn findings(&self, state: Option<FindingState>) -> Result<Vec<FindingRecord>> {
        delegate!(self, findings(state))
    }

    async fn finding(&self, id: i64) -> Result<Option<FindingRecord>> {
        delegate!(self, finding(id))
    }

    async fn triage_finding(
        &self,
        id: i64,
        state: FindingState,
        by: &str,
        note: Option<&str>,
        vaulted_ref: Option<&str>,
    ) -> Result<bool> {
        delegate!(self, triage_finding(id, state, by, note, vaulted_ref))
    }

    async fn scan_cursor(&self, space: &str) -> Result<Option<i64>> {
        delegate!(self, scan_cursor(space))
    }

    async fn set_scan_cursor(&self, space: &str, micros: i64) -> Result<()> {
        delegate!(self, set_scan_cursor(space, micros))
    }

    async fn save_daily_report(
        &self,
        created_micros: i64,
        passed: bool,
        report: &str,
    ) -> Result<i64> {
        delegate!(self, save_daily_report(created_micros, passed, report))
    }

    async fn daily_reports(&self, limit: i64) -> Result<Vec<DailyReportRecord>> {
        delegate!(self, daily_reports(limit))
    }

    async fn save_safe_members(&self, safe: &str, members_json: &str, at: i64) -> Result<()> {
        delegate!(self, save_safe_members(safe, members_json, at))
    }

    async fn safe_members_snapshot(&self, safe: &str) -> Result<Option<(String, i64)>> {
        delegate!(self, safe_members_snapshot(safe))
    }

    async fn append_audit(&self, event: AuditEvent) -> Result<AuditRecord> {
        delegate!(self, append_audit(event))
    }

    async fn append_audit_batch(&self, events: Vec<AuditEvent>) -> Result<Vec<AuditRecord>> {
        delegate!(self, append_audit_batch(events))
    }

    async fn issue_credential(&self, lease_id: i64, event: AuditEvent) -> Result<AuditRecord> {
        delegate!(self, issue_credential(lease_id, event))
    }

    async fn audit_records(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>> {
        delegate!(self, audit_records(after, limit))
    }

    async fn audit_query(
        &self,
        filter: &AuditFilter,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditRecord>> {
        delegate!(self, audit_query(filter, after, limit))
    }

    async fn audit_leaves(&self, after: i64, limit: i64) -> Result<Vec<StoredLeaf>> {
        delegate!(self, audit_leaves(after, limit))
    }

    async fn audit_size(&self) -> Result<u64> {
        delegate!(self, audit_size())
    }

    async fn audit_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>> {
        delegate!(self, audit_nodes(ids))
    }

    async fn audit_checkpoints(&self) -> Result<Vec<StoredCheckpoint>> {
        delegate!(self, audit_checkpoints())
    }

    async fn add_checkpoint(&self, checkpoint: &NewCheckpoint) -> Result<StoredCheckpoint> {
        delegate!(self, add_checkpoint(checkpoint))
    }

    async fn audit_cursor(&self, name: &str) -> Result<i64> {
        delegate!(self, audit_cursor(name))
    }

    async fn set_audit_cursor(&self, name: &str, seq: i64) -> Result<()> {
        delegate!(self, set_audit_cursor(name, seq))
    }

    async fn leases_created_since(&self, since_micros: i64) -> Result<Vec<TimedLease>> {
        delegate!(self, leases_created_since(since_micros))
    }

    async fn set_run_guard(&self, guard: &RunGuard) -> Result<()> {
        delegate!(self, set_run_guard(guard))
    }

    async fn run_guard(&self, run_id: &str) -> Result<Option<RunGuard>> {
        delegate!(self, run_guard(run_id))
    }

    async fn rotation_failures_since(&self, since_micros: i64) -> Result<Vec<TimedLease>> {
        delegate!(self, rotation_failures_since(since_micros))
    }
}
