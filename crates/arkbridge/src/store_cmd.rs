//! `arkbridge store migrate`: moves an SQLite store into an empty PostgreSQL database.
//!
//! The source's audit log is verified first (a broken log is refused: moving it would launder
//! it), every table is copied in one PostgreSQL transaction (`copy_sqlite_to_pg`), and the
//! target's log is verified in turn and must have the source's size and root. A target that
//! holds anything is refused. The target's password comes from an environment variable, never
//! the command line, and is never printed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use arkbridge_audit::{VerifyOptions, VerifyReport, verify_log};
use arkbridge_store::{PgOptions, PgStore, PgTls, SqliteStore, Store, copy_sqlite_to_pg};
use clap::{Args, Subcommand};
use secrecy::SecretString;

#[derive(Debug, Subcommand)]
pub(crate) enum StoreCommand {
    /// Copy an SQLite store into an empty PostgreSQL database, verifying the audit log before
    /// and after (same size, same root); exit 1 when either check fails.
    Migrate(StoreMigrateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct StoreMigrateArgs {
    /// The SQLite store: sqlite://PATH (the bridge's is DATA_DIR/arkbridge.db).
    #[arg(long, value_name = "sqlite://PATH")]
    pub(crate) from: String,
    /// The target database: postgres://USER@HOST:PORT/DATABASE, without a password.
    #[arg(long, value_name = "postgres://USER@HOST:PORT/DB")]
    pub(crate) to: String,
    /// The environment variable that holds the target's password.
    #[arg(long, value_name = "VAR")]
    pub(crate) to_password_env: Option<String>,
    /// TLS to the target: disable, require or verify-full.
    #[arg(long, value_name = "MODE", default_value = "verify-full")]
    pub(crate) to_tls: String,
    /// PEM CA certificate of the target's server certificate (verify-full).
    #[arg(long, value_name = "FILE")]
    pub(crate) to_ca_cert: Option<PathBuf>,
}

pub(crate) async fn main(command: StoreCommand) -> anyhow::Result<ExitCode> {
    match command {
        StoreCommand::Migrate(args) => migrate(args).await,
    }
}

/// Verifies a store's audit log; `Err` text names the first bad record or checkpoint.
async fn verify<S: Store>(store: &S) -> anyhow::Result<Result<VerifyReport, String>> {
    match verify_log(store, &VerifyOptions::default()).await {
        Ok(Ok(report)) => Ok(Ok(report)),
        Ok(Err(failure)) => Ok(Err(failure.to_string())),
        Err(e @ arkbridge_store::StoreError::Corrupt { .. }) => Ok(Err(e.to_string())),
        Err(e) => Err(e.into()),
    }
}

async fn migrate(args: StoreMigrateArgs) -> anyhow::Result<ExitCode> {
    let Some(path) = args.from.strip_prefix("sqlite://") else {
        bail!("--from must be sqlite://PATH");
    };
    let path = PathBuf::from(path);
    if !path.is_file() {
        bail!("--from: no SQLite store at {}", path.display());
    }
    let tls: PgTls = args
        .to_tls
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--to-tls: {e}"))?;
    let mut options = PgOptions::new(args.to.clone()).tls(tls);
    if let Some(ca) = &args.to_ca_cert {
        options = options.ca_cert(ca);
    }
    if let Some(var) = &args.to_password_env {
        let value = std::env::var(var).with_context(|| {
            format!("--to-password-env: the environment variable {var} is not set")
        })?;
        options = options.password(SecretString::from(value));
    }
    // Checked before the source is opened, so that a mistyped URL changes nothing.
    options.connect_options()?;

    let source = SqliteStore::open(&path)
        .await
        .with_context(|| format!("cannot open the source store {}", path.display()))?;
    let before = match verify(&source).await? {
        Ok(report) => report,
        Err(why) => {
            println!("source audit log BROKEN: {why}");
            println!(
                "nothing was copied: repair or keep the SQLite store; a broken log is never moved"
            );
            return Ok(ExitCode::from(1));
        }
    };
    println!(
        "source {}: audit log OK, {} records, root {}",
        args.from,
        before.records,
        before.root_base64()
    );
    let target = PgStore::connect(&options).await?;
    let counts = match copy_sqlite_to_pg(&source, &target).await {
        Ok(counts) => counts,
        Err(e @ arkbridge_store::StoreError::Conflict(_)) => {
            println!("refused: {e}");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e).context("the copy failed; the target was left unchanged"),
    };
    let copied: Vec<String> = counts.iter().map(|(t, n)| format!("{t} {n}")).collect();
    println!("copied: {}", copied.join(", "));
    let after = match verify(&target).await? {
        Ok(report) => report,
        Err(why) => {
            println!("target audit log BROKEN after the copy: {why}");
            return Ok(ExitCode::from(1));
        }
    };
    if (after.records, after.root) != (before.records, before.root) {
        println!(
            "target audit log DIFFERS: {} records, root {} (the source has {}, root {})",
            after.records,
            after.root_base64(),
            before.records,
            before.root_base64()
        );
        return Ok(ExitCode::from(1));
    }
    println!(
        "target {}: audit log OK, {} records, same root {}",
        args.to,
        after.records,
        after.root_base64()
    );
    source.close().await;
    target.close().await;
    Ok(ExitCode::SUCCESS)
}
