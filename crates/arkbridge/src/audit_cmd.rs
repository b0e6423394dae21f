//! `arkbridge audit ...`: verify the log, write checkpoints, make keys and proofs, show, export
//! and forward records. The work is `arkbridge-audit`'s; this file reads arguments and files and
//! prints results. Exit codes: 0 fine, 1 the log or a proof does not verify, 2 an error.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use arkbridge_audit::export::{Format, export};
use arkbridge_audit::forward::{ForwardSettings, Forwarder, SyslogTarget};
use arkbridge_audit::proof::{ProofBundle, prove_consistency, prove_inclusion};
use arkbridge_audit::time::{now_us, parse_when};
use arkbridge_audit::{
    SignedCheckpoint, SigningKey, VerifierKey, VerifyOptions, verify_log, write_checkpoint,
};
use arkbridge_core::SecretRef;
use arkbridge_core::config::Config;
use arkbridge_cyberark::{CcpClient, CcpQuery};
use arkbridge_store::{AnyStore, AuditFilter, SqliteStore, Store};
use secrecy::{ExposeSecret, SecretString};

use crate::cli::{
    AuditCheckpointArgs, AuditCommand, AuditExportArgs, AuditFilterArgs, AuditForwardArgs,
    AuditKeygenArgs, AuditProofArgs, AuditShowArgs, AuditVerifyArgs, SigningKeySource,
};
use crate::sim_cmd::wait_for_shutdown;

pub(crate) async fn main(command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Verify(a) => verify(a).await,
        AuditCommand::Checkpoint(a) => checkpoint(a).await,
        AuditCommand::Keygen(a) => keygen(a),
        AuditCommand::Proof(a) => proof(a).await,
        AuditCommand::Show(a) => show(a).await,
        AuditCommand::Export(a) => export_cmd(a).await,
        AuditCommand::Forward(a) => forward(a).await,
        AuditCommand::Daily(a) => crate::daily_cmd::main(a).await,
    }
}

/// The store of a config, which must already exist (nothing is created by reading commands).
async fn open_store(config: &Path) -> anyhow::Result<(Config, AnyStore)> {
    let config = Config::load(config)?;
    // PostgreSQL (`[store] url`): its password comes through the CCP, as at every start.
    if config.store.is_postgres() {
        let store = arkbridge_engine::open_store(&config).await?;
        return Ok((config, store));
    }
    let path = config.data_dir.join("arkbridge.db");
    anyhow::ensure!(
        path.exists(),
        "no store at {}: nothing has run with this config yet",
        path.display()
    );
    let store = SqliteStore::open(&path)
        .await
        .context("cannot open the store")?;
    Ok((config, AnyStore::Sqlite(store)))
}

