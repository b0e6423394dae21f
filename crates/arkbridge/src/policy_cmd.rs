//! `arkbridge approve` and `arkbridge policy explain`.

use std::process::ExitCode;

use anyhow::Context;
use arkbridge_core::config::Config;
use arkbridge_core::policy::Decision;
use arkbridge_engine::{Bridge, VerifiedUser};

use crate::cli::{ApproveArgs, ExplainArgs};
use crate::run_cmd::{fail, report_recovery, warn_identity};

pub(crate) async fn approve(args: ApproveArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config)?;
    warn_identity(&config);
    let Some(claimed) = args.as_user.as_deref() else {
        anyhow::bail!("--as EMAIL is required with the local-trusted identity provider");
    };
    let approver = match VerifiedUser::resolve(&config, claimed) {
        Ok(u) => u,
        Err(e) => return Ok(fail(args.json, &e)),
    };
    let (bridge, recovery) = Bridge::connect(config)
        .await
        .context("cannot connect the bridge")?;
    report_recovery(&recovery);
    let result = bridge
        .approve(&approver, &args.page, args.block.as_deref())
        .await;
    bridge.shutdown().await;
    match result {
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "approved block `{}` of page {} (version {}, sha256 {}) as {}; audit record {}",
                    report.block,
                    report.page_id,
                    report.page_version,
                    report.script_sha256,
                    report.approver,
                    report.audit_seq
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(fail(args.json, &e)),
    }
}

pub(crate) async fn explain(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config)?;
    warn_identity(&config);
    let user = match VerifiedUser::resolve(&config, &args.user) {
        Ok(u) => u,
        Err(e) => return Ok(fail(args.json, &e)),
    };
    let (bridge, recovery) = Bridge::connect(config)
        .await
        .context("cannot connect the bridge")?;
    report_recovery(&recovery);
    let result = bridge
        .explain(&user, &args.page, args.block.as_deref())
        .await;
    bridge.shutdown().await;
    let decision = match result {
        Ok(d) => d,
        Err(e) => return Ok(fail(args.json, &e)),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&decision)?);
    } else {
        print!("{}", render(&decision));
    }
    Ok(if decision.allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

/// The decision as people read it: the verdict, then each rule with its reasons.
fn render(d: &Decision) -> String {
    let mut out = format!(
        "{} may {}run block `{}` ({}) of page {} in space {}\n",
        d.user,
        if d.allowed { "" } else { "NOT " },
        d.block,
        d.mode.as_str(),
        d.page_id,
        d.space
    );
    for rule in &d.rules {
        let mark = if rule.passed { "ok    " } else { "DENIED" };
        for (i, reason) in rule.reasons.iter().enumerate() {
            let label = if i == 0 { rule.rule.as_str() } else { "" };
            out.push_str(&format!("  {mark} {label:<16} {reason}\n"));
        }
    }
    out
}
