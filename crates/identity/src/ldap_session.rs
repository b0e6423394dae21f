//! One authenticated conversation with the directory: connect (LDAPS, StartTLS, `ldapi://` or,
//! for development, plain LDAP), bind as the service account, search, unbind.
//!
//! Every step runs under a timeout, and every failure becomes a typed [`LdapError`] that names
//! the server. The bind password is exposed only for the duration of the bind call and is never
//! formatted. Result entries are decoded here without ldap3's `SearchEntry::construct`, which
//! panics on a malformed entry: a misbehaving server must produce an error, not a crash.

use std::future::Future;
use std::time::Duration;

use ldap3::asn1::{PL, StructureTag, TagClass};
use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchOptions};
use secrecy::{ExposeSecret, SecretString};

use crate::ldap_config::{Settings, Transport};
use crate::ldap_error::{LdapError, result_code_name};

/// Result code of a search that stopped at the size limit.
pub(crate) const SIZE_LIMIT_EXCEEDED: u32 = 4;
/// Result code of a search whose base entry does not exist.
pub(crate) const NO_SUCH_OBJECT: u32 = 32;

/// A connected, bound session.
pub(crate) struct Session<'a> {
    ldap: ldap3::Ldap,
    settings: &'a Settings,
}

/// One entry of a search result, with attribute names kept as the server spelled them.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) dn: String,
    attrs: Vec<(String, Vec<String>)>,
}

impl Entry {
    /// All values of `name` (attribute names match case-insensitively).
    pub(crate) fn values(&self, name: &str) -> &[String] {
        self.attrs
            .iter()
            .find(|(attr, _)| attr.eq_ignore_ascii_case(name))
            .map_or(&[], |(_, values)| values.as_slice())
    }

    /// The first value of `name`, if any.
    pub(crate) fn first(&self, name: &str) -> Option<&str> {
        self.values(name).first().map(String::as_str)
    }
}

/// One search request.
pub(crate) struct Query<'q> {
    /// Names the search in error messages, e.g. "user search".
    pub(crate) operation: &'static str,
    pub(crate) base: &'q str,
    pub(crate) scope: Scope,
    pub(crate) filter: &'q str,
    pub(crate) attrs: &'q [&'q str],
    /// At most this many entries (0: the server's own limit).
    pub(crate) size_limit: i32,
    /// Result codes besides success that the caller handles itself.
    pub(crate) accept: &'q [u32],
}

/// The entries of a search and the result code it ended with (one the caller accepted).
pub(crate) struct SearchOutcome {
    pub(crate) entries: Vec<Entry>,
    pub(crate) code: u32,
}

