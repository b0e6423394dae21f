//! Tests of checkpoint texts and of the periodic schedule (on tokio's paused clock).

use std::sync::{Arc, Mutex};

use super::*;

fn sample(prev: Option<Hash>) -> Checkpoint {
    Checkpoint {
        origin: "example.com/audit".into(),
        tree_size: 1024,
        root: [7; 32],
        time_us: 1_764_504_000_000_000,
        prev,
    }
}

#[test]
fn bodies_round_trip_in_the_documented_form() {
    let first = sample(None);
    assert_eq!(
        first.body(),
        "example.com/audit\n1024\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\
         time 2025-11-30T12:00:00.000000Z\n"
    );
    assert_eq!(Checkpoint::parse_body(&first.body()).unwrap(), first);
    let next = sample(Some([1; 32]));
    assert!(
        next.body()
            .ends_with("\nprev AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n")
    );
    assert_eq!(Checkpoint::parse_body(&next.body()).unwrap(), next);
}

#[test]
fn malformed_bodies_are_refused() {
    let good = sample(Some([1; 32])).body();
    for bad in [
        good.replace("1024", "01024"),
        good.replace("1024", "-1"),
        good.replace("time ", "when "),
        good.replace("prev ", "prev x"),
        good.trim_end().to_string(),
        format!("{good}extra line\n"),
        good.replace("example.com/audit", "bad origin"),
        "a\n1\n".to_string(),
    ] {
        assert!(Checkpoint::parse_body(&bad).is_err(), "{bad:?}");
    }
}

#[test]
fn signed_checkpoints_verify_only_under_their_own_key() {
    let (private, public) = crate::keys::generate("example.com/audit").unwrap();
    let key = SigningKey::from_base64("example.com/audit", &private).unwrap();
    let signed = SignedCheckpoint::sign(sample(None), &key);
    let back = SignedCheckpoint::verify(&signed.note, std::slice::from_ref(&public)).unwrap();
    assert_eq!(back, signed);
    let (_, other) = crate::keys::generate("example.com/audit").unwrap();
    assert!(SignedCheckpoint::verify(&signed.note, &[other]).is_err());
    // A key whose name is not the checkpoint's origin does not vouch for it.
    let (private, _) = crate::keys::generate("example.com/other").unwrap();
    let impostor = SigningKey::from_base64("example.com/other", &private).unwrap();
    let forged = SignedCheckpoint::sign(sample(None), &impostor);
    assert!(SignedCheckpoint::verify(&forged.note, &[impostor.verifier().clone()]).is_err());
}

#[test]
fn the_interval_is_one_minute_to_one_hour() {
    assert!(CheckpointInterval::from_minutes(0).is_err());
    assert!(CheckpointInterval::from_minutes(61).is_err());
    assert_eq!(
        CheckpointInterval::from_minutes(60).unwrap(),
        CheckpointInterval::HOURLY
    );
    assert_eq!(
        CheckpointInterval::from_minutes(15).unwrap().duration(),
        Duration::from_secs(900)
    );
}

#[tokio::test(start_paused = true)]
async fn the_schedule_ticks_every_interval_and_once_more_at_shutdown() {
    let start = Instant::now();
    let seen: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let (stop, stopped) = oneshot::channel();
    let (published, mut latest) = watch::channel(None);
    let record = seen.clone();
    let task = tokio::spawn(periodic(
        Duration::from_secs(600),
        stopped,
        published,
        move || {
            let record = record.clone();
            async move {
                let mut seen = record.lock().unwrap();
                seen.push(start.elapsed());
                Ok::<usize, AuditError>(seen.len())
            }
        },
    ));
    // Nothing before the first interval has passed.
    tokio::time::sleep(Duration::from_secs(599)).await;
    assert!(seen.lock().unwrap().is_empty());
    for n in 1..=3 {
        latest.changed().await.unwrap();
        assert_eq!(*latest.borrow(), Some(n));
    }
    stop.send(()).unwrap();
    assert_eq!(task.await.unwrap().unwrap(), 4);
    let secs: Vec<u64> = seen.lock().unwrap().iter().map(|d| d.as_secs()).collect();
    assert_eq!(secs, [600, 1200, 1800, 1800]);
}

#[tokio::test(start_paused = true)]
async fn a_failed_tick_is_logged_and_the_schedule_goes_on() {
    let calls: Arc<Mutex<u32>> = Arc::default();
    let (stop, stopped) = oneshot::channel();
    let (published, mut latest) = watch::channel(None);
    let counter = calls.clone();
    let task = tokio::spawn(periodic(
        Duration::from_secs(60),
        stopped,
        published,
        move || {
            let counter = counter.clone();
            async move {
                let mut n = counter.lock().unwrap();
                *n += 1;
                if *n == 1 {
                    Err(AuditError::Invalid("store down".into()))
                } else {
                    Ok(*n)
                }
            }
        },
    ));
    latest.changed().await.unwrap();
    assert_eq!(*latest.borrow(), Some(2));
    drop(stop);
    assert_eq!(task.await.unwrap().unwrap(), 3);
}

/// The schedule driving a real checkpointer over SQLite. SQLite's I/O runs on its own threads,
/// which tokio's paused clock cannot see (it would jump to the pool's timeouts), so this one runs
/// on real time with a short period and waits for what the task publishes.
#[tokio::test]
async fn scheduled_ticks_checkpoint_a_real_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = arkbridge_store::SqliteStore::open(&dir.path().join("a.db"))
        .await
        .unwrap();
    let (private, _) = crate::keys::generate("example.com/audit").unwrap();
    let key = Arc::new(SigningKey::from_base64("example.com/audit", &private).unwrap());
    let checkpointer = Arc::new(Checkpointer::new(store.clone(), key));
    let (stop, stopped) = oneshot::channel();
    let (published, mut latest) = watch::channel(None);
    let c = checkpointer.clone();
    let task = tokio::spawn(periodic(
        Duration::from_millis(20),
        stopped,
        published,
        move || {
            let c = c.clone();
            async move { c.checkpoint().await }
        },
    ));
    latest.changed().await.unwrap();
    store
        .append_audit(arkbridge_core::audit::AuditEvent::new(
            arkbridge_core::audit::Action::ConfigLoaded,
        ))
        .await
        .unwrap();
    // Wait for a tick that saw the new record.
    while latest.borrow().as_ref().is_none_or(|c| c.tree_size < 1) {
        latest.changed().await.unwrap();
    }
    stop.send(()).unwrap();
    let last = task.await.unwrap().unwrap();
    let all = store.audit_checkpoints().await.unwrap();
    assert_eq!(all.last().unwrap(), &last);
    assert!(all.len() >= 3);
    assert_eq!(all[0].tree_size, 0);
    assert_eq!(last.tree_size, 1);
}
