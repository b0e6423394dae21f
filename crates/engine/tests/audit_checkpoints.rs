//! Checkpoints from `[audit]` end to end against the simulators: the signing key comes from
//! CyberArk through the CCP, a command's end signs a checkpoint of what it added, and every
//! checkpoint is published to a syslog receiver on loopback and as a content property of a
//! Confluence page, in forms `audit verify --from-checkpoint` accepts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arkbridge_audit::{PROPERTY_KEY, SignedCheckpoint, VerifyOptions, published_note, verify_log};
use arkbridge_core::config::{Config, SyslogTargetConfig};
use arkbridge_core::secret_ref::SecretRef;
use arkbridge_engine::Bridge;
use arkbridge_store::{SqliteStore, Store};
use secrecy::ExposeSecret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const KEY_NAME: &str = "audit.example.com/arkbridge";

/// A syslog receiver on loopback: reads octet-counted frames until the sender closes, then
/// closes its side, as a SIEM's collector does.
async fn receiver() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let frames: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = frames.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut bytes = Vec::new();
            if s.read_to_end(&mut bytes).await.is_err() {
                continue;
            }
            let mut rest = &bytes[..];
            while let Some(space) = rest.iter().position(|b| *b == b' ') {
                let len: usize = std::str::from_utf8(&rest[..space])
                    .unwrap()
                    .parse()
                    .unwrap();
                let frame = &rest[space + 1..space + 1 + len];
                sink.lock()
                    .unwrap()
                    .push(String::from_utf8(frame.to_vec()).unwrap());
                rest = &rest[space + 1 + len..];
            }
            let _ = s.shutdown().await;
        }
    });
    (port, frames)
}

/// The simulators with the demo data plus the checkpoint key in the bridge's own safe, and a
/// config whose `[audit]` names it, publishes to `page` and to the receiver on `port`.
async fn setup(
    dir: &std::path::Path,
    port: u16,
) -> (
    arkbridge_sim::SimHandle,
    Config,
    arkbridge_audit::VerifierKey,
) {
    let (private, public) = arkbridge_audit::keys::generate(KEY_NAME).unwrap();
    let marker = "  - name: Integrations\n    description: Credentials the bridge itself uses\n    accounts:\n";
    assert!(arkbridge_sim::DEMO_SEED.contains(marker));
    let seed = arkbridge_sim::DEMO_SEED.replace(
        marker,
        &format!(
            "{marker}      - name: audit-checkpoint-key\n        platformId: CyberArk\n        \
             address: localhost\n        userName: arkbridge-audit\n        \
             automaticManagementEnabled: false\n        secret: \"{}\"\n",
            private.expose_secret()
        ),
    );
    std::fs::create_dir_all(dir).unwrap();
    let seed_path = dir.join("seed.yaml");
    std::fs::write(&seed_path, seed).unwrap();
    let sim = arkbridge_sim::start(arkbridge_sim::SimOptions {
        dir: dir.join("sim"),
        seed: Some(seed_path),
        cpm_delay: Duration::from_millis(50),
    })
    .await
    .unwrap();
    let mut config = Config::load(&dir.join("sim/arkbridge.toml")).unwrap();
    config.audit.signing_key = Some(arkbridge_core::config::ConfigSecret::Reference(
        SecretRef::new("Integrations", "audit-checkpoint-key"),
    ));
    config.audit.key_id = format!("{KEY_NAME}+{:08x}", public.key_id);
    config.audit.syslog = vec![SyslogTargetConfig {
        host: "127.0.0.1".into(),
        port,
        tls: false,
        ca: None,
        hostname: Some("bridge-1".into()),
    }];
    std::fs::create_dir_all(&config.data_dir).unwrap();
    (sim, config, public)
}

async fn page_id(bridge: &Bridge<SqliteStore>) -> String {
    bridge
        .confluence()
        .find_pages("Payments DB health", None)
        .await
        .unwrap()
        .remove(0)
        .id
}

