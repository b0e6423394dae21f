//! Run and account locks, whichever store the bridge uses. On the embedded SQLite store a run
//! holds `flock`s in the data folder (`lock.rs`, `lease_lock.rs`): one host, one set of files.
//! On PostgreSQL, where replicas on several hosts share the store, the same locks are advisory
//! locks on a connection the run holds for its whole life (`arkbridge_store::LockSession`):
//! `run:<id>` while the run lives and `account:<safe/object>` for each account it may rotate.
//! Either way the lock goes when its process dies (the kernel closes the file or the socket),
//! which is what tells crash recovery that a run is dead.
//!
//! On PostgreSQL a free run lock is not enough to recover a run of another replica that has
//! not ended: that replica must also have missed its heartbeats for `[cluster]
//! dead_after_secs` (a connection can break while the process lives on). Recovery then declares
//! it dead, which fences it: its next heartbeat is refused and it stops its runs. A run that
//! executes in this process is never taken for dead; and a run that loses its lock session
//! stops at once (`RunHold::lost`), leaving its leases to recovery.

use std::sync::Arc;
use std::time::Duration;

use arkbridge_store::{Cluster, LockSession, RunOwner, Store};

use crate::lease_lock::{self, AccountLocks, LockError, POLL};
use crate::{Bridge, EngineError, lock, now_micros};

/// This process as a member of a cluster: an id of its own and its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    pub id: String,
    pub host: String,
}

impl Replica {
    pub(crate) fn this_process() -> Replica {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        Replica {
            id: uuid::Uuid::new_v4().to_string(),
            host,
        }
    }
}

/// A held run lock; dropping it releases the run's locks (and, on PostgreSQL, its accounts').
/// The values are held only to be dropped.
#[derive(Debug)]
pub(crate) enum RunHold {
    File(#[allow(dead_code, reason = "held for its Drop")] lock::RunLock),
    Session(Arc<LockSession>),
}

/// How often a run checks that its lock session still answers.
const SESSION_CHECK: Duration = Duration::from_secs(5);

impl RunHold {
    /// Completes when the run's locks are lost: never for `flock`s (they go only with the
    /// process), when the lock session stops answering on PostgreSQL.
    pub(crate) async fn lost(&self) {
        match self {
            RunHold::File(_) => std::future::pending().await,
            RunHold::Session(session) => loop {
                tokio::time::sleep(SESSION_CHECK).await;
                if !session.alive().await {
                    return;
                }
            },
        }
    }
}

/// Marks a run as executing in this process until dropped (`Bridge::mark_active`).
pub(crate) struct ActiveRun<'a> {
    runs: &'a std::sync::Mutex<std::collections::HashSet<String>>,
    id: String,
}

impl Drop for ActiveRun<'_> {
    fn drop(&mut self) {
        self.runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

impl<S: Store> Bridge<S> {
    /// Records that `run_id` executes in this process, so that recovery never takes it for
    /// dead, even if its locks were lost.
    pub(crate) fn mark_active(&self, run_id: &str) -> ActiveRun<'_> {
        self.active_runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(run_id.to_string());
        ActiveRun {
            runs: &self.active_runs,
            id: run_id.to_string(),
        }
    }

    fn is_active(&self, run_id: &str) -> bool {
        self.active_runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(run_id)
    }

    /// This process's identity among the replicas.
    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// What replicas sharing the store cooperate through; `None` on the embedded store.
    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    /// Takes the lock of `run_id`, or `None` if a live process holds it.
    pub(crate) async fn try_hold_run(&self, run_id: &str) -> Result<Option<RunHold>, EngineError> {
        let Some(cluster) = &self.cluster else {
            return lock::try_lock(&self.locks_dir, run_id)
                .map(|held| held.map(RunHold::File))
                .map_err(|e| {
                    EngineError::Setup(format!("cannot use the lock of run {run_id}: {e}"))
                });
        };
        let session = cluster.session(&self.replica.id).await?;
        if session.try_lock(&format!("run:{run_id}")).await? {
            Ok(Some(RunHold::Session(Arc::new(session))))
        } else {
            Ok(None)
        }
    }

    /// Records that this replica executes `run_id` (PostgreSQL only).
    pub(crate) async fn own_run(&self, run_id: &str) -> Result<(), EngineError> {
        if let Some(cluster) = &self.cluster {
            let owner = RunOwner {
                replica_id: self.replica.id.clone(),
                host: self.replica.host.clone(),
            };
            cluster.set_run_owner(run_id, &owner, now_micros()).await?;
        }
        Ok(())
    }

    /// Whether the run's lock being free means it is dead: always on the embedded store; on
    /// PostgreSQL only if it is this replica's or its replica missed its heartbeats (which
    /// declares that replica dead). Also returns whether the run's processes are on this host.
    pub(crate) async fn run_is_dead(&self, run_id: &str) -> Result<(bool, bool), EngineError> {
        if self.is_active(run_id) {
            return Ok((false, true));
        }
        let Some(cluster) = &self.cluster else {
            return Ok((true, true));
        };
        let Some(owner) = cluster.run_owner(run_id).await? else {
            // No owner on record: a run that died before it recorded one, on this host or not.
            return Ok((true, false));
        };
        let here = owner.host == self.replica.host;
        if owner.replica_id == self.replica.id {
            return Ok((true, here));
        }
        // A run that ended executes nowhere: what is left are leases whose rotation failed,
        // which any replica may retry (under the run's lock and the accounts').
        let ended = self
            .store
            .get_run(run_id)
            .await?
            .is_some_and(|r| r.status != arkbridge_store::RunStatus::Running);
        if ended {
            return Ok((true, here));
        }
        let dead_after = self
            .config
            .cluster
            .dead_after_secs
            .saturating_mul(1_000_000);
        let dead = cluster
            .declare_dead_if_silent(
                &owner.replica_id,
                i64::try_from(dead_after).unwrap_or(i64::MAX),
            )
            .await?;
        Ok((dead, here))
    }

    /// Takes the locks of `accounts` for the run holding `hold`, waiting at most `wait`.
    pub(crate) async fn lock_accounts_held(
        &self,
        hold: &RunHold,
        run_id: &str,
        accounts: &[String],
        wait: Duration,
    ) -> Result<AccountLocks, LockError> {
        let session = match hold {
            RunHold::File(_) => {
                return lease_lock::lock_accounts(&self.locks_dir, run_id, accounts, wait).await;
            }
            RunHold::Session(s) => s,
        };
        let mut keys: Vec<(String, &String)> =
            accounts.iter().map(|a| (a.to_lowercase(), a)).collect();
        keys.sort();
        keys.dedup_by(|a, b| a.0 == b.0);
        let give_up = crate::ttl::after(wait);
        let started = tokio::time::Instant::now();
        let mut locks = AccountLocks::default();
        let store = |e: arkbridge_store::StoreError| LockError::Store(e.to_string());
        for (key, account) in keys {
            // Held by the session until the run ends: the session's close releases them.
            while !session
                .try_lock(&format!("account:{key}"))
                .await
                .map_err(store)?
            {
                if tokio::time::Instant::now() >= give_up {
                    return Err(LockError::Busy {
                        account: account.clone(),
                        holder: None,
                        waited: started.elapsed(),
                    });
                }
                if !locks.waited {
                    tracing::info!(run_id, account = %account, wait_secs = wait.as_secs(), "waiting for an account in use");
                }
                locks.waited = true;
                tokio::time::sleep(
                    POLL.min(give_up.saturating_duration_since(tokio::time::Instant::now())),
                )
                .await;
            }
        }
        Ok(locks)
    }
}
