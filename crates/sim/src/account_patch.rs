//! The editable fields of an account and the JSON-Patch-like operations of
//! `PATCH /API/Accounts/{id}` on them.
//!
//! Paths are matched ignoring case (aiobastion sends `/secretmanagement/...`):
//! `/name`, `/address`, `/userName`, `/platformId`, `/secretType`,
//! `/platformAccountProperties[/<property>]`, `/secretManagement[/automaticManagementEnabled |
//! /manualManagementReason]`, `/remoteMachinesAccess[/remoteMachines |
//! /accessRestrictedToRemoteMachines]`. `replace` and `add` set a value, `remove` clears an
//! optional one (removing a mandatory field or a property the account does not have is an
//! error). `/id`, `/safeName` and `/secret` cannot be patched. The operations are applied to a
//! copy, so a bad one changes nothing.

use std::collections::BTreeMap;

use axum::response::Response;
use serde_json::{Map, Value};

use crate::pvwa_account_admin::{invalid, raw_get};
use crate::state::Account;

/// Characters an object name cannot hold (it is a file name in the Vault).
const NAME_FORBIDDEN: &[char] = &['\\', '/', ':', '*', '?', '"', '<', '>', '|'];
const NAME_MAX: usize = 128;

/// What a PATCH may change, and what an add sets.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub(crate) struct Fields {
    pub(crate) name: String,
    pub(crate) address: String,
    pub(crate) user_name: String,
    pub(crate) platform_id: String,
    pub(crate) secret_type: String,
    pub(crate) properties: BTreeMap<String, String>,
    pub(crate) automatic: bool,
    pub(crate) manual_reason: String,
    pub(crate) remote_machines: String,
    pub(crate) restrict_remote: bool,
}

impl Fields {
    pub(crate) fn of(a: &Account) -> Fields {
        Fields {
            name: a.name.clone(),
            address: a.address.clone(),
            user_name: a.user_name.clone(),
            platform_id: a.platform_id.clone(),
            secret_type: a.secret_type.clone(),
            properties: a.properties.clone(),
            automatic: a.automatic_management,
            manual_reason: a.manual_reason.clone(),
            remote_machines: a.remote_machines.clone(),
            restrict_remote: a.restrict_remote,
        }
    }

    pub(crate) fn store(self, a: &mut Account) {
        a.name = self.name;
        a.address = self.address;
        a.user_name = self.user_name;
        a.platform_id = self.platform_id;
        a.secret_type = self.secret_type;
        a.properties = self.properties;
        a.automatic_management = self.automatic;
        a.manual_reason = self.manual_reason;
        a.remote_machines = self.remote_machines;
        a.restrict_remote = self.restrict_remote;
    }
}

/// Checks an object name.
pub(crate) fn check_name(name: &str) -> Result<(), Response> {
    if name.trim().is_empty() {
        return Err(invalid("The account name is empty."));
    }
    if name.chars().count() > NAME_MAX
        || name.contains(NAME_FORBIDDEN)
        || name.chars().any(char::is_control)
    {
        return Err(invalid(format!(
            "Account name [{name}] is invalid: at most {NAME_MAX} characters, none of \\ / : * ? \" < > |."
        )));
    }
    Ok(())
}

/// Checks `password` / `key` (any case) and spells it in lower case.
pub(crate) fn check_secret_type(t: &mut String) -> Result<(), Response> {
    let lower = t.trim().to_ascii_lowercase();
    if lower != "password" && lower != "key" {
        return Err(invalid(format!(
            "secretType [{t}] is invalid: use password or key."
        )));
    }
    *t = lower;
    Ok(())
}

fn scalar(key: &str, v: &Value) -> Result<String, Response> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(invalid(format!(
            "[{key}] must be a string, number or boolean."
        ))),
    }
}

fn string(key: &str, v: &Value) -> Result<String, Response> {
    v.as_str()
        .map(|s| s.trim().to_string())
        .ok_or_else(|| invalid(format!("[{key}] must be a string.")))
}

fn boolean(key: &str, v: &Value) -> Result<bool, Response> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(invalid(format!("[{key}] must be true or false."))),
    }
}

/// `platformAccountProperties` as given: an object of scalar values (`null` leaves a property
/// out).
pub(crate) fn properties(v: &Value) -> Result<BTreeMap<String, String>, Response> {
    let Value::Object(map) = v else {
        return Err(invalid("[platformAccountProperties] must be an object."));
    };
    let mut out = BTreeMap::new();
    for (k, v) in map {
        if k.trim().is_empty() {
            return Err(invalid("A platform account property has an empty name."));
        }
        if !v.is_null() {
            out.insert(k.clone(), scalar(k, v)?);
        }
    }
    Ok(out)
}

