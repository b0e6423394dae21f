//! Log before act, under fault injection: when the store stops taking writes at the moment a
//! credential would be issued, the run fails closed with a clear error, the script never runs,
//! no `credential.issued` record exists, and the lease stays open so that the next start rotates
//! the credential CyberArk did hand out.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use arkbridge_core::audit::tree::NodeId;
use arkbridge_core::audit::{Action, AuditEvent, AuditRecord};
use arkbridge_core::config::Config;
use arkbridge_core::merkle::Hash;
use arkbridge_engine::{Bridge, EngineError, RunRequest, VerifiedUser};
use arkbridge_store::{
    ApprovalRecord, AuditFilter, DailyReportRecord, FindingRecord, FindingState, Lease, LeaseState,
    NewApproval, NewCheckpoint, NewFinding, NewLease, Principal, Result, RunRecord, RunStatus,
    SqliteStore, Store, StoreError, StoredCheckpoint, StoredLeaf,
};

/// A store that refuses every write once armed; arming happens when the first credential is
/// about to be issued (the disk fills up mid-run).
#[derive(Clone)]
struct FailingStore {
    inner: SqliteStore,
    failing: Arc<AtomicBool>,
    refused: Arc<AtomicUsize>,
}

impl FailingStore {
    fn write(&self) -> Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::AppendFailed(
                "database or disk is full (injected)".into(),
            ));
        }
        Ok(())
    }
}

