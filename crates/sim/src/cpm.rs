//! The simulated Central Policy Manager: carries out `Change` requests asynchronously.
//!
//! A request marks the account `inProcess` at once (done by the PVWA handler); after
//! `cpm_delay` the CPM sets a new random secret, marks the change `success` and updates
//! `lastModifiedTime`. A linked credential (the PVWA user's password or the Confluence user's API
//! token that the account's secret *is*) changes with it.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use zeroize::Zeroizing;

use crate::state::{self, Activity, Link};
use crate::world::{CpmJob, World};

/// Simulator-specific activity code (not taken from a real Vault).
pub(crate) const ACTION_CPM_CHANGE: (&str, u32) = ("CPM Change Password", 38);

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
                            tokio::time::sleep(delay).await;
                            complete(&world, &job.account_id);
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

/// Finishes a change: new secret, status `success`.
fn complete(world: &World, account_id: &str) {
    let mut vault = world.vault();
    let Some(i) = vault.account_index(account_id) else {
        return;
    };
    let link = vault.accounts[i].link.clone();
    let new_secret = Zeroizing::new(match link {
        Some(Link::ConfluenceUser(_)) => state::random_api_token(),
        _ => state::random_password(),
    });
    let now = state::now_epoch();
    let account = &mut vault.accounts[i];
    account.secret = SecretString::from(new_secret.as_str());
    account.last_modified = now;
    account.cpm.in_process = false;
    account.cpm.status = Some("success");
    account.cpm.last_task = Some("ChangeTask");
    account.cpm.last_success_change = Some(now);
    account.log(Activity {
        date: now,
        user: "PasswordManager".into(),
        action: ACTION_CPM_CHANGE.0,
        action_id: ACTION_CPM_CHANGE.1,
        client_id: "CPM",
        alert: false,
        more_info: String::new(),
        reason: String::new(),
    });
    tracing::debug!(account = account_id, "CPM: password changed");
    match link {
        Some(Link::PvwaUser(name)) => {
            if let Some(u) = vault.user_mut(&name) {
                u.password = SecretString::from(new_secret.as_str());
            }
        }
        Some(Link::ConfluenceUser(email)) => {
            drop(vault);
            if let Some(u) = world.wiki().user_mut(&email) {
                u.token = Some(SecretString::from(new_secret.as_str()));
            }
        }
        None => {}
    }
}
