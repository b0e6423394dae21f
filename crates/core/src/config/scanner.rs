//! `[scanner]`: the secret scanner's settings (`arkbridge scan`, `arkbridge vault`, and the scan
//! the daily audit runs).

use serde::{Deserialize, Serialize};

use super::ConfigSecret;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ScannerConfig {
    /// The key of the HMAC-SHA256 fingerprints that identify a finding across scans without
    /// keeping its value: a `cyberark://` reference, fetched through the CCP like the bridge's
    /// other credentials. Required for scans that keep their findings (with `--config`); a
    /// `--path` scan without a config uses a random key, so its fingerprints compare only
    /// within that scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint_key: Option<ConfigSecret>,
    /// The CyberArk platform `arkbridge vault` creates accounts with when `--platform` is not
    /// given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_platform: Option<String>,
}
