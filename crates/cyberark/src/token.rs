//! Decoding the PVWA logon answer into a session token.
//!
//! The PVWA answers a logon with the token as a JSON string literal (`"<token>"`, quotes
//! included). A client that forgets to strip the quotes gets `401 PASWS006E` on every call, so the
//! body is JSON-decoded. For robustness the legacy object forms (`{"CyberArkLogonResult": ..}`,
//! `{"LogonResult": ..}`) and a bare unquoted token are accepted too. The token must be printable
//! ASCII without spaces (it travels in a header). Errors never quote the body.

use secrecy::SecretString;
use serde_json::Value;
use zeroize::Zeroizing;

/// Longest token accepted (real ones are 180–250 characters).
const MAX_TOKEN: usize = 16 * 1024;

/// Turns a logon answer body into a token.
pub(crate) fn decode_token(body: &[u8]) -> Result<SecretString, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the token is not UTF-8".to_string())?;
    let text = text.trim();
    if text.is_empty() {
        return Err("the answer is empty".into());
    }
    let token: Zeroizing<String> = match text.as_bytes()[0] {
        b'"' => Zeroizing::new(
            serde_json::from_str::<String>(text)
                .map_err(|_| "the token is not a valid JSON string".to_string())?,
        ),
        b'{' => {
            let value: Value = serde_json::from_str(text)
                .map_err(|_| "the answer is not valid JSON".to_string())?;
            let found = [
                "CyberArkLogonResult",
                "LogonResult",
                "token",
                "access_token",
            ]
            .iter()
            .find_map(|key| {
                value
                    .as_object()
                    .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)))
                    .and_then(|(_, v)| v.as_str())
                    .map(str::to_string)
            });
            Zeroizing::new(found.ok_or_else(|| "the answer holds no token".to_string())?)
        }
        _ => {
            if !text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=_.;:~-".contains(&b))
            {
                return Err("the answer is neither a JSON string nor a bare token".into());
            }
            Zeroizing::new(text.to_string())
        }
    };
    check(&token)?;
    Ok(SecretString::from(token.as_str()))
}

fn check(token: &str) -> Result<(), String> {
    if token.is_empty() {
        return Err("the token is empty".into());
    }
    if token.len() > MAX_TOKEN {
        return Err(format!("the token is longer than {MAX_TOKEN} bytes"));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the token holds characters that cannot travel in a header".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    const TOKEN: &str = "ZmY2YjNhMjEtOGQ5ZS00YzFhLWE2ZjgtMDAwMDAwMDAwMDAwOzA5ODc2NTQzMjE=";

    #[test]
    fn decodes_the_quoted_json_string() {
        let t = decode_token(format!("\"{TOKEN}\"").as_bytes()).unwrap();
        assert_eq!(t.expose_secret(), TOKEN);
        let t = decode_token(format!("  \"{TOKEN}\"\r\n").as_bytes()).unwrap();
        assert_eq!(t.expose_secret(), TOKEN);
    }

    #[test]
    fn decodes_json_escapes() {
        let t = decode_token(br#""abc\/def\u003d""#).unwrap();
        assert_eq!(t.expose_secret(), "abc/def=");
    }

    #[test]
    fn accepts_legacy_objects_and_bare_tokens() {
        let t = decode_token(format!(r#"{{"CyberArkLogonResult":"{TOKEN}"}}"#).as_bytes()).unwrap();
        assert_eq!(t.expose_secret(), TOKEN);
        let t = decode_token(format!(r#"{{"logonresult":"{TOKEN}"}}"#).as_bytes()).unwrap();
        assert_eq!(t.expose_secret(), TOKEN);
        let t = decode_token(TOKEN.as_bytes()).unwrap();
        assert_eq!(t.expose_secret(), TOKEN);
    }

    #[test]
    fn refuses_bad_answers_without_quoting_them() {
        for bad in [
            &b""[..],
            b"   ",
            b"\"\"",
            b"\"unterminated",
            b"\"two words\"",
            b"{\"other\":\"x\"}",
            b"{\"CyberArkLogonResult\":5}",
            b"[\"x\"]",
            b"\xff\xfe",
            b"zzq\x01qq",
        ] {
            let err = decode_token(bad).unwrap_err();
            assert!(!err.contains("zzq") && !err.contains("words"), "{err}");
        }
        assert!(decode_token(format!("\"{}\"", "a".repeat(MAX_TOKEN + 1)).as_bytes()).is_err());
    }
}
