//! `arkbridge serve`: the REST API, health, readiness and metrics (`arkbridge-server`), with
//! JSON logs and, with `[audit] signing_key`, periodic signed checkpoints and syslog
//! forwarding, until SIGINT or SIGTERM; then a graceful shutdown that waits for running runs up
//! to `[server] shutdown_grace_secs` and checkpoints the audit log.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use arkbridge_core::config::Config;
use arkbridge_engine::Bridge;
use arkbridge_server::{Authenticator, ServerState, WebUi, serve};

use crate::cli::ServeArgs;
use crate::sim_cmd::wait_for_shutdown;

pub(crate) async fn main(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(&args.config)?;
    config.server.validate()?;
    // `[server.forge] ca_cert` is relative to the config file, like its other paths.
    if let Some(forge) = &mut config.server.forge
        && let Some(ca) = &mut forge.ca_cert
        && ca.is_relative()
        && let Some(dir) = args.config.parent()
    {
        *ca = dir.join(&*ca);
    }
    let listen = args.listen.unwrap_or_else(|| config.server.listen.clone());
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let auth = Authenticator::from_config(&config).context("invalid identity settings")?;
    let (bridge, recovery) = Bridge::connect(config)
        .await
        .context("cannot connect the bridge")?;
    if !recovery.rotated.is_empty() || !recovery.failed.is_empty() {
        tracing::warn!(
            rotated = ?recovery.rotated,
            failed = ?recovery.failed,
            "credentials of crashed runs settled at start"
        );
    }
    // Periodic signed checkpoints and syslog forwarding of `[audit]`, while serving; with
    // several replicas on PostgreSQL only the elected leader does them (`cluster_node.rs`).
    let background = if bridge.cluster().is_some() {
        None
    } else {
        bridge
            .start_background_audit()
            .await
            .context("cannot start the audit log's checkpoints")?
    };
    // The web UI of `[server.web]`, whose sessions become an API credential. Its line comes
    // before `Listening on`, which readers of stdout may stop at.
    let web = WebUi::for_bridge(&bridge).context("cannot set up the web UI")?;
    if let Some(web) = &web {
        println!("Web UI at {}/ui", web.public_url());
    }
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr().context("no local address")?;
    tracing::info!(address = %address, "arkbridge serve listening");
    // Tests and scripts read the address from this line (the port may have been 0).
    println!("Listening on http://{address}");
    let state = ServerState::with_web(Arc::new(bridge), auth, web);
    let signal = async {
        if let Err(e) = wait_for_shutdown().await {
            tracing::error!(error = %e, "cannot wait for signals; shutting down");
        }
    };
    let report = serve(listener, state, grace, signal).await?;
    if let Some(background) = background
        && let Err(e) = background.shutdown().await
    {
        tracing::warn!(error = %e, "the audit checkpoint at shutdown was not written");
    }
    if report.stopped_runs > 0 {
        tracing::warn!(
            runs = report.stopped_runs,
            "runs still going at the end of the grace period were stopped"
        );
    }
    if report.fenced {
        eprintln!(
            "arkbridge serve stopped: this replica was fenced (declared dead by another replica, \
             or unable to reach the store for [cluster] dead_after_secs); restart it"
        );
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}
