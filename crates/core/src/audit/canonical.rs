//! Canonical JSON: the RFC 8785 JSON Canonicalization Scheme (JCS), so that one record has one
//! byte form, and so one hash, on every machine.
//!
//! * Object members are sorted by their names compared as UTF-16 code units; no whitespace.
//! * Strings are written with the minimal escaping of RFC 8785 §3.2.2.2: `"` and `\` escaped,
//!   U+0008/9/A/C/D as `\b \t \n \f \r`, other control characters as `\u00xx` (lower-case hex),
//!   everything else (including `/`, U+007F and non-ASCII) as itself, in UTF-8.
//! * Numbers are written as ECMAScript's `Number.prototype.toString` writes an IEEE-754 double
//!   (RFC 8785 §3.2.2.3): integers up to 2^53 in magnitude exactly as decimals; anything else
//!   goes through `f64` first, with the shortest digits that round-trip, so an integer beyond
//!   2^53 loses precision as I-JSON says it does (record such ids as strings).
//!
//! JCS is idempotent: parsing canonical text and writing it again gives the same bytes, which is
//! what lets an exported record be checked against its leaf hash by any JCS implementation.

use std::cmp::Ordering;
use std::fmt::Write;

use serde_json::{Number, Value};

/// The largest integer an IEEE-754 double holds exactly (2^53).
const MAX_EXACT: u64 = 1 << 53;

/// The canonical text of `value`.
pub fn to_canonical(value: &Value) -> String {
    let mut out = String::with_capacity(256);
    write_value(&mut out, value);
    out
}

/// Appends the canonical text of `value` to `out`.
pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| utf16_cmp(a.0, b.0));
            out.push('{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

/// Orders two strings by their UTF-16 code units, as RFC 8785 §3.2.3 sorts member names. This
/// differs from Rust's byte order only between supplementary characters and U+E000..U+FFFF.
fn utf16_cmp(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Writes a JSON string with RFC 8785's minimal escaping.
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\u{8}' => Some("\\b"),
            '\t' => Some("\\t"),
            '\n' => Some("\\n"),
            '\u{c}' => Some("\\f"),
            '\r' => Some("\\r"),
            c if (c as u32) < 0x20 => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

fn write_number(out: &mut String, n: &Number) {
    if let Some(u) = n.as_u64() {
        if u <= MAX_EXACT {
            let _ = write!(out, "{u}");
            return;
        }
        return write_double(out, u as f64);
    }
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() <= MAX_EXACT {
            let _ = write!(out, "{i}");
            return;
        }
        return write_double(out, i as f64);
    }
    // serde_json holds only finite doubles, so `as_f64` always answers here.
    write_double(out, n.as_f64().unwrap_or(0.0));
}

/// ECMAScript `Number.prototype.toString` for a finite double (ECMA-262 §6.1.6.1.20).
pub fn write_double(out: &mut String, x: f64) {
    if x == 0.0 || !x.is_finite() {
        // -0 is written as 0; JSON cannot carry a non-finite value, so it never gets here.
        out.push('0');
        return;
    }
    if x < 0.0 {
        out.push('-');
    }
    // Rust's `{:e}` gives the shortest digits that round-trip: `d[.ddd]e<exp>`.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    // The value is 0.<digits> × 10^n.
    let n = exp.parse::<i32>().unwrap_or(0) + 1;
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        let e = n - 1;
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{}", if e < 0 { '-' } else { '+' }, e.abs());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn num(x: f64) -> String {
        let mut s = String::new();
        write_double(&mut s, x);
        s
    }

    #[test]
    fn numbers_follow_ecmascript() {
        // Expected values from RFC 8785 Appendix B and ECMAScript's Number#toString.
        assert_eq!(num(0.0), "0");
        assert_eq!(num(-0.0), "0");
        assert_eq!(num(1.0), "1");
        assert_eq!(num(-1.5), "-1.5");
        assert_eq!(num(1e21), "1e+21");
        assert_eq!(num(1e20), "100000000000000000000");
        assert_eq!(num(123456789012345680000.0), "123456789012345680000");
        assert_eq!(num(1e-7), "1e-7");
        assert_eq!(num(0.000001), "0.000001");
        assert_eq!(num(5e-324), "5e-324");
        assert_eq!(num(1.7976931348623157e308), "1.7976931348623157e+308");
        assert_eq!(num(9007199254740992.0), "9007199254740992");
        assert_eq!(num(0.1), "0.1");
        assert_eq!(num(333333333.3333332), "333333333.3333332");
        assert_eq!(num(4.5), "4.5");
        assert_eq!(num(2e-3), "0.002");
        assert_eq!(num(1.5e-7), "1.5e-7");
        assert_eq!(num(-1e-7), "-1e-7");
    }

    #[test]
    fn large_integers_go_through_a_double() {
        assert_eq!(
            to_canonical(&json!(9007199254740992u64)),
            "9007199254740992"
        );
        assert_eq!(
            to_canonical(&json!(18446744073709551615u64)),
            "18446744073709552000"
        );
        assert_eq!(
            to_canonical(&json!(-9007199254740993i64)),
            "-9007199254740992"
        );
        assert_eq!(to_canonical(&json!(-42)), "-42");
    }

    #[test]
    fn members_are_sorted_by_utf16_code_units() {
        // RFC 8785 §3.2.3's example: U+1F600 (surrogates D83D DE00) sorts before U+FB33, which
        // byte order would not do.
        let v: Value = serde_json::from_str(
            r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#,
        )
        .unwrap();
        assert_eq!(
            to_canonical(&v),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
             \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
             \"\u{1f600}\":\"Emoji: Grinning Face\",\
             \"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        );
        assert_eq!(utf16_cmp("\u{1f600}", "\u{fb33}"), Ordering::Less);
        assert_eq!("\u{1f600}".cmp("\u{fb33}"), Ordering::Greater);
    }

    #[test]
    fn strings_use_minimal_escapes() {
        let v = json!({"s": "a\"b\\c\u{8}\t\n\u{c}\r\u{1}\u{1f}\u{7f}/é😀"});
        assert_eq!(
            to_canonical(&v),
            "{\"s\":\"a\\\"b\\\\c\\b\\t\\n\\f\\r\\u0001\\u001f\u{7f}/é😀\"}"
        );
    }

    #[test]
    fn nesting_and_whitespace() {
        let v: Value =
            serde_json::from_str(r#" { "b" : [ 1 , {"z":null,"a":true} ], "a" : { } } "#).unwrap();
        assert_eq!(to_canonical(&v), r#"{"a":{},"b":[1,{"a":true,"z":null}]}"#);
    }

    #[test]
    fn canonical_text_is_a_fixed_point() {
        let v = json!({"x": [0.5, 1e-9, 12345678901234567890u64, "é\u{2028}"], "é": {"b": 1, "a": -0.0}});
        let once = to_canonical(&v);
        let twice = to_canonical(&serde_json::from_str(&once).unwrap());
        assert_eq!(once, twice);
    }
}
