//! This replica as a member of a cluster on a PostgreSQL store: registration and heartbeats,
//! self-fencing, the scheduler's leader election and the leader's duties.
//!
//! - **Heartbeat** every `[cluster] heartbeat_secs`. A heartbeat the store refuses means another
//!   replica declared this one dead and is recovering its runs; so does failing to record one
//!   for `dead_after_secs`. Either way this replica fences itself: it refuses new runs, stops
//!   the runs it executes (killing their scripts) and stops serving.
//! - **Leader election:** each replica tries to take the advisory lock `leader:scheduler` on a
//!   lock session of its own. The one that gets it raises the fencing epoch in
//!   `cluster_leader` and becomes the leader while its session answers. Scheduled work happens
//!   on the leader only: the daily audit (each occurrence claimed under the leader's epoch, so a
//!   leader that lost its lock without knowing cannot run it again, and marked done when it ran,
//!   so that a later leader reruns one whose leader died in it), retries of failed
//!   rotations, recovery of dead replicas' runs, and the signed checkpoints and syslog
//!   forwarding of `[audit]`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arkbridge_engine::BackgroundAudit;
use arkbridge_store::{Cluster, LockSession};
use jiff::Timestamp;
use tokio::task::JoinHandle;

use crate::AppState;
use crate::scheduler::{self, ROTATION_RETRY_PERIOD};

/// How late the leader still runs a daily audit whose time passed (after a failover, say).
pub const DAILY_CATCH_UP: Duration = Duration::from_secs(3600);

/// The job name of the daily audit in `scheduled_slots`.
pub const DAILY_JOB: &str = "daily-audit";

/// How long finished API runs (with their output) and dead replicas stay in the store.
pub const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// How often the leader prunes.
const PRUNE_PERIOD: Duration = Duration::from_secs(3600);

fn micros_now() -> i64 {
    Timestamp::now().as_microsecond()
}

fn secs(n: u64) -> i64 {
    i64::try_from(n.saturating_mul(1_000_000)).unwrap_or(i64::MAX)
}

