//! OIDC identity from the command line, against `arkbridge sim`: `arkbridge login` signs alice in
//! with the device authorization grant (approved through the simulator's admin call), later
//! commands verify the cached ID token, `--as` is refused, and a tampered cache is refused.

mod remote_support;
mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use remote_support::*;
use support::*;

const PLANTED: &str = "Oidc-Planted-Secret-23";

#[test]
fn login_by_device_code_then_commands_use_the_verified_oidc_user() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &remote_seed(PLANTED));
    let config = write_oidc_config(r, &sim);
    let page = page_id_by_title(&sim, "Restart payments API");
    let explain = |name: &str| {
        run(
            r,
            name,
            &[
                "policy", "explain", "--config", &config, "--page", &page, "--block", "restart",
            ],
        )
    };

    // Before any login, commands say how to sign in.
    let out = explain("explain-before-login");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("arkbridge login"),
        "{}",
        text(&out.stderr)
    );

    let (code, shown) = login_as(r, &sim, &["--config", &config], "alice@example.com");
    assert_eq!(code, Some(0), "login failed: {shown}");
    assert!(shown.contains("signed in as alice@example.com"), "{shown}");
    assert!(shown.contains("platform-admins"), "{shown}");
    let caches: Vec<_> = std::fs::read_dir(r.join("state/arkbridge"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(caches.len(), 1, "{caches:?}");
    let cache = &caches[0];
    let mode = std::fs::metadata(cache).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // The signed-in user is explained, verified by oidc, with her groups from the token.
    let out = explain("explain-alice");
    let shown = text(&out.stdout);
    assert!(
        shown.contains("alice@example.com was verified by oidc"),
        "{shown}"
    );
    assert!(shown.contains("platform-admins"), "{shown}");

    // Her refused approval is audited with the issuer, her `sub` and the method `oidc`.
    let out = run(
        r,
        "approve-alice",
        &["approve", &page, "--block", "restart", "--config", &config],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let out = run(
        r,
        "audit-approval",
        &[
            "audit",
            "show",
            "--json",
            "--config",
            &config,
            "--action",
            "approval.granted",
        ],
    );
    let records = text(&out.stdout);
    let last: serde_json::Value =
        serde_json::from_str(records.lines().last().expect("an approval record")).unwrap();
    let identity = &sim.info["identity"];
    let sub = identity["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "alice@example.com")
        .unwrap()["sub"]
        .clone();
    let actor = &last["actor"];
    assert_eq!(actor["issuer"], identity["oidc_issuer"], "{last}");
    assert_eq!(actor["subject"], sub, "{last}");
    assert_eq!(actor["auth_method"], "oidc", "{last}");

    // Explaining someone else needs an approver group, which alice is not in.
    let out = run(
        r,
        "explain-bob",
        &[
            "policy",
            "explain",
            "--config",
            &config,
            "--page",
            &page,
            "--block",
            "restart",
            "--user",
            "bob@example.com",
        ],
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("may explain only their own access"),
        "{}",
        text(&out.stderr)
    );

    // `--as` is refused with oidc.
    let out = run(
        r,
        "run-as",
        &[
            "run",
            &page,
            "--block",
            "restart",
            "--config",
            &config,
            "--as",
            "carol@example.com",
        ],
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("--as is refused"),
        "{}",
        text(&out.stderr)
    );

    // A cache whose ID token was altered no longer verifies.
    let mut record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cache).unwrap()).unwrap();
    let token = record["id_token"].as_str().unwrap().to_string();
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let forged = parts[1].replace('A', "B");
    assert_ne!(forged, parts[1], "the payload has no `A` to change");
    parts[1] = forged;
    record["id_token"] = serde_json::Value::String(parts.join("."));
    std::fs::write(cache, serde_json::to_vec(&record).unwrap()).unwrap();
    let out = explain("explain-tampered");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("not valid") && err.contains("arkbridge login"),
        "{err}"
    );
    assert!(
        !err.contains(&token),
        "the token must never be printed: {err}"
    );

    // Logout deletes the cache.
    let out = run(r, "logout", &["logout", "--config", &config]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!cache.exists());
}

/// With groups from the token, other people are known only from their own verified sign-ins:
/// carol's approval counts with the groups her token carried when she approved, and alice, the
/// block's last editor, is judged by her latest sign-in while it is younger than
/// `policy.principal_max_age_hours`.
#[test]
fn approvals_and_last_editors_come_from_verified_sign_ins() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &remote_seed(PLANTED));
    let config = write_oidc_config(r, &sim);
    let page = page_id_by_title(&sim, "Restart payments API");
    let run_restart = |name: &str, config: &str| {
        run(
            r,
            name,
            &["run", &page, "--block", "restart", "--config", config],
        )
    };

    // Alice (platform-admins, the block's author) before any approval: denied for that reason.
    let (code, shown) = login_as(r, &sim, &["--config", &config], "alice@example.com");
    assert_eq!(code, Some(0), "login failed: {shown}");
    let out = run_restart("run-unapproved", &config);
    assert_ne!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert!(err.contains("no approval is recorded"), "{err}");

    // Carol approves as herself; her token says change-approvers.
    let (code, shown) = login_as(r, &sim, &["--config", &config], "carol@example.com");
    assert_eq!(code, Some(0), "login failed: {shown}");
    let out = run(
        r,
        "approve",
        &["approve", &page, "--block", "restart", "--config", &config],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // With no tolerance for age, alice's own sign-in is already too old to vouch for her as
    // the last editor, so the write run is denied.
    let strict = r.join("oidc-strict.toml");
    let mut strict_config = arkbridge_core::config::Config::load(Path::new(&config)).unwrap();
    strict_config.policy.principal_max_age_hours = 0;
    std::fs::write(&strict, strict_config.to_toml()).unwrap();
    let strict = strict.to_str().unwrap();
    let (code, shown) = login_as(r, &sim, &["--config", &config], "alice@example.com");
    assert_eq!(code, Some(0), "login failed: {shown}");
    let out = run_restart("run-stale-editor", strict);
    assert_ne!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert!(err.contains("last editor could not be determined"), "{err}");

    // Within the default day, carol's recorded approval and alice's sign-in allow the run.
    let out = run_restart("run-approved", &config);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let shown = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(shown.contains("succeeded"), "{shown}");
    assert!(shown.contains("DB_PASSWORD=*****"), "{shown}");
    // The secret was in the run's environment only: it is in no file but the seed.
    assert_eq!(
        files_containing(&[&r.join("seed")], PLANTED.as_bytes()).len(),
        1
    );
    let dirs = [
        sim.dir.as_path(),
        &r.join("tmp"),
        &r.join("logs"),
        &r.join("state"),
        &sim.config.data_dir,
    ];
    assert_eq!(
        files_containing(&dirs, PLANTED.as_bytes()),
        Vec::<std::path::PathBuf>::new()
    );
}
