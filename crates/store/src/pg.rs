//! The PostgreSQL store: the same tables, migrations (translated, in `migrations/postgres`) and
//! semantics as [`SqliteStore`](crate::SqliteStore), for one or several arkbridge replicas on
//! one database.
//!
//! The password never sits in the URL (a URL holding one is refused): it comes separately as a
//! [`SecretString`], normally resolved from a `cyberark://` reference, and is handed to the driver
//! only. TLS is `disable`, `require` (encrypted, server not authenticated) or `verify-full`
//! (server certificate checked against `ca_cert`, or the Mozilla roots, and its host name).
//! Audit appends are serialised across every connection, pool and replica by a transaction-scoped
//! advisory lock (see `pg_append.rs`).

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};

use crate::pg_group_commit::PgGroupCommit;
use crate::{Result, StoreError};

/// How the connection to PostgreSQL is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PgTls {
    /// Plain TCP (a loopback or otherwise protected network only).
    Disable,
    /// TLS without authenticating the server.
    Require,
    /// TLS, with the server's certificate and host name verified.
    #[default]
    VerifyFull,
}

impl PgTls {
    pub fn as_str(self) -> &'static str {
        match self {
            PgTls::Disable => "disable",
            PgTls::Require => "require",
            PgTls::VerifyFull => "verify-full",
        }
    }
}

impl FromStr for PgTls {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<PgTls, String> {
        match s {
            "disable" => Ok(PgTls::Disable),
            "require" => Ok(PgTls::Require),
            "verify-full" => Ok(PgTls::VerifyFull),
            other => Err(format!(
                "`{other}` is not a TLS mode (disable, require or verify-full)"
            )),
        }
    }
}

/// Where and how to connect to PostgreSQL.
#[derive(Clone)]
pub struct PgOptions {
    url: String,
    password: Option<SecretString>,
    tls: PgTls,
    ca_cert: Option<PathBuf>,
    max_connections: u32,
    acquire_timeout: Duration,
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("tls", &self.tls)
            .field("ca_cert", &self.ca_cert)
            .finish()
    }
}

impl PgOptions {
    /// `url` is `postgres://USER@HOST:PORT/DATABASE`, without a password. TLS defaults to
    /// `verify-full`.
    pub fn new(url: impl Into<String>) -> PgOptions {
        PgOptions {
            url: url.into(),
            password: None,
            tls: PgTls::default(),
            ca_cert: None,
            max_connections: 8,
            acquire_timeout: Duration::from_secs(30),
        }
    }

    pub fn password(mut self, password: SecretString) -> PgOptions {
        self.password = Some(password);
        self
    }

    pub fn tls(mut self, tls: PgTls) -> PgOptions {
        self.tls = tls;
        self
    }

    /// The CA certificate (PEM) that signs the server's certificate, for `verify-full`.
    pub fn ca_cert(mut self, path: impl Into<PathBuf>) -> PgOptions {
        self.ca_cert = Some(path.into());
        self
    }

    /// The most pooled connections (the audit writer has one more of its own).
    pub fn max_connections(mut self, n: u32) -> PgOptions {
        self.max_connections = n.max(1);
        self
    }

    /// How long a query waits for a pooled connection (default 30 s) before it fails: while
    /// PostgreSQL is unreachable, every store call fails after this long.
    pub fn acquire_timeout(mut self, timeout: Duration) -> PgOptions {
        self.acquire_timeout = timeout;
        self
    }

    /// The URL as given (it holds no password: [`PgOptions::connect_options`] refuses one).
    pub fn url(&self) -> &str {
        &self.url
    }

    fn bad(&self, reason: impl Into<String>) -> StoreError {
        StoreError::Open {
            path: self.url.clone(),
            source: sqlx::Error::Configuration(reason.into().into()),
        }
    }

    /// The driver's options. A URL holding a password is refused, so that the secret is never
    /// written in a config file nor echoed in an error message.
    pub fn connect_options(&self) -> Result<PgConnectOptions> {
        let parsed = url::Url::parse(&self.url).map_err(|e| {
            self.bad(format!(
                "not a URL ({e}); expected postgres://USER@HOST:PORT/DATABASE"
            ))
        })?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(self.bad("the scheme must be postgres://"));
        }
        if parsed.password().is_some() {
            // The URL is not repeated: it holds the password.
            return Err(StoreError::Open {
                path: "postgres://[URL with a password]".into(),
                source: sqlx::Error::Configuration(
                    "the store URL must not hold a password; give it as `password` (a cyberark:// reference)"
                        .into(),
                ),
            });
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(self.bad("the URL names no host"));
        }
        if parsed.path().trim_start_matches('/').is_empty() {
            return Err(self.bad("the URL names no database"));
        }
        let mut options =
            PgConnectOptions::from_str(&self.url).map_err(|source| StoreError::Open {
                path: self.url.clone(),
                source,
            })?;
        let mode = match self.tls {
            PgTls::Disable => PgSslMode::Disable,
            PgTls::Require => PgSslMode::Require,
            PgTls::VerifyFull => PgSslMode::VerifyFull,
        };
        options = options.ssl_mode(mode).application_name("arkbridge");
        if let Some(ca) = &self.ca_cert {
            if !ca.is_file() {
                return Err(self.bad(format!("ca_cert {} is not a readable file", ca.display())));
            }
            options = options.ssl_root_cert(ca);
        }
        if let Some(password) = &self.password {
            options = options.password(password.expose_secret());
        }
        Ok(options)
    }
}

/// PostgreSQL behind the [`Store`](crate::Store) trait.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Shared by every clone, so that all appends of one store are grouped together.
    pub(crate) commit: Arc<PgGroupCommit>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects and brings the schema up to date. Several replicas may start at once: the
    /// migrator holds an advisory lock while it runs.
    pub async fn connect(options: &PgOptions) -> Result<PgStore> {
        let connect = options.connect_options()?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(|source| StoreError::Open {
                path: options.url.clone(),
                source,
            })?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PgStore {
            pool,
            commit: Arc::default(),
        })
    }

    /// Closes the audit writer's connection and the pool.
    pub async fn close(&self) {
        self.commit.close().await;
        self.pool.close().await;
    }

    /// Whether the store holds nothing yet: no run, lease, approval, member, person, finding,
    /// report or audit record (what `store migrate` requires of its target).
    pub async fn is_empty(&self) -> Result<bool> {
        let tables = [
            "runs",
            "leases",
            "approvals",
            "managed_members",
            "principals",
            "findings",
            "scan_cursors",
            "daily_reports",
            "run_guards",
            "safe_member_snapshots",
            "audit",
            "audit_checkpoints",
            "audit_cursors",
        ];
        for table in tables {
            let sql = format!("SELECT EXISTS (SELECT 1 FROM {table}) AS any");
            let any: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&self.pool)
                .await
                .map_err(|source| StoreError::Query {
                    what: "check that the store is empty",
                    source,
                })?;
            if any {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// What replicas on this database share (`pg_cluster.rs`).
    pub fn pg_cluster(&self) -> crate::Cluster {
        crate::Cluster::new(self.pool.clone())
    }

    /// The connection pool, for the store's other PostgreSQL modules.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }
}
