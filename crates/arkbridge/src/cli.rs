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
    /// Accept inline secrets in the config instead of cyberark:// references (development
    /// only; each one is logged as a warning at start).
    #[arg(long, global = true)]
    pub(crate) allow_inline_secrets: bool,
}

impl Cli {
    pub(crate) fn log_level(&self) -> String {
        self.log.clone().unwrap_or_else(|| match self.command {
            Command::Sim(_) | Command::Demo(_) | Command::Serve(_) => "info".into(),
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
    /// Approve a write block as it is now (its exact text; any edit voids the approval).
    Approve(ApproveArgs),
    /// Sign in to the configured OIDC provider (device authorization grant) and keep the
    /// tokens in the per-user cache.
    Login(LoginArgs),
    /// Delete the cached sign-in of the configured OIDC provider.
    Logout(LogoutArgs),
    /// Explain access decisions.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Work with the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Check a config against CyberArk and Confluence, part by part: pass, warn or fail for
    /// each, with the fix. Exit 0 when nothing failed, 1 when something did.
    Doctor(DoctorArgs),
    /// Serve the REST API (Forge macro, web UI, remote CLI), health, readiness and metrics,
    /// with JSON logs, until SIGINT/SIGTERM; then wait for running runs and stop.
    Serve(ServeArgs),
    /// Only recover what a crashed run left: kill its orphaned script, remove its secret files,
    /// rotate its credentials, and retry failed rotations. Exit 0 when nothing failed, 1 when a
    /// rotation failed again.
    Recover(RecoverArgs),
    /// Find secrets pasted into Confluence pages (--space, --page) or storage-format files
    /// (--path). Exit 1 when a new finding reaches --fail-on.
    Scan(ScanArgs),
    /// List the scanner's findings, or triage them (accepted, false-positive, new).
    #[command(subcommand)]
    Findings(FindingsCommand),
    /// Move found secrets into CyberArk and put their cyberark:// references on the page
    /// (a plan and a diff without --apply).
    Vault(VaultArgs),
    /// Work with the store (move an SQLite store into PostgreSQL).
    #[command(subcommand)]
    Store(crate::store_cmd::StoreCommand),
}

#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    /// The bridge config file (for --space and --page).
    #[arg(long, env = "ARKBRIDGE_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Scan every page of these spaces (keys).
    #[arg(long, value_name = "KEY", num_args = 1.., conflicts_with = "path")]
    pub(crate) space: Vec<String>,
    /// Scan these pages (ids).
    #[arg(long, value_name = "ID", num_args = 1.., conflicts_with = "path")]
    pub(crate) page: Vec<String>,
    /// Scan the storage-format files (*.xhtml, *.html, *.xml) under this folder, e.g. an export.
    #[arg(long, value_name = "DIR")]
    pub(crate) path: Option<PathBuf>,
    /// Only pages modified since a date (2026-11-29), a time (RFC 3339) or `last` (the space's
    /// last complete scan).
    #[arg(long, value_name = "DATE|last")]
    pub(crate) since: Option<String>,
    /// Scan earlier versions of the pages too.
    #[arg(long)]
    pub(crate) history: bool,
    /// Scan the pages' footer comments too.
    #[arg(long)]
    pub(crate) comments: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub(crate) format: ScanFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Exit 1 when a new finding has this severity or higher (low, medium, high, critical).
    #[arg(long, value_name = "SEVERITY")]
    pub(crate) fail_on: Option<String>,
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ScanFormat {
    Text,
    Json,
    Sarif,
    Html,
}

#[derive(Debug, Subcommand)]
pub(crate) enum FindingsCommand {
    /// List findings (all, or in one state) with their ids, previews and triage.
    List(FindingsListArgs),
    /// Set the triage state of findings, with a note.
    Triage(FindingsTriageArgs),
}

#[derive(Debug, Args)]
pub(crate) struct FindingsListArgs {
    #[arg(long, env = "ARKBRIDGE_CONFIG")]
    pub(crate) config: PathBuf,
    /// new, accepted, false-positive or vaulted.
    #[arg(long)]
    pub(crate) state: Option<String>,
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct FindingsTriageArgs {
    #[arg(required = true, value_name = "FINDING-ID")]
    pub(crate) findings: Vec<i64>,
    #[arg(long, env = "ARKBRIDGE_CONFIG")]
    pub(crate) config: PathBuf,
    /// accepted, false-positive or new.
    #[arg(long)]
    pub(crate) state: String,
    /// Why (kept with the finding and in the audit log).
    #[arg(long)]
    pub(crate) note: Option<String>,
    /// Act as this user (only with the development identity provider `local-trusted`).
    #[arg(long = "as", value_name = "EMAIL")]
    pub(crate) as_user: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct VaultArgs {
    /// The findings to move (ids from `arkbridge scan`).
    #[arg(required = true, value_name = "FINDING-ID")]
    pub(crate) findings: Vec<i64>,
    /// The bridge config file.
    #[arg(long, env = "ARKBRIDGE_CONFIG")]
    pub(crate) config: PathBuf,
    /// The safe the new accounts go to.
    #[arg(long)]
    pub(crate) safe: String,
    /// The platform of the new accounts (default: `[scanner] vault_platform`).
    #[arg(long)]
    pub(crate) platform: Option<String>,
    /// Do it: create the accounts, check them through the CCP and edit the pages. Without it,
    /// print the plan and the page diff.
    #[arg(long)]
    pub(crate) apply: bool,
    /// Act as this user (only with the development identity provider `local-trusted`).
    #[arg(long = "as", value_name = "EMAIL")]
    pub(crate) as_user: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RecoverArgs {
    /// The bridge config file.
    #[arg(long, env = "ARKBRIDGE_CONFIG")]
    pub(crate) config: PathBuf,
    /// Print what was done as one JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The bridge config file (its [server] section sets the address, grace period and Forge app).
    #[arg(long, env = "ARKBRIDGE_CONFIG")]
    pub(crate) config: PathBuf,
    /// The address to listen on, e.g. 127.0.0.1:8443 (default: `[server] listen`).
    #[arg(long)]
    pub(crate) listen: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// The bridge config file.
    #[arg(long, env = "ARKBRIDGE_CONFIG")]
    pub(crate) config: PathBuf,
    /// Print a JSON array of {check, status, detail, fix} instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Folder for the simulators' files and the bridge's data.
    #[arg(long, default_value = "arkbridge-demo")]
    pub(crate) dir: PathBuf,
    /// Run the demo once and exit: 0 if the demo run succeeded, non-zero otherwise.
    #[arg(long)]
    pub(crate) once: bool,
    /// The web UI's address: 127.0.0.1 and a port (0 for a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub(crate) listen: std::net::SocketAddr,
    /// Do not open the web UI in the desktop's browser (its URL is printed and written to
    /// `web-ui.json` in the demo folder either way).
    #[arg(long)]
    pub(crate) no_browser: bool,
    /// Seed YAML for the simulators (see crates/sim/SEED.md). Default: the built-in demo data.
    #[arg(long)]
    pub(crate) seed: Option<PathBuf>,
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
pub(crate) struct LoginArgs {
    /// The bridge config file (its [identity.oidc] section names the provider and client).
    #[arg(long, env = "ARKBRIDGE_CONFIG", required_unless_present = "server")]
    pub(crate) config: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
}

/// Where a remote command goes: an `arkbridge serve` instead of a local bridge.
#[derive(Debug, Args)]
pub(crate) struct RemoteArgs {
    /// Sign in to, or run through, the `arkbridge serve` at this URL (e.g.
    /// https://arkbridge.example.com) instead of a local bridge; no config file is needed.
    #[arg(long, value_name = "URL")]
    pub(crate) server: Option<String>,
    /// A CA bundle (PEM) that signs the server's and its identity provider's certificates,
    /// instead of the Mozilla roots.
    #[arg(long, value_name = "FILE", requires = "server")]
    pub(crate) ca_cert: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct LogoutArgs {
    /// The bridge config file.
    #[arg(long, env = "ARKBRIDGE_CONFIG", required_unless_present = "server")]
    pub(crate) config: Option<PathBuf>,
    /// Delete the sign-in to the `arkbridge serve` at this URL instead (works offline).
    #[arg(long, value_name = "URL")]
    pub(crate) server: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The page: its id or its URL.
    pub(crate) page: String,
    /// The bridge config file.
    #[arg(long, env = "ARKBRIDGE_CONFIG", required_unless_present = "server")]
    pub(crate) config: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// The runbook block's name (the code block's title without `arkbridge:`).
    #[arg(long)]
    pub(crate) block: Option<String>,
    /// Run as this user (only with the development identity provider `local-trusted`; with
    /// `oidc` the user is the one signed in with `arkbridge login`).
    #[arg(long = "as", value_name = "EMAIL")]
    pub(crate) as_user: Option<String>,
    /// Print one JSON object with the result instead of live output and a summary.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ApproveArgs {
    /// The page: its id or its URL.
    pub(crate) page: String,
    /// The bridge config file.
    #[arg(long, env = "ARKBRIDGE_CONFIG", required_unless_present = "server")]
    pub(crate) config: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    /// The block's name; may be omitted when the page has exactly one.
    #[arg(long)]
    pub(crate) block: Option<String>,
    /// Approve as this user (only with the development identity provider `local-trusted`; with
    /// `oidc` the user is the one signed in with `arkbridge login`).
    #[arg(long = "as", value_name = "EMAIL")]
    pub(crate) as_user: Option<String>,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Print the decision for a user and a block, with every rule that led to it. Exit 0 when
    /// allowed, 3 when denied.
    Explain(ExplainArgs),
    /// Compare the grants with CyberArk's safe members and print the difference. Exit 0 when
    /// there is none, 2 when there is drift, 1 on error.
    Plan(PlanArgs),
    /// Add, update or remove safe members through the PVWA to match the grants (asks first
    /// unless --yes). Predefined members and the bridge's own are never touched; members
    /// arkbridge did not add are removed only with --prune.
    Apply(ApplyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// The bridge config file.
    #[arg(long, env = "ARKBRIDGE_CONFIG")]
    pub(crate) config: PathBuf,
    /// Also plan to remove members arkbridge did not add and no grant calls for.
    #[arg(long)]
    pub(crate) prune: bool,
    /// Print the plan as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// The bridge config file.
    #[arg(long, env = "ARKBRIDGE_CONFIG")]
    pub(crate) config: PathBuf,
    /// Also remove members arkbridge did not add and no grant calls for.
    #[arg(long)]
    pub(crate) prune: bool,
    /// Apply without asking.
    #[arg(long)]
    pub(crate) yes: bool,
    /// Who applies it, for the audit log (with `local-trusted`, any known user; with `oidc`
    /// the signed-in user, and --as is refused).
    #[arg(long = "as", value_name = "EMAIL")]
    pub(crate) as_user: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// The bridge config file.
    #[arg(long, env = "ARKBRIDGE_CONFIG")]
    pub(crate) config: PathBuf,
    /// The user whose access is explained. Required with `local-trusted`; with `oidc` the
    /// signed-in user by default, and someone else only for a member of an approver group.
    #[arg(long, value_name = "EMAIL")]
    pub(crate) user: Option<String>,
    /// The page: its id or its URL.
    #[arg(long)]
    pub(crate) page: String,
    /// The block's name; may be omitted when the page has exactly one.
    #[arg(long)]
    pub(crate) block: Option<String>,
    /// Print the decision as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Recompute the audit log's Merkle tree and check every checkpoint; exit 1 on tampering.
    Verify(AuditVerifyArgs),
    /// Sign and store a checkpoint (tree size and root) of the audit log now.
    Checkpoint(AuditCheckpointArgs),
    /// Print a new checkpoint signing key (Ed25519, PKCS#8 in base64, to store in CyberArk)
    /// and its public key.
    Keygen(AuditKeygenArgs),
    /// Print an inclusion or consistency proof, or check one offline.
    Proof(AuditProofArgs),
    /// Show audit records: a table, or JSON lines with --json.
    Show(AuditShowArgs),
    /// Export audit records as JSON Lines, CEF or OCSF.
    Export(AuditExportArgs),
    /// Forward the audit log to a SIEM over syslog (RFC 5424, TCP or TLS, CEF messages).
    Forward(AuditForwardArgs),
    /// The daily compliance audit (SOC 2-mapped checks); exit 0 all pass, 1 a check failed,
    /// 2 error.
    Daily(crate::daily_cmd::DailyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct AuditVerifyArgs {
    /// The bridge config file.
    #[arg(long, env = "ARKBRIDGE_CONFIG")]
    pub(crate) config: PathBuf,
    /// Trusted checkpoint public keys (`name+id+key` lines, as `audit keygen` prints).
    #[arg(long)]
    pub(crate) pubkey: Option<PathBuf>,
    /// A checkpoint kept outside the store (e.g. from the SIEM) that the log must still match;
    /// may be repeated. Needs --pubkey.
    #[arg(long = "from-checkpoint", value_name = "FILE", requires = "pubkey")]
    pub(crate) from_checkpoint: Vec<PathBuf>,
}

/// Where the checkpoint signing key comes from (default: `[audit] signing_key` of the config).
#[derive(Debug, Args)]
#[group(required = false, multiple = false)]
pub(crate) struct SigningKeySource {
    /// The key's `cyberark://SAFE/OBJECT[#PROPERTY]` reference, fetched through the CCP.
    #[arg(long, value_name = "REFERENCE")]
    pub(crate) key: Option<String>,
    /// A file holding the key (base64 PKCS#8). Development only: keep it in CyberArk.
    #[arg(long, value_name = "FILE")]
    pub(crate) key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct AuditCheckpointArgs {
    /// The bridge config file.
    #[arg(long, env = "ARKBRIDGE_CONFIG")]
    pub(crate) config: PathBuf,
    #[command(flatten)]
    pub(crate) key: SigningKeySource,
    /// The log's origin, which is also the key's name (default: `[audit] key_id`).
    #[arg(long)]
    pub(crate) origin: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct AuditKeygenArgs {
    /// The key's name: the log's origin, e.g. `audit.example.com/arkbridge`.
    #[arg(long, default_value = arkbridge_audit::DEFAULT_ORIGIN)]
    pub(crate) origin: String,
}

#[derive(Debug, Args)]
pub(crate) struct AuditProofArgs {
    /// The bridge config file (not needed with --check).
    #[arg(long, env = "ARKBRIDGE_CONFIG", required_unless_present = "check")]
    pub(crate) config: Option<PathBuf>,
    /// Prove that record N is in the tree of the latest checkpoint.
    #[arg(long, value_name = "N", conflicts_with_all = ["consistency", "check"])]
    pub(crate) seq: Option<i64>,
    /// Prove that checkpoint B extends checkpoint A (checkpoint numbers).
    #[arg(long, num_args = 2, value_names = ["A", "B"], conflicts_with = "check")]
    pub(crate) consistency: Option<Vec<i64>>,
    /// Check a proof file offline (needs --pubkey).
    #[arg(long, value_name = "FILE", requires = "pubkey")]
    pub(crate) check: Option<PathBuf>,
    /// Trusted public keys; the proof is checked against them before it is printed.
    #[arg(long)]
    pub(crate) pubkey: Option<PathBuf>,
    /// Write the proof here instead of standard output.
    #[arg(long)]
    pub(crate) output: Option<PathBuf>,
}

/// Which records to read.
#[derive(Debug, Args)]
pub(crate) struct AuditFilterArgs {
    /// The actor's subject (e-mail) or display name.
    #[arg(long)]
    pub(crate) user: Option<String>,
    /// A page id.
    #[arg(long)]
    pub(crate) page: Option<String>,
    #[arg(long)]
    pub(crate) safe: Option<String>,
    /// An action, e.g. `credential.issued`.
    #[arg(long)]
    pub(crate) action: Option<String>,
    /// A run id.
    #[arg(long)]
    pub(crate) run: Option<String>,
    /// From this time: RFC 3339, a UTC date (2026-11-30) or an age (90m, 24h, 7d).
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// Before this time (same forms as --since).
    #[arg(long)]
    pub(crate) until: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct AuditShowArgs {
    /// The bridge config file.
    #[arg(long, env = "ARKBRIDGE_CONFIG", required_unless_present = "server")]
    pub(crate) config: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) remote: RemoteArgs,
    #[command(flatten)]
    pub(crate) filter: AuditFilterArgs,
    /// Only the latest N matching records.
    #[arg(long, value_name = "N")]
    pub(crate) limit: Option<usize>,
    /// One canonical JSON record per line instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct AuditExportArgs {
    /// The bridge config file.
    #[arg(long, env = "ARKBRIDGE_CONFIG")]
    pub(crate) config: PathBuf,
    /// jsonl, cef or ocsf.
    #[arg(long)]
    pub(crate) format: String,
    #[command(flatten)]
    pub(crate) filter: AuditFilterArgs,
    /// Write here instead of standard output.
    #[arg(long)]
    pub(crate) output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct AuditForwardArgs {
    /// The bridge config file.
    #[arg(long, env = "ARKBRIDGE_CONFIG")]
    pub(crate) config: PathBuf,
    /// The SIEM's syslog receiver: tcp://HOST:PORT or tls://HOST:PORT (default: every
    /// `[[audit.syslog]]` receiver of the config).
    #[arg(long)]
    pub(crate) to: Option<String>,
    /// CA bundle (PEM) for a tls:// receiver; default: the Mozilla roots.
    #[arg(long)]
    pub(crate) ca: Option<PathBuf>,
    /// The RFC 5424 HOSTNAME to send (default: none, `-`).
    #[arg(long)]
    pub(crate) hostname: Option<String>,
    /// Send what is pending and exit instead of forwarding until Ctrl-C.
    #[arg(long)]
    pub(crate) once: bool,
}
