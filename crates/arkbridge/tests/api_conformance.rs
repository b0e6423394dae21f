//! schemathesis against `arkbridge serve`: runs `conformance/api_schemathesis.py`, which starts
//! `arkbridge sim` and `arkbridge serve` as processes and checks every operation of the OpenAPI
//! document the server serves (generated requests and a real run), in the pinned conformance
//! venv that `conformance.rs` also uses (created on first use by `conformance/setup-venv.sh`).

mod conformance_support;

use conformance_support::pytest;

#[test]
fn schemathesis_accepts_the_served_api_document() {
    let (passed, text) = pytest("conformance/api_schemathesis.py");
    assert!(passed, "the API conformance run failed:\n{text}");
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
