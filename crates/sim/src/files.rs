//! Atomic file writes: write a temporary file beside the target, then rename it over the target,
//! so a watcher never sees a half-written file.

use std::io::Write;
use std::path::Path;

use crate::error::SimError;

/// Writes `contents` to `path` atomically. With `private`, the file is created with mode 0600
/// (on Unix) before any byte is written.
pub(crate) fn write_atomic(path: &Path, contents: &[u8], private: bool) -> Result<(), SimError> {
    let err = |source| SimError::WriteFile {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", uuid::Uuid::new_v4().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}
