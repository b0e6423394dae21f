//! Reading the request headers that carry proofs (`Authorization: Bearer`, `X-Hub-Signature`).
//!
//! `reqwest::header::HeaderMap` is the `http` crate's map, the same type axum hands to handlers,
//! so the server can pass its headers straight in. A header given twice is refused: which copy a
//! proxy or framework would pick is not something to guess about.

use reqwest::header::HeaderMap;

use crate::error::IdentityError;

/// The single value of `name` as text, or `None` when absent.
pub(crate) fn single<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
) -> Result<Option<&'a str>, IdentityError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(IdentityError::MalformedHeader {
            header: name,
            reason: "given more than once".into(),
        });
    }
    value
        .to_str()
        .map(Some)
        .map_err(|_| IdentityError::MalformedHeader {
            header: name,
            reason: "not visible ASCII".into(),
        })
}

/// The token of an `Authorization: Bearer <token>` value (scheme case-insensitive).
pub(crate) fn bearer(value: &str) -> Result<&str, IdentityError> {
    let malformed = |reason: &str| IdentityError::MalformedHeader {
        header: "authorization",
        reason: reason.to_string(),
    };
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| malformed("expected `Bearer <token>`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(malformed("the scheme is not `Bearer`"));
    }
    let token = token.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(malformed("expected exactly one token after `Bearer`"));
    }
    Ok(token)
}

/// The bearer token of the request.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<&str, IdentityError> {
    let value =
        single(headers, "authorization")?.ok_or(IdentityError::MissingHeader("authorization"))?;
    bearer(value)
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn bearer_tokens_are_extracted_strictly() {
        assert_eq!(bearer("Bearer abc.def.ghi").unwrap(), "abc.def.ghi");
        assert_eq!(bearer("bearer  abc").unwrap(), "abc");
        for bad in ["Basic abc", "Bearer", "Bearer ", "Bearer a b", "abc"] {
            let err = bearer(bad).unwrap_err().to_string();
            assert!(err.contains("authorization"), "{bad}: {err}");
            assert!(!err.contains("abc"), "the token must not be echoed: {err}");
        }
    }

    #[test]
    fn missing_and_repeated_headers_are_refused() {
        let mut headers = HeaderMap::new();
        assert!(matches!(
            bearer_token(&headers),
            Err(IdentityError::MissingHeader("authorization"))
        ));
        headers.append("authorization", HeaderValue::from_static("Bearer a"));
        assert_eq!(bearer_token(&headers).unwrap(), "a");
        headers.append("authorization", HeaderValue::from_static("Bearer b"));
        assert!(matches!(
            bearer_token(&headers),
            Err(IdentityError::MalformedHeader { .. })
        ));
    }
}
