//! The remote sign-in kept going, and the scan through the server, via the real binary:
//! `arkbridge sim` (its provider issuing 60-second access tokens, so that every command finds
//! its token within the refresh margin without any waiting) and `arkbridge serve`.
//!
//! * A sign-in is refreshed silently before the next `run --server`, the rotated tokens
//!   replace the old ones in the 0600 cache, and no token reaches a log. Once the provider
//!   revokes the sign-in (a spent refresh token replayed: reuse detection ends the whole
//!   family), the next command says the session has expired and how to sign in again, and the
//!   cache entry is gone.
//! * `scan --server` as an approver finds the AWS secret key pasted on the legacy notes page, prints its
//!   masked preview and triage id but no secret value, fails with `--fail-on`, and audits the
//!   findings as the caller; someone outside the approver and audit reader groups is refused.

mod remote_support;
mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use remote_support::*;
use serde_json::Value;
use support::*;

const PLANTED: &str = "Remote-Session-Planted-Secret-4";
const AWS_KEY_ID: &str = "AKIAZ7QX4N2LPV3KD9RT";
const AWS_SECRET: &str = "q8Vb3nR2x7KpLm4TzW9cYf6HdJ1sGe5UoAiQw0Ex";
const LEGACY_PASSWORD: &str = "Winter2024!Payments";

/// The only token cache of a server below the test's state folder.
fn server_cache(r: &Path) -> PathBuf {
    let found: Vec<PathBuf> = caches(r)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("/servers/"))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(found.len(), 1, "{:?}", caches(r));
    found[0].clone()
}

fn read_cache(path: &Path) -> Value {
    let mode = std::fs::metadata(path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the cache must be private");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn field(record: &Value, name: &str) -> String {
    record[name]
        .as_str()
        .unwrap_or_else(|| panic!("the cache has no {name}"))
        .to_string()
}

/// Presents `refresh_token` to the provider's token endpoint as the CLI's public client;
/// returns the HTTP status and the OAuth error.
fn replay_refresh(sim: &Sim, refresh_token: &str) -> (u16, String) {
    let issuer = sim.info["identity"]["oidc_issuer"].as_str().unwrap();
    let ca = std::fs::read(sim.info["ca_cert"].as_str().unwrap()).unwrap();
    rt().block_on(async {
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .build()
            .unwrap();
        let response = client
            .post(format!("{issuer}/v1/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("grant_type", "refresh_token")
                    .append_pair("refresh_token", refresh_token)
                    .append_pair("client_id", "arkbridge-cli")
                    .finish(),
            )
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        (
            status,
            body["error"].as_str().unwrap_or_default().to_string(),
        )
    })
}

#[test]
fn an_expiring_sign_in_is_refreshed_silently_and_a_revoked_one_says_to_sign_in_again() {
    let root = test_root();
    let r = root.path();
    let seed = remote_seed(PLANTED).replacen(
        "identityProvider:\n",
        "identityProvider:\n  tokenLifetimeSecs: 60\n",
        1,
    );
    assert!(
        seed.contains("tokenLifetimeSecs: 60"),
        "the demo seed changed"
    );
    let sim = start_sim(r, &seed);
    let config = write_oidc_config(r, &sim);
    let page = page_id_by_title(&sim, "Payments DB health");
    let ca = sim.info["ca_cert"].as_str().unwrap().to_string();
    let serve = start_serve(r, Path::new(&config), "serve");
    let url = serve.url.clone();
    let remote = ["--server", url.as_str(), "--ca-cert", ca.as_str()];
    let run_health = |name: &str| {
        let mut args = vec!["run", page.as_str(), "--block", "health"];
        args.extend_from_slice(&remote);
        run(r, name, &args)
    };

    let (code, shown) = login_as(r, &sim, &remote, "alice@example.com");
    assert_eq!(code, Some(0), "alice's login failed: {shown}");
    let cache = server_cache(r);
    let signed_in = read_cache(&cache);
    let first_access = field(&signed_in, "access_token");
    let first_refresh = field(&signed_in, "refresh_token");
    let lifetime =
        signed_in["expires_at"].as_i64().unwrap() - signed_in["saved_at"].as_i64().unwrap();
    assert_eq!(lifetime, 60, "{signed_in}");

    // The access token is within the refresh margin: the run refreshes first and goes through
    // without a word about it.
    let out = run_health("run-refreshed");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("checking payments DB as read"), "{stdout}");
    assert!(
        stdout.contains("*****") && !stdout.contains(PLANTED),
        "{stdout}"
    );
    assert!(!stderr.contains("login"), "{stderr}");
    let refreshed = read_cache(&cache);
    let access = field(&refreshed, "access_token");
    let refresh = field(&refreshed, "refresh_token");
    assert_ne!(access, first_access, "a new access token is kept");
    assert_ne!(refresh, first_refresh, "the rotated refresh token is kept");

    // The rotation made the first refresh token worthless; presenting it again is taken for
    // a theft and ends the whole sign-in at the provider.
    assert_eq!(
        replay_refresh(&sim, &first_refresh),
        (400, "invalid_grant".to_string())
    );
    let out = run_health("run-revoked");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "your session with {url} has expired; run `arkbridge login --server {url}`"
        )),
        "{err}"
    );
    assert!(
        text(&out.stdout).is_empty(),
        "nothing ran: {}",
        text(&out.stdout)
    );
    assert!(
        !cache.exists(),
        "the ended sign-in is removed from the cache"
    );
    let out = run_health("run-after-revoked");
    assert!(
        text(&out.stderr).contains("not signed in to"),
        "{}",
        text(&out.stderr)
    );

    // No token and no secret is in any log or captured output.
    let dirs = [r.join("logs"), r.join("tmp"), r.join("sim")];
    let dirs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    for secret in [&first_access, &first_refresh, &access, &refresh, PLANTED] {
        let leaked = files_containing(&dirs, secret.as_bytes());
        assert!(leaked.is_empty(), "a token or secret is in {leaked:?}");
    }
}

