//! The Confluence faults as text: `--fault confluence-...` items ([`parse_item`]) and the admin
//! endpoint's `confluence` object ([`to_json`], [`apply_json`]). See
//! [`crate::confluence_faults`] for what each fault does.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::confluence_faults::{ConfluenceFaults, spec_err};
use crate::error::SimError;

fn number(key: &str, v: Option<&str>) -> Result<f64, SimError> {
    let v = v
        .ok_or_else(|| spec_err(format!("{key} needs a value")))?
        .trim();
    match v.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
        None => v.parse::<f64>(),
    }
    .ok()
    .filter(|n| n.is_finite() && *n >= 0.0)
    .ok_or_else(|| spec_err(format!("{key}: `{v}` is not a non-negative number")))
}

fn count(key: &str, v: Option<&str>) -> Result<u32, SimError> {
    let v = v
        .ok_or_else(|| spec_err(format!("{key} needs a value")))?
        .trim();
    v.parse()
        .map_err(|_| spec_err(format!("{key}: `{v}` is not a whole number")))
}

fn duration(key: &str, v: Option<&str>, default_unit_ms: u64) -> Result<Duration, SimError> {
    let v = v
        .ok_or_else(|| spec_err(format!("{key} needs a value")))?
        .trim();
    let (num, unit) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000)
    } else {
        (v, default_unit_ms)
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .map(Duration::from_millis)
        .ok_or_else(|| spec_err(format!("{key}: `{v}` is not like 200ms or 2s")))
}

fn flag(key: &str, v: Option<&str>) -> Result<bool, SimError> {
    match v.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("true" | "1" | "on") => Ok(true),
        Some("false" | "0" | "off") => Ok(false),
        Some(other) => Err(spec_err(format!(
            "{key} takes true or false, not `{other}`"
        ))),
    }
}

/// Applies one `--fault` item whose key starts with `confluence-` (already lower-cased, `_`
/// turned into `-`). Returns `Ok(false)` for keys that are not Confluence faults.
pub(crate) fn parse_item(
    f: &mut ConfluenceFaults,
    key: &str,
    v: Option<&str>,
) -> Result<bool, SimError> {
    let Some(name) = key.strip_prefix("confluence-") else {
        return Ok(false);
    };
    match name {
        "latency" => f.latency = duration(key, v, 1)?,
        "rate-limit" => f.rate_limit = Some(number(key, v)?),
        "rate-burst" => f.rate_burst = Some(count(key, v)?),
        "429-burst" => f.burst_429 = count(key, v)?,
        "429-rate" => f.rate_429 = number(key, v)?,
        "retry-after" => f.retry_after = duration(key, v, 1000)?,
        "error-rate" => f.error_rate = number(key, v)?,
        "error-burst" => f.error_burst = count(key, v)?,
        "error-status" => f.error_status = count(key, v)?.try_into().unwrap_or(0),
        "edit-race" => f.edit_race = number(key, v)?,
        "dc-over-paging" => f.dc_over_paging = flag(key, v)?,
        _ => {
            return Err(spec_err(format!(
                "unknown fault `{key}` (Confluence faults: confluence-latency, \
                 confluence-rate-limit, confluence-rate-burst, confluence-429-burst, \
                 confluence-429-rate, confluence-retry-after, confluence-error-rate, \
                 confluence-error-burst, confluence-error-status, confluence-edit-race, \
                 confluence-dc-over-paging)"
            )));
        }
    }
    Ok(true)
}

/// The admin endpoint's view of the settings (the `confluence` object).
pub(crate) fn to_json(f: &ConfluenceFaults) -> Value {
    json!({
        "latency_ms": u64::try_from(f.latency.as_millis()).unwrap_or(u64::MAX),
        "rate_limit": f.rate_limit,
        "rate_burst": f.rate_burst,
        "burst_429": f.burst_429,
        "rate_429": f.rate_429,
        "retry_after_s": f.retry_after.as_secs(),
        "error_rate": f.error_rate,
        "error_burst": f.error_burst,
        "error_status": f.error_status,
        "edit_race": f.edit_race,
        "dc_over_paging": f.dc_over_paging,
    })
}

/// Applies the fields of the admin endpoint's `confluence` object.
pub(crate) fn apply_json(f: &mut ConfluenceFaults, value: &Value) -> Result<(), String> {
    let map: &Map<String, Value> = value.as_object().ok_or("`confluence` must be an object")?;
    for (key, v) in map {
        let rate = || {
            v.as_f64()
                .ok_or_else(|| format!("`confluence.{key}` must be a number"))
        };
        let int = || {
            v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| format!("`confluence.{key}` must be a non-negative integer"))
        };
        match key.as_str() {
            "latency_ms" => f.latency = Duration::from_millis(u64::from(int()?)),
            "rate_limit" => f.rate_limit = if v.is_null() { None } else { Some(rate()?) },
            "rate_burst" => f.rate_burst = if v.is_null() { None } else { Some(int()?) },
            "burst_429" => f.burst_429 = int()?,
            "rate_429" => f.rate_429 = rate()?,
            "retry_after_s" => f.retry_after = Duration::from_secs(u64::from(int()?)),
            "error_rate" => f.error_rate = rate()?,
            "error_burst" => f.error_burst = int()?,
            "error_status" => f.error_status = int()?.try_into().unwrap_or(0),
            "edit_race" => f.edit_race = rate()?,
            "dc_over_paging" => {
                f.dc_over_paging = v
                    .as_bool()
                    .ok_or_else(|| format!("`confluence.{key}` must be true or false"))?;
            }
            other => return Err(format!("unknown field `confluence.{other}`")),
        }
    }
    f.validate().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_items_parse() {
        let mut f = ConfluenceFaults::default();
        for (k, v) in [
            ("confluence-rate-limit", Some("100")),
            ("confluence-429-burst", Some("3")),
            ("confluence-retry-after", Some("2")),
            ("confluence-latency", Some("50ms")),
            ("confluence-error-status", Some("502")),
            ("confluence-edit-race", Some("50%")),
            ("confluence-dc-over-paging", None),
        ] {
            assert!(parse_item(&mut f, k, v).unwrap(), "{k}");
        }
        assert_eq!(f.rate_limit, Some(100.0));
        assert_eq!((f.burst_429, f.error_status, f.edit_race), (3, 502, 0.5));
        assert_eq!(f.retry_after, Duration::from_secs(2));
        assert!(f.dc_over_paging);
        f.validate().unwrap();
        assert!(!parse_item(&mut f, "latency", Some("1")).unwrap());
        assert!(parse_item(&mut f, "confluence-explode", None).is_err());
        f.error_status = 418;
        assert!(f.validate().is_err());
    }

    #[test]
    fn admin_json_round_trips_and_checks_types() {
        let mut f = ConfluenceFaults::default();
        apply_json(
            &mut f,
            &json!({"rate_limit": 5, "burst_429": 2, "retry_after_s": 3}),
        )
        .unwrap();
        assert_eq!(to_json(&f)["rate_limit"], 5.0);
        assert_eq!(to_json(&f)["burst_429"], 2);
        apply_json(&mut f, &json!({"rate_limit": null})).unwrap();
        assert_eq!(f.rate_limit, None);
        assert!(apply_json(&mut f, &json!({"error_rate": 2})).is_err());
        assert!(apply_json(&mut f, &json!({"nope": 1})).is_err());
        assert!(apply_json(&mut f, &json!(3)).is_err());
    }
}
