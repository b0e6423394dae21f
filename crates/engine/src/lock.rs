//! Run locks: a run holds an exclusive `flock` on `runs/<run id>.lock` in the data folder for as
//! long as it lives. The kernel drops the lock when the process dies, so a lease whose run's lock
//! can be taken belongs to a crashed run, while a lease of a run in progress elsewhere is left
//! alone.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

/// A held run lock. Dropping it releases the lock and removes the file.
#[derive(Debug)]
pub(crate) struct RunLock {
    _lock: Flock<File>,
    path: PathBuf,
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Takes the lock of `run_id`, or `None` if another live process holds it.
pub(crate) fn try_lock(dir: &Path, run_id: &str) -> std::io::Result<Option<RunLock>> {
    let path = dir.join(format!("{run_id}.lock"));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(Some(RunLock { _lock: lock, path })),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(std::io::Error::from(e)),
    }
}
