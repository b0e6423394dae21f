//! One run of a runbook block, step by step:
//!
//! 1. fetch the page (storage format) and its space, find the block;
//! 2. decide by policy, with reasons; a denial fetches nothing;
//! 3. take the run lock and the locks of the accounts it will rotate (`lease_lock.rs`, waiting
//!    for another run that holds one), record the run and its deadline, and fetch each binding
//!    under a lease (`credentials.rs`);
//! 4. run the script with the values injected and masked (`arkbridge-runner`), its process group
//!    on record for crash recovery; steps 3 and 4 are under the lease watchdog (`ttl.rs`);
//! 5. settle every lease as its safe's policy says (`rotation.rs`), whatever the outcome;
//! 6. post a redacted footer comment and record it.
//!
//! Every step is an audit event tied to the verified user.

use std::time::Duration;

use arkbridge_confluence::parse_page_ref;
use arkbridge_core::audit::{Action, AuditEvent, Outcome, Target};
use arkbridge_core::config::Rotation;
use arkbridge_core::mask::{MASK, Masker};
use arkbridge_core::runbook::{Mode, Runbook};
use arkbridge_core::storage::runbooks;
use arkbridge_runner::{Interpreter, RunSpec, Stream};
use arkbridge_store::{RunGuard, RunRecord, RunStatus, Store};
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::credentials::{Ask, LeaseHandle, ccp_safe};
use crate::metrics::{Counter, METRICS};
use crate::ttl::{Deadline, Expired};
use crate::{Bridge, EngineError, VerifiedUser, comment, lease_lock, now_micros, ttl};

/// A request to run a block.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// A page id or a page URL.
    pub page: String,
    /// The block's name; may be omitted when the page has exactly one.
    pub block: Option<String>,
    pub user: VerifiedUser,
}

/// What a run did. `output` is masked.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: String,
    /// `succeeded`, `failed` or `timed-out`.
    pub status: String,
    pub exit_code: Option<i32>,
    pub output: String,
    pub truncated: bool,
    pub page_id: String,
    pub page_version: u64,
    pub block: String,
    pub user: String,
    /// `read`, `write`, or `read-only` when CyberArk failed and fallbacks were used.
    pub mode: String,
    pub fallback_used: bool,
    /// Accounts rotated after the run (`Safe/Object`).
    pub rotated: Vec<String>,
    pub comment_id: Option<String>,
    /// The audit record of the run's end.
    pub audit_seq: i64,
    pub duration_ms: u64,
}

impl<S: Store> Bridge<S> {
    /// Runs a block. Live masked output goes to `sink` as it arrives.
    pub async fn run(
        &self,
        req: &RunRequest,
        sink: &mut (dyn FnMut(Stream, &[u8]) + Send),
    ) -> Result<RunReport, EngineError> {
        self.run_as(uuid::Uuid::new_v4().to_string(), req, sink)
            .await
    }

