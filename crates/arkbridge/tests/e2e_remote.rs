//! The command line's remote mode through the real binary: `arkbridge sim`, then `arkbridge
//! serve` with OIDC identity; alice signs in with `login --server` (the device code approved
//! through the simulator's admin call) and runs the approved restart block through the server,
//! its masked output streamed to her terminal, and reads her audit records through it; bob is
//! denied a run and an approval with exit code 3 and the reasons.
//! The tokens stay in a 0600 cache of that server, and the planted secret is in no file.

mod support;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use arkbridge_core::config::{GroupsFrom, IdentityConfig, IdentityProvider, OidcSection};
use support::*;

const PLANTED: &str = "Remote-E2E-Planted-Secret-9";
const ADMIN_PASSWORD: &str = "Adm1n-remote-pw";

/// Kills `arkbridge serve` when the test ends, however it ends.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The simulator's bridge config with identity from its OIDC provider and the CLI's client.
fn write_oidc_config(r: &Path, sim: &Sim) -> String {
    let identity = &sim.info["identity"];
    let mut config = sim.config.clone();
    config.identity = IdentityConfig {
        provider: IdentityProvider::Oidc,
        users: Vec::new(),
        oidc: Some(OidcSection {
            issuer: identity["oidc_issuer"].as_str().unwrap().to_string(),
            client_id: "arkbridge-cli".into(),
            api_audience: identity["oidc_api_audience"].as_str().map(str::to_string),
            groups_claim: "groups".into(),
            email_claim: "email".into(),
            confluence_account_claim: identity["oidc_account_id_claim"]
                .as_str()
                .map(str::to_string),
            ca_cert: sim.config.cyberark.ccp.ca_cert.clone(),
            groups_from: GroupsFrom::Token,
        }),
        ldap: None,
    };
    let path = r.join("oidc.toml");
    std::fs::write(&path, config.to_toml()).unwrap();
    path.to_str().unwrap().to_string()
}

/// The binary with the test's own state folder (where token caches land).
fn command(r: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env("TMPDIR", r.join("tmp"))
        .env("XDG_STATE_HOME", r.join("state"))
        .env_remove("ARKBRIDGE_CONFIG")
        .env("ARKBRIDGE_LOG", "debug");
    c
}

fn run(r: &Path, name: &str, args: &[&str]) -> Output {
    let out = command(r, args).output().unwrap();
    std::fs::write(r.join("logs").join(format!("{name}.stdout")), &out.stdout).unwrap();
    std::fs::write(r.join("logs").join(format!("{name}.stderr")), &out.stderr).unwrap();
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `arkbridge login` with `args`, approves the user code it shows as `email` through the
/// simulator's admin call, and returns login's exit code and whole output.
fn login_as(r: &Path, sim: &Sim, args: &[&str], email: &str) -> (Option<i32>, String) {
    let name = email.split('@').next().unwrap();
    let mut full = vec!["login"];
    full.extend_from_slice(args);
    let mut child = command(r, &full)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(r.join("logs").join(format!("login-{name}.stderr"))).unwrap(),
        ))
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    let code = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("login ended before showing a code: {seen}"))
            .unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if let Some(code) = line.strip_prefix("user code: ") {
            break code.trim().to_string();
        }
    };
    let idp = sim.info["identity"]["idp_url"].as_str().unwrap();
    let ca = std::fs::read(sim.info["ca_cert"].as_str().unwrap()).unwrap();
    let status = rt().block_on(async {
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .build()
            .unwrap();
        client
            .post(format!("{idp}/__arkbridge_sim/device"))
            .basic_auth("Administrator", Some(ADMIN_PASSWORD))
            .json(&serde_json::json!({ "user_code": code, "email": email }))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert!(status.is_success(), "the admin approval failed: {status}");
    for line in lines {
        seen.push_str(&line.unwrap());
        seen.push('\n');
    }
    (child.wait().unwrap().code(), seen)
}

/// Starts `arkbridge serve` on `config`; returns it and its base URL.
fn start_serve(r: &Path, config: &str) -> (Serve, String) {
    let mut child = command(r, &["serve", "--listen", "127.0.0.1:0", "--config", config])
        .env("ARKBRIDGE_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(r.join("logs").join("serve.log")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let serve = Serve(child);
    loop {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("Listening on ") => {
                let url = l.trim_start_matches("Listening on ").trim().to_string();
                return (serve, url);
            }
            Some(Ok(_)) => {}
            other => panic!("serve stopped before listening: {other:?}; see logs/serve.log"),
        }
    }
}

/// Every token cache file below the test's state folder.
fn caches(r: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![r.join("state")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn remote_mode_signs_in_streams_masked_output_denies_with_exit_3_and_reads_the_audit() {
    let root = test_root();
    let r = root.path();
    let seed = seed_with(PLANTED, "").replacen(
        "  - username: Administrator\n",
        &format!("  - username: Administrator\n    password: {ADMIN_PASSWORD}\n"),
        1,
    );
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

    let (_serve, url) = start_serve(r, &config);
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
