//! Shared helpers for the simulator's integration tests: start a simulator in a temporary
//! folder and build reqwest clients that trust its CA (optionally with the client identity).

#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::time::Duration;

use arkbridge_sim::{SimHandle, SimInfo, SimOptions};
use tempfile::TempDir;

pub struct Sim {
    pub dir: TempDir,
    pub handle: SimHandle,
}

impl Sim {
    pub fn info(&self) -> &SimInfo {
        self.handle.info()
    }
}

pub async fn start_with(seed: Option<&str>, cpm_delay: Duration) -> Sim {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let seed_path = seed.map(|text| {
        let p = dir.path().join("seed.yaml");
        std::fs::write(&p, text).unwrap();
        p
    });
    let handle = arkbridge_sim::start(SimOptions {
        dir: dir.path().join("sim"),
        seed: seed_path,
        cpm_delay,
    })
    .await
    .unwrap();
    Sim { dir, handle }
}

pub async fn start() -> Sim {
    start_with(None, Duration::from_millis(20)).await
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

pub fn client(info: &SimInfo, with_identity: bool) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&read(&info.ca_cert)).unwrap();
    let mut builder = reqwest::Client::builder().tls_certs_only([ca]);
    if with_identity {
        let mut pem = read(&info.client_cert);
        pem.extend(read(&info.client_key));
        builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

/// The demo seed plus a safe `Hidden` the AppID may not use and a PVWA user `viewer`
/// (password `viewer-pass-1`) with only `connect-only` on Prod-DB.
pub fn extended_seed() -> String {
    let extra_safe = "  - name: Hidden\n    accounts:\n      - name: hidden-acct\n        platformId: PostgreSQL\n        address: hidden.example.com\n        userName: hidden\n    members:\n      - { name: Administrator, type: user, permissions: full }\n\n  - name: Integrations\n";
    let text = arkbridge_sim::DEMO_SEED.replacen("  - name: Integrations\n", extra_safe, 1);
    let text = text.replacen(
        "  - username: Administrator\n",
        "  - username: Administrator\n  - username: viewer\n    password: viewer-pass-1\n",
        1,
    );
    text.replacen(
        "      - { name: Administrator, type: user, permissions: full }\n",
        "      - { name: Administrator, type: user, permissions: full }\n      - { name: viewer, type: user, permissions: connect-only }\n",
        1,
    )
}

/// PVWA logon; returns the decoded token.
pub async fn logon(
    c: &reqwest::Client,
    info: &SimInfo,
    user: &str,
    pw: &str,
    concurrent: bool,
) -> String {
    let resp = c
        .post(format!(
            "{}/PasswordVault/API/auth/Cyberark/Logon",
            info.pvwa_url
        ))
        .json(
            &serde_json::json!({"username": user, "password": pw, "concurrentSession": concurrent}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json::<String>().await.unwrap()
}

/// Polls `cond` until it holds (bounded: about ten seconds).
pub async fn eventually<F, Fut>(mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..1000 {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached");
}

/// Password of `Administrator` in [`with_admin_password`] seeds.
pub const ADMIN_PASSWORD: &str = "admin-pass-1";

/// A seed with a known `Administrator` password (the admin API needs it).
pub fn with_admin_password(seed: &str) -> String {
    seed.replacen(
        "  - username: Administrator\n",
        &format!("  - username: Administrator\n    password: {ADMIN_PASSWORD}\n"),
        1,
    )
}

/// One PVWA API call with a session token; returns the status and the JSON body (`Null` when
/// the body is empty or not JSON).
pub async fn pvwa(
    c: &reqwest::Client,
    info: &SimInfo,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req = c
        .request(
            method,
            format!("{}/PasswordVault/API/{path}", info.pvwa_url),
        )
        .header("Authorization", token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}
