//! A run's private directory: script, home and secret files, removed when dropped.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use tempfile::TempDir;

/// The private directory of one run.
#[derive(Debug)]
pub struct Workspace {
    dir: TempDir,
    home: PathBuf,
}

impl Workspace {
    /// Creates the directory on a memory filesystem when one is writable (`/dev/shm`, then
    /// `$XDG_RUNTIME_DIR`), else in the system temp directory. Its name starts with
    /// `arkbridge-run-RUN_ID-`.
    pub fn create(run_id: &str) -> std::io::Result<Workspace> {
        let prefix = prefix(run_id);
        let dir = Self::bases()
            .into_iter()
            .find_map(|base| {
                tempfile::Builder::new()
                    .prefix(&prefix)
                    .tempdir_in(base)
                    .ok()
            })
            .map(Ok)
            .unwrap_or_else(|| tempfile::Builder::new().prefix(&prefix).tempdir())?;
        set_mode(dir.path(), 0o700)?;
        let home = dir.path().join("home");
        DirBuilder::new().mode(0o700).create(&home)?;
        DirBuilder::new()
            .mode(0o700)
            .create(dir.path().join("secrets"))?;
        Ok(Workspace { dir, home })
    }

    /// Removes every directory of `run_id` under the places [`Workspace::create`] uses.
    pub(crate) fn remove_leftovers(run_id: &str) -> usize {
        let prefix = prefix(run_id);
        let mut bases = Self::bases();
        bases.push(std::env::temp_dir());
        let mut removed = 0;
        for base in bases {
            for e in fs::read_dir(&base).into_iter().flatten().flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix)
                    && fs::remove_dir_all(e.path()).is_ok()
                {
                    removed += 1;
                }
            }
        }
        removed
    }

    fn bases() -> Vec<PathBuf> {
        let mut v = vec![PathBuf::from("/dev/shm")];
        if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR") {
            v.push(PathBuf::from(x));
        }
        v
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    pub(crate) fn write_script(&self, script: &str) -> std::io::Result<PathBuf> {
        let path = self.dir.path().join("script");
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o500)
            .open(&path)?;
        f.write_all(script.as_bytes())?;
        Ok(path)
    }

    pub(crate) fn write_secret(
        &self,
        name: &str,
        value: &SecretString,
    ) -> std::io::Result<PathBuf> {
        let path = self.dir.path().join("secrets").join(name);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(value.expose_secret().as_bytes())?;
        Ok(path)
    }
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

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}
