//! The CCP's success answer: a flat map of account properties, one of which (`Content`) is the
//! secret.
//!
//! Real CCPs send every value as a JSON string (`"PasswordChangeInProcess":"False"`) though the
//! docs call some of them booleans; bools and numbers are accepted and stringified. Keys are looked
//! up case-insensitively (the lesson of awx#14606). `Content` is moved straight into a
//! [`SecretString`] while parsing and never sits in an ordinary map.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

const CONTENT: &str = "Content";

/// One account as returned by the Central Credential Provider.
pub struct CcpAccount {
    content: SecretString,
    /// Every other property, in answer order, values stringified.
    properties: Vec<(String, String)>,
}

impl CcpAccount {
    /// The secret (`Content`).
    pub fn content(&self) -> &SecretString {
        &self.content
    }

    /// A non-secret property by name, case-insensitively. `Content` is never returned here.
    pub fn property(&self, name: &str) -> Option<&str> {
        if name.eq_ignore_ascii_case(CONTENT) {
            return None;
        }
        self.properties
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Any property, `Content` included, as a secret (for `cyberark://S/O#Field` references).
    pub fn secret_property(&self, name: &str) -> Option<SecretString> {
        if name.eq_ignore_ascii_case(CONTENT) {
            return Some(SecretString::from(self.content.expose_secret()));
        }
        self.property(name).map(SecretString::from)
    }

    /// The property names, `Content` included, in answer order.
    pub fn property_names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(CONTENT).chain(self.properties.iter().map(|(k, _)| k.as_str()))
    }

    /// Whether the CPM is changing this password right now (`PasswordChangeInProcess`).
    pub fn password_change_in_process(&self) -> bool {
        self.property("PasswordChangeInProcess")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// Parses a CCP success body.
    pub(crate) fn from_json(body: &[u8]) -> Result<CcpAccount, String> {
        let mut de = serde_json::Deserializer::from_slice(body);
        let parsed = de.deserialize_map(AccountVisitor).map_err(|e| {
            // serde_json's messages name a position and a type, never the input text.
            format!("the answer is not a JSON object of properties ({e})")
        })?;
        de.end()
            .map_err(|e| format!("trailing data after the JSON object ({e})"))?;
        let (content, properties) = parsed;
        let content = content.ok_or_else(|| "the answer has no `Content` property".to_string())?;
        Ok(CcpAccount {
            content,
            properties,
        })
    }
}

impl fmt::Debug for CcpAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        m.entry(&CONTENT, &"[redacted]");
        for (k, v) in &self.properties {
            m.entry(k, v);
        }
        m.finish()
    }
}

type Parsed = (Option<SecretString>, Vec<(String, String)>);

struct AccountVisitor;

impl<'de> Visitor<'de> for AccountVisitor {
    type Value = Parsed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of account properties")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        let mut content: Option<SecretString> = None;
        let mut properties: Vec<(String, String)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if key.eq_ignore_ascii_case(CONTENT) {
                let value = map.next_value::<SecretValue>()?;
                if content.is_none() {
                    content = Some(value.0);
                }
                continue;
            }
            if properties.iter().any(|(k, _)| k.eq_ignore_ascii_case(&key)) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if let Some(value) = map.next_value::<PlainValue>()?.0 {
                properties.push((key, value));
            }
        }
        Ok((content, properties))
    }
}

/// A string, bool or number, moved into a secret without an intermediate plain copy.
struct SecretValue(SecretString);

