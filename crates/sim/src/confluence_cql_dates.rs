//! Dates in CQL: `yyyy-MM-dd`, `yyyy/MM/dd` (optionally with ` HH:mm`) and the functions
//! `now()`, `startOfDay()`, `endOfDay()`, `startOfWeek()`, `startOfMonth()` and `startOfYear()`
//! with an optional offset (`"-1d"`, `"+2w"`, units `y M w d h m`), all in UTC. A date is the
//! interval it covers (a day, a minute, or the millisecond at an instant), so that `=` means
//! "within" and `<`, `>=` compare with its start, `>`, `<=` with its end.

use jiff::civil::DateTime;
use jiff::{Span, Timestamp, ToSpan, tz::TimeZone};

use crate::confluence_cql::{CqlError, Op, Value};

fn offset(arg: Option<&String>) -> Result<Span, CqlError> {
    let Some(a) = arg.map(|a| a.trim()).filter(|a| !a.is_empty()) else {
        return Ok(Span::new());
    };
    let bad = || CqlError::Unsupported(format!("arkbridge sim cannot read the date offset `{a}`"));
    let (sign, rest) = match a.as_bytes()[0] {
        b'-' => (-1, &a[1..]),
        b'+' => (1, &a[1..]),
        _ => (1, a),
    };
    let (num, unit) = rest.split_at(rest.len().checked_sub(1).ok_or_else(bad)?);
    let n: i64 = num.parse::<i64>().map_err(|_| bad())? * sign;
    Ok(match unit {
        "y" => n.years(),
        "M" => n.months(),
        "w" => n.weeks(),
        "d" => n.days(),
        "h" => n.hours(),
        "m" => n.minutes(),
        _ => return Err(bad()),
    })
}

fn utc(dt: DateTime) -> Option<Timestamp> {
    TimeZone::UTC.to_timestamp(dt).ok()
}

/// The interval `[from, to)` a date value stands for (all in UTC).
pub(crate) fn date_range(v: &Value) -> Result<(Timestamp, Timestamp), CqlError> {
    let bad = |t: &str| CqlError::Unsupported(format!("arkbridge sim cannot read the date `{t}`"));
    match v {
        Value::Text(t) => {
            let norm = t.trim().replace('/', "-");
            if let Ok(d) = norm.parse::<jiff::civil::Date>() {
                let start = d.to_datetime(jiff::civil::Time::midnight());
                let end = start.checked_add(1.day()).map_err(|_| bad(t))?;
                return utc(start).zip(utc(end)).ok_or_else(|| bad(t));
            }
            let start = norm
                .replacen(' ', "T", 1)
                .parse::<DateTime>()
                .map_err(|_| bad(t))?;
            let end = start.checked_add(1.minute()).map_err(|_| bad(t))?;
            utc(start).zip(utc(end)).ok_or_else(|| bad(t))
        }
        Value::Func(f, args) => {
            let now = TimeZone::UTC.to_datetime(Timestamp::now());
            let shifted = now.checked_add(offset(args.first())?).map_err(|_| bad(f))?;
            let day = shifted.start_of_day();
            let civil = match f.as_str() {
                "now" => shifted,
                "startofday" => day,
                "endofday" => day.checked_add(1.day()).map_err(|_| bad(f))?,
                "startofweek" => {
                    let back = i64::from(day.weekday().to_monday_zero_offset());
                    day.checked_sub(back.days()).map_err(|_| bad(f))?
                }
                "startofmonth" => day.first_of_month(),
                "startofyear" => day.first_of_year(),
                _ => {
                    return Err(CqlError::Unsupported(format!(
                        "arkbridge sim does not support the CQL function {f}()"
                    )));
                }
            };
            let at = utc(civil).ok_or_else(|| bad(f))?;
            // An instant is the interval of one millisecond that starts there.
            let end = at
                .checked_add(jiff::SignedDuration::from_millis(1))
                .map_err(|_| bad(f))?;
            Ok((at, end))
        }
        Value::List(_) => Err(CqlError::Parse),
    }
}

pub(crate) fn compare(at: &str, op: Op, v: &Value) -> Result<bool, CqlError> {
    let Ok(t) = at.parse::<Timestamp>() else {
        return Ok(false);
    };
    let (from, to) = date_range(v)?;
    let within = from <= t && t < to;
    Ok(match op {
        Op::Eq => within,
        Op::Ne => !within,
        Op::Gt => t >= to,
        Op::Ge => t >= from,
        Op::Lt => t < from,
        Op::Le => t < to,
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_offsets_are_understood() {
        let (a, b) = date_range(&Value::Text("2024/01/02".into())).unwrap();
        assert_eq!(b.as_second() - a.as_second(), 86_400);
        assert!(date_range(&Value::Func("now".into(), vec!["-1d".into()])).is_ok());
        assert!(date_range(&Value::Func("startofweek".into(), vec![])).is_ok());
        assert!(date_range(&Value::Func("yesterday".into(), vec![])).is_err());
        assert!(date_range(&Value::Text("last tuesday".into())).is_err());
    }
}