#[test]
fn scan_through_the_server_finds_the_pasted_key_without_printing_it_and_is_for_approvers_only() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &remote_seed(PLANTED));
    let config = write_oidc_config(r, &sim);
    let page = page_id_by_title(&sim, "Legacy DB notes");
    let ca = sim.info["ca_cert"].as_str().unwrap().to_string();
    let serve = start_serve(r, Path::new(&config), "serve");
    let url = serve.url.clone();
    let remote = ["--server", url.as_str(), "--ca-cert", ca.as_str()];
    let scan = |name: &str, extra: &[&str]| {
        let mut args = vec!["scan", "--page", page.as_str()];
        args.extend_from_slice(extra);
        args.extend_from_slice(&remote);
        run(r, name, &args)
    };

    // carol (change-approvers) scans the page: the AWS key is found, shown masked only, and
    // the new critical finding fails the scan as --fail-on asks.
    let (code, shown) = login_as(r, &sim, &remote, "carol@example.com");
    assert_eq!(code, Some(0), "carol's login failed: {shown}");
    let out = scan("scan-carol", &["--fail-on", "high"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let aws: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("aws-secret-access-key"))
        .collect();
    assert_eq!(aws.len(), 1, "{stdout}");
    assert!(
        aws[0].starts_with('#') && aws[0].contains(" new "),
        "{stdout}"
    );
    assert!(aws[0].contains(&format!("page {page} ")), "{stdout}");
    assert!(aws[0].ends_with(": q8Vb… (40 chars)"), "{stdout}");
    assert!(stdout.contains("new) on 1 document"), "{stdout}");
    assert!(stderr.contains("at or above --fail-on high"), "{stderr}");

    // The second scan sees the same findings, no longer new, in the JSON answer.
    let out = scan("scan-carol-json", &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["new"], 0, "{body}");
    let findings = body["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["detector"] == "aws-secret-access-key" && f["new"] == false),
        "{body}"
    );

    // The new findings were audited with carol as the actor, and the call as api.call.
    let mut args = vec!["audit", "show", "--action", "scan.finding", "--json"];
    args.extend_from_slice(&remote);
    let out = run(r, "audit-carol", &args);
    let audited = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !audited.is_empty() && audited.contains("carol@example.com"),
        "{audited}"
    );

    // alice (platform-admins) may run runbooks but not scan.
    let (code, shown) = login_as(r, &sim, &remote, "alice@example.com");
    assert_eq!(code, Some(0), "alice's login failed: {shown}");
    let out = scan("scan-alice", &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("HTTP 403 (forbidden)"), "{err}");
    assert!(err.contains("approver or audit reader group"), "{err}");

    // No pasted value is in any output, log or file of the test but the simulator's own.
    let dirs = [r.join("logs"), r.join("tmp"), r.join("state")];
    let dirs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    for secret in [AWS_KEY_ID, AWS_SECRET, LEGACY_PASSWORD, PLANTED] {
        let leaked = files_containing(&dirs, secret.as_bytes());
        assert!(leaked.is_empty(), "{secret} is in {leaked:?}");
    }
}
