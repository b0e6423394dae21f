//! Runs a pytest target of `conformance/` in the pinned conformance venv (created on first use
//! by `conformance/setup-venv.sh`, which `.ci/run` also calls), with the real binary.

use std::path::Path;
use std::process::Command;

/// Runs pytest on `target` (a path under `conformance/`); returns whether it passed and its
/// output.
pub(crate) fn pytest(target: &str) -> (bool, String) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("conformance-venv");
    let setup = Command::new("bash")
        .arg(repo.join("conformance/setup-venv.sh"))
        .arg(&venv)
        .status()
        .expect("bash runs");
    assert!(
        setup.success(),
        "creating the conformance venv failed (python3 with venv and pip is needed)"
    );
    let out = Command::new(venv.join("bin/python"))
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(repo.join(target))
        .env("ARKBRIDGE_BIN", env!("CARGO_BIN_EXE_arkbridge"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("pytest runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
