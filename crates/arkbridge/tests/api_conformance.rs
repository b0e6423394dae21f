//! schemathesis against `arkbridge serve`: runs `conformance/api_schemathesis.py`, which starts
//! `arkbridge sim` and `arkbridge serve` as processes and checks every operation of the OpenAPI
//! document the server serves (generated requests and a real run), in the pinned conformance
//! venv that `conformance.rs` also uses (created on first use by `conformance/setup-venv.sh`).

use std::path::Path;
use std::process::Command;

#[test]
fn schemathesis_accepts_the_served_api_document() {
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
        .arg(repo.join("conformance/api_schemathesis.py"))
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
        "the API conformance run failed:\n{text}"
    );
    // Every operation of the document is fuzzed, plus the document and real-call checks.
    let doc: serde_json::Value = serde_json::from_str(arkbridge_server::OPENAPI).unwrap();
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert!(
        text.contains(&format!("{} passed", operations + 2)),
        "the API conformance run did not run every case:\n{text}"
    );
}
