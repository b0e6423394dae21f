//! Command-line syntax (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// arkbridge: Confluence runbooks with just-in-time CyberArk credentials.
#[derive(Debug, Parser)]
#[command(name = "arkbridge", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    /// Log level for messages on stderr (error, warn, info, debug). Also ARKBRIDGE_LOG.
    #[arg(long, global = true, env = "ARKBRIDGE_LOG")]
    pub(crate) log: Option<String>,
}

impl Cli {
    pub(crate) fn log_level(&self) -> String {
        self.log.clone().unwrap_or_else(|| match self.command {
            Command::Sim(_) | Command::Demo(_) => "info".into(),
            _ => "warn".into(),
        })
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Start the simulators with the demo data, run the demo runbook as alice, show what
    /// happened, and keep serving until Ctrl-C.
    Demo(DemoArgs),
    /// Serve simulated CyberArk (CCP, PVWA) and Confluence Cloud on free loopback ports.
    Sim(SimArgs),
    /// Run a runbook block from a Confluence page.
    Run(RunArgs),
    /// Work with the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Folder for the simulators' files and the bridge's data.
    #[arg(long, default_value = "arkbridge-demo")]
    pub(crate) dir: PathBuf,
    /// Run the demo once and exit: 0 if the demo run succeeded, non-zero otherwise.
    #[arg(long)]
    pub(crate) once: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SimArgs {
    /// Folder for the generated certificates, sim.json and arkbridge.toml.
    #[arg(long)]
    pub(crate) dir: PathBuf,
    /// Seed YAML (safes, accounts, users, spaces, pages...). Default: the built-in demo data.
    #[arg(long)]
    pub(crate) seed: Option<PathBuf>,
    /// How long the simulated CPM takes to change a password, in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub(crate) cpm_delay_ms: u64,
    /// Faults to inject from the start, e.g. `latency=200ms,error-rate=0.1,vault-down`
    /// (see crates/sim/SEED.md); also changeable at run time through the admin endpoint.
    #[arg(long, value_name = "SPEC")]
    pub(crate) fault: Option<String>,
    /// Privilege Cloud (ISPSS) mode: the PVWA accepts only `Authorization: Bearer` tokens.
    #[arg(long)]
    pub(crate) bearer_only: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The page: its id or its URL.
    pub(crate) page: String,
    /// The bridge config file.
    #[arg(long, env = "ARKBRIDGE_CONFIG")]
    pub(crate) config: PathBuf,
    /// The runbook block's name (the code block's title without `arkbridge:`).
    #[arg(long)]
    pub(crate) block: Option<String>,
    /// Run as this user (only with the development identity provider `local-trusted`).
    #[arg(long = "as", value_name = "EMAIL")]
    pub(crate) as_user: Option<String>,
    /// Print one JSON object with the result instead of live output and a summary.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check the audit log's hash chain.
    Verify(AuditVerifyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct AuditVerifyArgs {
    /// The bridge config file.
    #[arg(long, env = "ARKBRIDGE_CONFIG")]
    pub(crate) config: PathBuf,
}