impl<'a> Session<'a> {
    /// Connects and binds as the configured service account.
    pub(crate) async fn open(
        settings: &'a Settings,
        password: &SecretString,
    ) -> Result<Session<'a>, LdapError> {
        let mut conn_settings = LdapConnSettings::new();
        if let Some(tls) = &settings.tls {
            conn_settings = conn_settings.set_config(tls.clone());
        }
        conn_settings = conn_settings.set_starttls(settings.transport == Transport::StartTls);
        let connect = LdapConnAsync::with_settings(conn_settings, &settings.url);
        let (conn, ldap) = match tokio::time::timeout(settings.connect_timeout, connect).await {
            Err(_) => return Err(timeout(settings, "connect", settings.connect_timeout)),
            Ok(Err(e)) => return Err(connect_error(settings, e)),
            Ok(Ok(pair)) => pair,
        };
        // The connection task ends when the last `Ldap` handle is dropped or the socket closes.
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "LDAP connection ended with an error");
            }
        });
        let mut session = Session { ldap, settings };
        let bind_dn = settings.bind_dn.as_str();
        let bind = session.ldap.simple_bind(bind_dn, password.expose_secret());
        let result = run(settings, "bind", bind).await?;
        if result.rc != 0 {
            return Err(LdapError::BindRefused {
                server: settings.server.clone(),
                bind_dn: settings.bind_dn.clone(),
                code: result.rc,
                code_name: result_code_name(result.rc),
                diagnostic: result.text,
            });
        }
        Ok(session)
    }

    /// Searches and decodes the entries. Result codes other than success and those the query
    /// accepts are errors.
    pub(crate) async fn search(&mut self, query: Query<'_>) -> Result<SearchOutcome, LdapError> {
        let settings = self.settings;
        let options = SearchOptions::new().sizelimit(query.size_limit);
        let search = self.ldap.with_search_options(options).search(
            query.base,
            query.scope,
            query.filter,
            query.attrs.to_vec(),
        );
        let ldap3::SearchResult(raw, result) = run(settings, query.operation, search).await?;
        if result.rc != 0 && !query.accept.contains(&result.rc) {
            return Err(LdapError::Operation {
                server: settings.server.clone(),
                operation: query.operation,
                code: result.rc,
                code_name: result_code_name(result.rc),
                diagnostic: result.text,
            });
        }
        let entries = raw
            .into_iter()
            .map(|entry| decode_entry(entry.0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|detail| protocol(settings, query.operation, detail))?;
        Ok(SearchOutcome {
            entries,
            code: result.rc,
        })
    }

    /// Ends the session politely; a failure here changes nothing for the caller.
    pub(crate) async fn close(mut self) {
        let limit = self.settings.operation_timeout;
        if let Ok(Err(e)) = tokio::time::timeout(limit, self.ldap.unbind()).await {
            tracing::debug!(error = %e, "LDAP unbind failed");
        }
    }
}

/// Runs one operation under the operation timeout and maps transport failures.
async fn run<T>(
    settings: &Settings,
    operation: &'static str,
    op: impl Future<Output = ldap3::result::Result<T>>,
) -> Result<T, LdapError> {
    let limit = settings.operation_timeout;
    match tokio::time::timeout(limit, op).await {
        Err(_) | Ok(Err(ldap3::LdapError::Timeout { .. })) => {
            Err(timeout(settings, operation, limit))
        }
        Ok(Err(e)) => Err(protocol(settings, operation, e.to_string())),
        Ok(Ok(value)) => Ok(value),
    }
}

fn protocol(settings: &Settings, operation: &'static str, detail: String) -> LdapError {
    LdapError::Protocol {
        server: settings.server.clone(),
        operation,
        detail,
    }
}

fn timeout(settings: &Settings, operation: &'static str, limit: Duration) -> LdapError {
    LdapError::Timeout {
        server: settings.server.clone(),
        operation,
        timeout: limit,
    }
}

/// Sorts a failure to connect into unreachable, TLS trouble, or a refused StartTLS.
fn connect_error(settings: &Settings, error: ldap3::LdapError) -> LdapError {
    let server = settings.server.clone();
    match error {
        ldap3::LdapError::Io { source } => match crate::ldap_tls::tls_failure(&source) {
            Some(detail) => LdapError::Tls { server, detail },
            None => LdapError::Unreachable {
                server,
                detail: source.to_string(),
            },
        },
        ldap3::LdapError::Rustls { source } => LdapError::Tls {
            server,
            detail: source.to_string(),
        },
        ldap3::LdapError::DNSName { .. } => LdapError::Tls {
            server,
            detail: "the host is not a valid TLS server name".into(),
        },
        ldap3::LdapError::LdapResult { result } => LdapError::Tls {
            server,
            detail: format!(
                "the server refused StartTLS: {} (result code {}){}",
                result_code_name(result.rc),
                result.rc,
                if result.text.is_empty() {
                    String::new()
                } else {
                    format!(": {}", result.text)
                }
            ),
        },
        ldap3::LdapError::Timeout { .. } => timeout(settings, "connect", settings.connect_timeout),
        other => LdapError::Unreachable {
            server,
            detail: other.to_string(),
        },
    }
}

