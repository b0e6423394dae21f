//! When a run may go on read-only, and where its fallback credentials come from.
//!
//! Only *unavailability* allows a fallback, exactly as the product says: a transport failure
//! (connection refused, TLS failure, timeout), the CCP's `APPAP007E` (the Vault is unreachable
//! from the CCP, answered as a 400), a 5xx answer, or an open circuit breaker (which fails fast
//! because the endpoint was unavailable moments ago). Everything else is an answer: a refusal
//! (403 `APPAP306E`/`APPAP008E`, 404 `APPAP004E` "not found or not permitted", a PVWA user that
//! cannot see the account), a password the CPM is changing, a malformed answer or a local
//! configuration error. None of those ever falls back, because a fallback there would go around
//! CyberArk's decision instead of over its outage.
//!
//! A fallback reference is resolved from, in this order: the second CCP
//! (`[cyberark.fallback_ccp]`), the first CCP (the outage may have been the PVWA's, or one safe's),
//! and the in-memory cache of read-only values (`ro_cache.rs`).

use arkbridge_cyberark::CyberArkError;

use crate::EngineError;

/// Why CyberArk counts as unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unavailability {
    /// The request never got an answer: connection, TLS, timeout.
    Transport,
    /// CCP `APPAP007E`: the CCP answered that it cannot reach the Vault.
    VaultUnreachable,
    /// A 5xx answer.
    ServerError(u16),
    /// The endpoint's circuit breaker is open after consecutive unavailable answers.
    CircuitOpen,
}

impl Unavailability {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Unavailability::Transport => "transport",
            Unavailability::VaultUnreachable => "vault-unreachable",
            Unavailability::ServerError(_) => "server-error",
            Unavailability::CircuitOpen => "circuit-open",
        }
    }
}

/// Classifies a CyberArk error: `Some` only for the four kinds of unavailability. An
/// unavailable error of any other shape (none is built today) is treated as an answer, so that
/// a new kind of error never widens the fallback by accident.
pub(crate) fn unavailability(e: &CyberArkError) -> Option<Unavailability> {
    let CyberArkError::Unavailable {
        detail,
        status,
        code,
        ..
    } = e
    else {
        return None;
    };
    if code
        .as_deref()
        .is_some_and(|c| c.eq_ignore_ascii_case("APPAP007E"))
    {
        return Some(Unavailability::VaultUnreachable);
    }
    match status {
        Some(s) if *s >= 500 => Some(Unavailability::ServerError(*s)),
        Some(_) => None,
        // The breaker's fail-fast error is documented as "circuit open ...".
        None if detail.starts_with("circuit open") => Some(Unavailability::CircuitOpen),
        None => Some(Unavailability::Transport),
    }
}

/// The unavailability behind an engine error, if it is one.
pub(crate) fn engine_unavailability(e: &EngineError) -> Option<(Unavailability, &CyberArkError)> {
    match e {
        EngineError::CyberArk(c) => unavailability(c).map(|u| (u, c)),
        _ => None,
    }
}

/// Where a read-only credential came from (`credential.fallback`'s `source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FallbackSource {
    FallbackCcp,
    PrimaryCcp,
    Cache,
}

impl FallbackSource {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FallbackSource::FallbackCcp => "fallback-ccp",
            FallbackSource::PrimaryCcp => "primary-ccp",
            FallbackSource::Cache => "cache",
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use arkbridge_core::config::CcpConfig;
    use arkbridge_cyberark::{BreakerConfig, CcpClient, CcpQuery, Resilience, RetryPolicy};

    use super::*;

    fn unavailable(status: Option<u16>, code: Option<&str>, detail: &str) -> CyberArkError {
        CyberArkError::Unavailable {
            endpoint: "ccp",
            detail: detail.into(),
            status,
            code: code.map(str::to_string),
        }
    }

    fn refused(status: u16, code: &str) -> CyberArkError {
        CyberArkError::Refused {
            endpoint: "ccp",
            status,
            code: code.into(),
            message: "refused".into(),
        }
    }

    #[test]
    fn vault_unreachable_appap007e_falls_back_although_it_is_a_400() {
        let e = unavailable(Some(400), Some("APPAP007E"), "HTTP 400 APPAP007E");
        assert_eq!(unavailability(&e), Some(Unavailability::VaultUnreachable));
    }

    #[test]
    fn server_errors_fall_back() {
        for s in [500, 502, 503, 504] {
            let e = unavailable(Some(s), None, "HTTP 5xx");
            assert_eq!(unavailability(&e), Some(Unavailability::ServerError(s)));
        }
        let e = unavailable(Some(500), Some("CAWS00001E"), "vault down");
        assert_eq!(unavailability(&e), Some(Unavailability::ServerError(500)));
    }

    #[test]
    fn a_4xx_that_is_not_appap007e_never_falls_back_even_if_marked_unavailable() {
        let e = unavailable(Some(429), Some("X"), "odd");
        assert_eq!(unavailability(&e), None);
    }

    #[test]
    fn refusals_never_fall_back() {
        for (status, code) in [
            (403, "APPAP306E"),
            (403, "APPAP008E"),
            (404, "APPAP004E"),
            (401, "PASWS006E"),
            (400, "APPAP227E"),
        ] {
            assert_eq!(unavailability(&refused(status, code)), None, "{code}");
        }
    }

    #[test]
    fn answers_that_are_not_outages_never_fall_back() {
        let change = CyberArkError::ChangeInProgress {
            code: "APPAP282E".into(),
            message: "being changed".into(),
        };
        let protocol = CyberArkError::Protocol {
            endpoint: "ccp",
            detail: "truncated JSON".into(),
        };
        let config = CyberArkError::Config("bad certificate".into());
        for e in [change, protocol, config] {
            assert_eq!(unavailability(&e), None, "{e}");
        }
        let runbook = EngineError::Runbook("the PVWA user cannot see this account".into());
        assert!(engine_unavailability(&runbook).is_none());
    }

    /// A real client against a closed port: the first call is a transport failure, the next
    /// meets the open breaker; both fall back.
    #[tokio::test]
    async fn transport_failure_then_open_breaker_fall_back() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let cfg: CcpConfig = serde_json::from_value(serde_json::json!({
            "url": format!("https://127.0.0.1:{port}"), "app_id": "arkbridge",
        }))
        .unwrap();
        let resilience = Resilience::new(
            "ccp",
            RetryPolicy::no_retry(),
            BreakerConfig {
                failure_threshold: 1,
                cool_down: Duration::from_secs(60),
            },
        );
        let ccp = CcpClient::with_resilience(&cfg, resilience).unwrap();
        let q = CcpQuery::for_account("Prod-DB", "payments-db");
        let first = ccp.get(&q).await.unwrap_err();
        assert_eq!(
            unavailability(&first),
            Some(Unavailability::Transport),
            "{first}"
        );
        let second = ccp.get(&q).await.unwrap_err();
        assert_eq!(
            unavailability(&second),
            Some(Unavailability::CircuitOpen),
            "{second}"
        );
        let wrapped = EngineError::CyberArk(second);
        assert_eq!(
            engine_unavailability(&wrapped).map(|(u, _)| u.as_str()),
            Some("circuit-open")
        );
    }
}
