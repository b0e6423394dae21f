//! What the OIDC end-to-end tests share (local sign-in, LDAP groups and remote mode): the
//! simulator's config with OIDC identity, the binary with the test's own state folder (where
//! the token caches land), `arkbridge login` (with or without `--server`) with the device code
//! approved through the simulator's admin call, and a listing of the token caches.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use arkbridge_core::config::{GroupsFrom, IdentityConfig, IdentityProvider, OidcSection};

use crate::support::{BIN, Sim, rt};

pub const ADMIN_PASSWORD: &str = "Adm1n-remote-pw";

/// The demo seed with `planted` as payments-db's secret and a known `Administrator` password.
pub fn remote_seed(planted: &str) -> String {
    crate::support::seed_with(planted, "").replacen(
        "  - username: Administrator\n",
        &format!("  - username: Administrator\n    password: {ADMIN_PASSWORD}\n"),
        1,
    )
}

/// Identity from the simulator's OIDC provider for the CLI's client, with groups from
/// `groups_from`.
pub fn oidc_identity(sim: &Sim, groups_from: GroupsFrom) -> IdentityConfig {
    let identity = &sim.info["identity"];
    IdentityConfig {
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
            groups_from,
        }),
        ldap: None,
    }
}

/// The simulator's bridge config with identity from its OIDC provider and the CLI's client.
pub fn write_oidc_config(r: &Path, sim: &Sim) -> String {
    let mut config = sim.config.clone();
    config.identity = oidc_identity(sim, GroupsFrom::Token);
    let path = r.join("oidc.toml");
    std::fs::write(&path, config.to_toml()).unwrap();
    path.to_str().unwrap().to_string()
}

/// The binary with the test's own state folder (where token caches land).
pub fn command(r: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env("TMPDIR", r.join("tmp"))
        .env("XDG_STATE_HOME", r.join("state"))
        .env_remove("ARKBRIDGE_CONFIG")
        .env("ARKBRIDGE_LOG", "debug");
    c
}

pub fn run(r: &Path, name: &str, args: &[&str]) -> Output {
    let out = command(r, args).output().unwrap();
    std::fs::write(r.join("logs").join(format!("{name}.stdout")), &out.stdout).unwrap();
    std::fs::write(r.join("logs").join(format!("{name}.stderr")), &out.stderr).unwrap();
    out
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `arkbridge login` with `args`, approves the user code it shows as `email` through the
/// simulator's admin call, and returns login's exit code and whole output.
pub fn login_as(r: &Path, sim: &Sim, args: &[&str], email: &str) -> (Option<i32>, String) {
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

/// Every token cache file below the test's state folder.
pub fn caches(r: &Path) -> Vec<PathBuf> {
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