/// The cluster tasks of this replica; dropping them stops them.
#[derive(Debug)]
pub struct ClusterTasks {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for ClusterTasks {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Registers this replica and starts its heartbeat, leader election and run claimer; `None`
/// on the embedded store.
pub async fn join(state: &AppState) -> Result<Option<ClusterTasks>, arkbridge_store::StoreError> {
    let Some(cluster) = state.bridge.cluster().cloned() else {
        return Ok(None);
    };
    let replica = state.bridge.replica().clone();
    cluster
        .register_replica(
            &replica.id,
            &replica.host,
            i32::try_from(std::process::id()).unwrap_or(0),
        )
        .await?;
    tracing::info!(replica = %replica.id, host = %replica.host, "joined the cluster");
    if state.bridge.config().daily.time_zone.is_none() {
        tracing::warn!(
            "[daily] time_zone is not set: each replica reads run_at in its own system zone; \
             set it so that every replica agrees on when the daily audit is due"
        );
    }
    let tasks = vec![
        tokio::spawn(heartbeat(state.clone(), cluster.clone())),
        tokio::spawn(lead(state.clone(), cluster.clone())),
        tokio::spawn(crate::cluster_runs::claim_loop(state.clone(), cluster)),
    ];
    Ok(Some(ClusterTasks { tasks }))
}

/// Records that this replica stopped cleanly (its runs ended).
pub async fn leave(state: &AppState) {
    if let Some(cluster) = state.bridge.cluster()
        && let Err(e) = cluster.stop_replica(&state.bridge.replica().id).await
    {
        tracing::warn!(error = %e, "cannot record this replica's stop");
    }
}

async fn heartbeat(state: AppState, cluster: Cluster) {
    let config = state.bridge.config().cluster.clone();
    let id = state.bridge.replica().id.clone();
    let every = Duration::from_secs(config.heartbeat_secs);
    let dead_after = Duration::from_secs(config.dead_after_secs);
    let mut last_ok = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(every).await;
        // A heartbeat stuck on a broken connection must not postpone the fencing decision.
        let failure = match tokio::time::timeout(every, cluster.heartbeat(&id)).await {
            Ok(Ok(true)) => {
                last_ok = tokio::time::Instant::now();
                continue;
            }
            Ok(Ok(false)) => {
                tracing::error!(replica = %id, "another replica declared this one dead and recovers its runs; fencing: stopping every run and serving");
                state.fence().await;
                return;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} s", every.as_secs()),
        };
        tracing::warn!(replica = %id, error = %failure, "cannot record a heartbeat");
        if last_ok.elapsed() >= dead_after {
            tracing::error!(replica = %id, "no heartbeat recorded for the whole timeout; fencing: stopping every run and serving");
            state.fence().await;
            return;
        }
    }
}

/// The leader's state.
struct Leadership {
    session: LockSession,
    epoch: i64,
    audit: Option<BackgroundAudit>,
    last_retry: tokio::time::Instant,
    /// The last recovery left a dead run's lease for later.
    recover_soon: bool,
    /// The zone of `[daily] run_at`.
    tz: jiff::tz::TimeZone,
    last_prune: tokio::time::Instant,
}

async fn lead(state: AppState, cluster: Cluster) {
    let config = state.bridge.config().cluster.clone();
    let id = state.bridge.replica().id.clone();
    let mut leader: Option<Leadership> = None;
    // One lock session for trying to lead, kept between tries rather than opened every time.
    let mut candidate: Option<LockSession> = None;
    loop {
        if state.shutting_down() {
            if let Some(l) = leader.take() {
                step_down(l).await;
            }
            return;
        }
        leader = match leader {
            Some(l) if l.session.alive().await => Some(l),
            Some(l) => {
                tracing::warn!(replica = %id, epoch = l.epoch, "lost the scheduler's leadership (its lock session broke)");
                step_down(l).await;
                None
            }
            None => try_lead(&state, &cluster, &id, &mut candidate).await,
        };
        if let Some(l) = &mut leader {
            duties(&state, &cluster, l).await;
        }
        tokio::time::sleep(Duration::from_secs(config.heartbeat_secs)).await;
    }
}

async fn try_lead(
    state: &AppState,
    cluster: &Cluster,
    id: &str,
    candidate: &mut Option<LockSession>,
) -> Option<Leadership> {
    let tz = match scheduler::daily_time_zone(&state.bridge.config().daily) {
        Ok(tz) => tz,
        Err(e) => {
            tracing::error!(error = %e, "this replica cannot lead the scheduled work");
            return None;
        }
    };
    if candidate.is_none() {
        *candidate = cluster.session(id).await.ok();
    }
    match candidate.as_ref()?.try_lock("leader:scheduler").await {
        Ok(true) => {}
        Ok(false) => return None,
        Err(_) => {
            // A broken session: a new one next time.
            *candidate = None;
            return None;
        }
    }
    let session = candidate.take()?;
    let epoch = match cluster.take_leadership(id).await {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "cannot record the scheduler's leadership");
            return None;
        }
    };
    tracing::info!(replica = %id, epoch, "this replica leads the scheduled work");
    let audit = match state.bridge.start_background_audit().await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the audit log's checkpoints on the leader");
            None
        }
    };
    Some(Leadership {
        session,
        epoch,
        audit,
        last_retry: tokio::time::Instant::now(),
        // A new leader recovers at once: the last one may have died with work left.
        recover_soon: true,
        tz,
        // A new leader prunes once it has led for a while, not at once.
        last_prune: tokio::time::Instant::now(),
    })
}

async fn step_down(l: Leadership) {
    if let Some(audit) = l.audit
        && let Err(e) = audit.shutdown().await
    {
        tracing::warn!(error = %e, "the leader's last checkpoint was not written");
    }
}