    /// Runs a block under a run id the caller chose (the API's, so that one id names the run
    /// in the API, the store and the audit log). An id already on record is refused: a run is
    /// executed at most once.
    pub async fn run_as(
        &self,
        run_id: String,
        req: &RunRequest,
        sink: &mut (dyn FnMut(Stream, &[u8]) + Send),
    ) -> Result<RunReport, EngineError> {
        let user = &req.user;
        if self.store.get_run(&run_id).await?.is_some() {
            return Err(EngineError::Setup(format!(
                "run {run_id} was executed before; a run is never executed twice"
            )));
        }
        self.audit(
            &user.email,
            AuditEvent::new(Action::RunRequested)
                .outcome(Outcome::Pending)
                .run(&run_id)
                .target(Target {
                    block: req.block.clone(),
                    ..Target::page(&req.page)
                })
                .details(serde_json::json!({
                    "block": req.block, "verified_by": user.verified_by, "groups": user.groups,
                })),
        )
        .await?;
        let found = self.find_block(req).await;
        let (page, space, runbook) = match found {
            Ok(v) => v,
            Err(e) => return Err(self.reject(&user.email, &run_id, e).await),
        };
        let target = Target::block(&page.id, page.version, &runbook.name);
        let decision = self.decide_run(user, &page, &space, &runbook).await?;
        if !decision.allowed {
            let rec = self
                .audit(
                    &user.email,
                    AuditEvent::new(Action::PolicyDecided)
                        .outcome(Outcome::Denied)
                        .reason(decision.explain())
                        .run(&run_id)
                        .target(target)
                        .details(serde_json::json!({
                            "block": runbook.name, "reasons": decision.reasons(),
                        })),
                )
                .await?;
            return Err(EngineError::Denied {
                reasons: decision.explain(),
                audit_seq: rec.seq,
            });
        }
        let interpreter = match Interpreter::for_language(runbook.language.as_deref()) {
            Ok(i) => i,
            Err(e) => {
                return Err(self
                    .reject(&user.email, &run_id, EngineError::Runbook(e.to_string()))
                    .await);
            }
        };
        self.audit(
            &user.email,
            AuditEvent::new(Action::PolicyDecided)
                .run(&run_id)
                .target(target.clone())
                .details(serde_json::json!({
                    "block": runbook.name, "mode": runbook.mode.as_str(), "reasons": decision.reasons(),
                })),
        )
        .await?;

        let held = self
            .try_hold_run(&run_id)
            .await?
            .ok_or_else(|| EngineError::Setup("run lock already held".into()))?;
        let _active = self.mark_active(&run_id);
        self.own_run(&run_id).await?;
        let _accounts = match self.lock_accounts(&held, &run_id, &runbook).await {
            Ok(held) => held,
            Err(e) => return Err(self.reject(&user.email, &run_id, e).await),
        };
        self.store
            .insert_run(&RunRecord {
                id: run_id.clone(),
                page_id: page.id.clone(),
                page_version: page.version as i64,
                block: runbook.name.clone(),
                user_email: user.email.clone(),
                mode: runbook.mode.as_str().into(),
                status: RunStatus::Running,
                exit_code: None,
                started_micros: now_micros(),
                finished_micros: None,
                comment_id: None,
            })
            .await?;

        let ask = Ask {
            run_id: &run_id,
            actor: &user.email,
            reason: ccp_safe(&format!(
                "arkbridge run {run_id}: page {} v{} block {} by {}",
                page.id, page.version, runbook.name, user.email
            )),
        };
        let cfg = &self.config.runner;
        let timeout = runbook
            .timeout
            .unwrap_or(Duration::from_secs(cfg.default_timeout_secs))
            .min(Duration::from_secs(cfg.max_timeout_secs));
        let deadline = Deadline::starting_now(
            now_micros(),
            timeout,
            Duration::from_secs(cfg.lease_grace_secs),
        );
        // The deadline is on record before any lease is written, so every lease carries it.
        self.store
            .set_run_guard(&RunGuard {
                run_id: run_id.clone(),
                deadline_micros: deadline.wall_micros,
                pgid: None,
                process_start: None,
            })
            .await?;
        let mut leases: Vec<LeaseHandle> = Vec::new();
        let work = self.acquire_and_execute(
            &ask,
            &runbook,
            interpreter,
            &page.id,
            (&deadline, timeout),
            &mut leases,
            sink,
        );
        // On PostgreSQL the run's locks live on its lock session: if that connection breaks,
        // another run could take its accounts, so the run stops and leaves its leases to
        // recovery, which rotates them under the account locks.
        let watched = async {
            tokio::select! {
                r = ttl::watch(&deadline, work) => r.map_err(|Expired| false),
                () = held.lost() => Err(true),
            }
        };
        let mut lock_lost = false;
        let executed = match watched.await {
            Ok(executed) => executed,
            Err(true) => {
                lock_lost = true;
                tracing::error!(
                    run_id,
                    "the run's locks in the store were lost (its connection broke); stopped"
                );
                Err(EngineError::Setup(
                    "the run's locks in the store were lost (its connection to PostgreSQL broke); \
                     the run was stopped and its credentials are left to recovery"
                        .into(),
                ))
            }
            Err(false) => {
                // The work was dropped: its script's group is killed and its directory gone.
                // The error path below settles (rotates) every lease taken.
                METRICS.inc(Counter::LeaseExpirations);
                tracing::error!(
                    run_id,
                    timeout_secs = timeout.as_secs(),
                    grace_secs = deadline.grace.as_secs(),
                    "run passed its credential deadline; stopped"
                );
                Err(EngineError::LeaseExpired {
                    timeout_secs: deadline.timeout.as_secs(),
                    grace_secs: deadline.grace.as_secs(),
                })
            }
        };
        let (outcome, masker, read_only) = match executed {
            Ok(v) => v,
            Err(e) => {
                // Whatever happened, every lease taken is settled; the first error is reported.
                // A store that cannot record the end (it may be what failed) must not hide `e`;
                // open leases are then rotated by the next start's recovery.
                let rotated = if lock_lost {
                    Ok(Vec::new())
                } else {
                    self.settle(&user.email, &run_id, &leases).await
                };
                let recorded = self
                    .store
                    .finish_run(&run_id, RunStatus::Error, None, now_micros())
                    .await
                    .map_err(EngineError::from);
                let recorded = match recorded {
                    Ok(()) => self
                        .audit(
                            &user.email,
                            AuditEvent::new(Action::RunFinished)
                                .outcome(Outcome::Failure)
                                .reason(e.to_string())
                                .run(&run_id)
                                .target(target)
                                .details(serde_json::json!({
                                    "error": e.to_string(),
                                    "rotated": rotated.as_ref().ok(),
                                    "settle_error": rotated.as_ref().err().map(|e| e.to_string()),
                                })),
                        )
                        .await
                        .map(drop),
                    Err(store) => Err(store),
                };
                if let Err(store) = recorded {
                    tracing::error!(run_id, error = %store, "cannot record the end of a failed run");
                }
                return Err(e);
            }
        };

        let status = if outcome.timed_out {
            RunStatus::TimedOut
        } else if outcome.exit_code == Some(0) {
            RunStatus::Succeeded
        } else {
            RunStatus::Failed
        };
        let mode = if read_only {
            "read-only"
        } else {
            runbook.mode.as_str()
        };
        let duration_ms = outcome.duration.as_millis() as u64;
        let end = self
            .record_end(&user.email, &run_id, &target, status, &outcome, mode)
            .await;
        // Settle even if recording the end failed; then report the first error.
        let rotated = self.settle(&user.email, &run_id, &leases).await;
        let end = end?;
        let rotated = rotated?;
        let mut report = RunReport {
            run_id: run_id.clone(),
            status: status.as_str().into(),
            exit_code: outcome.exit_code,
            output: String::from_utf8_lossy(&outcome.output).into_owned(),
            truncated: outcome.truncated,
            page_id: page.id.clone(),
            page_version: page.version,
            block: runbook.name.clone(),
            user: user.email.clone(),
            mode: mode.into(),
            fallback_used: read_only,
            rotated,
            comment_id: None,
            audit_seq: end.seq,
            duration_ms,
        };
        match self
            .confluence
            .create_footer_comment(&page.id, &comment::render(&report, &masker))
            .await
        {
            Ok(c) => {
                self.store.set_run_comment(&run_id, &c.id).await?;
                self.audit(
                    BRIDGE_ACTOR_FOR_COMMENT,
                    AuditEvent::new(Action::CommentPosted)
                        .run(&run_id)
                        .target(target)
                        .details(serde_json::json!({
                            "comment_id": c.id, "on_behalf_of": user.email,
                        })),
                )
                .await?;
                report.comment_id = Some(c.id);
            }
            Err(e) => {
                tracing::error!(run_id, error = %e, "posting the result comment failed");
                self.audit(
                    BRIDGE_ACTOR_FOR_COMMENT,
                    AuditEvent::new(Action::CommentPosted)
                        .outcome(Outcome::Failure)
                        .reason(e.to_string())
                        .run(&run_id)
                        .target(target)
                        .details(serde_json::json!({
                            "error": e.to_string(), "on_behalf_of": user.email,
                        })),
                )
                .await?;
            }
        }
        Ok(report)
    }

