//! Tests of the LDAP settings: which URLs, filters and values are accepted, and what the
//! messages say about the ones that are not.

use std::time::Duration;

use secrecy::SecretString;

use crate::ldap_config::{GroupStrategy, LdapConfig, Strategy, Transport};
use crate::ldap_directory::LdapDirectory;

const BASE: &str = "dc=example,dc=test";

fn config(url: &str) -> LdapConfig {
    LdapConfig::new(
        url,
        "cn=arkbridge,ou=services,dc=example,dc=test",
        "ou=people,dc=example,dc=test",
        "ou=groups,dc=example,dc=test",
    )
}

fn error_of(config: &LdapConfig) -> String {
    config.validate().unwrap_err().to_string()
}

#[test]
fn url_schemes_choose_the_transport() {
    let ldaps = config("ldaps://ldap.example.test").validate().unwrap();
    assert_eq!(ldaps.transport, Transport::Ldaps);
    assert_eq!(ldaps.server, "ldaps://ldap.example.test:636");
    assert!(ldaps.tls.is_some());

    let starttls = config("ldap://ldap.example.test:1389/").validate().unwrap();
    assert_eq!(starttls.transport, Transport::StartTls);
    assert_eq!(starttls.server, "ldap://ldap.example.test:1389");
    assert!(starttls.tls.is_some());

    let ldapi = config("ldapi://%2Frun%2Fslapd%2Fldapi").validate().unwrap();
    assert_eq!(ldapi.transport, Transport::Ldapi);
    assert_eq!(ldapi.server, "ldapi:///run/slapd/ldapi");
    assert!(ldapi.tls.is_none());
}

#[test]
fn plain_ldap_needs_the_development_flag() {
    let mut plain = config("ldap://127.0.0.1:389");
    // Without the flag an ldap:// URL means StartTLS, never the clear.
    assert_eq!(plain.validate().unwrap().transport, Transport::StartTls);
    plain.allow_plaintext_for_development = true;
    let settings = plain.validate().unwrap();
    assert_eq!(settings.transport, Transport::Plain);
    assert!(settings.tls.is_none());
}

#[test]
fn bad_urls_are_refused_with_the_reason() {
    for (url, why) in [
        ("https://ldap.example.test", "unsupported scheme `https`"),
        (
            "ldaps://user:pw@ldap.example.test",
            "must not carry a user name or password",
        ),
        (
            "ldaps://ldap.example.test/dc=example,dc=test",
            "must not carry a DN",
        ),
        (
            "ldaps://ldap.example.test/??sub?(uid=x)",
            "must not carry a DN",
        ),
        ("ldapi://", "no host"),
        ("not a url", "is invalid"),
    ] {
        let err = error_of(&config(url));
        assert!(err.contains(why), "{url}: {err}");
    }
    // The password of a URL with credentials is not repeated in the message.
    let err = error_of(&config("ldaps://svc:hunter2@ldap.example.test/x"));
    assert!(err.contains("must not carry"), "{err}");
    assert!(
        err.contains("ldaps://***@ldap.example.test/x") && !err.contains("hunter2"),
        "{err}"
    );
}

#[test]
fn dns_attributes_and_limits_are_checked() {
    let mut c = config("ldaps://x");
    c.user_base_dn = " ".into();
    assert!(error_of(&c).contains("user_base_dn must not be empty"));
    let mut c = config("ldaps://x");
    c.group_base_dn = "ou=groups,dc".into();
    assert!(error_of(&c).contains("group_base_dn"));
    let mut c = config("ldaps://x");
    c.group_name_attribute = "c n".into();
    assert!(error_of(&c).contains("group_name_attribute `c n` is not an LDAP attribute name"));
    let mut c = config("ldaps://x");
    c.groups = GroupStrategy::MemberOf {
        attribute: "2.5.4.31".into(),
    };
    assert!(c.validate().is_ok());
    let mut c = config("ldaps://x");
    c.max_nesting_depth = 0;
    assert!(error_of(&c).contains("max_nesting_depth"));
    let mut c = config("ldaps://x");
    c.operation_timeout = Duration::ZERO;
    assert!(error_of(&c).contains("operation_timeout_secs must be positive"));
}

#[test]
fn filter_templates_must_use_their_placeholder() {
    let mut c = config("ldaps://x");
    c.email_filter = "(mail={username})".into();
    assert!(error_of(&c).contains("email_filter"));
    let mut c = config("ldaps://x");
    c.username_filter = "(objectClass=person)".into();
    assert!(error_of(&c).contains("must use {username}"));
    let mut c = config("ldaps://x");
    c.groups = GroupStrategy::Search {
        filter: "(&(objectClass=posixGroup)(memberUid={uid}))".into(),
    };
    let settings = c.validate().unwrap();
    assert!(matches!(settings.strategy, Strategy::Search { ref filter } if filter.uses("uid")));
}

#[test]
fn config_deserialises_with_defaults_and_seconds() {
    let json = serde_json::json!({
        "url": "ldaps://ldap.example.test",
        "bind_dn": format!("cn=arkbridge,ou=services,{BASE}"),
        "user_base_dn": format!("ou=people,{BASE}"),
        "group_base_dn": format!("ou=groups,{BASE}"),
        "groups": { "kind": "search", "filter": "(member={dn})" },
        "connect_timeout_secs": 1.5,
        "ca_file": "/etc/arkbridge/ldap-ca.pem"
    });
    let parsed: LdapConfig = serde_json::from_value(json).unwrap();
    assert_eq!(parsed.connect_timeout, Duration::from_millis(1500));
    assert_eq!(parsed.operation_timeout, Duration::from_secs(10));
    assert_eq!(
        parsed.email_filter,
        "(&(objectClass=inetOrgPerson)(mail={email}))"
    );
    assert_eq!(parsed.group_name_attribute, "cn");
    assert!(parsed.nested_groups && !parsed.allow_plaintext_for_development);
    assert_eq!(
        parsed.groups,
        GroupStrategy::Search {
            filter: "(member={dn})".into()
        }
    );

    let default_groups: GroupStrategy =
        serde_json::from_value(serde_json::json!({ "kind": "member_of" })).unwrap();
    assert_eq!(default_groups, GroupStrategy::default());

    for bad in [
        serde_json::json!({ "url": "ldaps://x", "bind_dn": "cn=a", "user_base_dn": "dc=x",
                            "group_base_dn": "dc=x", "bind_password": "secret" }),
        serde_json::json!({ "url": "ldaps://x", "bind_dn": "cn=a", "user_base_dn": "dc=x",
                            "group_base_dn": "dc=x", "connect_timeout_secs": -1 }),
    ] {
        assert!(serde_json::from_value::<LdapConfig>(bad).is_err());
    }
}

#[test]
fn an_empty_bind_password_is_refused_before_any_connection() {
    let err = LdapDirectory::new(&config("ldaps://x"), SecretString::from(String::new()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bind password") && err.contains("is empty"),
        "{err}"
    );
}

#[test]
fn the_directory_debug_print_hides_the_password() {
    let directory =
        LdapDirectory::new(&config("ldaps://x"), SecretString::from("S3NTINEL-pw")).unwrap();
    let printed = format!("{directory:?}");
    assert!(!printed.contains("S3NTINEL"), "{printed}");
    assert!(
        printed.contains("ldaps://x:636") && printed.contains("[redacted]"),
        "{printed}"
    );
}
