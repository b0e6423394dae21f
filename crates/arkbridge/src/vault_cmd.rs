//! `arkbridge vault`: move found secrets into CyberArk and put their references on the pages.

use std::process::ExitCode;

use anyhow::Context;
use arkbridge_core::config::Config;
use arkbridge_engine::{Bridge, VaultRequest, VerifiedUser};

use crate::cli::VaultArgs;
use crate::run_cmd::report_recovery;

pub(crate) async fn main(args: VaultArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config)?;
    let user = VerifiedUser::caller(&config, args.as_user.as_deref()).await?;
    let (bridge, recovery) = Bridge::connect(config)
        .await
        .context("cannot connect the bridge")?;
    report_recovery(&recovery);
    let user = bridge.adopt(user).await?;
    let request = VaultRequest {
        findings: args.findings.clone(),
        safe: args.safe.clone(),
        platform: args.platform.clone(),
        apply: args.apply,
    };
    let report = bridge.vault(&user.email, &request).await;
    bridge.shutdown().await;
    let report = report?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for item in &report.items {
            println!(
                "finding #{} {} {} on page {} {:?}: {}",
                item.finding,
                item.detector,
                item.preview,
                item.page_id.as_deref().unwrap_or("-"),
                item.title.as_deref().unwrap_or(""),
                item.outcome
            );
            if let Some(r) = &item.reference {
                println!("  account {r} (platform {})", item.platform);
            }
            for line in &item.diff {
                println!("  {line}");
            }
            if item.cpm_change_requested {
                println!("  the CPM was asked to change it (the old value is in the page history)");
            }
            if let Some(note) = &item.note {
                println!("  {note}");
            }
        }
        if !report.applied {
            println!("(a plan: nothing was changed; --apply does it)");
        }
    }
    Ok(if report.failed() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
