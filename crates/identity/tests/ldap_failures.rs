//! Failing closed against a real slapd (and against no server at all): unknown and ambiguous
//! users, filter injection, an unreachable or silent server, a wrong bind password. Every case is
//! a typed error naming the server; none is an empty group list.

mod support;

use std::time::Duration;

use arkbridge_identity::{LdapDirectory, LdapError};
use secrecy::SecretString;
use support::slapd::{SUFFIX, Slapd, free_port};

#[tokio::test]
async fn an_unknown_email_is_a_user_not_found_error() {
    let slapd = Slapd::start().await;
    let directory = slapd.directory(&slapd.config(&slapd.ldapi_url));
    let err = directory
        .groups_for_email("nobody@example.test")
        .await
        .unwrap_err();
    assert!(matches!(err, LdapError::UserNotFound { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("nobody@example.test") && text.contains(directory.server()),
        "{text}"
    );
}

#[tokio::test]
async fn two_users_with_the_same_email_are_ambiguous() {
    let slapd = Slapd::start().await;
    let directory = slapd.directory(&slapd.config(&slapd.ldapi_url));
    let err = directory
        .groups_for_email("shared@example.test")
        .await
        .unwrap_err();
    let LdapError::AmbiguousUser { dns, truncated, .. } = &err else {
        panic!("expected AmbiguousUser, got {err:?}");
    };
    let mut dns = dns.clone();
    dns.sort();
    assert_eq!(
        dns,
        [
            format!("uid=twin1,ou=people,{SUFFIX}"),
            format!("uid=twin2,ou=people,{SUFFIX}")
        ]
    );
    assert!(!truncated);
    assert!(err.to_string().contains("expected exactly one"), "{err}");
}

#[tokio::test]
async fn many_matches_stop_at_the_size_limit_and_say_there_may_be_more() {
    let slapd = Slapd::start().await;
    let mut config = slapd.config(&slapd.ldapi_url);
    // Every person has sn=Example.
    config.email_filter = "(&(objectClass=inetOrgPerson)(sn={email}))".into();
    let err = slapd
        .directory(&config)
        .groups_for_email("Example")
        .await
        .unwrap_err();
    let LdapError::AmbiguousUser { dns, truncated, .. } = &err else {
        panic!("expected AmbiguousUser, got {err:?}");
    };
    assert!(*truncated && dns.len() <= 2, "{err}");
    assert!(err.to_string().starts_with("at least"), "{err}");
}

#[tokio::test]
async fn an_injection_attempt_in_the_username_or_email_matches_nobody() {
    let slapd = Slapd::start().await;
    // Unescaped, these values would widen the filter to every user (the control search shows
    // the directory would indeed answer with many entries).
    let widened = slapd
        .raw_search("(&(objectClass=inetOrgPerson)(mail=*))")
        .await;
    assert!(widened.len() > 2, "{widened:?}");

    let directory = slapd.directory(&slapd.config(&slapd.ldapi_url));
    for username in [
        "*)(uid=*))(|(uid=*",
        "*",
        "alice)(uid=bob",
        "alice*",
        "al\\2aice",
    ] {
        let err = directory.groups_for_username(username).await.unwrap_err();
        assert!(
            matches!(err, LdapError::UserNotFound { .. }),
            "{username}: {err:?}"
        );
    }
    for email in [
        "*",
        "*)(mail=*",
        "alice@example.test)(|(mail=*",
        "*@example.test",
    ] {
        let err = directory.groups_for_email(email).await.unwrap_err();
        assert!(
            matches!(err, LdapError::UserNotFound { .. }),
            "{email}: {err:?}"
        );
    }
    // The legitimate lookup still works on the same client.
    assert!(directory.groups_for_username("alice").await.is_ok());
}

#[tokio::test]
async fn a_wrong_bind_password_is_refused_without_echoing_it() {
    let slapd = Slapd::start().await;
    let config = slapd.config(&slapd.ldapi_url);
    let wrong = "Wr0ng-SENTINEL-password";
    let directory = LdapDirectory::new(&config, SecretString::from(wrong)).unwrap();
    let err = directory
        .groups_for_email("alice@example.test")
        .await
        .unwrap_err();
    let LdapError::BindRefused { code, .. } = &err else {
        panic!("expected BindRefused, got {err:?}");
    };
    assert_eq!(*code, 49);
    let (text, debug) = (err.to_string(), format!("{err:?}"));
    assert!(text.contains("invalidCredentials"), "{text}");
    assert!(
        text.contains(directory.server()) && text.contains("cn=arkbridge"),
        "{text}"
    );
    assert!(
        !text.contains("SENTINEL") && !debug.contains("SENTINEL"),
        "{debug}"
    );
    assert!(!err.is_unavailable());
}

#[tokio::test]
async fn an_unreachable_server_fails_closed_naming_the_server() {
    let port = free_port();
    let slapd = Slapd::start().await;
    let tcp = LdapDirectory::new(
        &slapd.config(&format!("ldap://127.0.0.1:{port}")),
        slapd.password(),
    )
    .unwrap();
    let err = tcp
        .groups_for_email("alice@example.test")
        .await
        .unwrap_err();
    assert!(matches!(err, LdapError::Unreachable { .. }), "{err:?}");
    assert!(err.is_unavailable());
    assert!(
        err.to_string().starts_with(&format!(
            "LDAP server ldap://127.0.0.1:{port} is unreachable"
        )),
        "{err}"
    );

    let missing_socket = format!("{}-gone", slapd.ldapi_url);
    let unix = slapd.directory(&slapd.config(&missing_socket));
    let err = unix
        .groups_for_email("alice@example.test")
        .await
        .unwrap_err();
    assert!(matches!(err, LdapError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("-gone"), "{err}");
}

#[tokio::test]
async fn a_server_stopped_mid_life_is_an_error_on_the_next_lookup() {
    let slapd = Slapd::start().await;
    let config = slapd.config(&slapd.ldapi_url);
    let directory = slapd.directory(&config);
    assert!(directory.groups_for_username("alice").await.is_ok());
    drop(slapd);
    let err = directory.groups_for_username("alice").await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
}

#[tokio::test]
async fn a_silent_server_times_out_at_connect_and_at_bind() {
    // Accepts connections and never answers, like a hung directory or a black-holing proxy.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
        }
    });
    let password = SecretString::from("irrelevant-password");
    let mut config = arkbridge_identity::LdapConfig::new(
        &format!("ldap://127.0.0.1:{port}"),
        "cn=arkbridge,ou=services,dc=example,dc=test",
        "ou=people,dc=example,dc=test",
        "ou=groups,dc=example,dc=test",
    );
    config.connect_timeout = Duration::from_millis(300);
    config.operation_timeout = Duration::from_millis(300);

    // StartTLS is part of connecting: the unanswered request hits the connect timeout.
    let directory = LdapDirectory::new(&config, password.clone()).unwrap();
    let err = directory.groups_for_username("alice").await.unwrap_err();
    assert!(
        matches!(
            err,
            LdapError::Timeout {
                operation: "connect",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );

    // Without StartTLS (development only) the connection opens and the bind goes unanswered.
    config.allow_plaintext_for_development = true;
    let directory = LdapDirectory::new(&config, password).unwrap();
    let err = directory.groups_for_username("alice").await.unwrap_err();
    assert!(
        matches!(
            err,
            LdapError::Timeout {
                operation: "bind",
                ..
            }
        ),
        "{err:?}"
    );
    held.abort();
}

#[tokio::test]
async fn a_missing_user_base_is_an_operation_error() {
    let slapd = Slapd::start().await;
    let mut config = slapd.config(&slapd.ldapi_url);
    config.user_base_dn = format!("ou=nobody,{SUFFIX}");
    let err = slapd
        .directory(&config)
        .groups_for_username("alice")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            LdapError::Operation {
                code: 32,
                operation: "user search",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("noSuchObject"), "{err}");
}

#[tokio::test]
async fn empty_or_oversized_input_is_refused_before_connecting() {
    // The server does not exist: an InvalidInput error proves nothing was attempted.
    let config = arkbridge_identity::LdapConfig::new(
        &format!("ldaps://127.0.0.1:{}", free_port()),
        "cn=arkbridge,ou=services,dc=example,dc=test",
        "ou=people,dc=example,dc=test",
        "ou=groups,dc=example,dc=test",
    );
    let directory = LdapDirectory::new(&config, SecretString::from("pw")).unwrap();
    for input in [String::new(), "   ".into(), "a".repeat(513)] {
        let err = directory.groups_for_email(&input).await.unwrap_err();
        assert!(matches!(err, LdapError::InvalidInput(_)), "{err:?}");
    }
}
