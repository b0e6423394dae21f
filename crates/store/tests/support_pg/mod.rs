//! A throw-away PostgreSQL cluster for tests and benchmarks: `initdb` in a temporary folder,
//! started with `pg_ctl` on a free loopback port (and a Unix socket in the same folder), one
//! database per caller, stopped and deleted on drop.
//!
//! The binaries are found on `PATH` or under `/usr/lib/postgresql/*/bin` (Debian). `initdb`
//! refuses to run as root, so under root the cluster runs as the `postgres` user (`runuser`).
//! Readiness is awaited by `pg_ctl -w` and then checked with `pg_isready -t` in a bounded loop,
//! never by sleeping.

#![allow(dead_code)]

pub(crate) mod behaviour;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running cluster; stopped (immediately) and removed when dropped.
pub(crate) struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    /// The CA that signed the server's certificate, when started with TLS.
    ca: Option<PathBuf>,
}

/// The folder holding `initdb` and `pg_ctl`.
fn find_bin() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    debian.sort();
    debian.reverse();
    on_path
        .into_iter()
        .chain(debian)
        .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
        .map(|d| {
            // A symlinked initdb (as in /usr/local/bin) is followed to the folder that also
            // holds `postgres` itself.
            std::fs::canonicalize(d.join("initdb"))
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .unwrap_or(d)
        })
        .expect("PostgreSQL is not installed: no initdb on PATH nor in /usr/lib/postgresql/*/bin")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

impl PgCluster {
    /// A cluster tuned for tests: no fsync (a crash of the test machine loses nothing of value).
    pub(crate) fn start() -> PgCluster {
        PgCluster::start_with(false)
    }

    /// A cluster; with `durable`, commits are flushed to disk as in production (benchmarks).
    pub(crate) fn start_with(durable: bool) -> PgCluster {
        PgCluster::launch(durable, false)
    }

    /// A test cluster that also accepts TLS, with a server certificate for `localhost` and
    /// `127.0.0.1` signed by a fresh CA ([`PgCluster::ca_cert`]); made with the `openssl` tool.
    pub(crate) fn start_tls() -> PgCluster {
        PgCluster::launch(false, true)
    }

    /// The cluster's data folder (tables and write-ahead log), for searches of what reached
    /// the disk.
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The CA certificate (PEM) of a cluster started with [`PgCluster::start_tls`].
    pub(crate) fn ca_cert(&self) -> &Path {
        self.ca
            .as_deref()
            .expect("the cluster was started with TLS")
    }

    /// Writes a CA and a server certificate and key into the cluster's folder; returns the
    /// server's `-c` options.
    fn make_certificates(&mut self) -> String {
        let d = self.dir.path();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        run(
            Command::new("openssl")
                .args(["req", "-x509"])
                .args(ec)
                .args(["-days", "2", "-subj", "/CN=arkbridge test CA"])
                .arg("-keyout")
                .arg(d.join("ca.key"))
                .arg("-out")
                .arg(d.join("ca.pem")),
            "openssl (CA)",
        );
        run(
            Command::new("openssl")
                .arg("req")
                .args(ec)
                .args(["-subj", "/CN=localhost"])
                .arg("-keyout")
                .arg(d.join("server.key"))
                .arg("-out")
                .arg(d.join("server.csr")),
            "openssl (request)",
        );
        std::fs::write(
            d.join("san.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        )
        .expect("write the extension file");
        run(
            Command::new("openssl")
                .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
                .arg("-in")
                .arg(d.join("server.csr"))
                .arg("-CA")
                .arg(d.join("ca.pem"))
                .arg("-CAkey")
                .arg(d.join("ca.key"))
                .arg("-extfile")
                .arg(d.join("san.ext"))
                .arg("-out")
                .arg(d.join("server.pem")),
            "openssl (sign)",
        );
        let key = d.join("server.key");
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("key mode");
        if self.as_postgres {
            run(
                Command::new("chown").arg("postgres:").arg(&key),
                "chown key",
            );
        }
        self.ca = Some(d.join("ca.pem"));
        format!(
            " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
            d.join("server.pem").display(),
            key.display()
        )
    }

    fn launch(durable: bool, tls: bool) -> PgCluster {
        let bin = find_bin();
        let as_postgres = std::fs::metadata("/proc/self")
            .map(|m| m.uid())
            .unwrap_or(1)
            == 0;
        let dir = tempfile::Builder::new()
            .prefix("arkbridge-pg-")
            .tempdir()
            .expect("temporary folder");
        if as_postgres {
            run(
                Command::new("chown").arg("postgres:").arg(dir.path()),
                "chown",
            );
        }
        let mut cluster = PgCluster {
            dir,
            bin,
            port: 0,
            as_postgres,
            ca: None,
        };
        let data = cluster.dir.path().join("data");
        let mut initdb = cluster.command("initdb");
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "arkbridge", "--auth=trust", "-E", "UTF8"])
            .args(["--locale=C.UTF-8", "--no-sync"]);
        run(&mut initdb, "initdb");
        let tls_options = if tls {
            cluster.make_certificates()
        } else {
            String::new()
        };
        let durability = if durable {
            ""
        } else {
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        };
        // A port found free may be taken by someone else before the server binds it: a few
        // fresh ports are tried.
        for attempt in 0..5 {
            cluster.port = free_port();
            let log = cluster.dir.path().join("pg.log");
            let options = format!(
                "-c listen_addresses=127.0.0.1 -p {} -k {} -c max_connections=200{durability}{tls_options}",
                cluster.port,
                cluster.dir.path().display()
            );
            let mut start = cluster.command("pg_ctl");
            start
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "-o", &options, "start"]);
            let out = start.output().expect("pg_ctl runs");
            if out.status.success() {
                cluster.wait_ready();
                return cluster;
            }
            let log_text = std::fs::read_to_string(&log).unwrap_or_default();
            if attempt == 4 || !log_text.contains("Address already in use") {
                panic!(
                    "pg_ctl start failed: {}\n{}",
                    String::from_utf8_lossy(&out.stderr),
                    log_text
                );
            }
        }
        unreachable!("the loop returns or panics")
    }

    /// `pg_isready` until the server answers: each call waits up to a second itself.
    fn wait_ready(&self) {
        let isready = self.bin.join("pg_isready");
        for _ in 0..30 {
            let ok = Command::new(&isready)
                .args(["-q", "-h", "127.0.0.1", "-t", "1", "-p"])
                .arg(self.port.to_string())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
        }
        panic!("PostgreSQL on port {} never became ready", self.port);
    }

    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name` (no password: the cluster trusts loopback connections).
    pub(crate) fn url(&self, name: &str) -> String {
        format!("postgres://arkbridge@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates database `name` and returns its URL.
    pub(crate) async fn database(&self, name: &str) -> String {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .expect("connect to the cluster");
        let sql = format!("CREATE DATABASE \"{}\"", name.replace('"', ""));
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .expect("create database");
        conn.close().await.ok();
        self.url(name)
    }

    /// Options for a `PgStore` on database `name` (created first), over plain loopback TCP.
    pub(crate) async fn options(&self, name: &str) -> arkbridge_store::PgOptions {
        arkbridge_store::PgOptions::new(self.database(name).await)
            .tls(arkbridge_store::PgTls::Disable)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn run(command: &mut Command, what: &str) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{what} cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
