//! The pure core of arkbridge: domain types, runbook parsing, policy, masking, configuration and
//! the audit chain's hashing. Nothing in this crate performs I/O beyond reading a config file the
//! caller names; everything else is computation on values, so it is tested without any service.

pub mod audit;
pub mod config;
pub mod mask;
pub mod merkle;
pub mod policy;
pub mod reconcile;
pub mod runbook;
pub mod secret_ref;
pub mod storage;

pub use secret_ref::SecretRef;

/// An error and its chain of causes as one line (`error: cause: cause`), for messages built from
/// library errors. It holds only what the errors themselves say.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
