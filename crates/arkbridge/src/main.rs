//! The `arkbridge` binary: command-line parsing and wiring. Every decision lives in the library
//! crates; this file only turns commands into calls and results into output and exit codes.

mod audit_cmd;
mod cli;
mod demo;
mod logging;
mod login_cmd;
mod policy_cmd;
mod run_cmd;
mod sim_cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // One crypto provider for every TLS user in the process (rustls, reqwest).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = cli::Cli::parse();
    logging::init(cli.log_level());
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
            cli::Command::Approve(args) => policy_cmd::approve(args).await,
            cli::Command::Login(args) => login_cmd::login(args).await,
            cli::Command::Logout(args) => login_cmd::logout(args).await,
            cli::Command::Policy(cli::PolicyCommand::Explain(args)) => {
                policy_cmd::explain(args).await
            }
            cli::Command::Policy(cli::PolicyCommand::Plan(args)) => policy_cmd::plan(args).await,
            cli::Command::Policy(cli::PolicyCommand::Apply(args)) => policy_cmd::apply(args).await,
            cli::Command::Audit(command) => audit_cmd::main(command).await,
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