    /// Steps 3 and 4: credentials, then the script. Returns the outcome and the masker used.
    #[allow(clippy::too_many_arguments)]
    async fn acquire_and_execute(
        &self,
        ask: &Ask<'_>,
        runbook: &Runbook,
        interpreter: Interpreter,
        page_id: &str,
        (deadline, timeout): (&Deadline, Duration),
        leases: &mut Vec<LeaseHandle>,
        sink: &mut (dyn FnMut(Stream, &[u8]) + Send),
    ) -> Result<(arkbridge_runner::Outcome, Masker, bool), EngineError> {
        let creds = self.acquire(ask, runbook, leases).await?;
        let masker = Masker::new(
            creds
                .values()
                .map(|v| (v.expose_secret(), MASK.to_string())),
        );
        let mode = match (creds.read_only, runbook.mode) {
            (true, _) => "read-only",
            (false, Mode::Read) => "read",
            (false, Mode::Write) => "write",
        };
        let read_only = creds.read_only;
        let spec = RunSpec {
            run_id: ask.run_id.to_string(),
            interpreter,
            script: runbook.script.clone(),
            page_id: page_id.to_string(),
            mode: mode.into(),
            secret_vars: creds.env,
            secret_files: creds.files,
            timeout,
            limits: arkbridge_runner::Limits::default(),
        };
        self.audit(ask.actor, AuditEvent::new(Action::RunRequested).reason("script started").run(ask.run_id).target(Target::page(page_id)).details(serde_json::json!({
            "mode": mode, "timeout_secs": timeout.as_secs(), "interpreter": interpreter.program(),
        })))
        .await?;
        let outcome = {
            let (started, mut on_start) = tokio::sync::oneshot::channel();
            let run = arkbridge_runner::run_reporting(spec, &masker, sink, Some(started));
            tokio::pin!(run);
            let mut recorded = false;
            loop {
                tokio::select! {
                    // First the start report: the runner forwards no output until it is answered,
                    // so nothing the script prints is seen before its group is on record.
                    biased;
                    start = &mut on_start, if !recorded => {
                        recorded = true;
                        if let Ok(start) = start {
                            self.record_process(ask.run_id, deadline, start.group).await;
                            let _ = start.ack.send(());
                        }
                    }
                    outcome = &mut run => break outcome?,
                }
            }
        };
        Ok((outcome, masker, read_only))
    }

