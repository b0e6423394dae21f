//! The audit log's records: the event schema, its canonical serialisation, the Merkle nodes each
//! record stores, and the migration of version-1 (hash-chain) records.
//!
//! * [`event`]: who ([`Actor`]: issuer, subject, display name, [`AuthMethod`], session or
//!   request id; and the source address), did what ([`Action`], a closed list), to what
//!   ([`Target`]: safe, account, page and version, block), with which [`Outcome`] and reason,
//!   plus details. A record never holds a secret value.
//! * [`record`]: the stored form, an RFC 8785 (JCS) canonical JSON text (documented there), so a
//!   record hashes the same on every machine; the Merkle leaf is `SHA-256(0x00 || text)`.
//! * [`canonical`]: the JCS serialiser.
//! * [`tree`]: where the RFC 6962 tree's nodes are stored and how they grow as records are
//!   appended (hashing is [`crate::merkle`]'s).
//! * [`legacy`]: version-1 records (a SHA-256 hash chain) carried into the current schema with
//!   their original fields, so the old chain stays checkable.
//!
//! Signed checkpoints, proofs, verification and export live in the `arkbridge-audit` crate; the
//! store (`arkbridge-store`) assigns sequence numbers and writes records with their nodes.

pub mod canonical;
pub mod event;
pub mod legacy;
pub mod record;
pub mod tree;
pub mod validate;

pub use event::{
    Action, Actor, AuditEvent, AuthMethod, Outcome, SYSTEM_ACTOR, Target, UnknownAction,
};
pub use legacy::{ChainError, LegacyChain, LegacyV1};
pub use record::{AuditRecord, RecordError, SCHEMA_VERSION, decode, encode, is_canonical};

#[cfg(test)]
mod tests;
