//! `arkbridge run`: run a runbook block from a page.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use arkbridge_core::config::{Config, IdentityProvider};
use arkbridge_engine::{Bridge, EngineError, RunReport, RunRequest, VerifiedUser};
use arkbridge_runner::Stream;

use crate::cli::RunArgs;
use crate::sim_cmd::wait_for_shutdown;

pub(crate) async fn main(args: RunArgs) -> anyhow::Result<ExitCode> {
    if let Some(server) = &args.remote.server {
        return crate::remote_run::run(server, &args).await;
    }
    let config_path = args
        .config
        .as_deref()
        .context("--config or --server is required")?;
    let config = Config::load(config_path)?;
    warn_identity(&config);
    let user = match VerifiedUser::caller(&config, args.as_user.as_deref()).await {
        Ok(u) => u,
        Err(e) => return Ok(fail(args.json, &e)),
    };
    let (bridge, recovery) = Bridge::connect(config)
        .await
        .context("cannot connect the bridge")?;
    report_recovery(&recovery);
    let user = match bridge.adopt(user).await {
        Ok(u) => u,
        Err(e) => {
            bridge.shutdown().await;
            return Ok(fail(args.json, &e));
        }
    };
    let request = RunRequest {
        page: args.page.clone(),
        block: args.block.clone(),
        user,
    };
    let json = args.json;
    let mut sink = move |stream: Stream, bytes: &[u8]| {
        if json {
            return;
        }
        let _ = match stream {
            Stream::Stdout => std::io::stdout().write_all(bytes),
            Stream::Stderr => std::io::stderr().write_all(bytes),
        };
    };
    // On Ctrl-C or SIGTERM the run is dropped: its process group is killed and its private
    // directory removed; then its leases are settled right away, as recovery would.
    let result = tokio::select! {
        r = bridge.run(&request, &mut sink) => Some(r),
        _ = wait_for_shutdown() => None,
    };
    let Some(result) = result else {
        eprintln!("interrupted: the script was stopped; rotating the credentials it held");
        let recovery = bridge.recover().await;
        bridge.shutdown().await;
        report_recovery(&recovery?);
        return Ok(ExitCode::from(130));
    };
    bridge.shutdown().await;
    match result {
        Ok(report) => {
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                eprintln!("{}", summary(&report));
            }
            Ok(if report.status == "succeeded" {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Err(e) => Ok(fail(json, &e)),
    }
}

/// Prints an error the way the caller asked for and returns its exit code.
pub(crate) fn fail(json: bool, e: &EngineError) -> ExitCode {
    if json {
        let status = match e {
            EngineError::Denied { .. } | EngineError::UnknownUser { .. } => "denied",
            _ => "error",
        };
        let audit_seq = match e {
            EngineError::Denied { audit_seq, .. } => Some(*audit_seq),
            _ => None,
        };
        println!(
            "{}",
            serde_json::json!({ "status": status, "error": e.to_string(), "audit_seq": audit_seq })
        );
    } else {
        eprintln!("error: {e}");
    }
    ExitCode::from(e.exit_code())
}

pub(crate) fn summary(r: &RunReport) -> String {
    let mut s = format!(
        "run {}: {} (exit code {}) in {:.1} s, mode {}",
        r.run_id,
        r.status,
        r.exit_code.map_or_else(|| "none".into(), |c| c.to_string()),
        r.duration_ms as f64 / 1000.0,
        r.mode
    );
    if r.fallback_used {
        s.push_str(" (CyberArk unavailable: read-only fallback credentials used)");
    }
    if !r.rotated.is_empty() {
        s.push_str(&format!("; rotated {}", r.rotated.join(", ")));
    }
    match &r.comment_id {
        Some(c) => s.push_str(&format!("; comment {c} posted on page {}", r.page_id)),
        None => s.push_str("; the result comment could NOT be posted (see the log)"),
    }
    s.push_str(&format!("; audit record {}", r.audit_seq));
    s
}

pub(crate) fn warn_identity(config: &Config) {
    if config.identity.provider == IdentityProvider::LocalTrusted {
        tracing::warn!(
            "identity provider is `local-trusted`: the --as user is believed without proof. \
             This is for development only; never use it in production"
        );
    }
}

pub(crate) fn report_recovery(r: &arkbridge_engine::RecoveryReport) {
    if !r.rotated.is_empty() || !r.failed.is_empty() {
        tracing::warn!(rotated = ?r.rotated, failed = ?r.failed, "recovered leases left open by a crashed run");
    }
}
