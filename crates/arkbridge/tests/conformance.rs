//! Real third-party clients against `arkbridge sim`: runs the Python suite in `conformance/`
//! (pyaim for the CCP, aiobastion for the PVWA and CCP) with pinned versions in a venv under the target folder. The venv
//! is created on first use by `conformance/setup-venv.sh`, which `.ci/run` also calls.

use std::path::Path;
use std::process::Command;

#[test]
fn third_party_clients_accept_the_simulators() {
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
        .arg(repo.join("conformance"))
        .env("ARKBRIDGE_BIN", env!("CARGO_BIN_EXE_arkbridge"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("pytest runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the conformance suite failed:\n{text}"
    );
    assert!(
        text.contains(" passed"),
        "the conformance suite ran no test:\n{text}"
    );
}
