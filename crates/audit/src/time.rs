//! Times in the audit log: UTC microseconds since the Unix epoch, written as RFC 3339 with six
//! fractional digits, and read from the forms `audit show --since` accepts.

/// Why a time was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid time `{0}`: use RFC 3339 (2026-11-30T12:00:00Z), a date (2026-11-30, UTC), or an age (90m, 24h, 7d)"
)]
pub struct TimeError(pub String);

/// Now, in UTC microseconds.
pub fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

/// `2026-11-30T12:00:00.123456Z`.
pub fn format_us(us: i64) -> String {
    match jiff::Timestamp::from_microsecond(us) {
        Ok(ts) => format!("{ts:.6}"),
        Err(_) => format!("@{us}us"),
    }
}

/// Reads an RFC 3339 timestamp (what [`format_us`] writes).
pub fn parse_rfc3339(text: &str) -> Result<i64, TimeError> {
    text.parse::<jiff::Timestamp>()
        .map(|t| t.as_microsecond())
        .map_err(|_| TimeError(text.to_string()))
}

/// Reads a `--since`/`--until` value: RFC 3339, a UTC date, or an age before `now_us`.
pub fn parse_when(text: &str, now_us: i64) -> Result<i64, TimeError> {
    let bad = || TimeError(text.to_string());
    let t = text.trim();
    if let Ok(us) = parse_rfc3339(t) {
        return Ok(us);
    }
    if let Ok(date) = t.parse::<jiff::civil::Date>() {
        return parse_rfc3339(&format!("{date}T00:00:00Z")).map_err(|_| bad());
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = t.split_at(split);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(seconds * 1_000_000)
        .and_then(|age| now_us.checked_sub(age))
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_with_microseconds_and_read_back() {
        let us = 1_764_504_000_123_456;
        assert_eq!(format_us(us), "2025-11-30T12:00:00.123456Z");
        assert_eq!(
            format_us(1_764_504_000_000_000),
            "2025-11-30T12:00:00.000000Z"
        );
        assert_eq!(parse_rfc3339(&format_us(us)).unwrap(), us);
    }

    #[test]
    fn since_accepts_timestamps_dates_and_ages() {
        let now = 1_764_504_000_000_000;
        assert_eq!(
            parse_when("2025-11-30", now).unwrap(),
            1_764_460_800_000_000
        );
        assert_eq!(
            parse_when("2025-11-30T12:00:00Z", now).unwrap(),
            1_764_504_000_000_000
        );
        assert_eq!(parse_when("24h", now).unwrap(), now - 86_400_000_000);
        assert_eq!(parse_when("90m", now).unwrap(), now - 5_400_000_000);
        assert_eq!(parse_when("7d", now).unwrap(), now - 7 * 86_400_000_000);
        for bad in ["", "yesterday", "5w", "h", "99999999999999999999d"] {
            assert!(parse_when(bad, now).is_err(), "{bad}");
        }
    }
}
