//! Reference §1.5 and §1.7 (CCP error codes), checked end to end: the real `CcpClient` against
//! the simulator must turn each documented answer into the right typed error (refusal with its
//! HTTP status and code, or unavailability, or a change in progress), and the simulator must give
//! the documented status and body. Each test names the code it checks; the table in
//! `REFERENCE-COVERAGE.md` maps the reference rows to them.

mod common;

use std::time::Duration;

use arkbridge_cyberark::{CcpQuery, CyberArkError};
use common::{assert_refused, ccp, demo_seed, edit, raw, refusal_message, service, sim, sim_with};
use secrecy::ExposeSecret;

const DELAY: Duration = Duration::from_millis(50);

fn payments() -> CcpQuery {
    CcpQuery::for_account("Prod-DB", "payments-db").reason("reference test")
}

/// The demo seed plus a safe `Hidden` whose account exists but whose members do not include
/// the AppID.
fn hidden_seed() -> String {
    edit(
        &demo_seed(),
        "  - name: Integrations\n",
        "  - name: Hidden\n    accounts:\n      - name: hidden-acct\n        platformId: PostgreSQL\n        address: hidden.example.com\n        userName: hidden\n    members:\n      - { name: Administrator, type: user, permissions: full }\n\n  - name: Integrations\n",
    )
}

#[tokio::test]
async fn ccp_appap004e_for_a_missing_object_is_a_refusal_with_status_404() {
    let s = sim().await;
    let err = ccp(&s)
        .get(&CcpQuery::for_account("Prod-DB", "no-such-account"))
        .await
        .unwrap_err();
    assert_refused(&err, 404, "APPAP004E");
    // The CCP's key is `ErrorMsg` (not the PVWA's `ErrorMessage`); its text is kept.
    let msg = refusal_message(&err);
    assert!(
        msg.starts_with("Password object matching query [Safe=Prod-DB;Folder=Root;Object=no-such-account] was not found (Diagnostic Info: 5)."),
        "{msg}"
    );
}

#[tokio::test]
async fn ccp_appap004e_when_the_appid_is_not_a_safe_member_looks_like_not_found() {
    let s = sim_with(&hidden_seed(), DELAY).await;
    let client = ccp(&s);
    let denied = client
        .get(&CcpQuery::for_account("Hidden", "hidden-acct"))
        .await
        .unwrap_err();
    let missing = client
        .get(&CcpQuery::for_account("Hidden", "no-such-acct"))
        .await
        .unwrap_err();
    assert_refused(&denied, 404, "APPAP004E");
    assert_refused(&missing, 404, "APPAP004E");
    // Only the echoed query differs: nothing tells "not permitted" from "missing".
    assert_eq!(
        refusal_message(&denied).replace("hidden-acct", "X"),
        refusal_message(&missing).replace("no-such-acct", "X")
    );
}

#[tokio::test]
async fn ccp_appap004e_when_the_provider_user_lacks_permission() {
    // The Provider user (Prov_<host>) is a member of Prod-DB only: Prod-DB-RO, where the AppID
    // alone may retrieve, is then refused as not found.
    let seed = edit(
        &demo_seed(),
        "bridge:\n",
        "providerUser: Prov_sim\n\nbridge:\n",
    );
    let seed = edit(
        &seed,
        "      - { name: arkbridge, type: app, permissions: [listAccounts, retrieveAccounts] }\n",
        "      - { name: arkbridge, type: app, permissions: [listAccounts, retrieveAccounts] }\n      - { name: Prov_sim, type: provider, permissions: [listAccounts, retrieveAccounts] }\n",
    );
    let s = sim_with(&seed, DELAY).await;
    let client = ccp(&s);
    client.get(&payments()).await.unwrap();
    let err = client
        .get(&CcpQuery::for_account("Prod-DB-RO", "payments-db-ro"))
        .await
        .unwrap_err();
    assert_refused(&err, 404, "APPAP004E");
}

