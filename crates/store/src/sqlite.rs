//! The embedded SQLite store (WAL mode, migrations embedded in the binary).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arkbridge_core::audit::tree::NodeId;
use arkbridge_core::audit::{AuditEvent, AuditRecord};
use arkbridge_core::merkle::Hash;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};

use crate::group_commit::GroupCommit;
use crate::q;
use crate::sqlite_audit::{append_in, begin_append};
use crate::sqlite_principals::{groups_from_json, groups_json};
use crate::{
    ApprovalRecord, AuditFilter, DailyReportRecord, FindingRecord, FindingState, Lease, LeaseState,
    NewApproval, NewCheckpoint, NewFinding, NewLease, Principal, Result, RunRecord, RunStatus,
    Store, StoreError, StoredCheckpoint, StoredLeaf, audit_migrate, sqlite_audit,
};

/// SQLite behind the [`Store`] trait.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Shared by every clone, so that all appends of one store are grouped together.
    commit: Arc<GroupCommit>,
}

impl SqliteStore {
    /// Opens (creating if needed) the store file and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: path.display().to_string(),
                source,
            })?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        audit_migrate::finish_v1_migration(&pool).await?;
        Ok(SqliteStore {
            pool,
            commit: Arc::default(),
        })
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.commit.close().await;
        self.pool.close().await;
    }

    /// The connection pool, for the store's other SQLite modules.
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

fn parse<T: std::str::FromStr>(what: &'static str, s: String) -> Result<T> {
    s.parse()
        .map_err(|_| StoreError::Corrupt { what, value: s })
}

fn run_from_row(r: &SqliteRow) -> Result<RunRecord> {
    Ok(RunRecord {
        id: r.get("id"),
        page_id: r.get("page_id"),
        page_version: r.get("page_version"),
        block: r.get("block"),
        user_email: r.get("user_email"),
        mode: r.get("mode"),
        status: parse::<RunStatus>("runs.status", r.get("status"))?,
        exit_code: r.get::<Option<i64>, _>("exit_code").map(|c| c as i32),
        started_micros: r.get("started_micros"),
        finished_micros: r.get("finished_micros"),
        comment_id: r.get("comment_id"),
    })
}

fn lease_from_row(r: &SqliteRow) -> Result<Lease> {
    Ok(Lease {
        id: r.get("id"),
        run_id: r.get("run_id"),
        safe: r.get("safe"),
        object: r.get("object"),
        account_id: r.get("account_id"),
        rotation: r.get("rotation"),
        state: parse::<LeaseState>("leases.state", r.get("state"))?,
        error: r.get("error"),
    })
}

const LEASE_COLUMNS: &str = "id, run_id, safe, object, account_id, rotation, state, error";

impl Store for SqliteStore {
    async fn insert_run(&self, run: &RunRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO runs (id, page_id, page_version, block, user_email, mode, status, exit_code, \
             started_micros, finished_micros, comment_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&run.id)
        .bind(&run.page_id)
        .bind(run.page_version)
        .bind(&run.block)
        .bind(&run.user_email)
        .bind(&run.mode)
        .bind(run.status.as_str())
        .bind(run.exit_code.map(i64::from))
        .bind(run.started_micros)
        .bind(run.finished_micros)
        .bind(&run.comment_id)
        .execute(&self.pool)
        .await
        .map_err(q("insert run"))?;
        Ok(())
    }

