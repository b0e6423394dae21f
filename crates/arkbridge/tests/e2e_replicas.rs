//! Three `arkbridge serve` replicas on one PostgreSQL store and the simulators, through the real
//! binary: 200 runs started round-robin over the replicas, one replica killed with SIGKILL in
//! the middle. Then every run has one final state and at most one execution (none twice), the
//! runs of the killed replica end in `error` and their leases are settled by a survivor, no
//! lease is left open, exactly one daily audit ran, and the audit log verifies with one
//! `run.requested` script start per execution.

mod support;
#[path = "../../store/tests/support_pg/mod.rs"]
mod support_pg;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use arkbridge_audit::{VerifyOptions, verify_log};
use arkbridge_store::{AuditFilter, PgOptions, PgStore, PgTls, Store};
use serde_json::{Value, json};
use support::*;
use support_pg::PgCluster;

const PLANTED: &str = "Replicas-E2E-Secret-7!";
const ADMIN_PASSWORD: &str = "admin-replicas-e2e-1";
const RUNS: usize = 200;
/// Every how many runs one is the rotating `restart` block (the rest read).
const RESTART_EVERY: usize = 20;

#[test]
fn three_replicas_run_each_run_once_survive_a_sigkill_and_run_one_daily_audit() {
    let root = test_root();
    let r = root.path();
    let seed = seed_with(PLANTED, "").replacen(
        "  - username: Administrator\n",
        &format!("  - username: Administrator\n    password: {ADMIN_PASSWORD}\n"),
        1,
    );
    let sim = start_sim(r, &seed);
    let rt = rt();
    let pg = PgCluster::start();
    let url = rt.block_on(pg.database("bridge"));
    let identity = &sim.info["identity"];
    let base = std::fs::read_to_string(&sim.config_path).unwrap();
    // The daily audit is due this minute: the leader runs it at once (within the catch-up
    // hour), and only the leader.
    let now = jiff::Timestamp::now();
    let run_at = now.strftime("%H:%M").to_string();
    let shared = with_postgres_store(
        &base,
        &url,
        "\n[cluster]\nheartbeat_secs = 1\ndead_after_secs = 3\nmax_runs = 8\npoll_millis = 100\n",
    );
    let shared: String = shared
        .lines()
        .map(|l| {
            if l.starts_with("run_at = ") {
                format!("run_at = \"{run_at}\"\ntime_zone = \"UTC\"\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert!(
        shared.contains(&format!("run_at = \"{run_at}\"")),
        "no [daily] run_at to set"
    );
    let forge = format!(
        "\n[server.forge]\napp_id = {}\njwks_url = {}\nallowed_cloud_ids = [{}]\nca_cert = {}\n",
        identity["forge_app_id"],
        identity["forge_jwks_url"],
        identity["forge_cloud_id"],
        sim.info["ca_cert"],
    );
    let health = page_id_by_title(&sim, "Payments DB health");
    let restart_page = page_id_by_title(&sim, "Restart payments API");
    // Each replica has its own data folder: they share nothing but the database.
    let mut replicas = Vec::new();
    for n in 0..3 {
        let data = r.join(format!("data-{n}"));
        std::fs::create_dir_all(&data).unwrap();
        let from = format!("data_dir = {:?}", sim.config.data_dir.display().to_string());
        assert!(
            shared.contains(&from),
            "the simulator's data_dir line changed"
        );
        let text = shared.replacen(
            &from,
            &format!("data_dir = {:?}", data.display().to_string()),
            1,
        ) + &forge;
        let path = r.join(format!("replica-{n}.toml"));
        std::fs::write(&path, text).unwrap();
        if n == 0 {
            // The write block is approved once, in the shared store.
            let out = arkbridge(
                r,
                "approve-restart",
                &[
                    "approve",
                    &restart_page,
                    "--block",
                    "restart",
                    "--config",
                    path.to_str().unwrap(),
                    "--as",
                    "carol@example.com",
                ],
            );
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        replicas.push(start_serve(r, &path, &format!("replica-{n}")));
    }
    let config0 = r.join("replica-0.toml");

    let (ids, killed_url) = rt.block_on(async {
        // A Forge invocation token is good for one call (replays are refused).
        let minter = FitMinter::new(&sim, ADMIN_PASSWORD);
        let fit = async || minter.mint(json!({"email": "alice@example.com"})).await;
        let http = reqwest::Client::new();
        // A single-use token accepted by one replica is refused by the others.
        let once = fit().await;
        let first = http
            .get(format!("{}/api/v1/runs/no-such-run", replicas[0].url))
            .bearer_auth(&once)
            .send()
            .await
            .unwrap();
        assert_eq!(first.status(), 404);
        let again = http
            .get(format!("{}/api/v1/runs/no-such-run", replicas[2].url))
            .bearer_auth(&once)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 401);
        let refused: Value = again.json().await.unwrap();
        assert_eq!(refused["code"], "token_replayed", "{refused}");
        let mut ids = Vec::new();
        let mut killed = None;
        for i in 0..RUNS {
            if i == RUNS / 2 {
                // SIGKILL in the middle: replica 1 has claimed runs still going.
                let victim = &mut replicas[1];
                victim.child.kill().unwrap();
                victim.child.wait().unwrap();
                killed = Some(victim.url.clone());
            }
            let alive: Vec<&Served> = replicas
                .iter()
                .filter(|x| Some(&x.url) != killed.as_ref())
                .collect();
            let target = alive[i % alive.len()];
            let body = if i % RESTART_EVERY == 0 {
                json!({"page_id": restart_page, "block": "restart"})
            } else {
                json!({"page_id": health, "block": "health"})
            };
            let started = http
                .post(format!("{}/api/v1/runs", target.url))
                .bearer_auth(fit().await)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = started.status();
            assert_eq!(status, 202, "run {i}: {}", started.text().await.unwrap());
            let answer: Value = started.json().await.unwrap();
            assert_eq!(answer["status"], "queued");
            ids.push(answer["run_id"].as_str().unwrap().to_string());
        }
        // Every run reaches a final state in the store...
        let store = PgStore::connect(&PgOptions::new(url.clone()).tls(PgTls::Disable))
            .await
            .unwrap();
        let cluster = store.pg_cluster();
        let mut tries = 0;
        loop {
            let counts = cluster.api_run_counts().await.unwrap();
            let open: i64 = counts
                .iter()
                .filter(|(state, _, _)| state != "finished")
                .map(|(_, _, n)| n)
                .sum();
            if open == 0 {
                break;
            }
            tries += 1;
            assert!(tries < 1800, "runs never ended: {counts:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        store.close().await;
        // ... and any surviving replica reports it so, whichever replica executed it.
        let survivors: Vec<String> = replicas
            .iter()
            .filter(|x| Some(&x.url) != killed.as_ref())
            .map(|x| x.url.clone())
            .collect();
        for (i, id) in ids.iter().enumerate() {
            let url = &survivors[i % survivors.len()];
            let answer = http
                .get(format!("{url}/api/v1/runs/{id}"))
                .bearer_auth(fit().await)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 200, "run {id}");
            let run: Value = answer.json().await.unwrap();
            let status = run["status"].as_str().unwrap_or("");
            assert!(
                status == "succeeded" || status == "error",
                "run {id} ended {status}: {run}"
            );
        }
        // The masked output of a run streams from every surviving replica alike.
        // The last read run: started after the kill, so executed by a survivor.
        let some_health = ids
            .iter()
            .enumerate()
            .rev()
            .find(|(i, _)| i % RESTART_EVERY != 0)
            .map(|(_, id)| id.clone())
            .unwrap();
        for url in &survivors {
            let events = http
                .get(format!("{url}/api/v1/runs/{some_health}/events"))
                .bearer_auth(fit().await)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(events.contains("event: done"), "{events}");
            assert!(events.contains("\"status\":\"succeeded\""), "{events}");
            assert!(events.contains("password *****"), "{events}");
            assert!(!events.contains(PLANTED));
        }
        (ids, killed)
    });
    assert!(killed_url.is_some());
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), RUNS);

    // Leases: a survivor settles the killed replica's after its heartbeats stop; wait for it
    // (recovery runs on the leader every second here).
    rt.block_on(async {
        let store = PgStore::connect(&PgOptions::new(url.clone()).tls(PgTls::Disable))
            .await
            .unwrap();
        let mut tries = 0;
        while !store.open_leases().await.unwrap().is_empty() {
            tries += 1;
            assert!(
                tries < 600,
                "leases left open: {:?}",
                store.open_leases().await.unwrap()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let cluster = store.pg_cluster();
        let counts = cluster.api_run_counts().await.unwrap();
        let finished: i64 = counts
            .iter()
            .filter(|(state, _, _)| state == "finished")
            .map(|(_, _, n)| n)
            .sum();
        assert_eq!(finished, RUNS as i64, "{counts:?}");
        let errors: i64 = counts
            .iter()
            .filter(|(_, status, _)| status == "error")
            .map(|(_, _, n)| n)
            .sum();

        // Executions: each script start (`run.requested`, success) belongs to one engine run,
        // each engine run to one API run; runs that ended normally name theirs.
        let started = store
            .audit_query(
                &AuditFilter {
                    action: Some("run.requested".into()),
                    ..AuditFilter::default()
                },
                0,
                10_000,
            )
            .await
            .unwrap();
        let mut starts: HashMap<String, usize> = HashMap::new();
        for rec in started
            .iter()
            .filter(|r| r.event.outcome.as_str() == "success")
        {
            *starts
                .entry(rec.event.run_id.clone().unwrap_or_default())
                .or_default() += 1;
        }
        assert!(
            starts.values().all(|n| *n == 1),
            "a script started twice: {starts:?}"
        );
        // Each run's end is on record once: by its own replica, or by recovery for a run the
        // killed replica left with leases open.
        let ended = store
            .audit_query(
                &AuditFilter {
                    action: Some("run.finished".into()),
                    ..AuditFilter::default()
                },
                0,
                10_000,
            )
            .await
            .unwrap();
        let mut ends: HashMap<String, usize> = HashMap::new();
        for rec in &ended {
            *ends
                .entry(rec.event.run_id.clone().unwrap_or_default())
                .or_default() += 1;
        }
        assert!(
            ends.values().all(|n| *n == 1),
            "a run ended twice: {ends:?}"
        );
        // One id names a run in the API, the store and the audit log: no API run started a
        // script twice, each that succeeded exactly once, and no script started under an id
        // that is not one of the 200.
        let mut normal = 0;
        for id in &ids {
            let run = cluster.api_run(id).await.unwrap().unwrap();
            let record: Value = serde_json::from_str(run.record.as_deref().unwrap()).unwrap();
            assert!(starts.get(id).is_none_or(|n| *n == 1), "run {id}");
            if run.status == "succeeded" {
                normal += 1;
                assert_eq!(record["run_id"].as_str(), Some(id.as_str()), "{record}");
                assert_eq!(starts.get(id), Some(&1), "run {id}: {record}");
                assert_eq!(ends.get(id), Some(&1), "run {id}: {record}");
            }
        }
        let known: HashSet<&String> = ids.iter().collect();
        assert!(
            starts.keys().all(|id| known.contains(id)),
            "a script started under an unknown run id: {starts:?}"
        );
        // Besides those, only runs of the killed replica may have started a script.
        assert!(
            starts.len() as i64 <= normal + errors,
            "{} script starts for {normal} normal and {errors} interrupted runs",
            starts.len()
        );
        eprintln!(
            "{RUNS} runs: {normal} succeeded, {errors} ended with the killed replica; \
             {} scripts started",
            starts.len()
        );
        assert!(errors > 0, "the killed replica had no run going");
        assert_eq!(normal + errors, RUNS as i64);
        // Exactly one daily audit across the three replicas.
        assert_eq!(
            cluster
                .slots_claimed(arkbridge_server::cluster_node::DAILY_JOB)
                .await
                .unwrap(),
            1
        );
        let mut tries = 0;
        while store.daily_reports(10).await.unwrap().is_empty() {
            tries += 1;
            assert!(tries < 1200, "the daily audit did not finish");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(store.daily_reports(10).await.unwrap().len(), 1);
        let verified = verify_log(&store, &VerifyOptions::default())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(verified.records, store.audit_size().await.unwrap());
        store.close().await;
    });
    drop(replicas);
    let verify = arkbridge(
        r,
        "verify-replicas",
        &["audit", "verify", "--config", config0.to_str().unwrap()],
    );
    let said = String::from_utf8_lossy(&verify.stdout).to_string();
    assert_eq!(verify.status.code(), Some(0), "{said}");
    let leaked = files_containing(
        &[
            &r.join("logs"),
            &r.join("tmp"),
            &r.join("data-0"),
            &r.join("data-1"),
            &r.join("data-2"),
            // The shared store: its tables and its write-ahead log.
            &pg.data_dir(),
        ],
        PLANTED.as_bytes(),
    );
    assert!(leaked.is_empty(), "the planted secret is in {leaked:?}");
}

#[test]
fn a_replica_declared_dead_fences_itself_and_stops_serving() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &seed_with(PLANTED, ""));
    let rt = rt();
    let pg = PgCluster::start();
    let url = rt.block_on(pg.database("fence"));
    let base = std::fs::read_to_string(&sim.config_path).unwrap();
    let text = with_postgres_store(
        &base,
        &url,
        "\n[cluster]\nheartbeat_secs = 1\ndead_after_secs = 2\n",
    );
    let path = r.join("fence.toml");
    std::fs::write(&path, text).unwrap();
    let mut replica = start_serve(r, &path, "replica-9");
    rt.block_on(async {
        let store = PgStore::connect(&PgOptions::new(url.clone()).tls(PgTls::Disable))
            .await
            .unwrap();
        let cluster = store.pg_cluster();
        let rows = cluster.replicas().await.unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        // As the leader would after the replica's silence (here: any silence at all).
        assert!(
            cluster
                .declare_dead_if_silent(&rows[0].id, 0)
                .await
                .unwrap()
        );
        store.close().await;
    });
    // Its next heartbeat is refused: it stops serving on its own.
    let mut waited = 0;
    let status = loop {
        if let Some(status) = replica.child.try_wait().unwrap() {
            break status;
        }
        waited += 1;
        assert!(waited < 300, "the fenced replica kept serving");
        std::thread::sleep(Duration::from_millis(100));
    };
    // Exit 2, so that a supervisor (systemd `Restart=on-failure`, Kubernetes) starts it again.
    assert_eq!(status.code(), Some(2), "{status:?}");
    let log = std::fs::read_to_string(r.join("logs/replica-9.log")).unwrap();
    assert!(log.contains("declared this one dead"), "{log}");
}
