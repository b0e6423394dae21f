//! A run's private directory: script, home and secret files, removed when dropped.
//!
//! The directory (mode 0700) is made on a memory filesystem: `/dev/shm`, else
//! `$XDG_RUNTIME_DIR`, whichever is a tmpfs (or ramfs) where a directory can be made. Without
//! one, a run with `secret-file` bindings is refused, so that no secret is ever written to a
//! disk; a run without them falls back to the system temp directory.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::statfs::{FsType, TMPFS_MAGIC, statfs};
use secrecy::{ExposeSecret, SecretString};

/// ramfs's magic number (nix names tmpfs's only).
const RAMFS_MAGIC: FsType = FsType(0x8584_58f6);

/// The private directory of one run.
#[derive(Debug)]
pub struct Workspace {
    /// Always `Some` until dropped.
    dir: Option<tempfile::TempDir>,
    home: PathBuf,
}

impl Workspace {
    /// Creates the directory (see the module's documentation); its name starts with
    /// `arkbridge-run-RUN_ID-`. `for_secret_files`: fail rather than fall back to a disk.
    pub fn create(run_id: &str, for_secret_files: bool) -> std::io::Result<Workspace> {
        let prefix = prefix(run_id);
        let on_memory = Self::bases().into_iter().find_map(|base| {
            tempfile::Builder::new()
                .prefix(&prefix)
                .tempdir_in(base)
                .ok()
        });
        let dir = match on_memory {
            Some(dir) => dir,
            None if for_secret_files => {
                return Err(std::io::Error::other(
                    "no memory filesystem for secret files: neither /dev/shm nor \
                     $XDG_RUNTIME_DIR is a writable tmpfs",
                ));
            }
            None => tempfile::Builder::new().prefix(&prefix).tempdir()?,
        };
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700))?;
        let home = dir.path().join("home");
        DirBuilder::new().mode(0o700).create(&home)?;
        DirBuilder::new()
            .mode(0o700)
            .create(dir.path().join("secrets"))?;
        Ok(Workspace {
            dir: Some(dir),
            home,
        })
    }

    /// Removes every directory of `run_id` under the places [`Workspace::create`] uses.
    pub(crate) fn remove_leftovers(run_id: &str) -> usize {
        let prefix = prefix(run_id);
        let mut bases = Self::bases();
        bases.push(std::env::temp_dir());
        let mut removed = 0;
        for base in bases {
            for e in fs::read_dir(&base).into_iter().flatten().flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) && remove(&e.path()) {
                    removed += 1;
                }
            }
        }
        removed
    }

    /// The memory filesystems a workspace may live on, in order of preference.
    fn bases() -> Vec<PathBuf> {
        let mut v = vec![PathBuf::from("/dev/shm")];
        if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR") {
            v.push(PathBuf::from(x));
        }
        v.retain(|p| {
            statfs(p.as_path()).is_ok_and(|s| {
                let t = s.filesystem_type();
                t == TMPFS_MAGIC || t == RAMFS_MAGIC
            })
        });
        v
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("present until dropped").path()
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Writes the script, read-only, under `name`.
    pub(crate) fn write_script(&self, name: &str, script: &str) -> std::io::Result<PathBuf> {
        let path = self.path().join(name);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o500)
            .open(&path)?;
        f.write_all(script.as_bytes())?;
        Ok(path)
    }

    /// Writes a secret to `secrets/NAME`, mode 0600. `name` is a checked variable name.
    pub(crate) fn write_secret(
        &self,
        name: &str,
        value: &SecretString,
    ) -> std::io::Result<PathBuf> {
        let path = self.path().join("secrets").join(name);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(value.expose_secret().as_bytes())?;
        Ok(path)
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let path = dir.keep();
            if !remove(&path) {
                // The path names no secret; what is left is removed at the next start.
                tracing::warn!(path = %path.display(), "cannot remove a run's private directory");
            }
        }
    }
}

/// Removes a directory tree. The script may have taken the write or search permission off
/// directories it made: those are given back first when a plain removal fails.
fn remove(path: &Path) -> bool {
    if fs::remove_dir_all(path).is_ok() {
        return true;
    }
    let _ = restore_permissions(path);
    fs::remove_dir_all(path).is_ok() || !path.exists()
}

fn restore_permissions(dir: &Path) -> std::io::Result<()> {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    for e in fs::read_dir(dir)?.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = restore_permissions(&e.path());
        }
    }
    Ok(())
}

fn prefix(run_id: &str) -> String {
    let safe: String = run_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("arkbridge-run-{safe}-")
}
