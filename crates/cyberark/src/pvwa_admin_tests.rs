//! Tests of account administration (add / patch / delete) against the local fake server, and of
//! the ISPSS platform-token mode: the form body, the Bearer header, refreshing before
//! `expires_in` elapses (paused time) and after a `401`, and OAuth-shaped refusals.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};

use crate::fake::{Fake, Seen, TOKEN_JSON, pvwa_config, reply};
use crate::{
    BreakerConfig, CyberArkError, NewAccount, PatchOp, PvwaClient, Resilience, RetryPolicy,
};

const ACCOUNT: &str = r#"{"id":"21_7","name":"new-db","safeName":"Prod-DB","platformId":"PostgreSQL",
    "address":"db9.example.com","userName":"app","secretManagement":{"automaticManagementEnabled":true}}"#;

fn resilience() -> Resilience {
    Resilience::new("pvwa", RetryPolicy::default(), BreakerConfig::default()).without_jitter()
}

async fn logged_on(fake: &Fake) -> PvwaClient {
    PvwaClient::logon_with(
        &pvwa_config(&fake.url),
        &SecretString::from("pw"),
        resilience(),
    )
    .await
    .unwrap()
}

fn last(fake: &Fake) -> Seen {
    fake.seen().into_iter().last().unwrap()
}

#[tokio::test(start_paused = true)]
async fn add_account_posts_the_body_and_hides_the_secret_in_debug() {
    let fake = Fake::start(|req, _| {
        if req.path.ends_with("/Logon") {
            reply(200, TOKEN_JSON)
        } else {
            reply(201, ACCOUNT)
        }
    })
    .await;
    let client = logged_on(&fake).await;
    let secret = SecretString::from("S3cret-hunter2");
    let mut new = NewAccount::new("Prod-DB", "PostgreSQL", &secret);
    new.name = Some("new-db".into());
    new.address = Some("db9.example.com".into());
    new.user_name = Some("app".into());
    new.platform_account_properties
        .insert("Port".into(), "5432".into());
    new.automatic_management_enabled = Some(true);
    assert!(!format!("{new:?}").contains("hunter2"));
    let account = client.add_account(&new).await.unwrap();
    assert_eq!(account.id, "21_7");
    let req = last(&fake);
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/PasswordVault/API/Accounts")
    );
    let body: Value = serde_json::from_str(&req.body).unwrap();
    assert_eq!(
        body,
        json!({"safeName":"Prod-DB","platformId":"PostgreSQL","name":"new-db","address":"db9.example.com",
               "userName":"app","secretType":"password","secret":"S3cret-hunter2",
               "platformAccountProperties":{"Port":"5432"},
               "secretManagement":{"automaticManagementEnabled":true}})
    );
}

#[tokio::test(start_paused = true)]
async fn add_account_refusal_does_not_carry_the_secret() {
    let fake = Fake::start(|req, _| {
        if req.path.ends_with("/Logon") {
            reply(200, TOKEN_JSON)
        } else {
            reply(
                409,
                r#"{"ErrorCode":"PASWS027E","ErrorMessage":"Object already exists."}"#,
            )
        }
    })
    .await;
    let client = logged_on(&fake).await;
    let secret = SecretString::from("S3cret-hunter2");
    let err = client
        .add_account(&NewAccount::new("Prod-DB", "PostgreSQL", &secret))
        .await
        .unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(409), Some("PASWS027E")));
    assert!(!format!("{err:?}{err}").contains("hunter2"));
    let empty = SecretString::from("");
    let err = client
        .add_account(&NewAccount::new("Prod.DB", "PostgreSQL", &empty))
        .await
        .unwrap_err();
    assert!(matches!(err, CyberArkError::Invalid { .. }), "{err:?}");
    assert_eq!(fake.count("/Accounts"), 1, "invalid input is not sent");
}

#[tokio::test(start_paused = true)]
async fn update_account_sends_json_patch_operations() {
    let fake = Fake::start(|req, _| {
        if req.path.ends_with("/Logon") {
            reply(200, TOKEN_JSON)
        } else {
            reply(200, ACCOUNT)
        }
    })
    .await;
    let client = logged_on(&fake).await;
    let ops = [
        PatchOp::replace("/address", "db9.example.com"),
        PatchOp::replace("/secretManagement/automaticManagementEnabled", false),
        PatchOp::Add {
            path: "/platformAccountProperties/Port".into(),
            value: json!("5433"),
        },
        PatchOp::Remove {
            path: "/remoteMachinesAccess/remoteMachines".into(),
        },
    ];
    client.update_account("21_7", &ops).await.unwrap();
    let req = last(&fake);
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("PATCH", "/PasswordVault/API/Accounts/21_7")
    );
    let body: Value = serde_json::from_str(&req.body).unwrap();
    assert_eq!(
        body,
        json!([{"op":"replace","path":"/address","value":"db9.example.com"},
               {"op":"replace","path":"/secretManagement/automaticManagementEnabled","value":false},
               {"op":"add","path":"/platformAccountProperties/Port","value":"5433"},
               {"op":"remove","path":"/remoteMachinesAccess/remoteMachines"}])
    );
    for bad in [
        vec![],
        vec![PatchOp::replace("address", "x")],
        vec![PatchOp::replace("/secret", "x")],
    ] {
        assert!(matches!(
            client.update_account("21_7", &bad).await,
            Err(CyberArkError::Invalid { .. })
        ));
    }
    assert!(client.update_account("../x", &ops).await.is_err());
    assert_eq!(fake.count("/Accounts/21_7"), 1);
}

