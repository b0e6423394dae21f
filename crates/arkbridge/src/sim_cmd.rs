//! `arkbridge sim`: serve the simulators until SIGINT or SIGTERM.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use arkbridge_sim::SimOptions;

use crate::cli::SimArgs;

pub(crate) async fn main(args: SimArgs) -> anyhow::Result<ExitCode> {
    let sim = arkbridge_sim::start(SimOptions {
        dir: args.dir.clone(),
        seed: args.seed.clone(),
        cpm_delay: Duration::from_millis(args.cpm_delay_ms),
    })
    .await
    .context("cannot start the simulators")?;
    if let Some(spec) = &args.fault {
        let faults = arkbridge_sim::parse_fault_spec(spec).context("invalid --fault")?;
        sim.set_faults(faults).context("invalid --fault")?;
    }
    sim.set_bearer_only(args.bearer_only);
    let info = sim.info();
    println!(
        "CyberArk CCP:      {}/AIMWebService/api/Accounts",
        info.ccp_url
    );
    println!("CyberArk PVWA:     {}/PasswordVault/API", info.pvwa_url);
    println!("Confluence Cloud:  {}/wiki/api/v2", info.confluence_url);
    println!(
        "Fault injection:   {}/__arkbridge_sim/faults (PVWA Administrator)",
        info.pvwa_url
    );
    println!("Credentials:       {}", args.dir.join("sim.json").display());
    println!(
        "Bridge config:     {}",
        args.dir.join("arkbridge.toml").display()
    );
    println!("Serving until Ctrl-C (SIGINT) or SIGTERM.");
    wait_for_shutdown().await?;
    sim.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// Waits for SIGINT or SIGTERM.
pub(crate) async fn wait_for_shutdown() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("cannot listen for SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}
