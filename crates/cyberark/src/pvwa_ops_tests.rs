//! Tests of the PVWA credential operations (SetNextPassword, Password/Update, Verify, Reconcile,
//! Password/Retrieve, Activities) against the local fake server: paths, bodies, answer decoding,
//! retry rules, and that secrets never show in `Debug` output or errors.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::fake::{Fake, Reply, TOKEN_JSON, pvwa_config, reply};
use crate::pvwa::decode_secret;
use crate::{BreakerConfig, CyberArkError, PvwaClient, Resilience, RetryPolicy};

const NEW: &str = "N3w-hunter-pa55";

/// A PVWA fake: logon succeeds, every other request answers `other(path)`.
async fn fake(other: impl Fn(&str) -> Reply + Send + Sync + 'static) -> (Fake, PvwaClient) {
    let fake = Fake::start(move |req, _| {
        if req.path.ends_with("/Logon") {
            reply(200, TOKEN_JSON)
        } else {
            other(&req.path)
        }
    })
    .await;
    let res =
        Resilience::new("pvwa", RetryPolicy::default(), BreakerConfig::default()).without_jitter();
    let client = PvwaClient::logon_with(&pvwa_config(&fake.url), &SecretString::from("pw"), res)
        .await
        .unwrap();
    (fake, client)
}

/// The JSON body of the last request whose path ends with `suffix`.
fn last_body(fake: &Fake, suffix: &str) -> Value {
    let seen = fake.seen();
    let req = seen
        .iter()
        .rev()
        .find(|s| s.path.ends_with(suffix))
        .unwrap();
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.authorization.as_deref(),
        Some(&TOKEN_JSON[1..TOKEN_JSON.len() - 1])
    );
    serde_json::from_str(&req.body).unwrap_or(Value::Null)
}

#[tokio::test(start_paused = true)]
async fn set_next_password_sends_change_immediately_and_new_credentials() {
    let (fake, client) = fake(|_| reply(200, "")).await;
    client
        .set_next_password("77_4", &SecretString::from(NEW), true)
        .await
        .unwrap();
    assert_eq!(
        last_body(&fake, "/PasswordVault/API/Accounts/77_4/SetNextPassword"),
        json!({"ChangeImmediately": true, "NewCredentials": NEW})
    );
    client
        .set_next_password("77_4", &SecretString::from(NEW), false)
        .await
        .unwrap();
    assert_eq!(
        last_body(&fake, "/SetNextPassword")["ChangeImmediately"],
        json!(false)
    );
}

#[tokio::test(start_paused = true)]
async fn update_password_in_vault_posts_new_credentials() {
    let (fake, client) = fake(|_| reply(200, "")).await;
    client
        .update_password_in_vault("77_4", &SecretString::from(NEW))
        .await
        .unwrap();
    assert_eq!(
        last_body(&fake, "/PasswordVault/API/Accounts/77_4/Password/Update"),
        json!({"NewCredentials": NEW})
    );
}