#[tokio::test]
async fn ccp_appap007e_is_unavailable_and_names_code_and_status_400() {
    let s = sim().await;
    s.handle.set_vault_down(true);
    let err = ccp(&s).get(&payments()).await.unwrap_err();
    assert!(
        matches!(
            err,
            CyberArkError::Unavailable {
                endpoint: "ccp",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), Some("APPAP007E"));
    assert_eq!(err.status(), Some(400));
    let text = err.to_string();
    assert!(text.contains("HTTP 400 APPAP007E"), "{text}");
    assert!(
        text.contains("Connection to the Vault has failed"),
        "{text}"
    );
}

#[tokio::test]
async fn ccp_appap008e_for_an_unknown_appid_is_a_refusal_with_status_403_naming_itats982e() {
    let s = sim().await;
    let mut cfg = s.config.cyberark.ccp.clone();
    cfg.app_id = "app11".into();
    let client =
        arkbridge_cyberark::CcpClient::with_resilience(&cfg, common::no_retry("ccp")).unwrap();
    let err = client.get(&payments()).await.unwrap_err();
    assert_refused(&err, 403, "APPAP008E");
    let msg = refusal_message(&err);
    assert!(msg.contains("ITATS982E User app11 is not defined"), "{msg}");
}

#[tokio::test]
async fn ccp_appap008e_for_a_disabled_application_is_a_refusal_with_status_403() {
    let seed = edit(
        &demo_seed(),
        "    certSubjectCN: arkbridge\n",
        "    certSubjectCN: arkbridge\n    disabled: true\n",
    );
    let s = sim_with(&seed, DELAY).await;
    let err = ccp(&s).get(&payments()).await.unwrap_err();
    assert_refused(&err, 403, "APPAP008E");
}

#[tokio::test]
async fn ccp_appap008e_for_an_expired_application_is_a_refusal_with_status_403() {
    let seed = edit(
        &demo_seed(),
        "    certSubjectCN: arkbridge\n",
        "    certSubjectCN: arkbridge\n    expirationDate: 2001-01-01\n",
    );
    let s = sim_with(&seed, DELAY).await;
    let err = ccp(&s).get(&payments()).await.unwrap_err();
    assert_refused(&err, 403, "APPAP008E");
    assert!(refusal_message(&err).contains("expired"), "{err:?}");
}

#[tokio::test]
async fn ccp_appap227e_when_the_query_matches_two_accounts_is_a_refusal_with_status_400() {
    let s = sim().await;
    // payments-db and payments-db-ro both have Database=payments.
    let query = CcpQuery {
        query: Some("Database=payments".into()),
        ..CcpQuery::default()
    };
    let err = ccp(&s).get(&query).await.unwrap_err();
    assert_refused(&err, 400, "APPAP227E");
}

#[tokio::test]
async fn ccp_appap282e_with_fail_request_on_password_change_is_a_change_in_progress_with_status_500()
 {
    // A CPM that never finishes during the test keeps the change in progress.
    let s = sim_with(&demo_seed(), Duration::from_secs(3600)).await;
    let svc = service(&s).await;
    let id = svc
        .find_account("Prod-DB", "payments-db")
        .await
        .unwrap()
        .unwrap()
        .id;
    svc.change(&id).await.unwrap();
    let query = CcpQuery {
        fail_request_on_password_change: true,
        ..payments()
    };
    let err = ccp(&s).get(&query).await.unwrap_err();
    assert!(
        matches!(err, CyberArkError::ChangeInProgress { .. }),
        "{err:?}"
    );
    assert_eq!((err.status(), err.code()), (Some(500), Some("APPAP282E")));
    assert!(!err.is_unavailable(), "a CPM change is no outage");
}

#[tokio::test]
async fn ccp_appap306e_from_a_machine_not_allowed_is_a_refusal_with_status_403() {
    let seed = edit(
        &demo_seed(),
        "allowedMachines: [127.0.0.1, localhost]",
        "allowedMachines: [10.9.9.9]",
    );
    let s = sim_with(&seed, DELAY).await;
    let err = ccp(&s).get(&payments()).await.unwrap_err();
    assert_refused(&err, 403, "APPAP306E");
}

#[tokio::test]
async fn ccp_appap306e_for_a_client_certificate_serial_mismatch_is_a_refusal_with_status_403() {
    // The generated client certificate has a random 64-bit or longer serial, never 0A0B0C.
    let seed = edit(
        &demo_seed(),
        "    certSubjectCN: arkbridge\n",
        "    certSubjectCN: arkbridge\n    certSerial: \"0A:0B:0C\"\n",
    );
    let s = sim_with(&seed, DELAY).await;
    let err = ccp(&s).get(&payments()).await.unwrap_err();
    assert_refused(&err, 403, "APPAP306E");
}

#[tokio::test]
async fn ccp_aimws030e_for_a_malformed_query_is_a_refusal_with_status_400() {
    let s = sim().await;
    let query = CcpQuery {
        query: Some("Safe".into()),
        ..CcpQuery::default()
    };
    let err = ccp(&s).get(&query).await.unwrap_err();
    assert_refused(&err, 400, "AIMWS030E");
}

#[tokio::test]
async fn ccp_client_refuses_an_empty_appid_before_sending() {
    // The CCP answers a missing AppID with 400 AIMWS031E; the client never sends one.
    let s = sim().await;
    let mut cfg = s.config.cyberark.ccp.clone();
    cfg.app_id = "  ".into();
    let err = arkbridge_cyberark::CcpClient::new(&cfg).unwrap_err();
    assert!(matches!(err, CyberArkError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("AppID"), "{err}");
}

#[tokio::test]
async fn sim_ccp_answers_aimws031e_when_the_appid_is_missing() {
    let s = sim().await;
    let (status, body) = raw::ccp_get(
        s.handle.info(),
        "/AIMWebService/api/Accounts?Safe=Prod-DB&Object=payments-db",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["ErrorCode"], "AIMWS031E");
    assert_eq!(
        body["ErrorMsg"],
        "Invalid request. The AppID parameter is required"
    );
    assert!(body.get("ErrorMessage").is_none(), "{body}");
}

#[tokio::test]
async fn sim_ccp_answers_aimws030e_for_an_appid_without_search_parameters() {
    let s = sim().await;
    let (status, body) = raw::ccp_get(
        s.handle.info(),
        "/AIMWebService/api/Accounts?AppID=arkbridge",
    )
    .await;
    assert_eq!(
        (status, body["ErrorCode"].as_str()),
        (400, Some("AIMWS030E"))
    );
}

#[tokio::test]
async fn ccp_password_change_in_process_is_the_string_true_during_a_change_without_the_fail_flag() {
    let s = sim_with(&demo_seed(), Duration::from_secs(3600)).await;
    let svc = service(&s).await;
    let id = svc
        .find_account("Prod-DB", "payments-db")
        .await
        .unwrap()
        .unwrap()
        .id;
    svc.change(&id).await.unwrap();
    let account = ccp(&s).get(&payments()).await.unwrap();
    assert_eq!(account.property("PasswordChangeInProcess"), Some("True"));
    assert!(account.password_change_in_process());
    assert!(!account.content().expose_secret().is_empty());
}