    /// Records the script's process group, so that recovery can end it if arkbridge dies. A
    /// store that cannot take it does not stop the run (its own end kills the group); the gap
    /// is logged.
    async fn record_process(
        &self,
        run_id: &str,
        deadline: &Deadline,
        group: arkbridge_runner::ProcessGroup,
    ) {
        let guard = RunGuard {
            run_id: run_id.to_string(),
            deadline_micros: deadline.wall_micros,
            pgid: Some(group.pgid),
            process_start: group.start_ticks,
        };
        if let Err(e) = self.store.set_run_guard(&guard).await {
            tracing::error!(run_id, pgid = group.pgid, error = %e, "cannot record the script's process group; a crash now would leave it running");
        }
    }

    /// Takes the locks of every account this run may rotate afterwards (`after-run` and
    /// `checkin`, fallbacks included), waiting up to `[runner] lease_wait_secs` for a run that
    /// holds one.
    async fn lock_accounts(
        &self,
        held: &crate::cluster_locks::RunHold,
        run_id: &str,
        runbook: &Runbook,
    ) -> Result<lease_lock::AccountLocks, EngineError> {
        let accounts: Vec<String> = runbook
            .bindings
            .iter()
            .flat_map(|b| std::iter::once(&b.reference).chain(b.fallback.as_ref()))
            .filter(|r| self.config.rotation_for(&r.safe) != Rotation::None)
            .map(|r| format!("{}/{}", r.safe, r.object))
            .collect();
        if accounts.is_empty() {
            return Ok(lease_lock::AccountLocks::default());
        }
        let wait = Duration::from_secs(self.config.runner.lease_wait_secs);
        match self.lock_accounts_held(held, run_id, &accounts, wait).await {
            Ok(held) => {
                if held.waited {
                    METRICS.inc(Counter::LeaseWaits);
                    tracing::info!(run_id, "waited for an account another run held");
                }
                Ok(held)
            }
            Err(e @ lease_lock::LockError::Busy { .. }) => {
                METRICS.inc(Counter::LeaseWaitTimeouts);
                tracing::warn!(run_id, error = %e, "gave up waiting for an account in use");
                Err(EngineError::AccountBusy(e.to_string()))
            }
            Err(e) => Err(EngineError::Setup(e.to_string())),
        }
    }

