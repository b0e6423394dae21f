//! [`Store`] for [`PgStore`]: each method hands over to the PostgreSQL module of its part.

use arkbridge_core::audit::tree::NodeId;
use arkbridge_core::audit::{AuditEvent, AuditRecord};
use arkbridge_core::merkle::Hash;

use crate::pg::PgStore;
use crate::pg_rows::q;
use crate::{
    ApprovalRecord, AuditFilter, DailyReportRecord, FindingRecord, FindingState, Lease, LeaseState,
    NewApproval, NewCheckpoint, NewFinding, NewLease, Principal, Result, RunGuard, RunRecord,
    RunStatus, Store, StoredCheckpoint, StoredLeaf, TimedLease, pg_append, pg_audit, pg_findings,
    pg_rows,
};

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

fn leases(timed: Vec<TimedLease>) -> Vec<Lease> {
    timed.into_iter().map(|t| t.lease).collect()
}

impl Store for PgStore {
    fn cluster(&self) -> Option<crate::Cluster> {
        Some(self.pg_cluster())
    }

    async fn insert_run(&self, run: &RunRecord) -> Result<()> {
        pg_rows::insert_run(self.pool(), run).await
    }

    async fn finish_run(
        &self,
        id: &str,
        status: RunStatus,
        exit_code: Option<i32>,
        finished_micros: i64,
    ) -> Result<()> {
        pg_rows::finish_run(self.pool(), id, status, exit_code, finished_micros).await
    }

    async fn set_run_comment(&self, id: &str, comment_id: &str) -> Result<()> {
        sqlx::query("UPDATE runs SET comment_id = $1 WHERE id = $2")
            .bind(comment_id)
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(q("set run comment"))?;
        Ok(())
    }

