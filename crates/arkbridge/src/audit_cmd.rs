//! `arkbridge audit verify`: check the hash chain of the audit log.

use std::process::ExitCode;

use anyhow::Context;
use arkbridge_core::audit::ChainVerifier;
use arkbridge_core::config::Config;
use arkbridge_store::{SqliteStore, Store, StoreError};

use crate::cli::AuditVerifyArgs;

const PAGE: i64 = 1000;

pub(crate) async fn verify(args: AuditVerifyArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config)?;
    let path = config.data_dir.join("arkbridge.db");
    anyhow::ensure!(
        path.exists(),
        "no store at {}: nothing has run with this config yet",
        path.display()
    );
    let store = SqliteStore::open(&path)
        .await
        .context("cannot open the store")?;
    let mut verifier = ChainVerifier::default();
    let mut after = 0;
    loop {
        let page = match store.audit_records(after, PAGE).await {
            Ok(page) => page,
            Err(e @ StoreError::Corrupt { .. }) => {
                println!("audit chain BROKEN: {e}");
                println!("{} records before it verified", verifier.count());
                return Ok(ExitCode::from(1));
            }
            Err(e) => return Err(e.into()),
        };
        let Some(last) = page.last() else { break };
        after = last.seq;
        for r in &page {
            if let Err(e) = verifier.push(r) {
                println!("audit chain BROKEN: {e}");
                println!("{} records before it verified", verifier.count());
                return Ok(ExitCode::from(1));
            }
        }
    }
    println!(
        "audit chain OK: {} records, head {}",
        verifier.count(),
        verifier.head()
    );
    Ok(ExitCode::SUCCESS)
}
