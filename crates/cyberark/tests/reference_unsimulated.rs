//! Reference §1.5, §2.2 and §2.12: error codes the reference lists that no simulated situation
//! produces (the simulator implements the situations it can model faithfully; these come from
//! documentation tables and client code, some with an unverified status). The real clients are
//! driven against a canned-answer server, and each answer must become a refusal that keeps its
//! HTTP status and code (never an outage, so never a read-only fallback), with the PVWA's
//! re-logon reserved for PASWS006E.

mod common;

use arkbridge_cyberark::{CcpQuery, CyberArkError};
use common::fake::{Fake, canned};
use common::{assert_refused, refusal_message};

fn query() -> CcpQuery {
    CcpQuery::for_account("Prod-DB", "payments-db")
}

/// The error the CCP client makes of a canned answer.
async fn ccp_error(status: u16, code: &str, message: &str) -> CyberArkError {
    let body = serde_json::json!({"ErrorCode": code, "ErrorMsg": message}).to_string();
    let fake = Fake::start(move |_| canned(status, &body)).await;
    fake.ccp().get(&query()).await.unwrap_err()
}

/// The error the PVWA client makes of a canned answer to `GET /API/Accounts/{id}`, and how many
/// logons it made.
async fn pvwa_error(status: u16, body: serde_json::Value) -> (CyberArkError, usize) {
    let body = body.to_string();
    let fake = Fake::start(move |_| canned(status, &body)).await;
    let err = fake.pvwa().await.get_account("77_4").await.unwrap_err();
    let logons = fake
        .seen()
        .iter()
        .filter(|s| s.path.ends_with("/Logon"))
        .count();
    (err, logons)
}

#[tokio::test]
async fn ccp_appap228e_too_many_objects_is_a_refusal_with_status_400() {
    let err = ccp_error(400, "APPAP228E", "Too many objects").await;
    assert_refused(&err, 400, "APPAP228E");
}

#[tokio::test]
async fn ccp_appap229e_too_many_objects_is_a_refusal_with_status_400() {
    let err = ccp_error(400, "APPAP229E", "Too many objects").await;
    assert_refused(&err, 400, "APPAP229E");
}

#[tokio::test]
async fn ccp_appap081e_invalid_request_content_is_a_refusal_with_status_400() {
    let err = ccp_error(400, "APPAP081E", "Request message content is invalid").await;
    assert_refused(&err, 400, "APPAP081E");
}

#[tokio::test]
async fn ccp_casvl010e_invalid_user_name_characters_is_a_refusal_with_status_400() {
    let err = ccp_error(400, "CASVL010E", "Invalid characters in User Name").await;
    assert_refused(&err, 400, "CASVL010E");
}

#[tokio::test]
async fn ccp_aimws031e_missing_appid_is_a_refusal_with_status_400() {
    let message = "Invalid request. The AppID parameter is required";
    let err = ccp_error(400, "AIMWS031E", message).await;
    assert_refused(&err, 400, "AIMWS031E");
    assert_eq!(refusal_message(&err), message);
}

#[tokio::test]
async fn ccp_unverified_appap_codes_are_refusals_that_keep_their_code() {
    for code in [
        "APPAP005E",
        "APPAP249E",
        "APPAP324E",
        "APPAP087E",
        "APPAP132E",
    ] {
        let err = ccp_error(400, code, "unverified").await;
        assert_refused(&err, 400, code);
    }
}

/// The error the PVWA client makes of a logon answered with `status` and `body`.
async fn logon_error(status: u16, body: serde_json::Value) -> CyberArkError {
    let body = body.to_string();
    let fake = Fake::start_all(move |_| canned(status, &body)).await;
    fake.pvwa_logon().await.unwrap_err()
}

#[tokio::test]
async fn pvwa_logon_409_password_expired_is_a_refusal_without_a_code() {
    let fake = Fake::start_all(|_| canned(409, "")).await;
    let err = fake.pvwa_logon().await.unwrap_err();
    assert!(matches!(err, CyberArkError::Refused { .. }), "{err:?}");
    assert_eq!((err.status(), err.code()), (Some(409), None));
    assert!(!err.is_unavailable());
}

