//! `arkbridge audit daily`: the daily compliance audit, made for cron. Exit 0 when every check
//! passed, 1 when any failed (or could not be carried out), 2 on an error that kept the audit
//! from running or its report from being posted. `--quiet` prints nothing when all passed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use arkbridge_core::config::Config;
use arkbridge_engine::Bridge;
use arkbridge_engine::daily::{DailyReport, render_html, render_text};
use clap::{Args, ValueEnum};

use crate::run_cmd::report_recovery;

/// How the report is printed or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DailyFormat {
    Text,
    Json,
    Html,
}

#[derive(Debug, Args)]
pub(crate) struct DailyArgs {
    /// The bridge config file (its [daily] section says what is audited).
    #[arg(long, env = "ARKBRIDGE_CONFIG")]
    pub(crate) config: PathBuf,
    /// Also replace the body of this Confluence page with the report (default: [daily] post_to).
    #[arg(long, value_name = "PAGE-ID")]
    pub(crate) post_to: Option<String>,
    /// The report's form: text, json or html (one self-contained file).
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: DailyFormat,
    /// Write the report to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Print nothing when every check passes (failures and errors are still printed).
    #[arg(long)]
    pub(crate) quiet: bool,
}

fn render(report: &DailyReport, format: DailyFormat) -> anyhow::Result<String> {
    Ok(match format {
        DailyFormat::Text => render_text(report),
        DailyFormat::Json => format!("{}\n", serde_json::to_string_pretty(report)?),
        DailyFormat::Html => render_html(report),
    })
}

pub(crate) async fn main(args: DailyArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config)?;
    if let Some(page) = &args.post_to
        && (page.is_empty() || !page.chars().all(|c| c.is_ascii_digit()))
    {
        anyhow::bail!("--post-to must be a Confluence page id (digits only), not {page:?}");
    }
    let post_to = args
        .post_to
        .clone()
        .or_else(|| config.daily.post_to.clone());
    let (bridge, recovery) = Bridge::connect(config)
        .await
        .context("cannot connect the bridge")?;
    report_recovery(&recovery);
    let result = audit_and_post(&bridge, post_to.as_deref()).await;
    // Sign the records this audit added (when [audit] has a signing key).
    if let Err(e) = bridge.checkpoint_at_exit().await {
        tracing::warn!(error = %e, "no checkpoint after the daily audit");
    }
    bridge.shutdown().await;
    let (report, posted) = result?;
    let text = render(&report, args.format)?;
    match &args.output {
        Some(path) => std::fs::write(path, &text)
            .with_context(|| format!("cannot write the report to {}", path.display()))?,
        None if args.quiet && report.passed => {}
        None => print!("{text}"),
    }
    if args.output.is_some() && !(args.quiet && report.passed) {
        println!("{}", report.headline());
    }
    if let Some(posted) = &posted
        && !(args.quiet && report.passed)
    {
        eprintln!(
            "report posted to page {} (version {})",
            posted.page_id, posted.version
        );
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Runs the audit and, when asked, posts it. A report that was made but could not be posted is
/// an error (exit 2): the page is the evidence someone relies on.
async fn audit_and_post<S: arkbridge_store::Store>(
    bridge: &Bridge<S>,
    post_to: Option<&str>,
) -> anyhow::Result<(DailyReport, Option<arkbridge_engine::daily::PostedReport>)> {
    let report = bridge
        .daily_audit()
        .await
        .context("the daily audit could not run")?;
    let posted =
        match post_to {
            Some(page) => Some(bridge.post_daily_report(&report, page).await.with_context(
                || {
                    format!(
                        "the daily report {} was stored but could not be posted to page {page}",
                        report.report_id.unwrap_or_default()
                    )
                },
            )?),
            None => None,
        };
    Ok((report, posted))
}