#[tokio::test(start_paused = true)]
async fn verify_and_reconcile_post_to_their_paths() {
    let (fake, client) = fake(|_| reply(200, "")).await;
    client.verify("77_4").await.unwrap();
    client.reconcile("77_4").await.unwrap();
    assert_eq!(last_body(&fake, "/Accounts/77_4/Verify"), json!({}));
    assert_eq!(last_body(&fake, "/Accounts/77_4/Reconcile"), Value::Null);
    assert!(client.verify("../x").await.is_err());
    assert_eq!(fake.seen().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn retrieve_password_sends_both_ticketing_names_and_decodes_the_string() {
    let (fake, client) = fake(|_| reply(200, r#""p@ss\"w0rd-hunter""#)).await;
    let secret = client
        .retrieve_password("77_4", "run 42 by alice", Some(("ServiceNow", "INC0042")))
        .await
        .unwrap();
    assert_eq!(secret.expose_secret(), "p@ss\"w0rd-hunter");
    assert!(!format!("{secret:?}").contains("hunter"));
    assert_eq!(
        last_body(&fake, "/Accounts/77_4/Password/Retrieve"),
        json!({
            "reason": "run 42 by alice",
            "TicketingSystem": "ServiceNow",
            "TicketingSystemName": "ServiceNow",
            "TicketId": "INC0042"
        })
    );
    client.retrieve_password("77_4", "r", None).await.unwrap();
    assert_eq!(
        last_body(&fake, "/Password/Retrieve"),
        json!({"reason": "r"})
    );
}

#[test]
fn retrieve_answers_must_be_json_strings_and_are_never_quoted() {
    assert_eq!(
        decode_secret(b" \"abc\\u0041\" ").unwrap().expose_secret(),
        "abcA"
    );
    for bad in [
        &b"bare-hunter"[..],
        b"{\"password\":\"hunter\"}",
        b"\"unterminated-hunter",
        b"\"\"",
        b"\xffhunter",
    ] {
        let err = decode_secret(bad).unwrap_err();
        assert!(matches!(err, CyberArkError::Protocol { .. }), "{err:?}");
        assert!(!err.to_string().contains("hunter") && !format!("{err:?}").contains("hunter"));
    }
}

#[tokio::test(start_paused = true)]
async fn account_activities_parses_the_list_and_get_is_retried() {
    let attempts = std::sync::atomic::AtomicUsize::new(0);
    let (fake, client) = fake(move |_| {
        if attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            return reply(503, "");
        }
        reply(
            200,
            r#"{"Activities":[{"Date":1700000000,"User":"arkbridge-svc","Action":"Retrieve password","ActionID":295,"ClientID":"PVWA","Alert":false,"MoreInfo":"Ticket ServiceNow INC0042","Reason":"run 42"}]}"#,
        )
    })
    .await;
    let start = tokio::time::Instant::now();
    let list = client.account_activities("77_4").await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(200));
    assert_eq!(fake.count("/Accounts/77_4/Activities"), 2);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].action_id, Some(295));
    assert_eq!(list[0].reason, "run 42");
    assert_eq!(list[0].date, Some(1_700_000_000));
}

#[tokio::test(start_paused = true)]
async fn credential_posts_are_not_retried_after_an_answer() {
    let (fake, client) = fake(|_| reply(503, "")).await;
    let new = SecretString::from(NEW);
    assert!(
        client
            .set_next_password("77_4", &new, true)
            .await
            .unwrap_err()
            .is_unavailable()
    );
    assert!(client.update_password_in_vault("77_4", &new).await.is_err());
    assert!(client.verify("77_4").await.is_err());
    assert!(client.reconcile("77_4").await.is_err());
    assert!(client.retrieve_password("77_4", "r", None).await.is_err());
    assert_eq!(fake.seen().len(), 1 + 5);
}

#[tokio::test(start_paused = true)]
async fn secrets_never_appear_in_debug_or_errors() {
    let (fake, client) = fake(|path| {
        if path.ends_with("/Retrieve") {
            reply(403, r#"{"ErrorCode":"PASWS041E","ErrorMessage":"You are not authorized to perform this action."}"#)
        } else {
            reply(400, r#"{"ErrorCode":"PASWS018E","ErrorMessage":"Bad request"}"#)
        }
    })
    .await;
    let new = SecretString::from(NEW);
    let mut errors = vec![
        client
            .set_next_password("77_4", &new, true)
            .await
            .unwrap_err(),
        client
            .update_password_in_vault("77_4", &new)
            .await
            .unwrap_err(),
        client
            .retrieve_password("77_4", "r", Some(("SNOW", "INC1")))
            .await
            .unwrap_err(),
    ];
    let before = fake.seen().len();
    errors.push(
        client
            .set_next_password("77_4", &SecretString::from("  "), true)
            .await
            .unwrap_err(),
    );
    errors.push(
        client
            .update_password_in_vault("77_4", &SecretString::from(""))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        fake.seen().len(),
        before,
        "empty values are refused locally"
    );
    for err in &errors {
        let text = format!("{err} {err:?}");
        assert!(!text.contains(NEW) && !text.contains("hunter"), "{text}");
    }
    assert_eq!(errors[2].code(), Some("PASWS041E"));
    let dbg = format!("{client:?} {new:?}");
    assert!(
        !dbg.contains("hunter") && !dbg.contains(&TOKEN_JSON[1..20]),
        "{dbg}"
    );
}