#[tokio::test(start_paused = true)]
async fn delete_account_accepts_204() {
    let fake = Fake::start(|req, _| {
        if req.path.ends_with("/Logon") {
            reply(200, TOKEN_JSON)
        } else {
            reply(204, "")
        }
    })
    .await;
    let client = logged_on(&fake).await;
    client.delete_account("21_7").await.unwrap();
    let req = last(&fake);
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("DELETE", "/PasswordVault/API/Accounts/21_7")
    );
}

/// An ISPSS fake: token `tok-N` (N = number of token requests so far) living `expires_in`
/// seconds; the API answers 401 unless the header is `Bearer <the latest token>`.
async fn ispss_fake(expires_in: u64) -> Fake {
    let tokens = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    Fake::start(move |req, _| {
        use std::sync::atomic::Ordering::SeqCst;
        if req.path == "/oauth2/platformtoken" {
            let n = tokens.fetch_add(1, SeqCst) + 1;
            reply(200, &format!(r#"{{"access_token":"tok-{n}","token_type":"Bearer","expires_in":{expires_in}}}"#))
        } else if req.authorization.as_deref() == Some(&format!("Bearer tok-{}", tokens.load(SeqCst))) {
            reply(200, ACCOUNT)
        } else {
            reply(401, r#"{"ErrorCode":"PASWS006E","ErrorMessage":"The session token is missing, invalid or expired."}"#)
        }
    })
    .await
}

async fn ispss_client(fake: &Fake) -> PvwaClient {
    PvwaClient::logon_ispss(
        &fake.url,
        &fake.url,
        "svc@tenant",
        &SecretString::from("cs-hunter2"),
        None,
        resilience(),
    )
    .await
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn ispss_posts_client_credentials_form_and_sends_bearer() {
    let fake = ispss_fake(3600).await;
    let client = ispss_client(&fake).await;
    assert!(!format!("{client:?}").contains("hunter2"));
    client.get_account("21_7").await.unwrap();
    let seen = fake.seen();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("POST", "/oauth2/platformtoken")
    );
    assert_eq!(
        seen[0].body,
        "grant_type=client_credentials&client_id=svc%40tenant&client_secret=cs-hunter2"
    );
    assert_eq!(seen[1].authorization.as_deref(), Some("Bearer tok-1"));
    client.logoff().await.unwrap();
    assert_eq!(fake.seen().len(), 2, "logoff sends nothing in ISPSS mode");
}

#[tokio::test(start_paused = true)]
async fn ispss_token_is_refreshed_before_expires_in_elapses() {
    let fake = ispss_fake(100).await;
    let client = ispss_client(&fake).await;
    tokio::time::advance(Duration::from_secs(79)).await;
    client.get_account("21_7").await.unwrap();
    assert_eq!(fake.count("/platformtoken"), 1, "still fresh at 79 s");
    tokio::time::advance(Duration::from_secs(2)).await;
    client.get_account("21_7").await.unwrap();
    assert_eq!(
        fake.count("/platformtoken"),
        2,
        "refreshed at 81 s, before the 100 s expiry"
    );
    assert_eq!(last(&fake).authorization.as_deref(), Some("Bearer tok-2"));
    assert!(fake.seen().iter().all(|s| !s.body.contains("PASWS006E")));
}

#[tokio::test(start_paused = true)]
async fn ispss_fetches_a_new_token_after_a_401() {
    let fake = ispss_fake(3600).await;
    let client = ispss_client(&fake).await;
    // Another client of the same fake takes token 2: ours (token 1) is now refused once.
    let _other = ispss_client(&fake).await;
    client.get_account("21_7").await.unwrap();
    assert_eq!(fake.count("/platformtoken"), 3);
    assert_eq!(last(&fake).authorization.as_deref(), Some("Bearer tok-3"));
}

#[tokio::test(start_paused = true)]
async fn ispss_bad_client_secret_is_an_oauth_refusal() {
    let fake = Fake::start(|_, _| {
        reply(401, r#"{"error":"invalid_client","error_description":"invalid client creds or client not allowed"}"#)
    })
    .await;
    let err = PvwaClient::logon_ispss(
        &fake.url,
        &fake.url,
        "svc",
        &SecretString::from("cs-hunter2"),
        None,
        resilience(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(401), Some("invalid_client"))
    );
    assert!(err.to_string().contains("identity"), "{err}");
    assert!(!format!("{err:?}").contains("hunter2"));
    assert_eq!(fake.seen().len(), 1, "refusals are not retried");
}

#[tokio::test(start_paused = true)]
async fn ispss_token_answer_without_access_token_is_a_protocol_error() {
    let fake = Fake::start(|_, _| reply(200, r#"{"token_type":"Bearer","expires_in":3600}"#)).await;
    let err = PvwaClient::logon_ispss(
        &fake.url,
        &fake.url,
        "svc",
        &SecretString::from("cs"),
        None,
        resilience(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            CyberArkError::Protocol {
                endpoint: "identity",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn ispss_accepts_the_privilege_cloud_url_with_the_application_path() {
    let fake = ispss_fake(3600).await;
    let client = PvwaClient::logon_ispss(
        &fake.url,
        &format!("{}/PasswordVault/", fake.url),
        "svc",
        &SecretString::from("cs"),
        None,
        resilience(),
    )
    .await
    .unwrap();
    client.get_account("21_7").await.unwrap();
    assert_eq!(last(&fake).path, "/PasswordVault/API/Accounts/21_7");
}
