//! Tests that keep the error codes, their list in `error.rs` and the OpenAPI document in step:
//! every code the crate's source builds an `ApiError` with is in [`ERROR_CODES`], the document's
//! `Error.code` enum is exactly that list, and the routes document `session_expired` and, when
//! they change state, the `X-CSRF-Token` header and the `csrf` refusal.

use super::ERROR_CODES;

/// The string literals at the top level of the call whose arguments start at `args`
/// (just past its `(`), skipping nested calls such as `format!`.
fn call_literals(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 1;
    let mut chars = args.chars();
    while let Some(c) = chars.next() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            '"' => {
                let mut literal = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => literal.push(c),
                    }
                }
                if depth == 1 {
                    out.push(literal);
                }
            }
            _ => {}
        }
    }
    out
}

/// `source` up to its test module: test code may build errors with made-up codes, and
/// only what the server runs counts. A test module is a `#[cfg(test)]` (with any further
/// attributes) in front of `mod`; a `#[cfg(test)]` on anything else is kept.
fn non_test_code(source: &str) -> &str {
    let marker = "#[cfg(test)]";
    for (at, _) in source.match_indices(marker) {
        let mut rest = source[at + marker.len()..].trim_start();
        while rest.starts_with("#[") {
            rest = rest[rest.find(']').map_or(rest.len(), |e| e + 1)..].trim_start();
        }
        if rest.starts_with("mod ") {
            return &source[..at];
        }
    }
    source
}

/// The error codes `source` builds: the first code-like literal of each `ApiError`
/// constructor call and, in this file, the codes `from_identity` picks.
fn codes_in(source: &str, is_error_rs: bool) -> Vec<String> {
    let is_code = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    let source = non_test_code(source);
    let mut out = Vec::new();
    for name in ["new", "unauthorized", "bad_request", "not_found"] {
        let call = format!("ApiError::{name}(");
        for (at, _) in source.match_indices(&call) {
            if let Some(code) = call_literals(&source[at + call.len()..])
                .into_iter()
                .find(|l| is_code(l))
            {
                out.push(code);
            }
        }
    }
    if is_error_rs {
        let arm = format!("=> {}", '"');
        for (at, _) in source.match_indices(&arm) {
            let rest = &source[at + arm.len()..];
            let code = &rest[..rest.find('"').unwrap_or(0)];
            if is_code(code) {
                out.push(code.to_string());
            }
        }
    }
    out
}

#[test]
fn the_code_scanner_finds_codes_past_nested_calls_and_strings() {
    let source = format!(
        "{}ApiError::new(StatusCode::X, {q}one{q}, format!({q}a (b) {q}));\n\
         ApiError::bad_request(code, {q}a message{q});\n\
         ApiError::not_found({q}two{q}, {q}x{q});\n#[cfg(test)]\nconst A: u8 = 1;\n\
         #[cfg(test)]\n#[path = {q}x.rs{q}]\nmod tests {{ ApiError::new(s, {q}three{q}, m) }}",
        "",
        q = '"'
    );
    assert_eq!(codes_in(&source, false), ["one", "two"]);
}

/// Every code the crate's source builds an error with is in [`ERROR_CODES`], once.
#[test]
fn every_code_the_source_uses_is_listed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut used = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // `*_tests.rs` files are test modules kept beside their code.
        if name.ends_with(".rs") && !name.ends_with("_tests.rs") {
            let source = std::fs::read_to_string(&path).unwrap();
            let is_error_rs = name == "error.rs";
            for code in codes_in(&source, is_error_rs) {
                used.insert((code, path.display().to_string()));
            }
        }
    }
    assert!(used.len() > 30, "the scan found too few codes: {used:?}");
    for (code, file) in &used {
        assert!(
            ERROR_CODES.iter().any(|(c, _, _)| c == code),
            "{file} answers with code `{code}`, which ERROR_CODES (and so the OpenAPI \
             document) lacks"
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for (code, _, _) in ERROR_CODES {
        assert!(seen.insert(code), "`{code}` is listed twice");
        assert!(
            used.iter().any(|(c, _)| c == code),
            "`{code}` is listed but never used"
        );
    }
}

/// The OpenAPI document's `Error` schema lists exactly the codes of [`ERROR_CODES`], each
/// with its status in the description.
#[test]
fn the_openapi_document_lists_every_error_code() {
    let doc: serde_json::Value = serde_json::from_str(crate::OPENAPI).unwrap();
    let code = &doc["components"]["schemas"]["Error"]["properties"]["code"];
    let documented: std::collections::BTreeSet<&str> = code["enum"]
        .as_array()
        .expect("Error.code has an enum")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let listed: std::collections::BTreeSet<&str> = ERROR_CODES.iter().map(|(c, _, _)| *c).collect();
    assert_eq!(documented, listed);
    let description = code["description"].as_str().unwrap();
    for (c, status, _) in ERROR_CODES {
        assert!(
            description.contains(&format!("`{c}` ({status})")),
            "the description of Error.code lacks `{c}` ({status})"
        );
    }
}

/// Each authenticated route documents `session_expired` among its 401 codes; each
/// state-changing one documents the `X-CSRF-Token` header and the `csrf` refusal.
#[test]
fn session_routes_document_session_expiry_and_the_csrf_header() {
    let doc: serde_json::Value = serde_json::from_str(crate::OPENAPI).unwrap();
    let param = &doc["components"]["parameters"]["CsrfToken"];
    assert_eq!(param["in"], "header");
    assert!(
        param["name"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case(crate::CSRF_HEADER)
    );
    for (path, method, _) in crate::api_routes() {
        let op = &doc["paths"][path][method.as_str().to_ascii_lowercase()];
        let unauthorized = op["responses"]["401"]["description"].as_str().unwrap();
        assert!(
            unauthorized.contains("`session_expired`"),
            "{method} {path}: 401 lacks session_expired"
        );
        if matches!(method, axum::http::Method::GET | axum::http::Method::HEAD) {
            continue;
        }
        let refs: Vec<&str> = op["parameters"]
            .as_array()
            .map(|ps| ps.iter().filter_map(|p| p["$ref"].as_str()).collect())
            .unwrap_or_default();
        assert!(
            refs.contains(&"#/components/parameters/CsrfToken"),
            "{method} {path} does not document X-CSRF-Token"
        );
        let forbidden = op["responses"]["403"]["description"].as_str().unwrap();
        assert!(
            forbidden.contains("`csrf`"),
            "{method} {path}: 403 lacks csrf"
        );
    }
}
