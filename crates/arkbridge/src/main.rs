//! The `arkbridge` binary: command-line parsing and wiring. Every decision lives in the library
//! crates; this file only turns commands into calls and results into output and exit codes.

mod audit_cmd;
mod cli;
mod daily_cmd;
mod demo;
mod demo_web;
mod doctor_cmd;
mod findings_cmd;
mod logging;
mod login_cmd;
mod policy_cmd;
mod recover_cmd;
mod remote;
mod remote_admin;
mod remote_login;
mod remote_run;
mod remote_scan;
mod remote_session;
mod run_cmd;
mod scan_cmd;
mod serve_cmd;
mod sim_cmd;
mod store_cmd;
mod vault_cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // One crypto provider for every TLS user in the process (rustls, reqwest).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = cli::Cli::parse();
    if matches!(cli.command, cli::Command::Serve(_)) {
        arkbridge_server::json_log::init(&cli.log_level());
    } else {
        logging::init(cli.log_level());
    }
    arkbridge_engine::allow_inline_secrets_from_command_line(cli.allow_inline_secrets);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            cli::Command::Demo(args) => demo::main(args).await,
            cli::Command::Sim(args) => sim_cmd::main(args).await,
            cli::Command::Run(args) => run_cmd::main(args).await,
            cli::Command::Approve(args) if args.remote.server.is_some() => {
                remote_admin::approve(args).await
            }
            cli::Command::Approve(args) => policy_cmd::approve(args).await,
            cli::Command::Login(args) => login_cmd::login(args).await,
            cli::Command::Logout(args) => login_cmd::logout(args).await,
            cli::Command::Policy(cli::PolicyCommand::Explain(args)) => {
                policy_cmd::explain(args).await
            }
            cli::Command::Policy(cli::PolicyCommand::Plan(args)) => policy_cmd::plan(args).await,
            cli::Command::Policy(cli::PolicyCommand::Apply(args)) => policy_cmd::apply(args).await,
            cli::Command::Audit(cli::AuditCommand::Show(args)) if args.remote.server.is_some() => {
                remote_admin::audit_show(args).await
            }
            cli::Command::Audit(command) => audit_cmd::main(command).await,
            cli::Command::Scan(args) => scan_cmd::main(args).await,
            cli::Command::Findings(command) => findings_cmd::main(command).await,
            cli::Command::Vault(args) => vault_cmd::main(args).await,
            cli::Command::Doctor(args) => doctor_cmd::main(args, cli.allow_inline_secrets).await,
            cli::Command::Recover(args) => recover_cmd::main(args).await,
            cli::Command::Serve(args) => serve_cmd::main(args).await,
            cli::Command::Store(command) => store_cmd::main(command).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