impl<'de> serde::Deserialize<'de> for SecretValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SecretValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretValue, E> {
                Ok(SecretValue(SecretString::from(v)))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<SecretValue, E> {
                Ok(SecretValue(SecretString::from(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SecretValue, E> {
                Ok(SecretValue(SecretString::from(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SecretValue, E> {
                Ok(SecretValue(SecretString::from(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<SecretValue, E> {
                Ok(SecretValue(SecretString::from(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<SecretValue, E> {
                Ok(SecretValue(SecretString::from(v.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

/// A property value stringified; `null`, arrays and objects are dropped (`None`).
struct PlainValue(Option<String>);

impl<'de> serde::Deserialize<'de> for PlainValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Ok(PlainValue(Some(s))),
            serde_json::Value::Bool(b) => Ok(PlainValue(Some(b.to_string()))),
            serde_json::Value::Number(n) => Ok(PlainValue(Some(n.to_string()))),
            _ => Ok(PlainValue(None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"Content":"s3cr3t-Pa55","UserName":"payments_app","Address":"db1.example.com",
        "Database":"payments","PasswordChangeInProcess":"False","Safe":"Prod-DB","Folder":"Root",
        "Name":"payments-db","PolicyID":"PostgreSQL","DeviceType":"Database","CreationMethod":"PVWA"}"#;

    #[test]
    fn parses_string_valued_answer() {
        let a = CcpAccount::from_json(SAMPLE.as_bytes()).unwrap();
        assert_eq!(a.content().expose_secret(), "s3cr3t-Pa55");
        assert_eq!(a.property("UserName"), Some("payments_app"));
        assert_eq!(a.property("username"), Some("payments_app"));
        assert_eq!(a.property("POLICYID"), Some("PostgreSQL"));
        assert_eq!(a.property("Content"), None);
        assert_eq!(a.property("content"), None);
        assert_eq!(a.property("Port"), None);
        assert!(!a.password_change_in_process());
        assert_eq!(a.property_names().next(), Some("Content"));
    }

    #[test]
    fn secret_property_covers_content_and_fields() {
        let a = CcpAccount::from_json(SAMPLE.as_bytes()).unwrap();
        assert_eq!(
            a.secret_property("content").unwrap().expose_secret(),
            "s3cr3t-Pa55"
        );
        assert_eq!(
            a.secret_property("ADDRESS").unwrap().expose_secret(),
            "db1.example.com"
        );
        assert!(a.secret_property("Nope").is_none());
    }

    #[test]
    fn change_in_process_string_and_bool_forms() {
        for (raw, expect) in [
            (r#""True""#, true),
            (r#""true""#, true),
            ("true", true),
            (r#""False""#, false),
            ("false", false),
            ("1", false),
        ] {
            let body = format!(r#"{{"Content":"x","PasswordChangeInProcess":{raw}}}"#);
            let a = CcpAccount::from_json(body.as_bytes()).unwrap();
            assert_eq!(a.password_change_in_process(), expect, "{raw}");
        }
    }

    #[test]
    fn numbers_bools_and_odd_values_are_tolerated() {
        let body =
            br#"{"content":12345,"Port":5432,"Flag":true,"Gone":null,"List":[1],"Obj":{"a":1}}"#;
        let a = CcpAccount::from_json(body).unwrap();
        assert_eq!(a.content().expose_secret(), "12345");
        assert_eq!(a.property("port"), Some("5432"));
        assert_eq!(a.property("flag"), Some("true"));
        assert_eq!(a.property("Gone"), None);
        assert_eq!(a.property("List"), None);
    }

    #[test]
    fn malformed_answers_are_errors_not_panics() {
        for bad in [
            &b""[..],
            b"[]",
            b"\"token\"",
            b"{\"UserName\":\"x\"}",
            b"{\"Content\":",
            b"{\"Content\":[1]}",
            b"{\"Content\":\"a\"} trailing",
            b"\xff\xfe",
        ] {
            let err = CcpAccount::from_json(bad).unwrap_err();
            assert!(!err.is_empty());
        }
    }

    #[test]
    fn errors_and_debug_never_show_content() {
        let err = CcpAccount::from_json(br#"{"Content":"hunter2","X":}"#).unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        let a = CcpAccount::from_json(SAMPLE.as_bytes()).unwrap();
        let dbg = format!("{a:?}");
        assert!(!dbg.contains("s3cr3t"), "{dbg}");
        assert!(
            dbg.contains("UserName") && dbg.contains("payments_app"),
            "{dbg}"
        );
    }

    #[test]
    fn first_of_duplicate_keys_wins() {
        let a = CcpAccount::from_json(br#"{"Content":"a","content":"b","Port":"1","port":"2"}"#)
            .unwrap();
        assert_eq!(a.content().expose_secret(), "a");
        assert_eq!(a.property("PORT"), Some("1"));
    }
}
