//! `arkbridge findings list|triage`: the scanner's triage memory.

use std::process::ExitCode;

use anyhow::Context;
use arkbridge_core::config::Config;
use arkbridge_engine::{Bridge, VerifiedUser};
use arkbridge_store::{FindingState, Store};

use crate::cli::FindingsCommand;
use crate::run_cmd::report_recovery;

fn parse_state(s: &str) -> anyhow::Result<FindingState> {
    FindingState::parse(s).with_context(|| {
        format!("`{s}` is not a finding state: new, accepted, false-positive or vaulted")
    })
}

pub(crate) async fn main(command: FindingsCommand) -> anyhow::Result<ExitCode> {
    match command {
        FindingsCommand::List(args) => {
            let config = Config::load(&args.config)?;
            let state = args.state.as_deref().map(parse_state).transpose()?;
            // Listing only reads the store (SQLite, or PostgreSQL with `[store] url`, whose
            // password alone is fetched through the CCP): no Confluence call is needed.
            let store = arkbridge_engine::open_store(&config).await?;
            let findings = store.findings(state).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&findings)?);
            } else {
                for f in &findings {
                    let x = &f.finding;
                    println!(
                        "#{:<5} {:<14} {:<8} {:<26} page {} {:?} at {}: {}{}",
                        f.id,
                        f.state.as_str(),
                        x.severity,
                        x.detector,
                        x.page_id
                            .as_deref()
                            .or(x.file_path.as_deref())
                            .unwrap_or("-"),
                        x.title.as_deref().unwrap_or(""),
                        x.element_path,
                        x.preview,
                        f.triage_note
                            .as_deref()
                            .map(|n| format!(" ({n})"))
                            .unwrap_or_default()
                    );
                }
                println!(
                    "{} finding{}",
                    findings.len(),
                    if findings.len() == 1 { "" } else { "s" }
                );
            }
            store.close().await;
            Ok(ExitCode::SUCCESS)
        }
        FindingsCommand::Triage(args) => {
            let state = parse_state(&args.state)?;
            let config = Config::load(&args.config)?;
            let user = VerifiedUser::caller(&config, args.as_user.as_deref()).await?;
            let (bridge, recovery) = Bridge::connect(config)
                .await
                .context("cannot connect the bridge")?;
            report_recovery(&recovery);
            let user = bridge.adopt(user).await?;
            let mut failed = false;
            for id in &args.findings {
                match bridge
                    .triage_finding(&user.email, *id, state, args.note.as_deref())
                    .await
                {
                    Ok(f) => println!("finding #{} is {}", f.id, f.state.as_str()),
                    Err(e) => {
                        failed = true;
                        eprintln!("finding #{id}: {e}");
                    }
                }
            }
            bridge.shutdown().await;
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
