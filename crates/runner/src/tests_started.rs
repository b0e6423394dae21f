//! Tests of the start report: the script's process group reaches the caller before any output.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::tests::spec;
use super::*;

#[tokio::test]
async fn started_reports_the_live_group_before_any_output_is_forwarded() {
    let mut s = spec("echo hello");
    s.run_id = "started-run-1".into();
    s.secret_files.clear();
    let masker = Masker::with_default_mask(["unused-secret-value"]);
    let forwarded = Arc::new(AtomicUsize::new(0));
    let counter = forwarded.clone();
    let mut sink = move |_: Stream, b: &[u8]| {
        counter.fetch_add(b.len(), Ordering::SeqCst);
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let run = run_reporting(s, &masker, &mut sink, Some(tx));
    let check = async {
        let started = rx.await.expect("the runner reports the start");
        let g = started.group;
        assert!(g.pgid > 1);
        assert!(g.start_ticks.is_some());
        // The runner waits for the acknowledgement, so nothing was forwarded yet even though
        // the script printed at once.
        assert_eq!(forwarded.load(Ordering::SeqCst), 0);
        started.ack.send(()).unwrap();
        g
    };
    let (outcome, group) = tokio::join!(run, check);
    let outcome = outcome.unwrap();
    assert!(outcome.succeeded());
    assert_eq!(String::from_utf8_lossy(&outcome.output), "hello\n");
    assert_eq!(forwarded.load(Ordering::SeqCst), "hello\n".len());
    // Once the run is over, the recorded group is gone.
    assert_eq!(
        kill_orphaned_group(group.pgid, group.start_ticks, "started-run-1").unwrap(),
        OrphanOutcome::Gone
    );
}

#[tokio::test]
async fn dropped_acknowledgement_lets_the_run_go_on() {
    let mut s = spec("echo fine");
    s.secret_files.clear();
    let masker = Masker::with_default_mask(["unused-secret-value"]);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut sink = |_: Stream, _: &[u8]| {};
    let run = run_reporting(s, &masker, &mut sink, Some(tx));
    let check = async {
        drop(rx.await.unwrap().ack);
    };
    let (outcome, ()) = tokio::join!(run, check);
    assert_eq!(String::from_utf8_lossy(&outcome.unwrap().output), "fine\n");
}
