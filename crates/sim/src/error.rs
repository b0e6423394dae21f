//! The simulator's error type: everything that can stop `arkbridge sim` from starting.

use std::path::PathBuf;

/// Why the simulator could not start (or could not write its files).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot read seed file {path}: {source}")]
    SeedRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid seed {origin}: {message}")]
    SeedParse { origin: String, message: String },
    #[error("inconsistent seed: {0}")]
    SeedInvalid(String),
    #[error("cannot create folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    WriteFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("certificate generation failed: {0}")]
    Pki(String),
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot build the bridge configuration: {0}")]
    Config(String),
    #[error("invalid fault spec: {0}")]
    FaultSpec(String),
    /// The identity provider refused a device activation.
    #[error("the identity provider refused the sign-in: {0}")]
    SignIn(String),
}
