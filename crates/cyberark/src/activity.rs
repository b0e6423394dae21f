//! Account activities (`GET /API/Accounts/{id}/Activities`, PVWA 13.2+), parsed leniently.
//!
//! The Gen2 answer is `{"Activities":[{Date, User, Action, ActionID, ClientID, Alert, MoreInfo,
//! Reason}]}` (field list from psPAS's display format, not from a documented sample), so every
//! field is optional: keys match ignoring case, numbers may come as strings, `Alert` as
//! `"True"`/`"False"`, `Date` as epoch seconds, milliseconds or microseconds (scaled to seconds).
//! A bare list, or a `value` list, is accepted too. Items that are not objects are skipped.

use serde_json::{Map, Value};

use crate::account::{epoch_seconds, parse_epoch};
use crate::error::get_ci;

/// One audit entry of an account. Holds no secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    /// Epoch seconds.
    pub date: Option<i64>,
    pub user: String,
    pub action: String,
    pub action_id: Option<i64>,
    pub client_id: String,
    pub alert: bool,
    pub more_info: String,
    pub reason: String,
}

fn text(obj: &Map<String, Value>, key: &str) -> String {
    match get_ci(obj, key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn number(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(|f| f as i64)
            })
        }
        _ => None,
    }
}

fn flag(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true") || s.trim() == "1",
        Some(Value::Number(n)) => n.as_i64().is_some_and(|n| n != 0),
        _ => false,
    }
}

impl Activity {
    fn from_object(obj: &Map<String, Value>) -> Activity {
        let date = match get_ci(obj, "Date").or_else(|| get_ci(obj, "Time")) {
            Some(Value::String(s)) => parse_epoch(s),
            other => number(other).map(epoch_seconds),
        };
        Activity {
            date,
            user: text(obj, "User"),
            action: text(obj, "Action"),
            action_id: number(get_ci(obj, "ActionID")),
            client_id: text(obj, "ClientID"),
            alert: flag(get_ci(obj, "Alert")),
            more_info: text(obj, "MoreInfo"),
            reason: text(obj, "Reason"),
        }
    }
}

/// Parses an activities answer. `Err` names what was wrong, never quoting the body.
pub(crate) fn parse_activities(body: &[u8]) -> Result<Vec<Activity>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the activity list is not JSON ({e})"))?;
    let list = match &value {
        Value::Array(items) => items,
        Value::Object(obj) => match get_ci(obj, "Activities").or_else(|| get_ci(obj, "value")) {
            Some(Value::Array(items)) => items,
            Some(Value::Null) | None => return Ok(Vec::new()),
            Some(_) => return Err("`Activities` is not a list".into()),
        },
        _ => return Err("the activity list is neither an object nor a list".into()),
    };
    Ok(list
        .iter()
        .filter_map(Value::as_object)
        .map(Activity::from_object)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_gen2_shape() {
        let body = br#"{"Activities":[{"Date":1700000000,"User":"alice","Action":"Retrieve password","ActionID":295,"ClientID":"PVWA","Alert":false,"MoreInfo":"Ticket SNOW INC1","Reason":"run 42"}]}"#;
        let list = parse_activities(body).unwrap();
        assert_eq!(
            list,
            vec![Activity {
                date: Some(1_700_000_000),
                user: "alice".into(),
                action: "Retrieve password".into(),
                action_id: Some(295),
                client_id: "PVWA".into(),
                alert: false,
                more_info: "Ticket SNOW INC1".into(),
                reason: "run 42".into(),
            }]
        );
    }

    #[test]
    fn is_lenient_about_types_and_casing() {
        let body = br#"{"activities":[{"date":"1700000000123","user":"bob","actionId":"7","alert":"True","clientid":5},"junk",{}]}"#;
        let list = parse_activities(body).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].date, Some(1_700_000_000));
        assert_eq!(list[0].action_id, Some(7));
        assert!(list[0].alert);
        assert_eq!(list[0].client_id, "5");
        assert_eq!(list[1], Activity::default());
        let list = parse_activities(br#"[{"Date":1700000000000000,"Alert":1}]"#).unwrap();
        assert_eq!((list[0].date, list[0].alert), (Some(1_700_000_000), true));
    }

    #[test]
    fn empty_and_bad_answers() {
        assert!(
            parse_activities(br#"{"Activities":null}"#)
                .unwrap()
                .is_empty()
        );
        assert!(parse_activities(b"{}").unwrap().is_empty());
        assert!(parse_activities(br#"{"value":[]}"#).unwrap().is_empty());
        let err = parse_activities(b"<html>secretish</html>").unwrap_err();
        assert!(!err.contains("secretish"), "{err}");
        assert!(parse_activities(br#"{"Activities":"x"}"#).is_err());
        assert!(parse_activities(b"42").is_err());
    }
}
