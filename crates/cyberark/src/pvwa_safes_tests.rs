//! Tests of safe and safe-member administration against the local fake server: methods, paths
//! (URL-encoded safe ids, the member trailing slash), bodies, paging through `nextLink`, local
//! validation (nothing sent) and the typed `SFWS` refusals.

use secrecy::SecretString;
use serde_json::{Value, json};

use crate::fake::{Fake, Reply, Seen, TOKEN_JSON, pvwa_config, reply};
use crate::{
    BreakerConfig, CyberArkError, MemberId, MemberType, NewSafeMember, Permissions, PvwaClient,
    Resilience, Retention, RetryPolicy, SafeRefusal, SafeSettings,
};

/// A PVWA fake: logon succeeds, every other request answers `other(request)`.
async fn fake(other: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> (Fake, PvwaClient) {
    let fake = Fake::start(move |req, _| {
        if req.path.ends_with("/Logon") {
            reply(200, TOKEN_JSON)
        } else {
            other(req)
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

/// The last request other than the logon.
fn last(fake: &Fake) -> Seen {
    fake.seen().into_iter().last().unwrap()
}

fn body(seen: &Seen) -> Value {
    serde_json::from_str(&seen.body).unwrap_or(Value::Null)
}

const SAFE: &str = r#"{"safeUrlId":"Prod%20DB","safeName":"Prod DB","safeNumber":21,
    "creationTime":1700000000,"lastModificationTime":1700000000123456}"#;

fn member_json(name: &str, id: &str) -> String {
    format!(
        r#"{{"safeName":"Prod DB","memberId":{id},"memberName":"{name}","memberType":"User",
            "permissions":{{"listAccounts":true,"useAccounts":true,"retrieveAccounts":true}}}}"#
    )
}

#[tokio::test(start_paused = true)]
async fn list_safes_follows_next_link_until_it_is_missing() {
    let (fake, client) = fake(|req| {
        if req.query.contains("offset=2") {
            reply(200, r#"{"value":[{"safeName":"C"}],"count":3}"#)
        } else {
            reply(
                200,
                r#"{"value":[{"safeName":"A"},{"safeName":"B"}],"count":3,"nextLink":"api/Safes?offset=2&limit=2"}"#,
            )
        }
    })
    .await;
    let safes = client.list_safes(Some("prod db")).await.unwrap();
    let names: Vec<&str> = safes.iter().map(|s| s.safe_name.as_str()).collect();
    assert_eq!(names, ["A", "B", "C"]);
    let seen = fake.seen();
    assert_eq!(seen[1].path, "/PasswordVault/API/Safes");
    assert_eq!(seen[1].query, "limit=100&search=prod%20db");
    assert_eq!(seen[2].path, "/PasswordVault/api/Safes");
    // The search the server left out of nextLink is carried over.
    assert_eq!(seen[2].query, "offset=2&limit=2&search=prod%20db");
    assert_eq!(seen.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn get_safe_uses_the_url_encoded_name() {
    let (fake, client) = fake(|_| reply(200, SAFE)).await;
    let safe = client.get_safe("Prod DB").await.unwrap();
    assert_eq!(safe.safe_url_id, "Prod%20DB");
    assert_eq!(safe.last_modification_time, Some(1_700_000_000));
    let req = last(&fake);
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("GET", "/PasswordVault/API/Safes/Prod%20DB")
    );
}

#[tokio::test(start_paused = true)]
async fn add_safe_posts_the_settings() {
    let (fake, client) = fake(|_| reply(201, SAFE)).await;
    let settings = SafeSettings {
        description: Some("databases".into()),
        managing_cpm: Some("PasswordManager".into()),
        retention: Some(Retention::Days(7)),
        ..SafeSettings::default()
    };
    let safe = client.add_safe("Prod DB", &settings).await.unwrap();
    assert_eq!(safe.safe_name, "Prod DB");
    let req = last(&fake);
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/PasswordVault/API/Safes")
    );
    assert_eq!(
        body(&req),
        json!({"safeName":"Prod DB","description":"databases","managingCPM":"PasswordManager","numberOfDaysRetention":7})
    );
}

#[tokio::test(start_paused = true)]
async fn add_safe_with_a_forbidden_name_sends_nothing() {
    let (fake, client) = fake(|_| reply(201, SAFE)).await;
    for bad in ["Prod.DB", "a/b", "x+y", "q?", "p%", &"n".repeat(29)] {
        let err = client
            .add_safe(bad, &SafeSettings::default())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                CyberArkError::Invalid {
                    field: "safeName",
                    ..
                }
            ),
            "{bad}: {err:?}"
        );
    }
    assert_eq!(fake.seen().len(), 1, "only the logon went out");
}

#[tokio::test(start_paused = true)]
async fn add_existing_safe_is_the_sfws0002_refusal() {
    let (_fake, client) = fake(|_| {
        reply(
            409,
            r#"{"ErrorCode":"SFWS0002","ErrorMessage":"Safe [Prod] has already been defined."}"#,
        )
    })
    .await;
    let err = client
        .add_safe("Prod", &SafeSettings::default())
        .await
        .unwrap_err();
    assert_eq!(err.safe_refusal(), Some(SafeRefusal::AlreadyExists));
    assert_eq!((err.status(), err.code()), (Some(409), Some("SFWS0002")));
    assert!(!err.is_unavailable());
}

#[tokio::test(start_paused = true)]
async fn update_safe_puts_the_current_or_new_name() {
    let (fake, client) = fake(|_| reply(200, SAFE)).await;
    let settings = SafeSettings {
        description: Some("new".into()),
        ..SafeSettings::default()
    };
    client
        .update_safe("Prod DB", None, &settings)
        .await
        .unwrap();
    let req = last(&fake);
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("PUT", "/PasswordVault/API/Safes/Prod%20DB")
    );
    assert_eq!(
        body(&req),
        json!({"safeName":"Prod DB","description":"new"})
    );
    client
        .update_safe("Prod DB", Some("Prod-DB-2"), &SafeSettings::default())
        .await
        .unwrap();
    assert_eq!(body(&last(&fake)), json!({"safeName":"Prod-DB-2"}));
    let err = client
        .update_safe("Prod DB", Some("Prod:DB"), &SafeSettings::default())
        .await
        .unwrap_err();
    assert!(matches!(err, CyberArkError::Invalid { .. }), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn delete_safe_accepts_204_and_reports_a_missing_safe() {
    let (fake, client) = fake(|req| {
        if req.path.ends_with("/Gone") {
            reply(
                404,
                r#"{"ErrorCode":"SFWS0007","ErrorMessage":"Safe [Gone] was not found."}"#,
            )
        } else {
            reply(204, "")
        }
    })
    .await;
    client.delete_safe("Prod DB").await.unwrap();
    assert_eq!(last(&fake).method, "DELETE");
    let err = client.delete_safe("Gone").await.unwrap_err();
    assert_eq!(err.safe_refusal(), Some(SafeRefusal::NotFound));
}

#[tokio::test(start_paused = true)]
async fn list_safe_members_filters_on_member_type() {
    let one = format!(
        r#"{{"value":[{}],"count":1}}"#,
        member_json("ops", "\"g-1\"")
    );
    let (fake, client) = fake(move |_| reply(200, &one)).await;
    let members = client
        .list_safe_members("Prod DB", Some(MemberType::Group))
        .await
        .unwrap();
    assert_eq!(members[0].member_id, Some(MemberId::Text("g-1".into())));
    let req = last(&fake);
    assert_eq!(req.path, "/PasswordVault/API/Safes/Prod%20DB/Members");
    assert_eq!(req.query, "limit=100&filter=memberType%20eq%20group");
    client.list_safe_members("Prod DB", None).await.unwrap();
    assert_eq!(last(&fake).query, "limit=100");
}

#[tokio::test(start_paused = true)]
async fn get_safe_member_keeps_the_trailing_slash() {
    let m = member_json("user@cyber.com", "217");
    let (fake, client) = fake(move |_| reply(200, &m)).await;
    let member = client
        .get_safe_member("Prod DB", "user@cyber.com")
        .await
        .unwrap();
    assert_eq!(member.member_id, Some(MemberId::Number(217)));
    assert_eq!(member.permissions.set_name(), Some("read_only"));
    assert_eq!(
        last(&fake).path,
        "/PasswordVault/API/Safes/Prod%20DB/Members/user%40cyber.com/"
    );
}

#[tokio::test(start_paused = true)]
async fn add_safe_member_posts_all_22_permissions() {
    let m = member_json("alice", "218");
    let (fake, client) = fake(move |_| reply(201, &m)).await;
    let member = client
        .add_safe_member(
            "Prod DB",
            &NewSafeMember::new("alice", Permissions::read_only()),
        )
        .await
        .unwrap();
    assert_eq!(member.member_name, "alice");
    let req = last(&fake);
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/PasswordVault/API/Safes/Prod%20DB/Members")
    );
    let b = body(&req);
    assert_eq!(b["memberName"], "alice");
    assert_eq!(b["searchIn"], "Vault");
    assert_eq!(
        b["permissions"],
        serde_json::to_value(Permissions::read_only()).unwrap()
    );
    let err = client
        .add_safe_member("Prod DB", &NewSafeMember::new("a|b", Permissions::none()))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        CyberArkError::Invalid {
            field: "memberName",
            ..
        }
    ));
}

