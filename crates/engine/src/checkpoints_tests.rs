//! Tests of the background schedule's orchestration on tokio's paused clock (with stand-ins for
//! the store and the receivers, whose real I/O the paused clock cannot see), and of the key
//! checks.

use std::sync::Mutex;
use std::time::Duration;

use arkbridge_core::config::AuditConfig;
use secrecy::SecretString;
use tokio::time::Instant;

use super::*;

/// What the stand-in publisher saw: (checkpoint id, seconds since start, syslog by publisher).
type Seen = Arc<Mutex<Vec<(i64, u64, bool)>>>;

fn config(key_id: &str, minutes: u64) -> AuditConfig {
    AuditConfig {
        key_id: key_id.into(),
        checkpoint_interval_minutes: minutes,
        ..AuditConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn the_configured_interval_drives_checkpoints_and_shutdown_publishes_to_syslog_too() {
    let audit = config("audit.example.com/bridge", 15);
    let interval = CheckpointInterval::from_minutes(audit.checkpoint_interval_minutes).unwrap();
    let start = Instant::now();
    let seen: Seen = Arc::default();
    let written = Arc::new(Mutex::new(0i64));

    // A forwarder stand-in that runs until told to stop, as `Forwarder::run` does.
    let (stop_forwarding, mut stopped) = watch::channel(false);
    let forwarder_stopped_at = Arc::new(Mutex::new(None));
    let marker = forwarder_stopped_at.clone();
    let forwarder = tokio::spawn(async move {
        while !*stopped.borrow() {
            if stopped.changed().await.is_err() {
                break;
            }
        }
        *marker.lock().unwrap() = Some(start.elapsed().as_secs());
    });

    let counter = written.clone();
    let record = seen.clone();
    let background = BackgroundAudit::schedule(
        interval,
        stop_forwarding,
        vec![forwarder],
        move || {
            let counter = counter.clone();
            async move {
                let mut n = counter.lock().unwrap();
                *n += 1;
                let cp = StoredCheckpoint {
                    id: *n,
                    tree_size: *n as u64 * 10,
                    time_us: start.elapsed().as_micros() as i64,
                    note: String::new(),
                };
                Ok((cp, ()))
            }
        },
        move |(cp, ()): (StoredCheckpoint, ()), syslog| {
            let record = record.clone();
            async move {
                let at = (cp.time_us / 1_000_000) as u64;
                record.lock().unwrap().push((cp.id, at, syslog));
            }
        },
    );
    let mut latest = background.latest();

    // Nothing before the first interval has passed.
    tokio::time::sleep(Duration::from_secs(899)).await;
    assert!(latest.borrow().is_none());
    for n in 1..=3 {
        latest.changed().await.unwrap();
        assert_eq!(latest.borrow().as_ref().map(|c| c.id), Some(n));
    }
    let last = background.shutdown().await.unwrap();
    assert_eq!((last.id, last.tree_size), (4, 40));
    // Every scheduled checkpoint was left to the running forwarder; the shutdown one, written
    // after the forwarder stopped, was sent to syslog by the publisher.
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (1, 900, false),
            (2, 1800, false),
            (3, 2700, false),
            (4, 2700, true)
        ]
    );
    assert_eq!(*forwarder_stopped_at.lock().unwrap(), Some(2700));
}

#[tokio::test(start_paused = true)]
async fn without_receivers_the_publisher_sends_every_checkpoint_to_syslog() {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let (stop_forwarding, _) = watch::channel(false);
    let background = BackgroundAudit::schedule(
        CheckpointInterval::from_minutes(1).unwrap(),
        stop_forwarding,
        Vec::new(),
        || async {
            let cp = StoredCheckpoint {
                id: 1,
                tree_size: 0,
                time_us: 0,
                note: String::new(),
            };
            Ok((cp, ()))
        },
        move |(cp, ()): (StoredCheckpoint, ()), syslog| {
            let record = record.clone();
            async move { record.lock().unwrap().push((cp.id, 0, syslog)) }
        },
    );
    let mut latest = background.latest();
    latest.changed().await.unwrap();
    background.shutdown().await.unwrap();
    assert_eq!(*seen.lock().unwrap(), [(1, 0, true), (1, 0, true)]);
}

#[test]
fn the_key_is_named_by_key_id_and_a_pinned_id_must_match() {
    let (private, public) = arkbridge_audit::keys::generate("audit.example.com/bridge").unwrap();
    let named = config("audit.example.com/bridge", 60);
    let key = signing_key_from(&named, &private).unwrap();
    assert_eq!(key.verifier(), &public);

    let pinned = config(
        &format!("audit.example.com/bridge+{:08x}", public.key_id),
        60,
    );
    assert!(signing_key_from(&pinned, &private).is_ok());

    let wrong = config("audit.example.com/bridge+00000000", 60);
    let err = signing_key_from(&wrong, &private).unwrap_err().to_string();
    assert!(err.contains("pins 00000000"), "{err}");

    let err = signing_key_from(&named, &SecretString::from("not a key"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("audit.signing_key") && !err.contains("not a key"),
        "{err}"
    );
}

#[test]
fn a_publish_page_on_data_center_is_refused_with_the_reason() {
    let config = arkbridge_core::config::Config::parse(
        r#"
data_dir = "data"
[identity]
provider = "local-trusted"
[cyberark.ccp]
url = "https://127.0.0.1:1"
app_id = "arkbridge"
[cyberark.pvwa]
url = "https://127.0.0.1:2"
username = "arkbridge-svc"
password = "cyberark://Integrations/pvwa"
[confluence]
url = "https://127.0.0.1:3"
flavor = "data-center"
auth = "pat"
token = "cyberark://Integrations/confluence"
[audit]
publish_page = "123"
"#,
    )
    .unwrap();
    let err = CheckpointPublisher::new(&config, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("needs Confluence Cloud"), "{err}");
}