    async fn get_run(&self, id: &str) -> Result<Option<RunRecord>> {
        let row = sqlx::query("SELECT * FROM runs WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(q("get run"))?;
        row.as_ref().map(pg_rows::run_from_row).transpose()
    }

    async fn insert_lease(&self, lease: &NewLease) -> Result<i64> {
        pg_rows::insert_lease(self.pool(), lease).await
    }

    async fn update_lease(
        &self,
        id: i64,
        state: LeaseState,
        account_id: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        pg_rows::update_lease(self.pool(), id, state, account_id, error, now_micros()).await
    }

    async fn open_leases(&self) -> Result<Vec<Lease>> {
        let clause = "WHERE state IN ('requested', 'issued', 'run-finished', 'rotating', \
                      'rotation-failed') ORDER BY id";
        pg_rows::leases_where(self.pool(), "open leases", clause, None, None)
            .await
            .map(leases)
    }

    async fn leases_for_run(&self, run_id: &str) -> Result<Vec<Lease>> {
        let clause = "WHERE run_id = $1 ORDER BY id";
        pg_rows::leases_where(self.pool(), "leases for run", clause, Some(run_id), None)
            .await
            .map(leases)
    }

    async fn record_approval(
        &self,
        approval: &NewApproval,
        event: AuditEvent,
    ) -> Result<(ApprovalRecord, AuditRecord)> {
        pg_append::record_approval(self.pool(), approval, event, &self.commit.edge).await
    }

    async fn approvals(&self, page_id: &str, block: &str) -> Result<Vec<ApprovalRecord>> {
        pg_rows::approvals(self.pool(), page_id, block).await
    }

    async fn mark_managed(&self, safe: &str, member: &str, at_micros: i64) -> Result<()> {
        pg_rows::mark_managed(self.pool(), safe, member, at_micros).await
    }

    async fn unmark_managed(&self, safe: &str, member: &str) -> Result<()> {
        pg_rows::unmark_managed(self.pool(), safe, member).await
    }

    async fn managed_members(&self) -> Result<Vec<(String, String)>> {
        pg_rows::managed_members(self.pool()).await
    }

    async fn remember_principal(&self, principal: &Principal) -> Result<()> {
        pg_rows::remember_principal(self.pool(), principal).await
    }

    async fn principal_by_account(&self, account: &str) -> Result<Option<Principal>> {
        pg_rows::principal_by_account(self.pool(), account).await
    }

    async fn record_finding(
        &self,
        finding: &NewFinding,
        now_micros: i64,
    ) -> Result<(FindingRecord, bool)> {
        pg_findings::record(self.pool(), finding, now_micros).await
    }

    async fn findings(&self, state: Option<FindingState>) -> Result<Vec<FindingRecord>> {
        pg_findings::list(self.pool(), state).await
    }

    async fn finding(&self, id: i64) -> Result<Option<FindingRecord>> {
        pg_findings::get(self.pool(), id).await
    }

    async fn triage_finding(
        &self,
        id: i64,
        state: FindingState,
        by: &str,
        note: Option<&str>,
        vaulted_ref: Option<&str>,
    ) -> Result<bool> {
        pg_findings::triage(self.pool(), id, state, by, note, vaulted_ref).await
    }

    async fn scan_cursor(&self, space: &str) -> Result<Option<i64>> {
        pg_findings::cursor(self.pool(), space).await
    }

    async fn set_scan_cursor(&self, space: &str, micros: i64) -> Result<()> {
        pg_findings::set_cursor(self.pool(), space, micros).await
    }

    async fn save_daily_report(
        &self,
        created_micros: i64,
        passed: bool,
        report: &str,
    ) -> Result<i64> {
        pg_findings::save_report(self.pool(), created_micros, passed, report).await
    }

    async fn daily_reports(&self, limit: i64) -> Result<Vec<DailyReportRecord>> {
        pg_findings::reports(self.pool(), limit).await
    }

    async fn save_safe_members(&self, safe: &str, members_json: &str, at: i64) -> Result<()> {
        crate::pg_snapshots::save(self.pool(), safe, members_json, at).await
    }

    async fn safe_members_snapshot(&self, safe: &str) -> Result<Option<(String, i64)>> {
        crate::pg_snapshots::load(self.pool(), safe).await
    }

    async fn append_audit(&self, event: AuditEvent) -> Result<AuditRecord> {
        self.commit.append(self.pool(), event).await
    }

    async fn append_audit_batch(&self, events: Vec<AuditEvent>) -> Result<Vec<AuditRecord>> {
        pg_append::append_batch(self.pool(), events, &self.commit.edge).await
    }

    async fn issue_credential(&self, lease_id: i64, event: AuditEvent) -> Result<AuditRecord> {
        pg_append::issue_credential(self.pool(), lease_id, event, &self.commit.edge).await
    }

    async fn audit_records(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>> {
        pg_audit::query(self.pool(), &AuditFilter::default(), after, limit).await
    }

    async fn audit_query(
        &self,
        filter: &AuditFilter,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditRecord>> {
        pg_audit::query(self.pool(), filter, after, limit).await
    }

    async fn audit_leaves(&self, after: i64, limit: i64) -> Result<Vec<StoredLeaf>> {
        pg_audit::leaves(self.pool(), after, limit).await
    }

    async fn audit_size(&self) -> Result<u64> {
        pg_audit::size(self.pool()).await
    }

    async fn audit_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>> {
        pg_audit::node_hashes(self.pool(), ids).await
    }

    async fn audit_checkpoints(&self) -> Result<Vec<StoredCheckpoint>> {
        pg_audit::checkpoints(self.pool()).await
    }

    async fn add_checkpoint(&self, checkpoint: &NewCheckpoint) -> Result<StoredCheckpoint> {
        pg_audit::add_checkpoint(self.pool(), checkpoint).await
    }

    async fn audit_cursor(&self, name: &str) -> Result<i64> {
        pg_audit::cursor(self.pool(), name).await
    }

    async fn set_audit_cursor(&self, name: &str, seq: i64) -> Result<()> {
        pg_audit::set_cursor(self.pool(), name, seq, now_micros()).await
    }

    async fn leases_created_since(&self, since_micros: i64) -> Result<Vec<TimedLease>> {
        let clause = "WHERE created_micros >= $1 ORDER BY created_micros, id";
        pg_rows::leases_where(
            self.pool(),
            "leases created since",
            clause,
            None,
            Some(since_micros),
        )
        .await
    }

    async fn set_run_guard(&self, guard: &RunGuard) -> Result<()> {
        pg_rows::set_guard(self.pool(), guard, now_micros()).await
    }

    async fn run_guard(&self, run_id: &str) -> Result<Option<RunGuard>> {
        pg_rows::guard(self.pool(), run_id).await
    }

    async fn rotation_failures_since(&self, since_micros: i64) -> Result<Vec<TimedLease>> {
        let clause = "WHERE state = $1 AND updated_micros >= $2 ORDER BY updated_micros, id";
        pg_rows::leases_where(
            self.pool(),
            "rotation failures since",
            clause,
            Some(LeaseState::RotationFailed.as_str()),
            Some(since_micros),
        )
        .await
    }
}
