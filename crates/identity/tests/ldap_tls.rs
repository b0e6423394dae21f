//! TLS against a real slapd: StartTLS and LDAPS with the test CA, refusal of a certificate from
//! an unknown CA, no fallback to plain LDAP when StartTLS fails, and a plain bind (allowed by the
//! development flag) refused by a server that requires confidentiality.

mod support;

use arkbridge_identity::LdapError;
use support::slapd::{Listen, SUFFIX, Slapd};

#[tokio::test]
async fn starttls_with_the_test_ca_resolves_nested_groups() {
    let slapd = Slapd::start_listening(Listen::Tls).await;
    let url = slapd.starttls_url.clone().unwrap();
    let directory = slapd.directory(&slapd.config(&url));
    let found = directory
        .groups_for_email("alice@example.test")
        .await
        .unwrap();
    assert_eq!(found.user_dn, format!("uid=alice,ou=people,{SUFFIX}"));
    assert_eq!(found.names(), ["oncall", "ops", "engineering", "staff"]);
}

#[tokio::test]
async fn ldaps_with_the_test_ca_resolves_nested_groups() {
    let slapd = Slapd::start_listening(Listen::Tls).await;
    let url = slapd.ldaps_url.clone().unwrap();
    let directory = slapd.directory(&slapd.config(&url));
    assert!(directory.server().starts_with("ldaps://127.0.0.1:"));
    let found = directory.groups_for_username("alice").await.unwrap();
    assert_eq!(found.names(), ["oncall", "ops", "engineering", "staff"]);
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_refused() {
    let slapd = Slapd::start_listening(Listen::Tls).await;
    let other_ca = slapd.pki.as_ref().unwrap().other_ca_file.clone();
    for url in [
        slapd.starttls_url.clone().unwrap(),
        slapd.ldaps_url.clone().unwrap(),
    ] {
        for ca_file in [Some(other_ca.clone()), None] {
            let mut config = slapd.config(&url);
            // The unrelated test CA, and the public Mozilla roots: neither signed slapd's cert.
            config.ca_file = ca_file.clone();
            let err = slapd
                .directory(&config)
                .groups_for_email("alice@example.test")
                .await
                .unwrap_err();
            let LdapError::Tls { detail, .. } = &err else {
                panic!("{url} with {ca_file:?}: expected a TLS error, got {err:?}");
            };
            assert!(detail.contains("UnknownIssuer"), "{err}");
            assert!(err.to_string().contains(&url), "{err}");
        }
    }
}

#[tokio::test]
async fn a_server_without_starttls_is_refused_rather_than_used_in_the_clear() {
    let slapd = Slapd::start_listening(Listen::TcpWithoutTls).await;
    let url = slapd.starttls_url.clone().unwrap();
    let err = slapd
        .directory(&slapd.config(&url))
        .groups_for_email("alice@example.test")
        .await
        .unwrap_err();
    let LdapError::Tls { detail, .. } = &err else {
        panic!("expected a TLS error, got {err:?}");
    };
    assert!(detail.contains("refused StartTLS"), "{err}");
}

#[tokio::test]
async fn a_plain_bind_allowed_for_development_is_refused_by_a_server_requiring_tls() {
    let slapd = Slapd::start_listening(Listen::Tls).await;
    let mut config = slapd.config(&slapd.starttls_url.clone().unwrap());
    config.allow_plaintext_for_development = true;
    let err = slapd
        .directory(&config)
        .groups_for_email("alice@example.test")
        .await
        .unwrap_err();
    let LdapError::BindRefused { code, .. } = &err else {
        panic!("expected BindRefused, got {err:?}");
    };
    // confidentialityRequired: the password crossed the wire in the clear, and the server
    // (configured with `security simple_bind=56`) said so.
    assert_eq!(*code, 13, "{err}");
}