#[tokio::test]
async fn pvwa_logon_itats002e_suspended_user_is_a_refusal_keeping_its_code() {
    let body = serde_json::json!({"ErrorCode": "ITATS002E", "ErrorMessage": "User is suspended."});
    let err = logon_error(403, body).await;
    assert_refused(&err, 403, "ITATS002E");
}

#[tokio::test]
async fn pvwa_logon_refusals_itats005e_itats006e_itats009e_keep_their_code() {
    for code in ["ITATS005E", "ITATS006E", "ITATS009E"] {
        let body = serde_json::json!({"ErrorCode": code, "ErrorMessage": "logon refused"});
        let err = logon_error(403, body).await;
        assert_refused(&err, 403, code);
    }
}

#[tokio::test]
async fn pvwa_pasws013e_authentication_failed_is_a_refusal_without_a_new_logon() {
    let body =
        serde_json::json!({"ErrorCode": "PASWS013E", "ErrorMessage": "Authentication failed"});
    let (err, logons) = pvwa_error(401, body).await;
    assert_refused(&err, 401, "PASWS013E");
    assert_eq!(logons, 1, "only PASWS006E means the token is gone");
}

#[tokio::test]
async fn pvwa_pasws006e_is_retried_after_exactly_one_new_logon() {
    let body = serde_json::json!({
        "ErrorCode": "PASWS006E",
        "ErrorMessage": "The session token is missing, invalid or expired."
    });
    let (err, logons) = pvwa_error(401, body).await;
    assert_refused(&err, 401, "PASWS006E");
    assert_eq!(logons, 2, "one logon, one re-logon, no loop");
}

#[tokio::test]
async fn pvwa_pasws018e_non_numeric_parameter_is_a_refusal_with_status_400() {
    let body = serde_json::json!({
        "ErrorCode": "PASWS018E",
        "ErrorMessage": "Input parameter for [limit] value should be numeric."
    });
    let (err, _) = pvwa_error(400, body).await;
    assert_refused(&err, 400, "PASWS018E");
}

#[tokio::test]
async fn pvwa_pasws291e_builtin_administrator_refusal_keeps_its_code() {
    // Status unverified in the reference; any 4xx must stay a refusal with its code.
    let body = serde_json::json!({"ErrorCode": "PASWS291E", "ErrorMessage": "not for the built-in Administrator"});
    let (err, _) = pvwa_error(403, body).await;
    assert_refused(&err, 403, "PASWS291E");
}

#[tokio::test]
async fn pvwa_itats127e_account_locked_is_a_refusal_keeping_its_code() {
    // Status unverified in the reference; any 4xx must stay a refusal with its code.
    let body = serde_json::json!({"ErrorCode": "ITATS127E", "ErrorMessage": "Account is locked."});
    let (err, _) = pvwa_error(403, body).await;
    assert_refused(&err, 403, "ITATS127E");
}

#[tokio::test]
async fn pvwa_content_of_account_not_found_404_without_a_code_is_a_refusal() {
    let body = serde_json::json!({"ErrorMessage": "Content of account was not found."});
    let (err, _) = pvwa_error(404, body).await;
    assert!(matches!(err, CyberArkError::Refused { .. }), "{err:?}");
    assert_eq!((err.status(), err.code()), (Some(404), None));
    assert_eq!(refusal_message(&err), "Content of account was not found.");
}

#[tokio::test]
async fn pvwa_application_name_is_configurable() {
    let account = r#"{"id":"77_4","name":"payments-db","safeName":"Prod-DB"}"#;
    let fake = Fake::start(move |_| canned(200, account)).await;
    let auth = arkbridge_cyberark::PvwaAuth::Logon {
        method: arkbridge_core::config::PvwaAuthMethod::CyberArk,
        username: "arkbridge-svc".into(),
        password: secrecy::SecretString::from("pw-not-a-real-one"),
    };
    let pvwa = arkbridge_cyberark::PvwaClient::connect(
        &fake.url,
        "PVWA-Cert",
        auth,
        None,
        common::no_retry("pvwa"),
    )
    .await
    .unwrap();
    assert_eq!(pvwa.get_account("77_4").await.unwrap().id, "77_4");
    let paths: Vec<String> = fake.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(
        paths,
        [
            "/PVWA-Cert/API/auth/Cyberark/Logon",
            "/PVWA-Cert/API/Accounts/77_4"
        ]
    );
}
