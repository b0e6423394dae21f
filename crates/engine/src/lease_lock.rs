//! Account locks: two runs that need the same `after-run` or `checkin` account never hold it at
//! the same time, so one run's rotation cannot change a password under the other mid-flight.
//!
//! A run holds an exclusive `flock` on `runs/account-<hash>.lease` in the data folder for each
//! such account, from before its credentials are requested until its leases are settled. The
//! kernel drops a lock when its process dies, so a crashed holder never blocks anyone; the file
//! names the holder's run id for the waiting run's error message. Files are named by a hash of
//! the account's lower-case `safe/object` (CyberArk compares names ignoring case) and are never
//! removed: removing a lock file someone waits on would let a third run lock a new file of the
//! same name while the second holds the old one.
//!
//! A run takes its accounts in sorted order, so two runs needing the same two accounts cannot
//! each hold one and wait for the other. A waiting run tries again every [`POLL`] on tokio's
//! clock, up to the configured wait.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest, Sha256};

/// How often a waiting run tries the lock again.
pub(crate) const POLL: Duration = Duration::from_millis(200);

/// The account locks a run holds; dropping it releases them all.
#[derive(Debug, Default)]
pub(crate) struct AccountLocks {
    held: Vec<Flock<File>>,
    /// Whether taking them meant waiting for another run.
    pub(crate) waited: bool,
}

impl AccountLocks {
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.held.len()
    }
}

/// Why a run could not take an account's lock.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    #[error("account {account} is in use by {}; waited {} s", holder_text(.holder), .waited.as_secs())]
    Busy {
        account: String,
        holder: Option<String>,
        waited: Duration,
    },
    #[error("cannot use the account locks in the store: {0}")]
    Store(String),
    #[error("cannot use the lock file {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn holder_text(holder: &Option<String>) -> String {
    match holder {
        Some(run) => format!("run {run}"),
        None => "another run".into(),
    }
}

/// Takes the locks of `accounts` (`Safe/Object`, any case) for `run_id`, waiting at most `wait`
/// in all for accounts other runs hold.
pub(crate) async fn lock_accounts(
    dir: &Path,
    run_id: &str,
    accounts: &[String],
    wait: Duration,
) -> Result<AccountLocks, LockError> {
    let mut keys: Vec<(String, &String)> = accounts.iter().map(|a| (a.to_lowercase(), a)).collect();
    keys.sort();
    keys.dedup_by(|a, b| a.0 == b.0);
    let give_up = crate::ttl::after(wait);
    let started = tokio::time::Instant::now();
    let mut locks = AccountLocks::default();
    for (key, account) in keys {
        let path = dir.join(format!(
            "account-{}.lease",
            hex::encode(Sha256::digest(&key))
        ));
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut lock = loop {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(&path)
                .map_err(io)?;
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => break lock,
                Err((mut file, nix::errno::Errno::EWOULDBLOCK)) => {
                    if tokio::time::Instant::now() >= give_up {
                        return Err(LockError::Busy {
                            account: account.clone(),
                            holder: read_holder(&mut file),
                            waited: started.elapsed(),
                        });
                    }
                    if !locks.waited {
                        tracing::info!(
                            run_id,
                            account = %account,
                            holder = %holder_text(&read_holder(&mut file)),
                            wait_secs = wait.as_secs(),
                            "waiting for an account in use"
                        );
                    }
                    locks.waited = true;
                    tokio::time::sleep(
                        POLL.min(give_up.saturating_duration_since(tokio::time::Instant::now())),
                    )
                    .await;
                }
                Err((_, e)) => return Err(io(std::io::Error::from(e))),
            }
        };
        write_holder(&mut lock, run_id).map_err(io)?;
        locks.held.push(lock);
    }
    Ok(locks)
}

/// Names the holder in the file, for the error message of whoever waits.
fn write_holder(file: &mut File, run_id: &str) -> std::io::Result<()> {
    file.set_len(0)?;
    file.rewind()?;
    file.write_all(run_id.as_bytes())
}

fn read_holder(file: &mut File) -> Option<String> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.take(200).read_to_string(&mut text).ok()?;
    let text = text.trim();
    // A run id is a UUID; anything else is not quoted back.
    (!text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn second_run_fails_after_the_wait_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let wait = Duration::from_secs(300);
        let first = lock_accounts(
            dir.path(),
            "run-a",
            &accounts(&["Prod-DB/payments-db"]),
            wait,
        )
        .await
        .unwrap();
        assert_eq!(first.len(), 1);
        assert!(!first.waited);
        let t0 = tokio::time::Instant::now();
        let e = lock_accounts(
            dir.path(),
            "run-b",
            &accounts(&["prod-db/PAYMENTS-DB"]),
            wait,
        )
        .await
        .unwrap_err();
        assert_eq!(t0.elapsed(), wait, "it waited exactly the configured time");
        assert_eq!(
            e.to_string(),
            "account prod-db/PAYMENTS-DB is in use by run run-a; waited 300 s"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_run_proceeds_once_the_holder_releases() {
        let dir = tempfile::tempdir().unwrap();
        let wait = Duration::from_secs(300);
        let account = accounts(&["Prod-DB/payments-db"]);
        let first = lock_accounts(dir.path(), "run-a", &account, wait)
            .await
            .unwrap();
        let release = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(first);
        };
        let t0 = tokio::time::Instant::now();
        let (second, ()) =
            tokio::join!(lock_accounts(dir.path(), "run-b", &account, wait), release);
        let second = second.unwrap();
        assert!(second.waited);
        let waited = t0.elapsed();
        assert!(
            waited >= Duration::from_secs(5) && waited <= Duration::from_secs(5) + POLL,
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn different_accounts_do_not_wait_for_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let wait = Duration::from_secs(1);
        let _a = lock_accounts(dir.path(), "run-a", &accounts(&["Prod-DB/a"]), wait)
            .await
            .unwrap();
        let b = lock_accounts(dir.path(), "run-b", &accounts(&["Prod-DB/b"]), wait)
            .await
            .unwrap();
        assert!(!b.waited);
    }

    #[tokio::test(start_paused = true)]
    async fn one_account_named_twice_is_locked_once() {
        let dir = tempfile::tempdir().unwrap();
        let locks = lock_accounts(
            dir.path(),
            "run-a",
            &accounts(&["Prod-DB/a", "PROD-DB/A"]),
            Duration::ZERO,
        )
        .await
        .unwrap();
        assert_eq!(locks.len(), 1);
    }

    /// A holder that died leaves its run id in the file, but the kernel closed its descriptor
    /// (as dropping does here), so the account is free at once.
    #[tokio::test(start_paused = true)]
    async fn dead_holders_lock_is_free() {
        let dir = tempfile::tempdir().unwrap();
        let account = accounts(&["Prod-DB/payments-db"]);
        let dead = lock_accounts(dir.path(), "run-dead", &account, Duration::ZERO)
            .await
            .unwrap();
        drop(dead);
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(files.len(), 1);
        assert_eq!(
            std::fs::read_to_string(files[0].path()).unwrap(),
            "run-dead"
        );
        let next = lock_accounts(dir.path(), "run-b", &account, Duration::ZERO)
            .await
            .unwrap();
        assert!(!next.waited);
    }
}