#[tokio::test(start_paused = true)]
async fn member_refusals_carry_their_sfws_codes() {
    let (_fake, client) = fake(|req| match req.method.as_str() {
        "POST" => reply(
            409,
            r#"{"ErrorCode":"SFWS0012","ErrorMessage":"already a member"}"#,
        ),
        _ => reply(
            400,
            r#"{"ErrorCode":"SFWS0013","ErrorMessage":"own membership"}"#,
        ),
    })
    .await;
    let err = client
        .add_safe_member("S", &NewSafeMember::new("alice", Permissions::full()))
        .await
        .unwrap_err();
    assert_eq!(err.safe_refusal(), Some(SafeRefusal::AlreadyMember));
    let err = client
        .update_safe_member("S", "me", &Permissions::full(), None)
        .await
        .unwrap_err();
    assert_eq!(err.safe_refusal(), Some(SafeRefusal::OwnMembership));
    assert_eq!(err.status(), Some(400));
}

#[tokio::test(start_paused = true)]
async fn update_and_remove_safe_member_use_put_and_delete_with_trailing_slash() {
    let m = member_json("alice", "218");
    let (fake, client) = fake(move |req| {
        if req.method == "DELETE" {
            reply(204, "")
        } else {
            reply(200, &m)
        }
    })
    .await;
    client
        .update_safe_member(
            "Prod DB",
            "alice",
            &Permissions::approver(),
            Some(1_900_000_000),
        )
        .await
        .unwrap();
    let req = last(&fake);
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("PUT", "/PasswordVault/API/Safes/Prod%20DB/Members/alice/")
    );
    assert_eq!(body(&req)["membershipExpirationDate"], 1_900_000_000);
    assert_eq!(body(&req)["permissions"]["manageSafeMembers"], true);
    client.remove_safe_member("Prod DB", "alice").await.unwrap();
    let req = last(&fake);
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        (
            "DELETE",
            "/PasswordVault/API/Safes/Prod%20DB/Members/alice/"
        )
    );
}

#[tokio::test(start_paused = true)]
async fn admin_writes_are_not_retried_after_a_server_error() {
    let (fake, client) = fake(|_| reply(503, "")).await;
    let err = client.delete_safe("Prod").await.unwrap_err();
    assert!(err.is_unavailable());
    assert_eq!(fake.count("/Safes/Prod"), 1);
    client.get_safe("Prod").await.unwrap_err();
    assert_eq!(
        fake.count("/Safes/Prod"),
        4,
        "GETs are retried (3 attempts)"
    );
}

#[tokio::test(start_paused = true)]
async fn next_link_that_drops_the_filter_gets_it_back() {
    let (fake, client) = fake(|req| {
        if req.query.contains("offset=1") {
            reply(200, r#"{"value":[],"count":2}"#)
        } else {
            reply(
                200,
                r#"{"value":[],"count":2,"nextLink":"api/Safes/S/Members?offset=1&limit=1"}"#,
            )
        }
    })
    .await;
    let client = client.with_page_size(1);
    client
        .list_safe_members("S", Some(MemberType::User))
        .await
        .unwrap();
    assert_eq!(
        last(&fake).query,
        "offset=1&limit=1&filter=memberType%20eq%20user"
    );
}
