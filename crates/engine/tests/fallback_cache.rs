//! The read-only cache against the real simulator, in one bridge (the cache lives in process
//! memory, so only a long-lived bridge can show it): a healthy run of the health check fills the
//! cache with its declared fallback's value; with the Vault then unreachable (CCP `APPAP007E`,
//! PVWA 500) and no second CCP, the next run goes on read-only with the cached value, audited
//! with `source = cache`, masked in the output, and the planted values are on no file.
//! Staleness is covered by `ro_cache.rs`'s paused-clock tests.

use std::time::Duration;

use arkbridge_core::audit::Action;
use arkbridge_core::config::{Config, FallbackCacheConfig};
use arkbridge_engine::{Bridge, RunRequest, VerifiedUser};
use arkbridge_store::{AuditFilter, SqliteStore, Store};

const PRIMARY: &str = "Primary-Secret-4Kd!q2";
const READ_ONLY: &str = "ReadOnly-Secret-8Vw!m5";

fn seed() -> String {
    let seed = arkbridge_sim::DEMO_SEED
        .replacen(
            "      - name: payments-db\n",
            &format!("      - name: payments-db\n        secret: \"{PRIMARY}\"\n"),
            1,
        )
        .replacen(
            "      - name: payments-db-ro\n",
            &format!("      - name: payments-db-ro\n        secret: \"{READ_ONLY}\"\n"),
            1,
        );
    assert!(
        seed.contains(PRIMARY) && seed.contains(READ_ONLY),
        "the demo seed's layout changed"
    );
    seed
}

/// Every file below `dir` whose bytes contain `needle`.
fn files_containing(dir: &std::path::Path, needle: &str) -> Vec<std::path::PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p).into_iter().flatten().flatten() {
                stack.push(e.path());
            }
        } else if std::fs::read(&p)
            .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        {
            hits.push(p);
        }
    }
    hits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_outage_is_bridged_by_the_read_only_cache_filled_while_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let seed_dir = tempfile::tempdir().unwrap();
    let seed_path = seed_dir.path().join("seed.yaml");
    std::fs::write(&seed_path, seed()).unwrap();
    let sim = arkbridge_sim::start(arkbridge_sim::SimOptions {
        dir: dir.path().join("sim"),
        seed: Some(seed_path),
        cpm_delay: Duration::from_millis(50),
    })
    .await
    .unwrap();
    let mut config = Config::load(&dir.path().join("sim/arkbridge.toml")).unwrap();
    // Rule 4 reads safe members through the PVWA, which the outage takes down too; this test
    // is about the credentials once the policy allowed the run.
    config.policy.require_safe_membership = false;
    config.cyberark.fallback_cache = Some(FallbackCacheConfig::default());
    std::fs::create_dir_all(&config.data_dir).unwrap();
    let store = SqliteStore::open(&config.data_dir.join("arkbridge.db"))
        .await
        .unwrap();
    let (bridge, _) = Bridge::with_store(config.clone(), store.clone())
        .await
        .unwrap();
    let page = bridge
        .confluence()
        .find_pages("Payments DB health", None)
        .await
        .unwrap()
        .remove(0);
    let request = RunRequest {
        page: page.id.clone(),
        block: Some("health".into()),
        user: VerifiedUser::resolve(&config, "alice@example.com").unwrap(),
    };

    // Healthy: the primary credential, and the fallback's value is cached on the way.
    let mut sink = |_: arkbridge_runner::Stream, _: &[u8]| {};
    let healthy = bridge.run(&request, &mut sink).await.unwrap();
    assert_eq!(
        (healthy.mode.as_str(), healthy.fallback_used),
        ("read", false)
    );
    assert_eq!(
        healthy.output,
        "checking payments DB as read with password *****\n"
    );
    let refreshes = issued(&store, "read-only-cache").await;
    assert_eq!(refreshes, 1, "the declared fallback was cached once");
    // A periodic refresh (what a long-running bridge calls on a timer) fetches it again.
    assert_eq!(bridge.refresh_fallback_cache().await.unwrap(), 1);
    assert_eq!(issued(&store, "read-only-cache").await, 2);

    // The Vault goes down: the CCP answers APPAP007E for every account, the PVWA 500.
    sim.set_vault_down(true);
    let mut live = Vec::new();
    let mut sink = |_: arkbridge_runner::Stream, bytes: &[u8]| live.extend_from_slice(bytes);
    let outage = bridge.run(&request, &mut sink).await.unwrap();
    assert_eq!(outage.status, "succeeded", "{}", outage.output);
    assert_eq!(
        (outage.mode.as_str(), outage.fallback_used),
        ("read-only", true)
    );
    assert_eq!(
        outage.output,
        "checking payments DB as read-only with password *****\n"
    );
    assert_eq!(String::from_utf8_lossy(&live), outage.output);

    // The audit names the source, and the hand-over from the cache is a lease like any other.
    let fallbacks = store
        .audit_query(
            &AuditFilter {
                action: Some(Action::CredentialFallback.as_str().into()),
                ..AuditFilter::default()
            },
            0,
            100,
        )
        .await
        .unwrap();
    let sources: Vec<String> = fallbacks
        .iter()
        .filter_map(|r| r.event.details.get("source")?.as_str().map(str::to_string))
        .collect();
    assert_eq!(sources, ["cache"]);
    let start = &fallbacks[0].event.details;
    assert_eq!(
        start["cause_kind"], "server-error",
        "the PVWA's 500 came first"
    );
    // Two leases: the first CCP's failed attempt (released with its error), then the cache's.
    let leases = store.leases_for_run(&outage.run_id).await.unwrap();
    let errors: Vec<Option<&str>> = leases.iter().map(|l| l.error.as_deref()).collect();
    assert_eq!(leases.len(), 2, "{leases:?}");
    assert!(
        errors[0].is_some_and(|e| e.contains("APPAP007E")),
        "{errors:?}"
    );
    assert_eq!(errors[1], None);
    assert!(
        leases
            .iter()
            .all(|l| (l.safe.as_str(), l.object.as_str()) == ("Prod-DB-RO", "payments-db-ro"))
    );

    // While CyberArk is down, a periodic refresh fails and the cached value stays usable.
    assert!(bridge.refresh_fallback_cache().await.is_err());
    bridge.shutdown().await;

    for planted in [PRIMARY, READ_ONLY] {
        assert_eq!(
            files_containing(dir.path(), planted),
            Vec::<std::path::PathBuf>::new(),
            "a planted secret reached a file"
        );
    }
    sim.shutdown().await;
}

/// How many `credential.issued` records have this `purpose`.
async fn issued(store: &SqliteStore, purpose: &str) -> usize {
    store
        .audit_query(
            &AuditFilter {
                action: Some(Action::CredentialIssued.as_str().into()),
                ..AuditFilter::default()
            },
            0,
            1000,
        )
        .await
        .unwrap()
        .iter()
        .filter(|r| r.event.details.get("purpose").and_then(|p| p.as_str()) == Some(purpose))
        .count()
}
