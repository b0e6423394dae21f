//! What replicas share on PostgreSQL (`pg_cluster.rs`, `pg_queue.rs`): claims with
//! `FOR UPDATE SKIP LOCKED` hand each queued run to exactly one claimer, a silent replica is
//! declared dead and its heartbeats refused, a stale leader's epoch claims nothing, advisory
//! locks exclude other sessions, single-use token ids are refused a second time on any pool,
//! and stored output is trimmed and a run's end recorded once.

mod support_pg;

use std::collections::HashSet;

use arkbridge_store::{PgStore, QueuedRun, StoredChunk};
use support_pg::PgCluster;

fn queued(id: &str, at: i64) -> QueuedRun {
    QueuedRun {
        id: id.into(),
        owner: "alice@example.com".into(),
        page_id: "65601".into(),
        block: "health".into(),
        request: "{}".into(),
        state: "queued".into(),
        status: "queued".into(),
        replica_id: None,
        created_micros: at,
        finished_micros: None,
        last_seq: 0,
        dropped: 0,
        record: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claimers_get_every_queued_run_exactly_once() {
    let pg = PgCluster::start();
    let options = pg.options("claims").await.max_connections(4);
    let first = PgStore::connect(&options).await.unwrap();
    let cluster = first.pg_cluster();
    for i in 0..60 {
        cluster
            .enqueue_run(&queued(&format!("run-{i:02}"), i))
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for replica in 0..4 {
        cluster
            .register_replica(&format!("replica-{replica}"), "host", replica)
            .await
            .unwrap();
        let store = PgStore::connect(&options).await.unwrap();
        tasks.push(tokio::spawn(async move {
            let cluster = store.pg_cluster();
            let mut mine = Vec::new();
            loop {
                let claimed = cluster
                    .claim_runs(&format!("replica-{replica}"), 3, 1)
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                for run in claimed {
                    assert_eq!(run.state, "running");
                    assert_eq!(
                        run.replica_id.as_deref(),
                        Some(format!("replica-{replica}").as_str())
                    );
                    mine.push(run.id);
                }
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    assert_eq!(all.len(), 60, "a run was claimed twice or not at all");
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 60);
    assert!(cluster.claim_runs("late", 5, 2).await.unwrap().is_empty());
    assert!(cluster.claim_runs("none", 0, 2).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_silent_replica_is_declared_dead_and_fenced() {
    let pg = PgCluster::start();
    let store = PgStore::connect(&pg.options("replicas").await)
        .await
        .unwrap();
    let cluster = store.pg_cluster();
    cluster.register_replica("a", "host-1", 42).await.unwrap();
    assert!(cluster.heartbeat("a").await.unwrap());
    // Heard from just now (by the database's clock): alive for an hour's silence limit.
    assert!(
        !cluster
            .declare_dead_if_silent("a", 3_600_000_000)
            .await
            .unwrap()
    );
    // Its lock sessions end when it is declared dead, so its advisory locks are freed.
    let session = cluster.session("a").await.unwrap();
    assert!(session.try_lock("run:r1").await.unwrap());
    assert!(cluster.declare_dead_if_silent("a", 0).await.unwrap());
    assert!(
        !session.alive().await,
        "a dead replica's lock session lives on"
    );
    let other = cluster.session("b").await.unwrap();
    assert!(other.try_lock("run:r1").await.unwrap());
    // Fenced: its heartbeats and its claims are refused.
    assert!(!cluster.heartbeat("a").await.unwrap());
    cluster.enqueue_run(&queued("q1", 1)).await.unwrap();
    assert!(cluster.claim_runs("a", 5, 2).await.unwrap().is_empty());
    // Nobody registered under this id: nothing of it can be running.
    assert!(cluster.declare_dead_if_silent("ghost", 0).await.unwrap());
    // A clean stop is dead at once, whatever the heartbeat.
    cluster.register_replica("b", "host-2", 43).await.unwrap();
    cluster.stop_replica("b").await.unwrap();
    assert!(
        cluster
            .declare_dead_if_silent("b", 3_600_000_000)
            .await
            .unwrap()
    );
    let rows = cluster.replicas().await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.dead_micros.is_some()));
}

#[tokio::test]
async fn a_stale_leader_epoch_claims_no_scheduled_slot_and_an_unfinished_slot_is_rerun() {
    let pg = PgCluster::start();
    let store = PgStore::connect(&pg.options("leader").await).await.unwrap();
    let cluster = store.pg_cluster();
    let day1 = "2026-11-29T02:00:00Z";
    let day2 = "2026-11-30T02:00:00Z";
    let old = cluster.take_leadership("a").await.unwrap();
    assert!(
        cluster
            .claim_slot("daily-audit", day1, "a", old)
            .await
            .unwrap()
    );
    assert!(
        !cluster
            .claim_slot("daily-audit", day1, "a", old)
            .await
            .unwrap()
    );
    let new = cluster.take_leadership("b").await.unwrap();
    assert!(new > old);
    assert_eq!(cluster.leader_epoch().await.unwrap(), new);
    // The old leader does not know it lost the lock: its epoch is refused.
    assert!(
        !cluster
            .claim_slot("daily-audit", day2, "a", old)
            .await
            .unwrap()
    );
    assert!(
        cluster
            .claim_slot("daily-audit", day2, "b", new)
            .await
            .unwrap()
    );
    cluster.complete_slot("daily-audit", day2).await.unwrap();
    // Day 1's leader died before completing it: the new leader runs it again, once.
    assert!(
        cluster
            .claim_slot("daily-audit", day1, "b", new)
            .await
            .unwrap()
    );
    assert!(
        !cluster
            .claim_slot("daily-audit", day1, "b", new)
            .await
            .unwrap()
    );
    // A completed occurrence is never rerun.
    let newer = cluster.take_leadership("c").await.unwrap();
    assert!(
        !cluster
            .claim_slot("daily-audit", day2, "c", newer)
            .await
            .unwrap()
    );
    assert_eq!(cluster.slots_claimed("daily-audit").await.unwrap(), 2);
}

#[tokio::test]
async fn an_advisory_lock_excludes_other_sessions_until_released() {
    let pg = PgCluster::start();
    let store = PgStore::connect(&pg.options("locks").await).await.unwrap();
    let cluster = store.pg_cluster();
    let one = cluster.session("r1").await.unwrap();
    let two = cluster.session("r2").await.unwrap();
    assert!(one.try_lock("account:prod-db/payments-db").await.unwrap());
    // Re-entrant for the holder, refused to anyone else.
    assert!(one.try_lock("account:prod-db/payments-db").await.unwrap());
    assert!(!two.try_lock("account:prod-db/payments-db").await.unwrap());
    assert!(two.try_lock("account:prod-db/other").await.unwrap());
    one.unlock("account:prod-db/payments-db").await.unwrap();
    assert!(
        !two.try_lock("account:prod-db/payments-db").await.unwrap(),
        "held twice, released once"
    );
    one.unlock("account:prod-db/payments-db").await.unwrap();
    assert!(two.try_lock("account:prod-db/payments-db").await.unwrap());
    assert!(one.alive().await);
}

#[tokio::test]
async fn a_single_use_token_is_refused_on_a_second_pool_and_forgotten_after_expiry() {
    let pg = PgCluster::start();
    let options = pg.options("tokens").await;
    let a = PgStore::connect(&options).await.unwrap().pg_cluster();
    let b = PgStore::connect(&options).await.unwrap().pg_cluster();
    assert!(a.use_token("k1", 1_000, 500).await.unwrap());
    assert!(!b.use_token("k1", 1_000, 600).await.unwrap());
    assert!(b.use_token("k2", 1_000, 600).await.unwrap());
    // Once past its expiry the id is forgotten (the verifier refuses the token anyway).
    assert!(a.use_token("k1", 3_000, 2_000).await.unwrap());
}

#[tokio::test]
async fn stored_output_is_trimmed_from_the_front_and_a_run_ends_once() {
    let pg = PgCluster::start();
    let store = PgStore::connect(&pg.options("output").await).await.unwrap();
    let cluster = store.pg_cluster();
    cluster.enqueue_run(&queued("r1", 1)).await.unwrap();
    let chunk = |seq: i64| StoredChunk {
        seq,
        stream: "stdout".into(),
        text: format!("line {seq}\n"),
    };
    cluster
        .append_output("r1", &[chunk(1), chunk(2), chunk(3)], None)
        .await
        .unwrap();
    cluster
        .append_output("r1", &[chunk(4)], Some((2, 2)))
        .await
        .unwrap();
    let left = cluster.output_after("r1", 0, 100).await.unwrap();
    assert_eq!(left.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![3, 4]);
    assert_eq!(cluster.output_after("r1", 3, 100).await.unwrap().len(), 1);
    let run = cluster.api_run("r1").await.unwrap().unwrap();
    assert_eq!((run.last_seq, run.dropped), (4, 2));
    assert!(
        cluster
            .finish_api_run("r1", "succeeded", "{\"a\":1}", 9)
            .await
            .unwrap()
    );
    assert!(
        !cluster
            .finish_api_run("r1", "error", "{}", 10)
            .await
            .unwrap()
    );
    let run = cluster.api_run("r1").await.unwrap().unwrap();
    assert_eq!(
        (run.state.as_str(), run.status.as_str()),
        ("finished", "succeeded")
    );
    assert_eq!(
        cluster.api_run_counts().await.unwrap(),
        vec![("finished".into(), "succeeded".into(), 1)]
    );
    // Pruning forgets finished runs (and their output) older than the cut, nothing newer.
    cluster.enqueue_run(&queued("r2", 2)).await.unwrap();
    assert_eq!(cluster.prune(5).await.unwrap(), 0);
    assert!(cluster.prune(10).await.unwrap() >= 1);
    assert!(cluster.api_run("r1").await.unwrap().is_none());
    assert!(cluster.output_after("r1", 0, 100).await.unwrap().is_empty());
    assert!(cluster.api_run("r2").await.unwrap().is_some());
}
