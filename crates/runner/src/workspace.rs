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
    /// `$XDG_RUNTIME_DIR`), else in the system temp directory.
    pub fn create() -> std::io::Result<Workspace> {
        let dir = Self::bases()
            .into_iter()
            .find_map(|base| {
                tempfile::Builder::new()
                    .prefix("arkbridge-run-")
                    .tempdir_in(base)
                    .ok()
            })
            .map(Ok)
            .unwrap_or_else(|| tempfile::Builder::new().prefix("arkbridge-run-").tempdir())?;
        set_mode(dir.path(), 0o700)?;
        let home = dir.path().join("home");
        DirBuilder::new().mode(0o700).create(&home)?;
        DirBuilder::new()
            .mode(0o700)
            .create(dir.path().join("secrets"))?;
        Ok(Workspace { dir, home })
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

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}