/// Applies a `secretManagement` or `remoteMachinesAccess` object; keys the simulator does not
/// keep (such as `lastModifiedTime` copied from a GET) are ignored.
pub(crate) fn apply_object(f: &mut Fields, section: &str, v: &Value) -> Result<(), Response> {
    let Value::Object(map) = v else {
        return Err(invalid(format!("[{section}] must be an object.")));
    };
    for (k, v) in map {
        set_leaf(f, section, k, v)?;
    }
    Ok(())
}

/// Sets one field of a section; unknown keys are ignored.
fn set_leaf(f: &mut Fields, section: &str, key: &str, v: &Value) -> Result<(), Response> {
    let is = |name: &str| key.eq_ignore_ascii_case(name);
    if section.eq_ignore_ascii_case("secretManagement") {
        if is("automaticManagementEnabled") {
            f.automatic = boolean(key, v)?;
        } else if is("manualManagementReason") {
            f.manual_reason = string(key, v)?;
        }
    } else if is("remoteMachines") {
        f.remote_machines = string(key, v)?;
    } else if is("accessRestrictedToRemoteMachines") {
        f.restrict_remote = boolean(key, v)?;
    }
    Ok(())
}

/// Decodes a JSON pointer into its segments (`~1` is `/`, `~0` is `~`).
fn segments(path: &str) -> Option<Vec<String>> {
    let rest = path.trim().strip_prefix('/')?;
    let segs: Vec<String> = rest
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    (!segs.iter().any(String::is_empty)).then_some(segs)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Set,
    Remove,
}

/// Applies one operation to `f`.
fn apply_one(f: &mut Fields, op: Op, path: &str, value: Option<&Value>) -> Result<(), Response> {
    let segs = segments(path).ok_or_else(|| invalid(format!("Invalid patch path [{path}].")))?;
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let value =
        || value.ok_or_else(|| invalid(format!("The operation on [{path}] needs a value.")));
    let mandatory = || invalid(format!("[{path}] is mandatory and cannot be removed."));
    let is = |s: &str, name: &str| s.eq_ignore_ascii_case(name);
    match (segs.as_slice(), op) {
        ([s], Op::Set) if is(s, "name") => {
            let name = string(s, value()?)?;
            check_name(&name)?;
            f.name = name;
        }
        ([s], Op::Set) if is(s, "platformId") => {
            let id = string(s, value()?)?;
            if id.is_empty() {
                return Err(invalid("[platformId] cannot be empty."));
            }
            f.platform_id = id;
        }
        ([s], Op::Set) if is(s, "secretType") => {
            f.secret_type = string(s, value()?)?;
            check_secret_type(&mut f.secret_type)?;
        }
        ([s], Op::Remove)
            if ["name", "platformId", "secretType", "secretManagement"]
                .iter()
                .any(|m| is(s, m)) =>
        {
            return Err(mandatory());
        }
        ([s], op) if is(s, "address") || is(s, "userName") => {
            let v = match op {
                Op::Set => string(s, value()?)?,
                Op::Remove => String::new(),
            };
            if is(s, "address") {
                f.address = v;
            } else {
                f.user_name = v;
            }
        }
        ([s], Op::Set) if is(s, "platformAccountProperties") => {
            f.properties = properties(value()?)?
        }
        ([s], Op::Remove) if is(s, "platformAccountProperties") => f.properties.clear(),
        ([s, key], op) if is(s, "platformAccountProperties") => {
            let existing = f
                .properties
                .keys()
                .find(|k| k.eq_ignore_ascii_case(key))
                .cloned();
            match (op, existing) {
                (Op::Set, existing) => {
                    let v = scalar(key, value()?)?;
                    f.properties.insert(existing.unwrap_or(key.to_string()), v);
                }
                (Op::Remove, Some(k)) => {
                    f.properties.remove(&k);
                }
                (Op::Remove, None) => {
                    return Err(invalid(format!(
                        "The account has no property [{key}] to remove."
                    )));
                }
            }
        }
        ([s], Op::Set) if is(s, "secretManagement") || is(s, "remoteMachinesAccess") => {
            apply_object(f, s, value()?)?;
        }
        ([s], Op::Remove) if is(s, "remoteMachinesAccess") => {
            f.remote_machines.clear();
            f.restrict_remote = false;
        }
        ([s, key], op) if is(s, "secretManagement") || is(s, "remoteMachinesAccess") => {
            let known = [
                "automaticManagementEnabled",
                "manualManagementReason",
                "remoteMachines",
                "accessRestrictedToRemoteMachines",
            ];
            if !known.iter().any(|k| is(key, k)) {
                return Err(invalid(format!("[{path}] cannot be changed.")));
            }
            match op {
                Op::Set => set_leaf(f, s, key, value()?)?,
                Op::Remove if is(key, "automaticManagementEnabled") => return Err(mandatory()),
                Op::Remove if is(key, "accessRestrictedToRemoteMachines") => {
                    f.restrict_remote = false;
                }
                Op::Remove => set_leaf(f, s, key, &Value::String(String::new()))?,
            }
        }
        ([s], _) if is(s, "secret") => {
            return Err(invalid(
                "[/secret] cannot be patched: use Password/Update or SetNextPassword.",
            ));
        }
        _ => return Err(invalid(format!("[{path}] cannot be changed."))),
    }
    Ok(())
}

