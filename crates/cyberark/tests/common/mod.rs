//! Shared set-up of the simulator integration tests: a simulator in a temp folder, started from
//! the demo seed (or a variant of it) with a known `Administrator` password (the demo's is
//! random), and the `arkbridge.toml` it writes. `raw` holds plain reqwest helpers for the tests
//! that check the simulator's own answers; `fake` a canned-answer server for the answers the
//! simulator never gives.

#![allow(dead_code)]

pub(crate) mod fake;
pub(crate) mod raw;

use std::time::Duration;

use arkbridge_core::config::Config;
use arkbridge_cyberark::{BreakerConfig, CcpClient, PvwaClient, Resilience, RetryPolicy};
use arkbridge_sim::{SimHandle, SimOptions};
use secrecy::SecretString;

/// The `Administrator` password of the test seed (`full` on every safe, may add safes).
pub(crate) const ADMIN_PASSWORD: &str = "Adm1n-sim-pw";

pub(crate) struct Sim {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) handle: SimHandle,
    pub(crate) config: Config,
}

/// The demo seed with the known Administrator password.
pub(crate) fn demo_seed() -> String {
    let seed = arkbridge_sim::DEMO_SEED.replace(
        "  - username: Administrator\n",
        &format!("  - username: Administrator\n    password: {ADMIN_PASSWORD}\n"),
    );
    assert_ne!(
        seed,
        arkbridge_sim::DEMO_SEED,
        "the demo seed changed shape"
    );
    seed
}

/// Replaces the first `from` of `seed` with `to`, failing loudly when the demo seed no longer
/// holds `from` (a silent no-op would make a test check the wrong thing).
pub(crate) fn edit(seed: &str, from: &str, to: &str) -> String {
    assert!(seed.contains(from), "the seed no longer holds {from:?}");
    seed.replacen(from, to, 1)
}

/// Starts the simulator on the demo seed with the known Administrator password.
pub(crate) async fn sim() -> Sim {
    sim_with(&demo_seed(), Duration::from_millis(50)).await
}

/// Starts the simulator on `seed` (YAML text) with a CPM that takes `cpm_delay` per task.
pub(crate) async fn sim_with(seed: &str, cpm_delay: Duration) -> Sim {
    let dir = tempfile::tempdir().unwrap();
    let seed_path = dir.path().join("seed.yaml");
    std::fs::write(&seed_path, seed).unwrap();
    let handle = arkbridge_sim::start(SimOptions {
        dir: dir.path().to_path_buf(),
        seed: Some(seed_path),
        cpm_delay,
    })
    .await
    .unwrap();
    let config = Config::load(&dir.path().join("arkbridge.toml")).unwrap();
    Sim {
        dir,
        handle,
        config,
    }
}

/// One attempt per call, so refusals and outages show at once.
pub(crate) fn no_retry(endpoint: &'static str) -> Resilience {
    Resilience::new(endpoint, RetryPolicy::no_retry(), BreakerConfig::default())
}

/// The bridge's CCP client as the generated config describes it, without retries.
pub(crate) fn ccp(s: &Sim) -> CcpClient {
    CcpClient::with_resilience(&s.config.cyberark.ccp, no_retry("ccp")).unwrap()
}

/// A PVWA session as `user` (CyberArk logon), without retries.
pub(crate) async fn pvwa_as(s: &Sim, user: &str, password: &str) -> PvwaClient {
    let mut cfg = s.config.cyberark.pvwa.clone();
    cfg.username = user.into();
    PvwaClient::logon_with(&cfg, &SecretString::from(password), no_retry("pvwa"))
        .await
        .unwrap()
}

/// A PVWA session as `Administrator`.
pub(crate) async fn admin(s: &Sim) -> PvwaClient {
    pvwa_as(s, "Administrator", ADMIN_PASSWORD).await
}

/// A PVWA session as the bridge's own service user (`arkbridge-svc`: may rotate, not read).
pub(crate) async fn service(s: &Sim) -> PvwaClient {
    let info = s.handle.info().clone();
    pvwa_as(s, &info.pvwa_user, &info.pvwa_password).await
}

/// Asserts that `err` is a refusal (never a reason for the read-only fallback) with this HTTP
/// status and CyberArk error code.
pub(crate) fn assert_refused(err: &arkbridge_cyberark::CyberArkError, status: u16, code: &str) {
    assert!(
        matches!(err, arkbridge_cyberark::CyberArkError::Refused { .. }),
        "{err:?}"
    );
    assert_eq!(
        (err.status(), err.code()),
        (Some(status), Some(code)),
        "{err:?}"
    );
    assert!(!err.is_unavailable(), "{err:?}");
}

/// The server's message carried by a refusal.
pub(crate) fn refusal_message(err: &arkbridge_cyberark::CyberArkError) -> &str {
    match err {
        arkbridge_cyberark::CyberArkError::Refused { message, .. } => message,
        other => panic!("not a refusal: {other:?}"),
    }
}