/// Decodes a SearchResultEntry (RFC 4511 §4.5.2): `[APPLICATION 4] { objectName, attributes }`.
fn decode_entry(tag: StructureTag) -> Result<Entry, String> {
    let malformed = |what: &str| format!("malformed search result entry: {what}");
    if tag.class != TagClass::Application || tag.id != 4 {
        return Err(malformed("unexpected tag"));
    }
    let PL::C(parts) = tag.payload else {
        return Err(malformed("primitive entry"));
    };
    let [dn, attributes] =
        <[StructureTag; 2]>::try_from(parts).map_err(|_| malformed("wrong number of fields"))?;
    let dn = utf8(dn, "DN")?;
    let PL::C(attributes) = attributes.payload else {
        return Err(malformed("primitive attribute list"));
    };
    let mut attrs = Vec::with_capacity(attributes.len());
    for attribute in attributes {
        let PL::C(pair) = attribute.payload else {
            return Err(malformed("primitive attribute"));
        };
        let [name, values] = <[StructureTag; 2]>::try_from(pair)
            .map_err(|_| malformed("attribute without values"))?;
        let name = utf8(name, "attribute name")?;
        let PL::C(values) = values.payload else {
            return Err(malformed("primitive value set"));
        };
        let values = values
            .into_iter()
            .map(|value| utf8(value, &name))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{e} (entry `{dn}`)"))?;
        attrs.push((name, values));
    }
    Ok(Entry { dn, attrs })
}

fn utf8(tag: StructureTag, what: &str) -> Result<String, String> {
    match tag.payload {
        PL::P(bytes) => String::from_utf8(bytes).map_err(|_| format!("{what} is not UTF-8")),
        PL::C(_) => Err(format!("{what} is not a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn octets(text: &[u8]) -> StructureTag {
        StructureTag {
            class: TagClass::Universal,
            id: 4,
            payload: PL::P(text.to_vec()),
        }
    }

    fn seq(inner: Vec<StructureTag>) -> StructureTag {
        StructureTag {
            class: TagClass::Universal,
            id: 16,
            payload: PL::C(inner),
        }
    }

    fn entry(dn: &[u8], attrs: Vec<StructureTag>) -> StructureTag {
        StructureTag {
            class: TagClass::Application,
            id: 4,
            payload: PL::C(vec![octets(dn), seq(attrs)]),
        }
    }

    #[test]
    fn a_well_formed_entry_decodes_with_case_insensitive_attribute_names() {
        let tag = entry(
            b"uid=alice,ou=people,dc=example,dc=test",
            vec![seq(vec![
                octets(b"memberOf"),
                seq(vec![octets(b"cn=a,dc=x"), octets(b"cn=b,dc=x")]),
            ])],
        );
        let decoded = decode_entry(tag).unwrap();
        assert_eq!(decoded.dn, "uid=alice,ou=people,dc=example,dc=test");
        assert_eq!(decoded.values("memberof"), ["cn=a,dc=x", "cn=b,dc=x"]);
        assert_eq!(decoded.first("MEMBEROF"), Some("cn=a,dc=x"));
        assert!(decoded.values("cn").is_empty());
    }

    #[test]
    fn malformed_entries_are_errors_not_panics() {
        let not_utf8 = entry(b"cn=\xff", vec![]);
        assert!(
            decode_entry(not_utf8)
                .unwrap_err()
                .contains("DN is not UTF-8")
        );
        let wrong_tag = StructureTag {
            class: TagClass::Application,
            id: 5,
            payload: PL::C(vec![]),
        };
        assert!(decode_entry(wrong_tag).is_err());
        let short = StructureTag {
            class: TagClass::Application,
            id: 4,
            payload: PL::C(vec![octets(b"cn=x")]),
        };
        assert!(decode_entry(short).is_err());
        let bad_value = entry(
            b"cn=x",
            vec![seq(vec![octets(b"cn"), seq(vec![octets(b"\xc3")])])],
        );
        let err = decode_entry(bad_value).unwrap_err();
        assert!(
            err.contains("cn is not UTF-8") && err.contains("cn=x"),
            "{err}"
        );
        let no_values = entry(b"cn=x", vec![seq(vec![octets(b"cn")])]);
        assert!(decode_entry(no_values).is_err());
    }
}
