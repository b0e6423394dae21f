//! The command line's remote mode through the real binary: `arkbridge sim`, then `arkbridge
//! serve` with OIDC identity; alice signs in with `login --server` (the device code approved
//! through the simulator's admin call) and runs the approved restart block through the server,
//! its masked output streamed to her terminal, and reads her audit records through it; bob is
//! denied a run and an approval with exit code 3 and the reasons.
//! The tokens stay in a 0600 cache of that server, and the planted secret is in no file.

mod remote_support;
mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use remote_support::*;
use support::*;

const PLANTED: &str = "Remote-E2E-Planted-Secret-9";

#[test]
fn remote_mode_signs_in_streams_masked_output_denies_with_exit_3_and_reads_the_audit() {
    let root = test_root();
    let r = root.path();
    let seed = remote_seed(PLANTED);
    let sim = start_sim(r, &seed);
    let config = write_oidc_config(r, &sim);
    let page = page_id_by_title(&sim, "Restart payments API");
    let ca = sim.info["ca_cert"].as_str().unwrap().to_string();

    // Local setup: carol (change-approvers) approves the write block from her own terminal.
    let (code, shown) = login_as(r, &sim, &["--config", &config], "carol@example.com");
    assert_eq!(code, Some(0), "carol's login failed: {shown}");
    let out = run(
        r,
        "approve-carol",
        &["approve", &page, "--block", "restart", "--config", &config],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let serve = start_serve(r, Path::new(&config), "serve");
    let url = serve.url.clone();
    let remote = ["--server", url.as_str(), "--ca-cert", ca.as_str()];
    let run_restart = |name: &str| {
        let mut args = vec!["run", page.as_str(), "--block", "restart"];
        args.extend_from_slice(&remote);
        run(r, name, &args)
    };

    // Before any sign-in to the server, a run says how to sign in.
    let out = run_restart("run-before-login");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("arkbridge login --server {url}")),
        "{err}"
    );

    // Alice signs in through the server's provider; the server recognises her.
    let (code, shown) = login_as(r, &sim, &remote, "alice@example.com");
    assert_eq!(code, Some(0), "alice's login failed: {shown}");
    assert!(
        shown.contains(&format!("signed in to {url} as alice@example.com")),
        "{shown}"
    );
    assert!(shown.contains("platform-admins"), "{shown}");
    let server_caches: Vec<PathBuf> = caches(r)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("/servers/"))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(server_caches.len(), 1, "{:?}", caches(r));
    let mode = std::fs::metadata(&server_caches[0])
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // Her run goes through the server: the script's output arrives masked on stdout, the
    // summary on stderr, and the exit code is the local one.
    let out = run_restart("run-alice");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Restarting payments-api with DB_PASSWORD=*****"),
        "{stdout}"
    );
    assert!(stdout.contains("payments-api restarted"), "{stdout}");
    assert!(stderr.contains("started on"), "{stderr}");
    assert!(stderr.contains(": succeeded (exit code 0)"), "{stderr}");
    assert!(stderr.contains("mode write"), "{stderr}");

    // Her audit records, read through the server: the run that just finished is there.
    let mut args = vec!["audit", "show", "--action", "run.finished", "--json"];
    args.extend_from_slice(&remote);
    let out = run(r, "audit-alice", &args);
    let shown = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let finished: Vec<serde_json::Value> = shown
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(finished.len(), 1, "{shown}");
    assert_eq!(finished[0]["outcome"], "success", "{shown}");
    assert_eq!(finished[0]["target"]["block"], "restart", "{shown}");
    assert!(
        arkbridge_core::audit::is_canonical(shown.lines().next().unwrap()),
        "{shown}"
    );

    // Bob, signed in the same way, is denied: exit code 3 with the policy's reasons.
    let (code, shown) = login_as(r, &sim, &remote, "bob@example.com");
    assert_eq!(code, Some(0), "bob's login failed: {shown}");
    let out = run_restart("run-bob");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("error: denied"), "{err}");
    assert!(err.contains("  - "), "the reasons are listed: {err}");
    assert!(
        text(&out.stdout).is_empty(),
        "nothing ran: {}",
        text(&out.stdout)
    );

    // He may not approve either (he is no change approver): exit code 3 again.
    let mut args = vec!["approve", page.as_str(), "--block", "restart"];
    args.extend_from_slice(&remote);
    let out = run(r, "approve-bob", &args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("error: "), "{err}");

    // A tampered token is refused by the server with the "sign in again" advice.
    let cache = &server_caches[0];
    let mut record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cache).unwrap()).unwrap();
    let token = record["access_token"].as_str().unwrap().to_string();
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    parts[2] = parts[2].chars().rev().collect();
    record["access_token"] = serde_json::Value::String(parts.join("."));
    std::fs::write(cache, serde_json::to_vec(&record).unwrap()).unwrap();
    let out = run_restart("run-tampered");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("sign in again"), "{err}");
    assert!(
        err.contains(&format!("arkbridge login --server {url}")),
        "{err}"
    );
    assert!(!err.contains(&token), "the token must never be printed");

    // Logout deletes the server's sign-in without asking the server; the local one stays.
    let out = run(r, "logout", &["logout", "--server", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!cache.exists());
    assert_eq!(caches(r).len(), 1, "carol's local sign-in is kept");
    let out = run_restart("run-after-logout");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not signed in to"),
        "{}",
        text(&out.stderr)
    );

    // The secret reached the script only: it is in no file but the seed.
    let dirs = [
        sim.dir.as_path(),
        &r.join("tmp"),
        &r.join("logs"),
        &r.join("state"),
    ];
    let leaked = files_containing(&dirs, PLANTED.as_bytes());
    assert!(leaked.is_empty(), "the secret is in {leaked:?}");
}