    /// Steps 1: the page, its space and the block.
    pub(crate) async fn find_block(
        &self,
        req: &RunRequest,
    ) -> Result<
        (
            arkbridge_confluence::Page,
            arkbridge_confluence::Space,
            Runbook,
        ),
        EngineError,
    > {
        let page_ref = parse_page_ref(&req.page)?;
        let page = self.confluence.get_page(page_ref.id()).await?;
        let space = self.confluence.page_space(&page).await?;
        let runbook = self.pick_block(&page.id, &page.body_storage, req.block.as_deref())?;
        Ok((page, space, runbook))
    }

    /// Audits why a requested run never started, and hands the error back.
    async fn reject(&self, actor: &str, run_id: &str, e: EngineError) -> EngineError {
        let details = serde_json::json!({ "error": e.to_string() });
        let event = AuditEvent::new(Action::RunFinished)
            .outcome(Outcome::Failure)
            .reason(e.to_string())
            .run(run_id)
            .details(details);
        if let Err(audit) = self.audit(actor, event).await {
            tracing::error!(run_id, error = %audit, "cannot audit a rejected run");
        }
        e
    }

    /// Records how the script ended: the run row and the `run.finished` event.
    async fn record_end(
        &self,
        actor: &str,
        run_id: &str,
        target: &Target,
        status: RunStatus,
        outcome: &arkbridge_runner::Outcome,
        mode: &str,
    ) -> Result<arkbridge_core::audit::AuditRecord, EngineError> {
        self.store
            .finish_run(run_id, status, outcome.exit_code, now_micros())
            .await?;
        let result = if status == RunStatus::Succeeded {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        self.audit(
            actor,
            AuditEvent::new(Action::RunFinished)
                .outcome(result)
                .run(run_id)
                .target(target.clone())
                .details(serde_json::json!({
                    "status": status.as_str(), "exit_code": outcome.exit_code, "signal": outcome.signal,
                    "duration_ms": outcome.duration.as_millis() as u64, "mode": mode,
                    "output_bytes": outcome.output.len(), "truncated": outcome.truncated,
                })),
        )
        .await
    }

    fn pick_block(
        &self,
        page_id: &str,
        storage: &str,
        wanted: Option<&str>,
    ) -> Result<Runbook, EngineError> {
        let mut blocks = runbooks(storage).map_err(|source| EngineError::Page {
            page_id: page_id.to_string(),
            source,
        })?;
        let names: Vec<String> = blocks.iter().map(|b| b.name.clone()).collect();
        match wanted {
            Some(name) => match blocks.iter().position(|b| b.name == name) {
                Some(i) => Ok(blocks.swap_remove(i)),
                None => Err(EngineError::NoSuchBlock {
                    page_id: page_id.to_string(),
                    requested: name.to_string(),
                    available: names,
                }),
            },
            None if blocks.len() == 1 => Ok(blocks.remove(0)),
            None if blocks.is_empty() => Err(EngineError::NoSuchBlock {
                page_id: page_id.to_string(),
                requested: String::new(),
                available: names,
            }),
            None => Err(EngineError::AmbiguousBlock {
                page_id: page_id.to_string(),
                available: names,
            }),
        }
    }
}

/// The comment is posted by the bridge's service user on behalf of the runner.
const BRIDGE_ACTOR_FOR_COMMENT: &str = crate::BRIDGE_ACTOR;
