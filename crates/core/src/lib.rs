//! The pure core of arkbridge: domain types, runbook parsing, policy, masking, configuration and
//! the audit chain's hashing. Nothing in this crate performs I/O beyond reading a config file the
//! caller names; everything else is computation on values, so it is tested without any service.

pub mod audit;
pub mod config;
pub mod mask;
pub mod policy;
pub mod runbook;
pub mod secret_ref;
pub mod storage;

pub use secret_ref::SecretRef;
