//! Small HTTP helpers shared by the three simulated services: case-insensitive query parameters,
//! case-insensitive JSON bodies and JSON responses.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value};

/// Decoded query parameters, looked up by name ignoring ASCII case (first occurrence wins).
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(query: Option<&str>) -> Params {
        Params(
            url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All values of a parameter, splitting comma-separated lists (Confluence array parameters).
    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// A JSON object whose keys were lower-cased, so lookups ignore the case the client used
/// (ASP.NET model binding does the same).
pub(crate) struct LooseBody(Map<String, Value>);

impl LooseBody {
    /// Parses a request body. An empty body is an empty object; anything but a JSON object is
    /// refused.
    pub(crate) fn parse(bytes: &[u8]) -> Option<LooseBody> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Some(LooseBody(Map::new()));
        }
        match serde_json::from_slice::<Value>(bytes).ok()? {
            Value::Object(map) => Some(LooseBody(lower_keys(map))),
            _ => None,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(&key.to_ascii_lowercase())
    }

    pub(crate) fn str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// A boolean given as JSON `true`/`false` or as the strings "true"/"false".
    pub(crate) fn bool(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    pub(crate) fn object(&self, key: &str) -> Option<LooseBody> {
        match self.get(key)? {
            Value::Object(m) => Some(LooseBody(m.clone())),
            _ => None,
        }
    }
}

fn lower_keys(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .map(|(k, v)| {
            let v = match v {
                Value::Object(m) => Value::Object(lower_keys(m)),
                other => other,
            };
            (k.to_ascii_lowercase(), v)
        })
        .collect()
}

/// A JSON response with `application/json; charset=utf-8`.
pub(crate) fn json(status: StatusCode, value: &Value) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// An empty response with a status.
pub(crate) fn empty(status: StatusCode) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status;
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_ignore_name_case() {
        let p = Params::parse(Some("appid=a&SAFE=S%20x&safe=ignored"));
        assert_eq!(p.get("AppID"), Some("a"));
        assert_eq!(p.get("Safe"), Some("S x"));
    }

    #[test]
    fn body_keys_ignore_case() {
        let b =
            LooseBody::parse(br#"{"UserName":"x","ConcurrentSession":"true","Nested":{"A":1}}"#)
                .unwrap();
        assert_eq!(b.str("username"), Some("x"));
        assert_eq!(b.bool("concurrentSession"), Some(true));
        assert!(b.object("nested").unwrap().get("a").is_some());
        assert!(LooseBody::parse(b"[1]").is_none());
        assert!(LooseBody::parse(b"").is_some());
    }
}
