//! PostgreSQL-only behaviour: several `PgStore` pools on one database (as several replicas would
//! have) appending concurrently keep one gapless, verifiable tree; and what a bad URL, a refused
//! TLS handshake or a database that went away look like.

mod support_pg;

use arkbridge_core::audit::{Action, AuditEvent, Target};
use arkbridge_store::{PgOptions, PgStore, PgTls, Store, StoreError};
use secrecy::SecretString;
use support_pg::PgCluster;
use support_pg::behaviour::{event, lease, run, verified};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_from_three_replica_pools_and_many_tasks_form_one_gapless_verified_tree() {
    let cluster = PgCluster::start();
    let options = cluster.options("replicas").await.max_connections(4);
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(PgStore::connect(&options).await.unwrap());
    }
    replicas[0].insert_run(&run("r1")).await.unwrap();
    let mut tasks = Vec::new();
    for (r, store) in replicas.iter().enumerate() {
        for t in 0..6 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let run_id = format!("r{r}-{t}");
                store.insert_run(&run(&run_id)).await.unwrap();
                let lease_id = store.insert_lease(&lease(&run_id, "db")).await.unwrap();
                for i in 0..20 {
                    if i == 10 {
                        // Log before act in its own transaction, between group-committed appends.
                        let issued = AuditEvent::new(Action::CredentialIssued)
                            .at(5)
                            .target(Target::account("Prod-DB", "db"))
                            .run(run_id.clone());
                        store.issue_credential(lease_id, issued).await.unwrap();
                    } else if i == 15 {
                        store
                            .append_audit_batch(vec![event(i), event(i + 100)])
                            .await
                            .unwrap();
                    } else {
                        store.append_audit(event(i)).await.unwrap();
                    }
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    // 3 replicas x 6 tasks x (18 single appends + 1 issue + a batch of 2) = 378 records.
    let expected = 3 * 6 * 21;
    let records = replicas[1].audit_records(0, 10_000).await.unwrap();
    let seqs: Vec<i64> = records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=expected).collect::<Vec<_>>());
    // Every replica verifies the same tree, whichever wrote which part of it.
    let views = [
        verified(&replicas[0]).await,
        verified(&replicas[1]).await,
        verified(&replicas[2]).await,
    ];
    assert_eq!(views[0].0, expected as u64);
    assert!(views.iter().all(|v| *v == views[0]));
    // A replica whose cached edge is stale (the others appended since its last append) still
    // appends after the real head.
    let next = replicas[2].append_audit(event(999)).await.unwrap();
    assert_eq!(next.seq, expected + 1);
    assert_eq!(verified(&replicas[0]).await.0, expected as u64 + 1);
    for r in &replicas {
        r.close().await;
    }
}

#[tokio::test]
async fn a_url_holding_a_password_is_refused_without_repeating_it() {
    let err = PgStore::connect(&PgOptions::new("postgres://bridge:hunter2@127.0.0.1:1/db"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Open { .. }), "{text}");
    assert!(text.contains("must not hold a password"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    for bad in [
        "mysql://h/db",
        "postgres:///db",
        "postgres://h:5432/",
        "not a url",
    ] {
        let err = PgOptions::new(bad).connect_options().unwrap_err();
        assert!(matches!(err, StoreError::Open { .. }), "{bad}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_verify_full_against_a_server_without_tls_fails_to_open() {
    let cluster = PgCluster::start();
    let url = cluster.database("tls").await;
    let options = PgOptions::new(url.clone())
        .tls(PgTls::VerifyFull)
        .password(SecretString::from("not-needed"));
    let err = PgStore::connect(&options).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Open { .. }), "{text}");
    assert!(text.contains(&url), "{text}");
    assert!(!text.contains("not-needed"), "{text}");
    // The same database over plain TCP opens.
    let store = PgStore::connect(&options.tls(PgTls::Disable))
        .await
        .unwrap();
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_fail_with_an_error_once_the_database_is_gone() {
    let cluster = PgCluster::start();
    let options = cluster
        .options("gone")
        .await
        .acquire_timeout(std::time::Duration::from_secs(2));
    let store = PgStore::connect(&options).await.unwrap();
    store.append_audit(event(1)).await.unwrap();
    drop(cluster);
    let err = store.append_audit(event(2)).await.unwrap_err();
    assert!(matches!(err, StoreError::AppendFailed(_)), "{err}");
    let err = store.audit_size().await.unwrap_err();
    assert!(matches!(err, StoreError::Query { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_verify_full_trusts_only_the_given_ca_and_the_session_is_encrypted() {
    use sqlx::Connection;
    let cluster = PgCluster::start_tls();
    let url = cluster.database("tls").await;
    let verified = PgOptions::new(url.clone())
        .tls(PgTls::VerifyFull)
        .ca_cert(cluster.ca_cert());
    let store = PgStore::connect(&verified).await.unwrap();
    assert_eq!(store.append_audit(event(1)).await.unwrap().seq, 1);
    store.close().await;
    let mut conn = sqlx::PgConnection::connect_with(&verified.connect_options().unwrap())
        .await
        .unwrap();
    let encrypted: bool =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(encrypted);
    conn.close().await.unwrap();
    // Without the CA, the server's certificate is not trusted (the Mozilla roots do not sign it).
    let untrusted = PgOptions::new(url.clone()).tls(PgTls::VerifyFull);
    let err = PgStore::connect(&untrusted).await.unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
    // `require` encrypts without checking who answers.
    let store = PgStore::connect(&PgOptions::new(url).tls(PgTls::Require))
        .await
        .unwrap();
    assert_eq!(store.audit_size().await.unwrap(), 1);
    store.close().await;
}