/// Verifies the store against a published form of a checkpoint, as `audit verify
/// --from-checkpoint` does.
async fn verifies_against(
    store: &SqliteStore,
    public: &arkbridge_audit::VerifierKey,
    published: &str,
) {
    let note = published_note(published).unwrap();
    let options = VerifyOptions {
        keys: Some(vec![public.clone()]),
        trusted: vec![note],
    };
    let report = verify_log(store, &options).await.unwrap().unwrap();
    assert_eq!(report.trusted_checked, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_end_signs_a_checkpoint_and_publishes_it_to_syslog_and_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let (port, frames) = receiver().await;
    let (sim, mut config, public) = setup(dir.path(), port).await;
    let store = SqliteStore::open(&config.data_dir.join("arkbridge.db"))
        .await
        .unwrap();
    // A first bridge learns the page to publish to.
    let (bridge, _) = Bridge::with_store(config.clone(), store.clone())
        .await
        .unwrap();
    let page = page_id(&bridge).await;
    bridge.shutdown().await;
    config.audit.publish_page = Some(page.clone());

    let (bridge, _) = Bridge::with_store(config.clone(), store.clone())
        .await
        .unwrap();
    bridge.shutdown().await;

    // Both ends signed what their start had logged (the credentials it fetched, the key).
    let checkpoints = store.audit_checkpoints().await.unwrap();
    assert_eq!(checkpoints.len(), 2);
    let last = checkpoints.last().unwrap();
    assert_eq!(last.tree_size, store.audit_size().await.unwrap());
    let signed = SignedCheckpoint::verify(&last.note, std::slice::from_ref(&public)).unwrap();
    assert_eq!(signed.checkpoint.origin, KEY_NAME);

    // The page holds the latest checkpoint, which verifies the log.
    let property = bridge
        .confluence()
        .page_property(&page, PROPERTY_KEY)
        .await
        .unwrap()
        .expect("the checkpoint property was set");
    assert_eq!(property.value["note"], last.note.as_str());
    assert_eq!(property.value["tree_size"], last.tree_size);
    verifies_against(&store, &public, &property.value.to_string()).await;

    // The receiver got every record once, each checkpoint after the records it covers, as CEF.
    let got = frames.lock().unwrap().clone();
    let records = got.iter().filter(|f| f.contains(" audit - CEF:0|")).count();
    assert_eq!(records as u64, last.tree_size, "{got:#?}");
    assert_eq!(got.len(), records + 2, "{got:#?}");
    let first = got
        .iter()
        .position(|f| f.contains("externalId=checkpoint-1"));
    assert_eq!(first, Some(checkpoints[0].tree_size as usize));
    let cp = got.last().unwrap();
    assert!(
        cp.contains(" bridge-1 arkbridge - checkpoint - CEF:0|arkbridge|")
            && cp.contains("externalId=checkpoint-2"),
        "{cp}"
    );
    verifies_against(&store, &public, cp).await;

    // A command that added nothing writes no new checkpoint.
    let before = store.audit_size().await.unwrap();
    let (bridge, _) = Bridge::with_store(config.clone(), store.clone())
        .await
        .unwrap();
    let added = store.audit_size().await.unwrap() - before;
    assert!(added > 0, "the start logs its credential retrievals");
    bridge.checkpoint_at_exit().await.unwrap().unwrap();
    assert!(bridge.checkpoint_at_exit().await.unwrap().is_none());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_audit_forwards_live_and_publishes_its_shutdown_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (port, frames) = receiver().await;
    let (sim, mut config, public) = setup(dir.path(), port).await;
    let store = SqliteStore::open(&config.data_dir.join("arkbridge.db"))
        .await
        .unwrap();
    let (probe, _) = Bridge::with_store(config.clone(), store.clone())
        .await
        .unwrap();
    config.audit.publish_page = Some(page_id(&probe).await);
    config.audit.checkpoint_interval_minutes = 5;
    let (bridge, _) = Bridge::with_store(config.clone(), store.clone())
        .await
        .unwrap();
    let background = bridge
        .start_background_audit()
        .await
        .unwrap()
        .expect("a signing key is configured");
    // The live forwarder sends records as they come, before any checkpoint.
    let size = store.audit_size().await.unwrap() as usize;
    while frames.lock().unwrap().len() < size {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let last = background.shutdown().await.unwrap();
    assert_eq!(last.id, 1);
    let got = frames.lock().unwrap().clone();
    assert_eq!(got.len(), size + 1);
    assert!(got[size].contains("externalId=checkpoint-1"));
    verifies_against(&store, &public, &got[size]).await;
    let property = bridge
        .confluence()
        .page_property(config.audit.publish_page.as_deref().unwrap(), PROPERTY_KEY)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(property.value["checkpoint"], 1);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_the_ccp_cannot_give_stops_the_start_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let (port, _) = receiver().await;
    let (sim, mut config, _) = setup(dir.path(), port).await;
    config.audit.signing_key = Some(arkbridge_core::config::ConfigSecret::Reference(
        SecretRef::new("Integrations", "no-such-key"),
    ));
    // The bootstrap resolves the key with the bridge's other credentials, so a bridge that
    // could not sign its checkpoints does not start.
    let err = Bridge::connect(config).await.unwrap_err().to_string();
    assert!(
        err.contains("audit.signing_key") && err.contains("no-such-key"),
        "{err}"
    );
    sim.shutdown().await;
}