/// Applies every operation of a PATCH body to a copy of `before`.
pub(crate) fn apply(before: &Fields, ops: &[Value]) -> Result<Fields, Response> {
    if ops.is_empty() {
        return Err(invalid("The patch holds no operation."));
    }
    let mut f = before.clone();
    for op in ops {
        let Value::Object(map) = op else {
            return Err(invalid("Every patch operation must be an object."));
        };
        let (kind, path) = op_and_path(map)?;
        apply_one(&mut f, kind, &path, raw_get(map, "value"))?;
    }
    Ok(f)
}

fn op_and_path(map: &Map<String, Value>) -> Result<(Op, String), Response> {
    let op = raw_get(map, "op").and_then(Value::as_str).unwrap_or("");
    let kind = if op.eq_ignore_ascii_case("replace") || op.eq_ignore_ascii_case("add") {
        Op::Set
    } else if op.eq_ignore_ascii_case("remove") {
        Op::Remove
    } else {
        return Err(invalid(format!(
            "Patch operation [{op}] is not replace, add or remove."
        )));
    };
    let path = raw_get(map, "path")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("A patch operation has no path."))?;
    Ok((kind, path.to_string()))
}

/// `replace /address; remove /platformAccountProperties/Port` for the activity log (paths
/// only; values may be sensitive).
pub(crate) fn describe(ops: &[Value]) -> String {
    ops.iter()
        .filter_map(Value::as_object)
        .filter_map(|m| {
            let op = raw_get(m, "op")?.as_str()?;
            let path = raw_get(m, "path")?.as_str()?;
            Some(format!("{} {path}", op.to_ascii_lowercase()))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Fields {
        Fields {
            name: "db".into(),
            platform_id: "PostgreSQL".into(),
            secret_type: "password".into(),
            automatic: true,
            properties: [("Port".to_string(), "5432".to_string())].into(),
            ..Fields::default()
        }
    }

    fn patch(ops: Value) -> Result<Fields, u16> {
        let ops = ops.as_array().cloned().unwrap_or_default();
        apply(&base(), &ops).map_err(|r| r.status().as_u16())
    }

    #[test]
    fn paths_ignore_case_and_nest() {
        let f = patch(json!([
            {"op": "Replace", "path": "/ADDRESS", "value": "h"},
            {"op": "add", "path": "/platformAccountProperties/port", "value": 6432},
            {"op": "replace", "path": "/secretmanagement/automaticManagementEnabled", "value": false},
            {"op": "replace", "path": "/remoteMachinesAccess", "value": {"remoteMachines": "a;b", "accessRestrictedToRemoteMachines": true}},
        ]))
        .unwrap();
        assert_eq!(f.address, "h");
        assert_eq!(f.properties.get("Port").map(String::as_str), Some("6432"));
        assert!(!f.automatic);
        assert_eq!(
            (f.remote_machines.as_str(), f.restrict_remote),
            ("a;b", true)
        );
    }

    #[test]
    fn bad_operations_change_nothing() {
        for ops in [
            json!([]),
            json!([{"op": "move", "path": "/address", "value": "x"}]),
            json!([{"op": "remove", "path": "/name"}]),
            json!([{"op": "replace", "path": "/safeName", "value": "x"}]),
            json!([{"op": "replace", "path": "/secret", "value": "x"}]),
            json!([{"op": "remove", "path": "/platformAccountProperties/Nope"}]),
            json!([{"op": "replace", "path": "/name", "value": "a/b"}]),
            json!([{"op": "replace", "path": "/secretType", "value": "token"}]),
            json!([{"op": "replace", "path": "address", "value": "x"}]),
            json!([{"op": "replace", "path": "/address"}]),
        ] {
            assert_eq!(patch(ops.clone()), Err(400), "{ops}");
        }
        let f =
            patch(json!([{"op": "remove", "path": "/platformAccountProperties/PORT"}])).unwrap();
        assert!(f.properties.is_empty());
        // The activity log gets the operations and paths, not the values.
        let ops = json!([{"op": "Replace", "path": "/address", "value": "secret-ish"}]);
        assert_eq!(describe(ops.as_array().unwrap()), "replace /address");
    }
}