fn read(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

fn read_keys(path: &Path) -> anyhow::Result<Vec<VerifierKey>> {
    Ok(VerifierKey::parse_all(
        &read(path, "the public key file")?,
        &path.display().to_string(),
    )?)
}

async fn verify(args: AuditVerifyArgs) -> anyhow::Result<ExitCode> {
    let (_, store) = open_store(&args.config).await?;
    let keys = args.pubkey.as_deref().map(read_keys).transpose()?;
    let trusted = args
        .from_checkpoint
        .iter()
        .map(|p| {
            // The note as published: bare, the Confluence property's JSON, or the SIEM's CEF.
            arkbridge_audit::published_note(&read(p, "the checkpoint")?)
                .with_context(|| format!("{} holds no checkpoint", p.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let options = VerifyOptions { keys, trusted };
    let report = match verify_log(&store, &options).await {
        Ok(Ok(report)) => report,
        Ok(Err(failure)) => {
            println!("audit log BROKEN: {failure}");
            return Ok(ExitCode::from(1));
        }
        // A row too damaged to read at all is a broken log, not a usage error.
        Err(e @ arkbridge_store::StoreError::Corrupt { .. }) => {
            println!("audit log BROKEN: {e}");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    println!(
        "audit log OK: {} records, root {}, {} checkpoints",
        report.records,
        report.root_base64(),
        report.checkpoints
    );
    if report.legacy_records > 0 {
        println!(
            "  {} records migrated from the version-1 hash chain; that chain verifies too",
            report.legacy_records
        );
    }
    if report.checkpoints > 0 && !report.signatures_checked {
        println!("  checkpoint signatures NOT checked: pass --pubkey with the trusted public key");
    }
    if report.trusted_checked > 0 {
        println!(
            "  consistent with {} checkpoint(s) kept outside the store",
            report.trusted_checked
        );
    }
    let uncovered = report.records - report.latest_checkpoint_size;
    if uncovered > 0 {
        println!("  {uncovered} records after the latest checkpoint are not signed yet");
    }
    Ok(ExitCode::SUCCESS)
}

/// The signing key given on the command line, from CyberArk (through the CCP of the config) or
/// from a file; `None` when neither option is given.
async fn key_from_options(
    config: &Config,
    source: &SigningKeySource,
    origin: &str,
) -> anyhow::Result<Option<SigningKey>> {
    let text: SecretString = match (&source.key, &source.key_file) {
        (Some(reference), _) => {
            let r: SecretRef = reference
                .parse()
                .with_context(|| format!("invalid key reference {reference}"))?;
            let ccp = CcpClient::new(&config.cyberark.ccp)?;
            let query = CcpQuery::for_account(&r.safe, &r.object)
                .reason("arkbridge audit checkpoint: signing key");
            let account = ccp
                .get(&query)
                .await
                .with_context(|| format!("cannot fetch the signing key {r} from the CCP"))?;
            account.secret_property(r.property()).with_context(|| {
                format!("the CCP answer for {r} has no property {}", r.property())
            })?
        }
        (None, Some(path)) => SecretString::from(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the key file {}", path.display()))?,
        ),
        (None, None) => return Ok(None),
    };
    Ok(Some(SigningKey::from_base64(origin, &text)?))
}

async fn checkpoint(args: AuditCheckpointArgs) -> anyhow::Result<ExitCode> {
    let (config, store) = open_store(&args.config).await?;
    let (name, _) = config.audit.key_name_and_id().map_err(anyhow::Error::msg)?;
    let origin = args.origin.as_deref().unwrap_or(name);
    // A key given on the command line overrides the config's, which is then not fetched.
    let given = key_from_options(&config, &args.key, origin).await?;
    let (configured, publisher) =
        arkbridge_engine::audit_tools(&config, &store, given.is_none()).await?;
    let key = match given {
        Some(key) => key,
        None => configured.context(
            "no signing key: set [audit] signing_key in the config (a cyberark:// reference), \
             or give --key or --key-file",
        )?,
    };
    let stored = write_checkpoint(&store, &key).await?;
    println!(
        "checkpoint {} written: {} records",
        stored.id, stored.tree_size
    );
    print!("{}", stored.note);
    let report = publisher.publish(&store, &stored, true).await;
    for (to, sent) in &report.syslog {
        if let Ok(sent) = sent {
            eprintln!(
                "published to syslog {to}: {} records and {} checkpoints",
                sent.records, sent.checkpoints
            );
        }
    }
    if let Some(Ok(())) = report.confluence {
        eprintln!(
            "published as the property {} of Confluence page {}",
            arkbridge_audit::PROPERTY_KEY,
            config.audit.publish_page.as_deref().unwrap_or_default()
        );
    }
    for failure in report.failures() {
        eprintln!("warning: the checkpoint was stored but not published to {failure}");
    }
    Ok(ExitCode::SUCCESS)
}

fn keygen(args: AuditKeygenArgs) -> anyhow::Result<ExitCode> {
    let (private, public) = arkbridge_audit::keys::generate(&args.origin)?;
    println!("# Private signing key (PKCS#8, base64). Store it in CyberArk as the account's");
    println!("# content and pass its cyberark:// reference to `audit checkpoint --key`:");
    println!("{}", private.expose_secret());
    println!("# Public key: give it to `audit verify --pubkey` and to auditors:");
    println!("{public}");
    Ok(ExitCode::SUCCESS)
}

fn write_out(output: Option<&PathBuf>, text: &str) -> anyhow::Result<()> {
    match output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Checks a proof bundle against trusted keys; prints what it proves.
fn check_bundle(bundle: &ProofBundle, keys: &[VerifierKey]) -> ExitCode {
    let result = match bundle {
        ProofBundle::Inclusion(b) => b.check(keys).map(|r| {
            format!(
                "record {} is included in the signed tree of {} records",
                r.seq, b.tree_size
            )
        }),
        ProofBundle::Consistency(b) => b.check(keys).map(|(old, new)| {
            format!("the signed tree of {new} records extends the signed tree of {old}")
        }),
    };
    match result {
        Ok(msg) => {
            eprintln!("proof OK: {msg}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("proof FAILED: {e}");
            ExitCode::from(1)
        }
    }
}

async fn proof(args: AuditProofArgs) -> anyhow::Result<ExitCode> {
    let keys = args.pubkey.as_deref().map(read_keys).transpose()?;
    if let Some(path) = &args.check {
        let bundle: ProofBundle = serde_json::from_str(&read(path, "the proof")?)
            .with_context(|| format!("{} is not a proof file", path.display()))?;
        return Ok(check_bundle(&bundle, keys.as_deref().unwrap_or_default()));
    }
    let config = args.config.as_deref().context("--config is required")?;
    let (_, store) = open_store(config).await?;
    let checkpoints = store.audit_checkpoints().await?;
    let find = |id: i64| -> anyhow::Result<SignedCheckpoint> {
        let stored = checkpoints
            .iter()
            .find(|c| c.id == id)
            .with_context(|| format!("there is no checkpoint {id}"))?;
        Ok(SignedCheckpoint::parse(&stored.note)?)
    };
    let bundle = match (args.seq, &args.consistency) {
        (Some(seq), _) => {
            let latest = checkpoints
                .last()
                .context("no checkpoint yet: write one with `arkbridge audit checkpoint`")?;
            ProofBundle::Inclusion(prove_inclusion(&store, seq, &find(latest.id)?).await?)
        }
        (None, Some(ab)) => {
            let (old, new) = (find(ab[0])?, find(ab[1])?);
            ProofBundle::Consistency(prove_consistency(&store, &old, &new).await?)
        }
        (None, None) => bail!("give --seq N, --consistency A B or --check FILE"),
    };
    let code = match &keys {
        Some(keys) => check_bundle(&bundle, keys),
        None => ExitCode::SUCCESS,
    };
    write_out(
        args.output.as_ref(),
        &format!("{}\n", serde_json::to_string_pretty(&bundle)?),
    )?;
    Ok(code)
}

fn filter(args: &AuditFilterArgs) -> anyhow::Result<AuditFilter> {
    let now = now_us();
    Ok(AuditFilter {
        user: args.user.clone(),
        page_id: args.page.clone(),
        safe: args.safe.clone(),
        action: args.action.clone(),
        run_id: args.run.clone(),
        since_us: args
            .since
            .as_deref()
            .map(|t| parse_when(t, now))
            .transpose()?,
        until_us: args
            .until
            .as_deref()
            .map(|t| parse_when(t, now))
            .transpose()?,
    })
}

async fn show(args: AuditShowArgs) -> anyhow::Result<ExitCode> {
    let (_, store) = open_store(args.config.as_deref().context("--config is required")?).await?;
    let filter = filter(&args.filter)?;
    let mut out = std::io::stdout().lock();
    let mut print = |records: &[arkbridge_core::audit::AuditRecord]| -> anyhow::Result<()> {
        if args.json {
            for r in records {
                writeln!(out, "{}", r.canonical)?;
            }
        } else if !records.is_empty() {
            write!(out, "{}", arkbridge_audit::show::table(records))?;
        }
        Ok(())
    };
    // With --limit only the latest N are kept; otherwise each page is printed as it is read
    // (a table per page of 5,000), so a large log never sits in memory.
    let mut latest = std::collections::VecDeque::new();
    let mut after = 0;
    loop {
        let page = store.audit_query(&filter, after, 5_000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        match args.limit {
            Some(limit) => {
                latest.extend(page);
                while latest.len() > limit {
                    latest.pop_front();
                }
            }
            None => print(&page)?,
        }
    }
    print(latest.make_contiguous())?;
    Ok(ExitCode::SUCCESS)
}

async fn export_cmd(args: AuditExportArgs) -> anyhow::Result<ExitCode> {
    let format: Format = args.format.parse()?;
    let (_, store) = open_store(&args.config).await?;
    let filter = filter(&args.filter)?;
    let n = match &args.output {
        Some(path) => {
            let mut file = std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?,
            );
            export(&store, &filter, format, &mut file).await?
        }
        None => export(&store, &filter, format, &mut std::io::stdout().lock()).await?,
    };
    eprintln!("{n} records exported");
    Ok(ExitCode::SUCCESS)
}

async fn forward(args: AuditForwardArgs) -> anyhow::Result<ExitCode> {
    let (config, store) = open_store(&args.config).await?;
    let settings = match &args.to {
        Some(to) => {
            let target = SyslogTarget::parse(to, args.ca.as_deref())?;
            let host = arkbridge_audit::syslog::hostname(args.hostname.as_deref());
            vec![ForwardSettings::new(target, host)]
        }
        // The configured receivers, each from its own cursors (as the bridge forwards).
        None => config
            .audit
            .syslog
            .iter()
            .map(|s| {
                let target = SyslogTarget::parse(&s.url(), s.ca.as_deref())?;
                let host = args.hostname.as_deref().or(s.hostname.as_deref());
                Ok(
                    ForwardSettings::new(target, arkbridge_audit::syslog::hostname(host))
                        .own_cursors(),
                )
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
    };
    anyhow::ensure!(
        !settings.is_empty(),
        "nowhere to forward to: give --to or configure [[audit.syslog]]"
    );
    if args.once {
        for s in settings {
            let to = s.target.address.clone();
            let sent = Forwarder::new(&store, s).forward_pending().await?;
            println!(
                "forwarded {} records and {} checkpoints to {to}",
                sent.records, sent.checkpoints
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let runs = settings
        .into_iter()
        .map(|s| {
            let (store, stopped) = (store.clone(), stopped.clone());
            tokio::spawn(async move { Forwarder::new(&store, s).run(stopped).await })
        })
        .collect::<Vec<_>>();
    wait_for_shutdown().await?;
    // Let the batches in flight finish, so their cursors are saved.
    let _ = stop.send(true);
    for run in runs {
        run.await?;
    }
    Ok(ExitCode::SUCCESS)
}
