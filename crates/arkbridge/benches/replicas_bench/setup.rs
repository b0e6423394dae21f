//! The benchmark's fixtures: a seed with one Confluence user per client (the API's request
//! budget is per caller, so one shared user would cap the throughput instead of the replicas),
//! the replicas' `arkbridge.toml` files, and `arkbridge serve` processes started from the real
//! binary like the end-to-end tests start them.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use arkbridge_store::{AnyStore, PgOptions, PgStore, PgTls, SqliteStore};

use crate::support::{BIN, Sim};

/// The simulator's administrator password (it guards the Forge token minting endpoint).
pub(crate) const ADMIN_PASSWORD: &str = "admin-replica-bench-1";

/// The secret planted in `payments-db`; it must never show in a run's output.
pub(crate) const PLANTED: &str = "Replica-Bench-Secret-3!";

/// The e-mail address of benchmark client `n`.
pub(crate) fn client_email(n: usize) -> String {
    format!("bench-{n:03}@example.com")
}

/// The demo seed with the administrator's password, the planted secret and `clients` users,
/// each in `platform-admins` (the group allowed to run the health check), so that each client
/// calls as its own user.
///
/// The health check's `DB_PASSWORD` is `Prod-DB/payments-db`, which the demo rotates after
/// every run: runs needing it then take its account lock one at a time, whatever the number of
/// replicas. Unless `rotate`, the seed sets `Prod-DB` to `none`, so that runs overlap and the
/// replicas, not the lock, set the pace.
pub(crate) fn seed(clients: usize, rotate: bool) -> String {
    let base = crate::support::seed_with(PLANTED, "");
    let admin = "  - username: Administrator\n";
    let users_anchor = "confluenceUsers:\n";
    let group = "    members: [alice@example.com]\n";
    let rotation = "    Prod-DB: after-run\n";
    for anchor in [admin, users_anchor, group, rotation] {
        assert!(base.contains(anchor), "the demo seed's layout changed");
    }
    let users: String = (0..clients)
        .map(|n| {
            format!(
                "  - email: {}\n    displayName: Bench Client {n}\n",
                client_email(n)
            )
        })
        .collect();
    let members: Vec<String> = std::iter::once("alice@example.com".to_string())
        .chain((0..clients).map(client_email))
        .collect();
    base.replacen(
        admin,
        &format!("{admin}    password: {ADMIN_PASSWORD}\n"),
        1,
    )
    .replacen(users_anchor, &format!("{users_anchor}{users}"), 1)
    .replacen(
        group,
        &format!("    members: [{}]\n", members.join(", ")),
        1,
    )
    .replacen(
        rotation,
        if rotate {
            rotation
        } else {
            "    Prod-DB: none\n"
        },
        1,
    )
}

/// Where the replicas' data lives: SQLite in the data folder, or a PostgreSQL database.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    Sqlite,
    Postgres { url: String },
}

/// Writes replica `n`'s configuration into `dir`: the simulator's, with its own data folder,
/// the store, `[cluster] poll_millis = 100` and the Forge app; returns its path.
pub(crate) fn write_config(sim: &Sim, dir: &Path, backend: &Backend, n: usize) -> PathBuf {
    let base = std::fs::read_to_string(&sim.config_path).expect("read the simulator's config");
    let default_store = "[store]\ntls = \"verify-full\"\n";
    let data_line = format!("data_dir = {:?}", sim.config.data_dir.display().to_string());
    assert!(
        base.contains(default_store) && base.contains(&data_line),
        "the simulator's config layout changed"
    );
    let data = dir.join(format!("data-{n}"));
    std::fs::create_dir_all(&data).expect("create a data folder");
    let store = match backend {
        Backend::Sqlite => default_store.to_string(),
        // The cluster trusts loopback connections; the password reference is resolved through
        // the CCP all the same, as in production.
        Backend::Postgres { url } => format!(
            "[store]\nurl = \"{url}\"\npassword = \"cyberark://Prod-DB/payments-db\"\n\
             tls = \"disable\"\n"
        ),
    };
    let identity = &sim.info["identity"];
    let text = base.replacen(default_store, &store, 1).replacen(
        &data_line,
        &format!("data_dir = {:?}", data.display().to_string()),
        1,
    ) + &format!(
        "\n[cluster]\npoll_millis = 100\n\n[server.forge]\napp_id = {}\njwks_url = {}\n\
             allowed_cloud_ids = [{}]\nca_cert = {}\n",
        identity["forge_app_id"],
        identity["forge_jwks_url"],
        identity["forge_cloud_id"],
        sim.info["ca_cert"],
    );
    let path = dir.join(format!("replica-{n}.toml"));
    std::fs::write(&path, text).expect("write a replica's config");
    path
}

/// A running `arkbridge serve`; killed when dropped.
pub(crate) struct Replica {
    child: Child,
    pub(crate) url: String,
    pub(crate) data_dir: PathBuf,
    pub(crate) log: PathBuf,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `arkbridge serve` with `config` and waits until it listens. Its log (warnings and
/// errors only, to keep logging out of the measurement) and anything it prints later go to
/// `dir/replica-{n}.log`.
pub(crate) fn start_replica(dir: &Path, config: &Path, n: usize) -> Replica {
    let log = dir.join(format!("replica-{n}.log"));
    let file = std::fs::File::create(&log).expect("create a replica's log");
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .env("ARKBRIDGE_LOG", "warn")
        .env("TMPDIR", dir.join("tmp"))
        .stdout(Stdio::piped())
        .stderr(Stdio::from(file.try_clone().expect("clone a file handle")))
        .spawn()
        .expect("start arkbridge serve");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("Listening on ") => {
                break l.trim_start_matches("Listening on ").trim().to_string();
            }
            Some(Ok(_)) => {}
            other => panic!(
                "replica {n} stopped before listening ({other:?}); see {}",
                log.display()
            ),
        }
    };
    // Whatever the replica prints later is kept, so that its stdout never fills up.
    std::thread::spawn(move || {
        let mut file = file;
        for line in lines.map_while(Result::ok) {
            let _ = writeln!(file, "{line}");
        }
    });
    let data_dir = dir.join(format!("data-{n}"));
    Replica {
        child,
        url,
        data_dir,
        log,
    }
}

/// The store the replicas write, opened beside them to read the audit log's size.
pub(crate) async fn open_store(backend: &Backend, first: &Replica) -> AnyStore {
    match backend {
        Backend::Sqlite => SqliteStore::open(&first.data_dir.join("arkbridge.db"))
            .await
            .expect("open the replica's SQLite store")
            .into(),
        Backend::Postgres { url } => {
            PgStore::connect(&PgOptions::new(url.clone()).tls(PgTls::Disable))
                .await
                .expect("connect to the replicas' database")
                .into()
        }
    }
}

/// The 1-minute load average, for the report.
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "?".into())
}

/// Transactions committed in the replicas' PostgreSQL database so far (`pg_stat_database`);
/// `None` on SQLite. Busy server processes publish their counts about once a second, so a
/// reading right after a phase may miss the last second's.
pub(crate) async fn pg_commits(backend: &Backend) -> Option<i64> {
    use sqlx::Connection;
    let Backend::Postgres { url } = backend else {
        return None;
    };
    let mut conn = sqlx::PgConnection::connect(url).await.ok()?;
    let commits = sqlx::query_scalar::<_, i64>(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(&mut conn)
    .await
    .ok();
    conn.close().await.ok();
    commits
}
