//! Test support for the LDAP tests: a real slapd per test (`slapd`), its throw-away PKI (`pki`)
//! and the LDIF handling the harness needs (`ldif`).
//!
//! Each test binary uses a different part of this module, hence the `dead_code` allowance.
#![allow(dead_code)]

pub(crate) mod ldif;
pub(crate) mod pki;
pub(crate) mod slapd;
pub(crate) mod slapd_setup;

use base64::Engine as _;
use ring::rand::SecureRandom as _;

/// `len` random bytes as lower-case hex.
pub(crate) fn random_hex(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("system randomness");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An OpenLDAP `{SSHA}` password hash: base64(SHA-1(password || salt) || salt).
pub(crate) fn ssha(password: &str) -> String {
    let mut salt = [0u8; 8];
    ring::rand::SystemRandom::new()
        .fill(&mut salt)
        .expect("system randomness");
    let mut input = password.as_bytes().to_vec();
    input.extend_from_slice(&salt);
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &input);
    let mut hashed = digest.as_ref().to_vec();
    hashed.extend_from_slice(&salt);
    format!(
        "{{SSHA}}{}",
        base64::engine::general_purpose::STANDARD.encode(hashed)
    )
}
