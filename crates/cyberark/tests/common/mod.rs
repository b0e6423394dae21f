//! Shared set-up of the simulator integration tests: a simulator in a temp folder, started from
//! the demo seed with a known `Administrator` password (the demo's is random), and the
//! `arkbridge.toml` it writes.

#![allow(dead_code)]

use std::time::Duration;

use arkbridge_core::config::Config;
use arkbridge_cyberark::{BreakerConfig, PvwaClient, Resilience, RetryPolicy};
use arkbridge_sim::{SimHandle, SimOptions};
use secrecy::SecretString;

/// The `Administrator` password of the test seed (`full` on every safe, may add safes).
pub(crate) const ADMIN_PASSWORD: &str = "Adm1n-sim-pw";

pub(crate) struct Sim {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) handle: SimHandle,
    pub(crate) config: Config,
}

/// Starts the simulator on the demo seed with the known Administrator password.
pub(crate) async fn sim() -> Sim {
    let dir = tempfile::tempdir().unwrap();
    let seed = arkbridge_sim::DEMO_SEED.replace(
        "  - username: Administrator\n",
        &format!("  - username: Administrator\n    password: {ADMIN_PASSWORD}\n"),
    );
    assert_ne!(
        seed,
        arkbridge_sim::DEMO_SEED,
        "the demo seed changed shape"
    );
    let seed_path = dir.path().join("seed.yaml");
    std::fs::write(&seed_path, seed).unwrap();
    let handle = arkbridge_sim::start(SimOptions {
        dir: dir.path().to_path_buf(),
        seed: Some(seed_path),
        cpm_delay: Duration::from_millis(50),
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

/// A PVWA session as `Administrator`.
pub(crate) async fn admin(s: &Sim) -> PvwaClient {
    let mut cfg = s.config.cyberark.pvwa.clone();
    cfg.username = "Administrator".into();
    PvwaClient::logon_with(&cfg, &SecretString::from(ADMIN_PASSWORD), no_retry("pvwa"))
        .await
        .unwrap()
}
