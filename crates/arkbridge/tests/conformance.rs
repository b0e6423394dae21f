//! Real third-party clients against `arkbridge sim`: runs the Python suite in `conformance/`
//! (pyaim for the CCP, aiobastion for the PVWA and CCP) with pinned versions in a venv under the target folder. The venv
//! is created on first use by `conformance/setup-venv.sh`, which `.ci/run` also calls.

mod conformance_support;

use conformance_support::pytest;

#[test]
fn third_party_clients_accept_the_simulators() {
    let (passed, text) = pytest("conformance");
    assert!(passed, "the conformance suite failed:\n{text}");
    assert!(
        text.contains(" passed"),
        "the conformance suite ran no test:\n{text}"
    );
}