async fn duties(state: &AppState, cluster: &Cluster, l: &mut Leadership) {
    let id = state.bridge.replica().id.clone();
    let dead_found = recover_dead_replicas(state, cluster).await;
    // The daily audit: the latest occurrence, if it is recent and nobody ran it.
    let (hour, minute) = state.bridge.config().daily.run_at_hm();
    let now = Timestamp::now();
    let due = scheduler::previous_daily_run(now, hour, minute, &l.tz);
    let late = Duration::try_from(now.duration_since(due)).unwrap_or(Duration::ZERO);
    if due <= now && late <= DAILY_CATCH_UP {
        let slot = due.to_string();
        match cluster.claim_slot(DAILY_JOB, &slot, &id, l.epoch).await {
            Ok(true) => {
                tracing::info!(occurrence = %due, epoch = l.epoch, "running the daily audit");
                // On a task of its own, so that recovery goes on meanwhile; marked done when it
                // ends, so that a later leader reruns an occurrence whose leader died in it.
                let job_state = state.clone();
                let cluster = cluster.clone();
                tokio::spawn(async move {
                    let audit_state = job_state.clone();
                    scheduler::on_own_thread("daily-audit", async move || {
                        scheduler::run_daily_audit(&audit_state).await
                    })
                    .await;
                    if let Err(e) = cluster.complete_slot(DAILY_JOB, &slot).await {
                        tracing::warn!(error = %e, "cannot record the daily audit as done");
                    }
                });
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "cannot claim the daily audit"),
        }
    }
    // What is no longer needed goes once an hour: finished runs and their output after
    // `RETENTION`, dead replicas, completed job slots.
    if l.last_prune.elapsed() >= PRUNE_PERIOD {
        l.last_prune = tokio::time::Instant::now();
        let before = micros_now() - i64::try_from(RETENTION.as_micros()).unwrap_or(i64::MAX);
        match cluster.prune(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "pruned the cluster's finished runs and records"),
            Err(e) => tracing::warn!(error = %e, "cannot prune the cluster's records"),
        }
    }
    // Failed rotations every few minutes; sooner while a dead run's lease waits for an
    // account a live run holds, or right after a replica was found dead.
    if dead_found || l.recover_soon || l.last_retry.elapsed() >= ROTATION_RETRY_PERIOD {
        l.last_retry = tokio::time::Instant::now();
        l.recover_soon = recover_on_thread(state).await;
    }
}

/// The engine's recovery on a thread of its own; whether it should be tried again soon.
async fn recover_on_thread(state: &AppState) -> bool {
    let again = Arc::new(AtomicBool::new(false));
    let flag = again.clone();
    let job_state = state.clone();
    scheduler::on_own_thread("rotation-retry", async move || {
        flag.store(
            scheduler::retry_rotations(&job_state).await,
            Ordering::SeqCst,
        );
    })
    .await;
    again.load(Ordering::SeqCst)
}

/// Gives the runs of replicas that stopped heartbeating their final state; returns whether
/// it found any, so that their leases are recovered at once.
async fn recover_dead_replicas(state: &AppState, cluster: &Cluster) -> bool {
    let me = state.bridge.replica().id.clone();
    let dead_after = secs(state.bridge.config().cluster.dead_after_secs);
    let replicas = match cluster.replicas_with_running_runs().await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the replicas' runs");
            return false;
        }
    };
    let mut any = false;
    for replica in replicas.into_iter().filter(|r| *r != me) {
        match cluster.declare_dead_if_silent(&replica, dead_after).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "cannot check a replica");
                continue;
            }
        }
        any = true;
        let runs = cluster.running_runs_of(&replica).await.unwrap_or_default();
        for run in runs {
            let message = format!(
                "replica {replica} stopped during the run; the run was not executed again and its credentials were recovered"
            );
            let record = serde_json::json!({
                "id": run.id, "status": "error", "page_id": run.page_id, "block": run.block,
                "user": run.owner, "error": message, "replica": replica,
            });
            match cluster
                .finish_api_run(&run.id, "error", &record.to_string(), micros_now())
                .await
            {
                Ok(true) => {
                    state.metrics.run_finished("error");
                    tracing::warn!(run = %run.id, replica = %replica, "ended a dead replica's run");
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(run = %run.id, error = %e, "cannot end a dead replica's run")
                }
            }
        }
    }
    any
}
