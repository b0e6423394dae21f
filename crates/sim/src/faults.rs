//! Fault injection for the simulated CyberArk services (CCP and PVWA).
//!
//! [`Faults`] is the switchboard: added latency, a deterministic error rate, Vault unreachable,
//! dropped connections, truncated bodies and a CPM failure rate. It is set through
//! `SimHandle::set_faults`, the `--fault` spec ([`parse_fault_spec`]) or the PVWA admin endpoint
//! (`crate::admin`). The [`Gate`] applies it to every request of a server before routing.
//!
//! Rates are deterministic, not random: with rate `r`, the n-th request counted since the faults
//! were last set fails exactly when `floor(n·r) > floor((n-1)·r)` (rate 0.5 fails every second
//! request, 0.1 every tenth, 1 every request).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use crate::error::SimError;
use crate::http;
use crate::world::World;

/// Path prefix of the platform-discovery service, which (like the Identity token endpoint) is
/// not behind the Vault and keeps answering while it is down.
const DISCOVERY_PREFIX: &str = "/API/v2/services/";

/// Path prefix of the simulator's own endpoints; never subject to faults.
pub(crate) const ADMIN_PREFIX: &str = "/__arkbridge_sim/";

/// The fault settings of the simulated CyberArk services. `Faults::default()` is "no faults".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Added before every CCP and PVWA response.
    pub latency: Duration,
    /// Share of CCP/PVWA requests (0 to 1) that get a 500 error.
    pub error_rate: f64,
    /// The Vault is unreachable: CCP 400 APPAP007E, PVWA 500.
    pub vault_down: bool,
    /// Every CCP/PVWA request is answered by closing the connection.
    pub drop_connection: bool,
    /// Every CCP/PVWA response becomes a 200 whose JSON body is cut in half.
    pub malformed_body: bool,
    /// Share of CPM tasks (0 to 1) that end with status `failure`.
    pub cpm_failure_rate: f64,
    /// The simulated Confluence's faults (`confluence-...` in a spec).
    pub confluence: crate::confluence_faults::ConfluenceFaults,
}

impl Faults {
    /// Checks that both rates are between 0 and 1.
    pub fn validate(&self) -> Result<(), SimError> {
        for (name, rate) in [
            ("error-rate", self.error_rate),
            ("cpm-failure-rate", self.cpm_failure_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(SimError::FaultSpec(format!(
                    "{name} must be between 0 and 1, not {rate}"
                )));
            }
        }
        self.confluence.validate()
    }
}

fn parse_bool(key: &str, v: Option<&str>) -> Result<bool, SimError> {
    match v.map(str::trim) {
        None => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("true") || v == "1" || v.eq_ignore_ascii_case("on") => {
            Ok(true)
        }
        Some(v) if v.eq_ignore_ascii_case("false") || v == "0" || v.eq_ignore_ascii_case("off") => {
            Ok(false)
        }
        Some(v) => Err(SimError::FaultSpec(format!(
            "{key} takes true or false, not `{v}`"
        ))),
    }
}

fn parse_rate(key: &str, v: Option<&str>) -> Result<f64, SimError> {
    let v = v.ok_or_else(|| SimError::FaultSpec(format!("{key} needs a value, e.g. {key}=0.1")))?;
    let v = v.trim();
    let rate = match v.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
        None => v.parse::<f64>(),
    }
    .map_err(|_| SimError::FaultSpec(format!("{key}: `{v}` is not a number")))?;
    Ok(rate)
}

/// Parses a latency: `200ms`, `2s` or a bare number of milliseconds.
fn parse_latency(v: Option<&str>) -> Result<Duration, SimError> {
    let v = v
        .ok_or_else(|| SimError::FaultSpec("latency needs a value, e.g. latency=200ms".into()))?
        .trim();
    let bad = || SimError::FaultSpec(format!("latency: `{v}` is not like 200ms or 2s"));
    let (num, unit_ms) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000)
    } else {
        (v, 1)
    };
    let n: u64 = num.trim().parse().map_err(|_| bad())?;
    n.checked_mul(unit_ms)
        .map(Duration::from_millis)
        .ok_or_else(bad)
}

/// Parses a `--fault` spec: comma-separated `latency=200ms`, `error-rate=0.1` (or `10%`),
/// `cpm-failure-rate=0.5`, and the flags `vault-down`, `drop-connection`, `malformed-body`
/// (optionally `=true|false`). Keys ignore case and accept `_` for `-`. An empty spec is no
/// faults.
pub fn parse_fault_spec(s: &str) -> Result<Faults, SimError> {
    let mut f = Faults::default();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (key, value) = match item.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v)),
            None => (item, None),
        };
        let norm = key.to_ascii_lowercase().replace('_', "-");
        match norm.as_str() {
            "latency" => f.latency = parse_latency(value)?,
            "error-rate" => f.error_rate = parse_rate(key, value)?,
            "cpm-failure-rate" => f.cpm_failure_rate = parse_rate(key, value)?,
            "vault-down" => f.vault_down = parse_bool(key, value)?,
            "drop-connection" => f.drop_connection = parse_bool(key, value)?,
            "malformed-body" => f.malformed_body = parse_bool(key, value)?,
            other if crate::confluence_faults::parse_item(&mut f.confluence, other, value)? => {}
            _ => {
                return Err(SimError::FaultSpec(format!(
                    "unknown fault `{key}` (use latency, error-rate, cpm-failure-rate, \
                     vault-down, drop-connection, malformed-body)"
                )));
            }
        }
    }
    f.validate()?;
    Ok(f)
}

