//! The simulated Central Policy Manager: carries out change, verify and reconcile requests
//! asynchronously.
//!
//! A request marks the account `inProcess` at once (done by the PVWA handler). A change or
//! reconcile immediately stores the new value as a *temporary* secret version; after `cpm_delay`
//! the CPM either succeeds (the value becomes the current secret, status `success`,
//! `lastModifiedTime` moves) or — as often as the `cpm_failure_rate` fault says — fails (status
//! `failure`, the temporary version disappears, the secret is unchanged). A linked credential
//! (the PVWA user's password or the Confluence user's API token that the account's secret *is*)
//! changes with it. `SetNextPassword` values are used instead of a random one.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use zeroize::Zeroizing;

use crate::activity::Activity;
use crate::state::{self, Link, SecretVersion};
use crate::world::{CpmJob, CpmTask, World};

/// Simulator-specific activity codes (not taken from a real Vault).
pub(crate) const ACTION_CPM_CHANGE: (&str, u32) = ("CPM Change Password", 38);
pub(crate) const ACTION_CPM_VERIFY: (&str, u32) = ("CPM Verify Password", 39);
pub(crate) const ACTION_CPM_RECONCILE: (&str, u32) = ("CPM Reconcile Password", 40);

const CPM_USER: &str = "PasswordManager";

/// Runs the CPM until `shutdown` turns true.
pub(crate) fn spawn(
    world: Arc<World>,
    mut jobs: mpsc::UnboundedReceiver<CpmJob>,
    delay: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut running = JoinSet::new();
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                job = jobs.recv() => match job {
                    Some(job) => {
                        let world = world.clone();
                        running.spawn(async move {
                            let value = begin(&world, &job);
                            tokio::time::sleep(delay).await;
                            complete(&world, &job, value);
                        });
                    }
                    None => break,
                },
                Some(_) = running.join_next(), if !running.is_empty() => {}
            }
        }
        running.abort_all();
        tracing::debug!("CPM stopped");
    })
}

/// The new value of a change or reconcile, with whether it came from `SetNextPassword`.
struct NewValue {
    value: Zeroizing<String>,
    specified: bool,
}

/// Starts a change or reconcile: picks the new value and stores it as a temporary version.
fn begin(world: &World, job: &CpmJob) -> Option<NewValue> {
    if job.task == CpmTask::Verify {
        return None;
    }
    let mut vault = world.vault();
    let i = vault.account_index(&job.account_id)?;
    let account = &mut vault.accounts[i];
    let (value, specified) = match account.next_secret.take() {
        Some(next) => (Zeroizing::new(next.expose_secret().to_string()), true),
        None => match account.link {
            Some(Link::ConfluenceUser(_)) => (Zeroizing::new(state::random_api_token()), false),
            _ => (Zeroizing::new(state::random_password()), false),
        },
    };
    account.versions.retain(|v| !v.temporary);
    let id = account.next_version_id();
    account.versions.push(SecretVersion {
        id,
        secret: SecretString::from(value.as_str()),
        modified: state::now_epoch(),
        modified_by: CPM_USER.into(),
        temporary: true,
    });
    Some(NewValue { value, specified })
}

/// Finishes a task: success or (per the failure rate) failure.
fn complete(world: &World, job: &CpmJob, value: Option<NewValue>) {
    let failed = {
        let mut st = world.faults();
        let rate = st.faults.cpm_failure_rate;
        rate > 0.0 && st.cpm_tasks.hit(rate)
    };
    let mut vault = world.vault();
    let Some(i) = vault.account_index(&job.account_id) else {
        return;
    };
    let now = state::now_epoch();
    let action = match job.task {
        CpmTask::Change => ACTION_CPM_CHANGE,
        CpmTask::Verify => ACTION_CPM_VERIFY,
        CpmTask::Reconcile => ACTION_CPM_RECONCILE,
    };
    let task_name = job.task.name();
    let mut activity = Activity::now(CPM_USER, action, "CPM");
    if failed {
        activity.action = match job.task {
            CpmTask::Change => "CPM Change Password Failed",
            CpmTask::Verify => "CPM Verify Password Failed",
            CpmTask::Reconcile => "CPM Reconcile Password Failed",
        };
        activity.alert = true;
        activity.more_info = "Simulated CPM failure (cpm-failure-rate fault)".into();
    }
    vault.log(i, activity);
    let account = &mut vault.accounts[i];
    account.cpm.in_process = false;
    account.cpm.pending = None;
    account.cpm.last_task = Some(task_name);
    account.cpm.status = Some(if failed { "failure" } else { "success" });
    if failed {
        account.versions.retain(|v| !v.temporary);
        if let Some(v) = value.filter(|v| v.specified) {
            account.next_secret = Some(SecretString::from(v.value.as_str()));
        }
        tracing::debug!(
            account = job.account_id,
            task = task_name,
            "CPM: task failed"
        );
        return;
    }
    match job.task {
        CpmTask::Verify => account.cpm.last_verified = Some(now),
        CpmTask::Change => account.cpm.last_success_change = Some(now),
        CpmTask::Reconcile => {
            account.cpm.last_reconciled = Some(now);
            account.cpm.last_success_change = Some(now);
        }
    }
    tracing::debug!(account = job.account_id, task = task_name, "CPM: task done");
    if let Some(v) = value {
        world.set_account_secret(vault, i, &v.value, CPM_USER);
    }
}