impl Store for FailingStore {
    async fn insert_run(&self, run: &RunRecord) -> Result<()> {
        self.write()?;
        self.inner.insert_run(run).await
    }
    async fn finish_run(&self, id: &str, s: RunStatus, c: Option<i32>, t: i64) -> Result<()> {
        self.write()?;
        self.inner.finish_run(id, s, c, t).await
    }
    async fn set_run_comment(&self, id: &str, comment_id: &str) -> Result<()> {
        self.write()?;
        self.inner.set_run_comment(id, comment_id).await
    }
    async fn get_run(&self, id: &str) -> Result<Option<RunRecord>> {
        self.inner.get_run(id).await
    }
    async fn insert_lease(&self, lease: &NewLease) -> Result<i64> {
        self.write()?;
        self.inner.insert_lease(lease).await
    }
    async fn update_lease(
        &self,
        id: i64,
        state: LeaseState,
        account_id: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        self.write()?;
        self.inner.update_lease(id, state, account_id, error).await
    }
    async fn open_leases(&self) -> Result<Vec<Lease>> {
        self.inner.open_leases().await
    }
    async fn leases_for_run(&self, run_id: &str) -> Result<Vec<Lease>> {
        self.inner.leases_for_run(run_id).await
    }
    async fn record_approval(
        &self,
        approval: &NewApproval,
        event: AuditEvent,
    ) -> Result<(ApprovalRecord, AuditRecord)> {
        self.write()?;
        self.inner.record_approval(approval, event).await
    }
    async fn approvals(&self, page_id: &str, block: &str) -> Result<Vec<ApprovalRecord>> {
        self.inner.approvals(page_id, block).await
    }
    async fn mark_managed(&self, safe: &str, member: &str, at: i64) -> Result<()> {
        self.write()?;
        self.inner.mark_managed(safe, member, at).await
    }
    async fn unmark_managed(&self, safe: &str, member: &str) -> Result<()> {
        self.write()?;
        self.inner.unmark_managed(safe, member).await
    }
    async fn managed_members(&self) -> Result<Vec<(String, String)>> {
        self.inner.managed_members().await
    }
    async fn remember_principal(&self, principal: &Principal) -> Result<()> {
        self.write()?;
        self.inner.remember_principal(principal).await
    }
    async fn principal_by_account(&self, account: &str) -> Result<Option<Principal>> {
        self.inner.principal_by_account(account).await
    }
    async fn record_finding(&self, f: &NewFinding, now: i64) -> Result<(FindingRecord, bool)> {
        self.write()?;
        self.inner.record_finding(f, now).await
    }
    async fn findings(&self, state: Option<FindingState>) -> Result<Vec<FindingRecord>> {
        self.inner.findings(state).await
    }
    async fn finding(&self, id: i64) -> Result<Option<FindingRecord>> {
        self.inner.finding(id).await
    }
    async fn triage_finding(
        &self,
        id: i64,
        state: FindingState,
        by: &str,
        note: Option<&str>,
        vaulted_ref: Option<&str>,
    ) -> Result<bool> {
        self.write()?;
        self.inner
            .triage_finding(id, state, by, note, vaulted_ref)
            .await
    }
    async fn scan_cursor(&self, space: &str) -> Result<Option<i64>> {
        self.inner.scan_cursor(space).await
    }
    async fn set_scan_cursor(&self, space: &str, micros: i64) -> Result<()> {
        self.write()?;
        self.inner.set_scan_cursor(space, micros).await
    }
    async fn save_daily_report(&self, at: i64, passed: bool, report: &str) -> Result<i64> {
        self.write()?;
        self.inner.save_daily_report(at, passed, report).await
    }
    async fn daily_reports(&self, limit: i64) -> Result<Vec<DailyReportRecord>> {
        self.inner.daily_reports(limit).await
    }
    async fn save_safe_members(&self, safe: &str, members: &str, at: i64) -> Result<()> {
        self.write()?;
        self.inner.save_safe_members(safe, members, at).await
    }
    async fn safe_members_snapshot(&self, safe: &str) -> Result<Option<(String, i64)>> {
        self.inner.safe_members_snapshot(safe).await
    }
    async fn append_audit(&self, event: AuditEvent) -> Result<AuditRecord> {
        self.write()?;
        self.inner.append_audit(event).await
    }
    async fn append_audit_batch(&self, events: Vec<AuditEvent>) -> Result<Vec<AuditRecord>> {
        self.write()?;
        self.inner.append_audit_batch(events).await
    }
    async fn issue_credential(&self, lease_id: i64, event: AuditEvent) -> Result<AuditRecord> {
        self.failing.store(true, Ordering::SeqCst);
        self.write()?;
        self.inner.issue_credential(lease_id, event).await
    }
    async fn audit_records(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>> {
        self.inner.audit_records(after, limit).await
    }
    async fn audit_query(
        &self,
        f: &AuditFilter,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditRecord>> {
        self.inner.audit_query(f, after, limit).await
    }
    async fn audit_leaves(&self, after: i64, limit: i64) -> Result<Vec<StoredLeaf>> {
        self.inner.audit_leaves(after, limit).await
    }
    async fn audit_size(&self) -> Result<u64> {
        self.inner.audit_size().await
    }
    async fn audit_nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>> {
        self.inner.audit_nodes(ids).await
    }
    async fn audit_checkpoints(&self) -> Result<Vec<StoredCheckpoint>> {
        self.inner.audit_checkpoints().await
    }
    async fn add_checkpoint(&self, c: &NewCheckpoint) -> Result<StoredCheckpoint> {
        self.write()?;
        self.inner.add_checkpoint(c).await
    }
    async fn audit_cursor(&self, name: &str) -> Result<i64> {
        self.inner.audit_cursor(name).await
    }
    async fn leases_created_since(&self, since: i64) -> Result<Vec<arkbridge_store::TimedLease>> {
        self.inner.leases_created_since(since).await
    }
    async fn set_audit_cursor(&self, name: &str, seq: i64) -> Result<()> {
        self.write()?;
        self.inner.set_audit_cursor(name, seq).await
    }
    async fn set_run_guard(&self, guard: &arkbridge_store::RunGuard) -> Result<()> {
        self.write()?;
        self.inner.set_run_guard(guard).await
    }
    async fn run_guard(&self, run_id: &str) -> Result<Option<arkbridge_store::RunGuard>> {
        self.inner.run_guard(run_id).await
    }
    async fn rotation_failures_since(
        &self,
        since: i64,
    ) -> Result<Vec<arkbridge_store::TimedLease>> {
        self.inner.rotation_failures_since(since).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_stops_writing_mid_run_issues_no_credential() {
    let dir = tempfile::tempdir().unwrap();
    let sim = arkbridge_sim::start(arkbridge_sim::SimOptions {
        dir: dir.path().join("sim"),
        seed: None,
        cpm_delay: Duration::from_millis(50),
    })
    .await
    .unwrap();
    let mut config = Config::load(&dir.path().join("sim/arkbridge.toml")).unwrap();
    // The read-only health check, with the policy rules that need more than the demo data
    // provides turned off: this test is about what happens after the policy allowed the run.
    config.policy.require_safe_membership = false;
    std::fs::create_dir_all(&config.data_dir).unwrap();
    let sqlite = SqliteStore::open(&config.data_dir.join("arkbridge.db"))
        .await
        .unwrap();
    let store = FailingStore {
        inner: sqlite.clone(),
        failing: Arc::default(),
        refused: Arc::default(),
    };
    let (bridge, _) = Bridge::with_store(config.clone(), store.clone())
        .await
        .unwrap();
    let page = bridge
        .confluence()
        .find_pages("Payments DB health", None)
        .await
        .unwrap()
        .remove(0);
    let request = RunRequest {
        page: page.id.clone(),
        block: Some("health".into()),
        user: VerifiedUser::resolve(&config, "alice@example.com").unwrap(),
    };
    let mut output = Vec::new();
    let mut sink = |_: arkbridge_runner::Stream, bytes: &[u8]| output.extend_from_slice(bytes);
    let err = bridge.run(&request, &mut sink).await.unwrap_err();

    // Fail closed, with an error that says what happened and that nothing was handed over.
    assert!(matches!(err, EngineError::AuditFailed(_)), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("could not record the credential's issue")
            && message.contains("not handed to the run")
            && message.contains("disk is full"),
        "{message}"
    );
    assert!(
        output.is_empty(),
        "the script ran: {:?}",
        String::from_utf8_lossy(&output)
    );
    assert!(store.refused.load(Ordering::SeqCst) >= 1);
    let issued = sqlite
        .audit_query(
            &AuditFilter {
                action: Some(Action::CredentialIssued.as_str().into()),
                safe: Some("Prod-DB".into()),
                ..AuditFilter::default()
            },
            0,
            100,
        )
        .await
        .unwrap();
    assert!(issued.is_empty(), "{issued:?}");
    let open = sqlite.open_leases().await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].state, LeaseState::Requested);

    // Once the store takes writes again, the next start rotates what CyberArk handed out.
    store.failing.store(false, Ordering::SeqCst);
    let report = bridge.recover().await.unwrap();
    assert_eq!(report.rotated, ["Prod-DB/payments-db"]);
    assert!(sqlite.open_leases().await.unwrap().is_empty());
    bridge.shutdown().await;
    sim.shutdown().await;
}