/// A deterministic "every 1/r-th event" counter.
#[derive(Default)]
pub(crate) struct RateCounter {
    count: u64,
}

impl RateCounter {
    /// Counts one event; true when it is one of the failing ones.
    pub(crate) fn hit(&mut self, rate: f64) -> bool {
        // Parts per million keep the arithmetic exact.
        let ppm = (rate.clamp(0.0, 1.0) * 1_000_000.0).round() as u128;
        self.count = self.count.saturating_add(1);
        let n = u128::from(self.count);
        (n * ppm) / 1_000_000 > ((n - 1) * ppm) / 1_000_000
    }
}

/// The fault settings (except `vault_down`, which lives in the Vault) and their counters.
#[derive(Default)]
pub(crate) struct FaultState {
    pub(crate) faults: Faults,
    pub(crate) requests: RateCounter,
    pub(crate) cpm_tasks: RateCounter,
    pub(crate) confluence: crate::confluence_faults::ConfluenceCounters,
}

/// Which service a [`Gate`] guards (the error bodies differ).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Ccp,
    Pvwa,
}

/// What to do with a request.
pub(crate) enum Decision {
    /// Route it; with `malformed`, truncate the response afterwards.
    Pass { malformed: bool },
    /// Answer with this instead of routing.
    Respond(Response),
    /// Close the connection without an answer.
    Drop,
}

/// Applies the current faults to one server's requests.
#[derive(Clone)]
pub(crate) struct Gate {
    pub(crate) world: Arc<World>,
    pub(crate) service: Service,
}

/// The PVWA's answer while the Vault is unreachable.
pub(crate) fn pvwa_vault_down() -> Response {
    http::json(
        StatusCode::INTERNAL_SERVER_ERROR,
        &json!({
            "ErrorCode": "CAWS00001E",
            "ErrorMessage": "Error(s) occurred. The connection to the Vault has failed. \
                             Please check that the Vault is running and reachable.",
        }),
    )
}

impl Gate {
    /// Decides what happens to a request for `path` (after sleeping the configured latency).
    pub(crate) async fn decide(&self, path: &str) -> Decision {
        if path.starts_with(ADMIN_PREFIX) {
            return Decision::Pass { malformed: false };
        }
        let (latency, drop, error, malformed) = {
            let mut st = self.world.faults();
            let f = st.faults.clone();
            let error = f.error_rate > 0.0 && st.requests.hit(f.error_rate);
            (f.latency, f.drop_connection, error, f.malformed_body)
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if drop {
            return Decision::Drop;
        }
        if error {
            let msg = "Internal server error (fault injected by arkbridge sim).";
            let body = match self.service {
                Service::Ccp => json!({"ErrorCode": "ARKSIM500E", "ErrorMsg": msg}),
                Service::Pvwa => json!({"ErrorCode": "ARKSIM500E", "ErrorMessage": msg}),
            };
            return Decision::Respond(http::json(StatusCode::INTERNAL_SERVER_ERROR, &body));
        }
        if self.service == Service::Pvwa
            && !path.starts_with("/oauth2/")
            && !path.starts_with(DISCOVERY_PREFIX)
            && self.world.vault().vault_down
        {
            return Decision::Respond(pvwa_vault_down());
        }
        Decision::Pass { malformed }
    }
}

/// Turns a response into a 200 whose JSON body is cut in half (`{"` when it was empty).
pub(crate) async fn malform(resp: Response) -> Response {
    let bytes = axum::body::to_bytes(resp.into_body(), 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let cut = if bytes.len() >= 2 {
        bytes.slice(..bytes.len() / 2)
    } else {
        axum::body::Bytes::from_static(b"{\"")
    };
    let mut out = Response::new(Body::from(cut));
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_parses_all_keys() {
        let f = parse_fault_spec(
            "latency=200ms, error-rate=0.1,vault-down,drop_connection=false,Malformed-Body,\
             cpm-failure-rate=50%",
        )
        .unwrap();
        assert_eq!(f.latency, Duration::from_millis(200));
        assert_eq!(f.error_rate, 0.1);
        assert!(f.vault_down && !f.drop_connection && f.malformed_body);
        assert_eq!(f.cpm_failure_rate, 0.5);
        assert_eq!(parse_fault_spec("latency=2s").unwrap().latency.as_secs(), 2);
        assert_eq!(parse_fault_spec("").unwrap(), Faults::default());
    }

    #[test]
    fn bad_specs_are_typed_errors() {
        for bad in [
            "latency",
            "latency=fast",
            "error-rate=2",
            "error-rate=x",
            "explode",
            "vault-down=maybe",
            "latency=99999999999999999999s",
        ] {
            assert!(
                matches!(parse_fault_spec(bad), Err(SimError::FaultSpec(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn rates_are_deterministic() {
        let mut c = RateCounter::default();
        let hits: Vec<bool> = (0..6).map(|_| c.hit(0.5)).collect();
        assert_eq!(hits, [false, true, false, true, false, true]);
        let mut c = RateCounter::default();
        assert_eq!((0..20).filter(|_| c.hit(0.1)).count(), 2);
        let mut c = RateCounter::default();
        assert!((0..5).all(|_| c.hit(1.0)));
        let mut c = RateCounter::default();
        assert!((0..5).all(|_| !c.hit(0.0)));
    }
}
