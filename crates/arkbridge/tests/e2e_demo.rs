//! `arkbridge demo --once`, the README's first command, through the real binary: the demo users
//! sign in at the simulated OIDC provider (device authorization grant, ID tokens verified against
//! its JWKS), carol approves, alice runs, bob is denied, and the audit names them by the provider;
//! and a web UI address the simulated provider would not send sign-ins back to is refused.

mod support;

use support::*;

#[test]
fn demo_signs_users_in_through_oidc_and_runs_the_approved_block() {
    let root = test_root();
    let r = root.path();
    let dir = r.join("demo");
    let out = arkbridge(
        r,
        "demo",
        &["demo", "--once", "--dir", dir.to_str().unwrap()],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");

    for who in ["alice@example.com", "carol@example.com", "bob@example.com"] {
        assert!(
            stdout.contains(&format!("{who} signed in with code"))
                && stdout.contains("ID token verified against the provider's JWKS"),
            "{stdout}"
        );
    }
    // The development identity is not what the demo runs on.
    assert!(!stderr.contains("local-trusted"), "{stderr}");
    assert!(
        stdout.contains("carol@example.com (change-approvers) approved block `restart`"),
        "{stdout}"
    );
    assert!(stdout.contains(": succeeded (exit code 0)"), "{stdout}");
    assert!(stdout.contains("DB_PASSWORD=*****"), "{stdout}");
    // The audit table names alice by her e-mail, as her token gave it.
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("alice@example.com") && l.contains("credential.issued")),
        "{stdout}"
    );
    let (_, bob) = stdout
        .split_once("bob@example.com (group developers) asks")
        .expect("the demo shows bob's attempt");
    assert!(bob.contains("denied:"), "{bob}");
    assert!(!bob.contains("UNEXPECTED"), "{bob}");

    // The OIDC config the demo ran on is there for the next commands; no token reached a file.
    let config = std::fs::read_to_string(dir.join("arkbridge-oidc.toml")).unwrap();
    assert!(config.contains("provider = \"oidc\""), "{config}");
    // A JWT's header is base64url of `{"alg"` or `{"kid"`/`{"typ"`: none is in any file.
    for header in [&b"eyJhbGci"[..], b"eyJraWQi", b"eyJ0eXAi"] {
        assert_eq!(
            files_containing(&[r], header),
            Vec::<std::path::PathBuf>::new()
        );
    }
}

#[test]
fn demo_refuses_a_web_ui_address_off_127_0_0_1_before_starting_anything() {
    let root = test_root();
    let r = root.path();
    let dir = r.join("demo");
    let out = arkbridge(
        r,
        "demo-listen",
        &[
            "demo",
            "--no-browser",
            "--listen",
            "0.0.0.0:8080",
            "--dir",
            dir.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("--listen 0.0.0.0:8080: the demo's web UI listens on 127.0.0.1 only"),
        "{stderr}"
    );
    // Refused before the simulators started: they wrote nothing.
    assert!(!dir.exists());
}