    async fn finish_run(
        &self,
        id: &str,
        status: RunStatus,
        exit_code: Option<i32>,
        finished_micros: i64,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE runs SET status = $1, exit_code = $2, finished_micros = $3 WHERE id = $4",
        )
        .bind(status.as_str())
        .bind(exit_code.map(i64::from))
        .bind(finished_micros)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(q("finish run"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: "run",
                id: id.to_string(),
            });
        }
        Ok(())
    }

    async fn set_run_comment(&self, id: &str, comment_id: &str) -> Result<()> {
        sqlx::query("UPDATE runs SET comment_id = $1 WHERE id = $2")
            .bind(comment_id)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(q("set run comment"))?;
        Ok(())
    }

    async fn get_run(&self, id: &str) -> Result<Option<RunRecord>> {
        let row = sqlx::query("SELECT * FROM runs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("get run"))?;
        row.as_ref().map(run_from_row).transpose()
    }

    async fn insert_lease(&self, lease: &NewLease) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO leases (run_id, safe, object, account_id, rotation, state, created_micros, updated_micros, \
             deadline_micros) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, \
             (SELECT deadline_micros FROM run_guards WHERE run_id = $1)) RETURNING id",
        )
        .bind(&lease.run_id)
        .bind(&lease.safe)
        .bind(&lease.object)
        .bind(&lease.account_id)
        .bind(&lease.rotation)
        .bind(LeaseState::Requested.as_str())
        .bind(lease.created_micros)
        .fetch_one(&self.pool)
        .await
        .map_err(q("insert lease"))?;
        Ok(row.get("id"))
    }

    async fn update_lease(
        &self,
        id: i64,
        state: LeaseState,
        account_id: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        let now = now_micros();
        let done = sqlx::query(
            "UPDATE leases SET state = $1, account_id = COALESCE($2, account_id), error = $3, updated_micros = $4 \
             WHERE id = $5",
        )
        .bind(state.as_str())
        .bind(account_id)
        .bind(error)
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(q("update lease"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: "lease",
                id: id.to_string(),
            });
        }
        Ok(())
    }

    async fn open_leases(&self) -> Result<Vec<Lease>> {
        let sql = format!(
            "SELECT {LEASE_COLUMNS} FROM leases WHERE state IN ('requested', 'issued', 'run-finished', 'rotating', 'rotation-failed') ORDER BY id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(q("open leases"))?;
        rows.iter().map(lease_from_row).collect()
    }

    async fn leases_for_run(&self, run_id: &str) -> Result<Vec<Lease>> {
        let sql = format!("SELECT {LEASE_COLUMNS} FROM leases WHERE run_id = $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(run_id)
            .fetch_all(&self.pool)
            .await
            .map_err(q("leases for run"))?;
        rows.iter().map(lease_from_row).collect()
    }

    async fn record_approval(
        &self,
        approval: &NewApproval,
        event: AuditEvent,
    ) -> Result<(ApprovalRecord, AuditRecord)> {
        let mut tx = begin_append(&self.pool).await?;
        let appended = append_in(&mut tx, vec![event], &self.commit.edge).await?;
        let record = appended.records[0].clone();
        let id: i64 = sqlx::query(
            "INSERT INTO approvals (page_id, block, script_sha256, page_version, approver, \
             created_micros, audit_seq, approver_groups) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             RETURNING id",
        )
        .bind(&approval.page_id)
        .bind(&approval.block)
        .bind(&approval.script_sha256)
        .bind(approval.page_version)
        .bind(&approval.approver)
        .bind(approval.created_micros)
        .bind(record.seq)
        .bind(groups_json(&approval.approver_groups))
        .fetch_one(&mut *tx)
        .await
        .map_err(q("insert approval"))?
        .get("id");
        tx.commit().await.map_err(q("commit approval"))?;
        appended.committed(&self.commit.edge);
        let stored = ApprovalRecord {
            id,
            page_id: approval.page_id.clone(),
            block: approval.block.clone(),
            script_sha256: approval.script_sha256.clone(),
            page_version: approval.page_version,
            approver: approval.approver.clone(),
            approver_groups: Some(approval.approver_groups.clone()),
            created_micros: approval.created_micros,
            audit_seq: record.seq,
        };
        Ok((stored, record))
    }

    async fn approvals(&self, page_id: &str, block: &str) -> Result<Vec<ApprovalRecord>> {
        let rows = sqlx::query(
            "SELECT id, page_id, block, script_sha256, page_version, approver, created_micros, \
             audit_seq, approver_groups FROM approvals WHERE page_id = $1 AND block = $2 ORDER BY id",
        )
        .bind(page_id)
        .bind(block)
        .fetch_all(&self.pool)
        .await
        .map_err(q("read approvals"))?;
        Ok(rows
            .iter()
            .map(|r| ApprovalRecord {
                id: r.get("id"),
                page_id: r.get("page_id"),
                block: r.get("block"),
                script_sha256: r.get("script_sha256"),
                page_version: r.get("page_version"),
                approver: r.get("approver"),
                approver_groups: r
                    .get::<Option<String>, _>("approver_groups")
                    .map(|g| groups_from_json(&g)),
                created_micros: r.get("created_micros"),
                audit_seq: r.get("audit_seq"),
            })
            .collect())
    }

    async fn mark_managed(&self, safe: &str, member: &str, at_micros: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO managed_members (safe, member, added_micros) VALUES ($1, $2, $3) \
             ON CONFLICT (safe, member) DO NOTHING",
        )
        .bind(safe)
        .bind(member)
        .bind(at_micros)
        .execute(&self.pool)
        .await
        .map_err(q("mark managed member"))?;
        Ok(())
    }

    async fn unmark_managed(&self, safe: &str, member: &str) -> Result<()> {
        sqlx::query("DELETE FROM managed_members WHERE safe = $1 AND member = $2")
            .bind(safe)
            .bind(member)
            .execute(&self.pool)
            .await
            .map_err(q("unmark managed member"))?;
        Ok(())
    }

    async fn managed_members(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT safe, member FROM managed_members ORDER BY safe, member")
            .fetch_all(&self.pool)
            .await
            .map_err(q("read managed members"))?;
        Ok(rows
            .iter()
            .map(|r| (r.get("safe"), r.get("member")))
            .collect())
    }

    async fn remember_principal(&self, principal: &Principal) -> Result<()> {
        crate::sqlite_principals::remember(self.pool(), principal).await
    }

    async fn principal_by_account(&self, account: &str) -> Result<Option<Principal>> {
        crate::sqlite_principals::by_account(self.pool(), account).await
    }

    async fn record_finding(
        &self,
        finding: &NewFinding,
        now_micros: i64,
    ) -> Result<(FindingRecord, bool)> {
        crate::sqlite_findings::record(self.pool(), finding, now_micros).await
    }

    async fn findings(&self, state: Option<FindingState>) -> Result<Vec<FindingRecord>> {
        crate::sqlite_findings::list(self.pool(), state).await
    }

    async fn finding(&self, id: i64) -> Result<Option<FindingRecord>> {
        crate::sqlite_findings::get(self.pool(), id).await
    }

    async fn triage_finding(
        &self,
        id: i64,
        state: FindingState,
        by: &str,
        note: Option<&str>,
        vaulted_ref: Option<&str>,
    ) -> Result<bool> {
        crate::sqlite_findings::triage(self.pool(), id, state, by, note, vaulted_ref).await
    }

    async fn scan_cursor(&self, space: &str) -> Result<Option<i64>> {
        crate::sqlite_findings::cursor(self.pool(), space).await
    }

    async fn set_scan_cursor(&self, space: &str, micros: i64) -> Result<()> {
        crate::sqlite_findings::set_cursor(self.pool(), space, micros).await
    }

    async fn save_daily_report(
        &self,
        created_micros: i64,
        passed: bool,
        report: &str,
    ) -> Result<i64> {
        crate::sqlite_findings::save_report(self.pool(), created_micros, passed, report).await
    }

    async fn daily_reports(&self, limit: i64) -> Result<Vec<DailyReportRecord>> {
        crate::sqlite_findings::reports(self.pool(), limit).await
    }

    async fn save_safe_members(&self, safe: &str, members_json: &str, at: i64) -> Result<()> {
        crate::sqlite_snapshots::save(self.pool(), safe, members_json, at).await
    }

    async fn safe_members_snapshot(&self, safe: &str) -> Result<Option<(String, i64)>> {
        crate::sqlite_snapshots::load(self.pool(), safe).await
    }

    async fn append_audit(&self, event: AuditEvent) -> Result<AuditRecord> {
        self.commit.append(&self.pool, event).await
    }

    async fn append_audit_batch(&self, events: Vec<AuditEvent>) -> Result<Vec<AuditRecord>> {
        sqlite_audit::append_batch(&self.pool, events, &self.commit.edge).await
    }

    async fn issue_credential(&self, lease_id: i64, event: AuditEvent) -> Result<AuditRecord> {
        sqlite_audit::issue_credential(&self.pool, lease_id, event, &self.commit.edge).await
    }

    async fn audit_records(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>> {
        sqlite_audit::records(&self.pool, after, limit).await
    }

    async fn audit_query(
        &self,
        filter: &AuditFilter,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditRecord>> {
        sqlite_audit::query(&self.pool, filter, after, limit).await
    }

    async fn audit_leaves(&self, after: i64, limit: i64) -> Result<Vec<StoredLeaf>> {
        sqlite_audit::leaves(&self.pool, after, limit).await
    }

    async fn audit_size(&self) -> Result<u64> {
        sqlite_audit::size(&self.pool).await
    }

    async fn audit_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>> {
        sqlite_audit::node_hashes(&self.pool, ids).await
    }

    async fn audit_checkpoints(&self) -> Result<Vec<StoredCheckpoint>> {
        sqlite_audit::checkpoints(&self.pool).await
    }

    async fn add_checkpoint(&self, checkpoint: &NewCheckpoint) -> Result<StoredCheckpoint> {
        sqlite_audit::add_checkpoint(&self.pool, checkpoint).await
    }

    async fn audit_cursor(&self, name: &str) -> Result<i64> {
        sqlite_audit::cursor(&self.pool, name).await
    }

    async fn set_audit_cursor(&self, name: &str, seq: i64) -> Result<()> {
        sqlite_audit::set_cursor(&self.pool, name, seq, now_micros()).await
    }

    async fn leases_created_since(&self, since_micros: i64) -> Result<Vec<crate::TimedLease>> {
        crate::sqlite_lease_history::created_since(self.pool(), since_micros).await
    }

    async fn set_run_guard(&self, guard: &crate::RunGuard) -> Result<()> {
        crate::sqlite_leases::set_guard(self.pool(), guard, now_micros()).await
    }

    async fn run_guard(&self, run_id: &str) -> Result<Option<crate::RunGuard>> {
        crate::sqlite_leases::guard(self.pool(), run_id).await
    }

    async fn rotation_failures_since(&self, since_micros: i64) -> Result<Vec<crate::TimedLease>> {
        crate::sqlite_leases::rotation_failures_since(self.pool(), since_micros).await
    }
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arkbridge_core::audit::tree::Frontier;
    use arkbridge_core::audit::{Action, Target};

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("arkbridge.db"))
            .await
            .unwrap();
        (dir, s)
    }

    fn event(i: i64) -> AuditEvent {
        AuditEvent::new(Action::RunRequested)
            .at(i)
            .target(Target::page("1"))
            .details(serde_json::json!({ "i": i }))
    }

    fn run(id: &str) -> RunRecord {
        RunRecord {
            id: id.into(),
            page_id: "1".into(),
            page_version: 3,
            block: "restart".into(),
            user_email: "alice@example.com".into(),
            mode: "write".into(),
            status: RunStatus::Running,
            exit_code: None,
            started_micros: 1,
            finished_micros: None,
            comment_id: None,
        }
    }

    #[tokio::test]
    async fn concurrent_appends_form_one_tree() {
        let (_dir, s) = store().await;
        let mut tasks = Vec::new();
        for i in 0..40 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.append_audit(event(i)).await.unwrap()
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let records = s.audit_records(0, 1000).await.unwrap();
        let seqs: Vec<i64> = records.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
        // The stored right edge folds to the root over every record's leaf hash.
        let mut f = Frontier::new();
        for r in &records {
            f.push(r.leaf_hash());
        }
        let edge = s.audit_nodes(&Frontier::positions(40)).await.unwrap();
        assert_eq!(Frontier::from_roots(40, edge).unwrap().root(), f.root());
        assert_eq!(s.audit_records(38, 10).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn runs_and_leases_round_trip() {
        let (_dir, s) = store().await;
        s.insert_run(&run("r1")).await.unwrap();
        s.finish_run("r1", RunStatus::Succeeded, Some(0), 5)
            .await
            .unwrap();
        s.set_run_comment("r1", "c9").await.unwrap();
        let r = s.get_run("r1").await.unwrap().unwrap();
        assert_eq!(
            (r.status, r.exit_code, r.comment_id.as_deref()),
            (RunStatus::Succeeded, Some(0), Some("c9"))
        );
        assert!(s.get_run("nope").await.unwrap().is_none());
        assert!(matches!(
            s.finish_run("nope", RunStatus::Failed, None, 1).await,
            Err(StoreError::NotFound { .. })
        ));

        let id = s
            .insert_lease(&NewLease {
                run_id: "r1".into(),
                safe: "Prod-DB".into(),
                object: "payments-db".into(),
                account_id: None,
                rotation: "after-run".into(),
                created_micros: 1,
            })
            .await
            .unwrap();
        assert_eq!(s.open_leases().await.unwrap().len(), 1);
        s.update_lease(id, LeaseState::Issued, Some("12_3"), None)
            .await
            .unwrap();
        s.update_lease(id, LeaseState::Rotated, None, None)
            .await
            .unwrap();
        let l = &s.leases_for_run("r1").await.unwrap()[0];
        assert_eq!(
            (l.state, l.account_id.as_deref()),
            (LeaseState::Rotated, Some("12_3"))
        );
        assert!(s.open_leases().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn reopening_keeps_data_and_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        {
            let s = SqliteStore::open(&path).await.unwrap();
            s.append_audit(event(1)).await.unwrap();
            s.close().await;
        }
        let s = SqliteStore::open(&path).await.unwrap();
        assert_eq!(s.audit_records(0, 10).await.unwrap().len(), 1);
    }
}
