//! Logging to stderr. Secret values never reach a log line: the crates log references, ids and
//! error messages, none of which hold a secret.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub(crate) fn init(level: String) {
    let filter = EnvFilter::try_new(&level).unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}
