//! A schema check of a stored record that borrows from its text instead of building an
//! [`AuditRecord`](super::AuditRecord): what a verifier runs over millions of records. It accepts
//! exactly what [`super::decode`] accepts (the tests hold them to that) and returns the seq and
//! whether the record carries a version-1 original.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};

use super::event::{Action, AuthMethod, Outcome};
use super::record::{RecordError, SCHEMA_VERSION};

/// What a valid record says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    pub seq: i64,
    /// Whether it was migrated from the version-1 hash chain (and so has a `legacy` member).
    pub legacy: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Fields are read by serde's checks, not by code.
struct ActorRef<'a> {
    #[serde(borrow)]
    issuer: Cow<'a, str>,
    #[serde(borrow)]
    subject: Cow<'a, str>,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    auth_method: AuthMethod,
    #[serde(default, borrow)]
    session_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct TargetRef<'a> {
    #[serde(default, borrow)]
    safe: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    object: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    account_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    page_id: Option<Cow<'a, str>>,
    #[serde(default)]
    page_version: Option<u64>,
    #[serde(default, borrow)]
    block: Option<Cow<'a, str>>,
}

/// Any JSON object, its content skipped.
struct AnyObject;

impl<'de> Deserialize<'de> for AnyObject {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<AnyObject, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AnyObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyObject, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(AnyObject)
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct WireRef<'a> {
    v: u32,
    seq: i64,
    time_us: i64,
    #[serde(borrow)]
    actor: ActorRef<'a>,
    #[serde(default, borrow)]
    source: Option<Cow<'a, str>>,
    action: Action,
    #[serde(default, borrow)]
    target: TargetRef<'a>,
    outcome: Outcome,
    #[serde(default, borrow)]
    reason: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    run_id: Option<Cow<'a, str>>,
    #[serde(default)]
    details: Option<AnyObject>,
    #[serde(default)]
    legacy: Option<IgnoredAny>,
}

/// Checks `text` against the schema without copying it.
pub fn check(text: &str) -> Result<Checked, RecordError> {
    let wire: WireRef<'_> = serde_json::from_str(text).map_err(|e| {
        // A non-object `details` reads as a type error here; report it as `decode` does.
        if e.to_string().contains("expected a JSON object") {
            RecordError::Details
        } else {
            RecordError::Schema(e.to_string())
        }
    })?;
    if wire.v != SCHEMA_VERSION {
        return Err(RecordError::Version(wire.v));
    }
    Ok(Checked {
        seq: wire.seq,
        legacy: wire.legacy.is_some(),
    })
}
