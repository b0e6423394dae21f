//! arkbridge-cyberark: clients for CyberArk's Central Credential Provider (CCP) and PVWA REST API.
//!
//! * [`CcpClient`] fetches credentials for runbooks: `GET /AIMWebService/api/Accounts`, identified
//!   by AppID plus mutual TLS. The secret (`Content`) is handed out as a
//!   [`secrecy::SecretString`]; the raw answer buffer is wiped after parsing.
//! * [`PvwaClient`] rotates credentials after a run: find the account, `Change` or `CheckIn`, then
//!   wait for the CPM (`secretManagement.status`). It also administers safes, safe members
//!   ([`Permissions`], the 22 Gen2 keys and five predefined sets) and accounts. It logs on to a
//!   Self-Hosted PVWA, or uses an Identity platform token for Privilege Cloud Shared Services
//!   ([`PvwaAuth::Ispss`], [`PvwaClient::logon_ispss`]).
//!
//! Errors ([`CyberArkError`]) separate *unavailability* (transport failure, timeouts, 5xx, CCP
//! `APPAP007E`: a read-only fallback may fire) from *refusals* (4xx: never a reason to fall back),
//! and never carry a secret. Unavailability is retried with jittered exponential backoff
//! ([`RetryPolicy`]) behind a circuit breaker per endpoint ([`CircuitBreaker`]); an open circuit
//! fails fast with an unavailable error, so the read-only fallback fires at once. TLS always
//! uses the `ring` provider, roots from the configured CA bundle or `webpki-roots`, and never
//! follows redirects.

mod account;
mod activity;
mod body;
mod breaker;
mod ccp;
mod ccp_account;
mod error;
mod member;
mod permissions;
mod pvwa;
mod retry;
mod safe;
mod tls;
mod token;

pub use account::{Account, SecretManagement};
pub use activity::Activity;
pub use breaker::{BreakerConfig, CircuitBreaker, CircuitState};
pub use ccp::{CcpClient, CcpQuery, PreparedCcpQuery, QueryFormat};
pub use ccp_account::CcpAccount;
pub use error::CyberArkError;
pub use member::{
    MEMBER_NAME_FORBIDDEN, MemberId, MemberType, NewSafeMember, SafeMember, check_member_name,
};
pub use permissions::Permissions;
pub use pvwa::{NewAccount, PatchOp, PvwaAuth, PvwaClient};
pub use retry::{Resilience, RetryPolicy};
pub use safe::{
    Retention, SAFE_DESCRIPTION_MAX, SAFE_NAME_FORBIDDEN, SAFE_NAME_MAX, Safe, SafeRefusal,
    SafeSettings, check_safe_name,
};

#[cfg(test)]
mod fake;
#[cfg(test)]
mod pvwa_admin_tests;
#[cfg(test)]
mod pvwa_ops_tests;
#[cfg(test)]
mod pvwa_safes_tests;
#[cfg(test)]
mod resilience_tests;
