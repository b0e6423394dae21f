//! Helpers for the read-only fallback end-to-end tests: the demo data with every secret the tests
//! look for planted, the simulator's Vault switch, config files kept apart from the secret
//! search, the audit details of an action, and the search for planted secrets.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

use arkbridge_core::config::Config;

use crate::support::{Sim, arkbridge, files_containing, rt, seed_with};

pub const PRIMARY: &str = "Primary-Secret-3Jx!k8";
pub const READ_ONLY: &str = "ReadOnly-Secret-6Tq!p1";
pub const CONFLUENCE_TOKEN: &str = "Confluence-Token-9Hs!w4";
pub const PVWA_PASSWORD: &str = "Pvwa-Password-2Lm!c7";
pub const ADMIN_PASSWORD: &str = "Adm1n-fallback-pw";

/// A page whose block reads an account the bridge's AppID may not retrieve, with a fallback.
pub const REFUSED_PAGE: &str = r#"  - space: OPS
    title: Vendor DB check
    author: alice@example.com
    body: |
      <p>Reads the vendor database.</p><ac:structured-macro ac:name="code" ac:schema-version="1"><ac:parameter ac:name="language">bash</ac:parameter><ac:parameter ac:name="title">arkbridge: vendor</ac:parameter><ac:plain-text-body><![CDATA[#!/usr/bin/env bash
      # arkbridge: mode read
      # arkbridge: secret DB_PASSWORD cyberark://Restricted/vendor-db
      # arkbridge: fallback DB_PASSWORD cyberark://Prod-DB-RO/payments-db-ro
      echo "vendor check ran with $DB_PASSWORD"]]></ac:plain-text-body></ac:structured-macro>
"#;

/// The safe of [`REFUSED_PAGE`]: the users may read it, the bridge's AppID is no member.
pub const RESTRICTED_SAFE: &str = r#"  - name: Restricted
    description: A safe the bridge's application is not a member of
    accounts:
      - name: vendor-db
        platformId: PostgreSQL
        address: vendor-db.example.com
        userName: vendor
    members:
      - { name: arkbridge-svc, type: user, permissions: [listAccounts, viewSafeMembers] }
      - { name: Administrator, type: user, permissions: full }
      - { name: platform-admins, type: group, permissions: [listAccounts, useAccounts, retrieveAccounts] }

"#;

/// The demo data with every secret these tests look for planted, and the admin password set.
pub fn seed() -> String {
    let plant = |seed: String, account: &str, secret: &str| {
        let line = format!("      - name: {account}\n");
        assert!(seed.contains(&line), "the demo seed's layout changed");
        seed.replacen(&line, &format!("{line}        secret: \"{secret}\"\n"), 1)
    };
    let seed = seed_with(PRIMARY, REFUSED_PAGE);
    let seed = plant(seed, "payments-db-ro", READ_ONLY);
    let seed = plant(seed, "confluence-api-token", CONFLUENCE_TOKEN);
    let seed = plant(seed, "pvwa-arkbridge-svc", PVWA_PASSWORD);
    seed.replacen(
        "  - username: Administrator\n",
        &format!("  - username: Administrator\n    password: {ADMIN_PASSWORD}\n"),
        1,
    )
    .replacen("\nspaces:\n", &format!("\n{RESTRICTED_SAFE}spaces:\n"), 1)
    .replacen(
        "safes: { Prod-DB: write, Prod-DB-RO: read }",
        "safes: { Prod-DB: write, Prod-DB-RO: read, Restricted: read }",
        1,
    )
}

/// Turns the Vault of a running simulator off or on through its admin endpoint.
pub fn set_vault_down(sim: &Sim, down: bool) {
    let pvwa = sim.info["pvwa_url"].as_str().unwrap().to_string();
    let ca = std::fs::read(sim.config.cyberark.ccp.ca_cert.as_ref().unwrap()).unwrap();
    let status = rt().block_on(async {
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .build()
            .unwrap()
            .post(format!("{pvwa}/__arkbridge_sim/faults"))
            .basic_auth("Administrator", Some(ADMIN_PASSWORD))
            .json(&serde_json::json!({ "vault_down": down }))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert!(status.is_success(), "setting the fault failed: {status}");
}

/// Writes `config` where no secret search looks (it may hold inline test values).
pub fn write_config(root: &Path, config: &Config) -> String {
    let dir = root.join("conf");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("arkbridge.toml");
    std::fs::write(&path, config.to_toml()).unwrap();
    path.to_str().unwrap().to_string()
}

/// The planted values are on no file below `dirs`; the seed file proves the search works.
pub fn assert_no_secret_on_disk(root: &Path, dirs: &[PathBuf]) {
    assert_eq!(
        files_containing(&[&root.join("seed")], READ_ONLY.as_bytes()).len(),
        1
    );
    let dirs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    for planted in [PRIMARY, READ_ONLY] {
        assert_eq!(
            files_containing(&dirs, planted.as_bytes()),
            Vec::<PathBuf>::new(),
            "a planted secret reached a file"
        );
    }
}

pub fn run(
    root: &Path,
    name: &str,
    config: &str,
    page: &str,
    block: &str,
    extra: &[&str],
) -> Output {
    let mut args = vec![
        "run",
        page,
        "--config",
        config,
        "--block",
        block,
        "--as",
        "alice@example.com",
    ];
    args.extend_from_slice(extra);
    arkbridge(root, name, &args)
}

pub type Output = std::process::Output;

/// The `details` of every audit record with this action, oldest first.
pub fn details(data_dir: &Path, action: &str) -> Vec<serde_json::Value> {
    let rt = rt();
    let url = format!("sqlite://{}", data_dir.join("arkbridge.db").display());
    let pool = rt.block_on(sqlx::SqlitePool::connect(&url)).unwrap();
    let rows: Vec<(String,)> = rt
        .block_on(
            sqlx::query_as(
                "SELECT json_extract(record, '$.details') FROM audit WHERE action = $1 \
                 ORDER BY seq",
            )
            .bind(action.to_string())
            .fetch_all(&pool),
        )
        .unwrap();
    rt.block_on(pool.close());
    rows.iter()
        .map(|(d,)| serde_json::from_str(d).unwrap())
        .collect()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
