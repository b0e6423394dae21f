//! Reference §1.1–§1.7 (CCP quirks), checked end to end: `Query` overriding the single
//! parameters, the `Root` folder default, dual-account queries, the audit reason, the
//! string-valued CPM properties, parameter names and paths in any case, the configurable web
//! service name, redirects, and the simulator's faults (malformed body, dropped connection,
//! injected 500) as the client sees them.

mod common;

use std::time::Duration;

use arkbridge_cyberark::{
    BreakerConfig, CcpClient, CcpQuery, CyberArkError, QueryFormat, Resilience, RetryPolicy,
};
use arkbridge_sim::Faults;
use common::fake::{Canned, Fake, canned, ccp_config};
use common::{admin, ccp, demo_seed, edit, no_retry, raw, service, sim, sim_with};
use secrecy::ExposeSecret;

fn payments() -> CcpQuery {
    CcpQuery::for_account("Prod-DB", "payments-db")
}

#[tokio::test]
async fn ccp_query_overrides_the_safe_and_object_parameters() {
    let s = sim().await;
    let query = CcpQuery {
        query: Some("Safe=Prod-DB-RO;Object=payments-db-ro".into()),
        ..CcpQuery::for_account("No-Such-Safe", "no-such-object")
    };
    let account = ccp(&s).get(&query).await.unwrap();
    assert_eq!(account.property("UserName"), Some("payments_ro"));
}

#[tokio::test]
async fn ccp_folder_defaults_to_root_and_another_folder_finds_nothing() {
    let s = sim().await;
    let client = ccp(&s);
    let default = client.get(&payments()).await.unwrap();
    assert_eq!(default.property("Folder"), Some("Root"));
    let explicit = CcpQuery {
        folder: Some("Root".into()),
        ..payments()
    };
    assert_eq!(
        client.get(&explicit).await.unwrap().property("Name"),
        Some("payments-db")
    );
    let other = CcpQuery {
        folder: Some("Other".into()),
        ..payments()
    };
    let err = client.get(&other).await.unwrap_err();
    common::assert_refused(&err, 404, "APPAP004E");
}

#[tokio::test]
async fn ccp_query_format_exact_is_accepted() {
    let s = sim().await;
    let query = CcpQuery {
        query: Some("Safe=Prod-DB;Object=payments-db".into()),
        query_format: Some(QueryFormat::Exact),
        ..CcpQuery::default()
    };
    let account = ccp(&s).get(&query).await.unwrap();
    assert_eq!(account.property("Safe"), Some("Prod-DB"));
}

#[tokio::test]
async fn ccp_virtual_username_query_finds_the_current_member_of_a_dual_account() {
    let seed = edit(
        &demo_seed(),
        "          Database: payments\n",
        "          Database: payments\n          VirtualUsername: payments-dual\n",
    );
    let s = sim_with(&seed, Duration::from_millis(50)).await;
    let query = CcpQuery {
        query: Some("VirtualUsername=payments-dual".into()),
        ..CcpQuery::default()
    };
    let account = ccp(&s).get(&query).await.unwrap();
    assert_eq!(account.property("Name"), Some("payments-db"));
    assert_eq!(account.property("virtualusername"), Some("payments-dual"));
}

#[tokio::test]
async fn ccp_reason_with_spaces_is_percent_encoded_and_reaches_the_audit_log() {
    let s = sim().await;
    let client = ccp(&s);
    let query = payments().reason("run 42 by alice@example.com");
    assert!(
        client
            .request_url(&query)
            .unwrap()
            .contains("Reason=run%2042%20by%20alice%40example.com")
    );
    client.get(&query).await.unwrap();
    let adm = admin(&s).await;
    let id = adm
        .find_account("Prod-DB", "payments-db")
        .await
        .unwrap()
        .unwrap()
        .id;
    let activities = adm.account_activities(&id).await.unwrap();
    assert!(
        activities
            .iter()
            .any(|a| a.user == "arkbridge" && a.reason == "run 42 by alice@example.com"),
        "{activities:?}"
    );
}

#[tokio::test]
async fn ccp_cpm_properties_are_strings_read_ignoring_case() {
    let s = sim().await;
    let client = ccp(&s);
    // An account the CPM does not manage carries CPMDisabled.
    let manual = client
        .get(&CcpQuery::for_account("Integrations", "pvwa-arkbridge-svc"))
        .await
        .unwrap();
    assert_eq!(manual.property("cpmdisabled"), Some("No Reason"));
    // After a CPM change: status, last task, retries and the change time, all strings.
    let svc = service(&s).await;
    let id = svc
        .find_account("Prod-DB", "payments-db")
        .await
        .unwrap()
        .unwrap()
        .id;
    let before = svc.get_account(&id).await.unwrap();
    svc.change(&id).await.unwrap();
    svc.wait_for_change_after(
        &id,
        before.secret_management.last_modified_time,
        Duration::from_secs(20),
    )
    .await
    .unwrap();
    let account = client.get(&payments()).await.unwrap();
    assert_eq!(account.property("CPMStatus"), Some("success"));
    assert_eq!(account.property("LASTTASK"), Some("ChangeTask"));
    assert_eq!(account.property("RetriesCount"), Some("-1"));
    let changed: i64 = account
        .property("LastSuccessChange")
        .unwrap()
        .parse()
        .unwrap();
    assert!(changed > 1_600_000_000, "{changed}");
    assert_eq!(account.property("PasswordChangeInProcess"), Some("False"));
}

#[tokio::test]
async fn sim_ccp_matches_parameter_names_and_path_ignoring_case() {
    let s = sim().await;
    let info = s.handle.info();
    // Lower-case path with a trailing slash and names in any case.
    let (status, body) = raw::ccp_get(
        info,
        "/aimwebservice/API/accounts/?appid=arkbridge&SAFE=Prod-DB&object=payments-db",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["Name"], "payments-db");
    // AWX's spelling: AppId, Query, QueryFormat and a lower-case reason.
    let (status, body) = raw::ccp_get(
        info,
        "/AIMWebService/api/Accounts?AppId=arkbridge&Query=Safe%3DProd-DB%3BObject%3Dpayments-db\
         &QueryFormat=Exact&reason=awx%20lookup&ConnectionTimeout=30",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.as_object().unwrap().values().all(|v| v.is_string()));
}

#[tokio::test]
async fn ccp_web_service_name_is_configurable() {
    let fake = Fake::start(|_| canned(200, r#"{"Content":"x","UserName":"u"}"#)).await;
    let mut cfg = ccp_config(&fake.url);
    cfg.web_service = "AIMWebServiceCert".into();
    let client = CcpClient::with_resilience(&cfg, no_retry("ccp")).unwrap();
    client.get(&payments()).await.unwrap();
    assert_eq!(fake.seen()[0].path, "/AIMWebServiceCert/api/Accounts");
}

#[tokio::test]
async fn ccp_base_url_path_is_kept_unlike_awx_urljoin() {
    let fake = Fake::start(|_| canned(200, r#"{"Content":"x"}"#)).await;
    let cfg = ccp_config(&format!("{}/vault/ccp", fake.url));
    let client = CcpClient::with_resilience(&cfg, no_retry("ccp")).unwrap();
    client.get(&payments()).await.unwrap();
    let seen = &fake.seen()[0];
    assert_eq!(seen.path, "/vault/ccp/AIMWebService/api/Accounts");
    assert!(seen.query.starts_with("AppID=arkbridge&"), "{}", seen.query);
}

#[tokio::test]
async fn ccp_redirect_is_not_followed_and_is_a_protocol_error() {
    let fake = Fake::start(|req| {
        if req.path.starts_with("/elsewhere") {
            canned(200, r#"{"Content":"followed"}"#)
        } else {
            Canned {
                location: Some("/elsewhere/AIMWebService/api/Accounts".into()),
                ..canned(302, "")
            }
        }
    })
    .await;
    let err = fake.ccp().get(&payments()).await.unwrap_err();
    assert!(matches!(err, CyberArkError::Protocol { .. }), "{err:?}");
    assert_eq!(fake.seen().len(), 1, "the redirect was not followed");
}

#[tokio::test]
async fn ccp_malformed_body_fault_is_a_protocol_error_without_the_secret() {
    let s = sim().await;
    let client = ccp(&s);
    let secret = client.get(&payments()).await.unwrap();
    s.handle
        .set_faults(Faults {
            malformed_body: true,
            ..Faults::default()
        })
        .unwrap();
    let err = client.get(&payments()).await.unwrap_err();
    assert!(
        matches!(
            err,
            CyberArkError::Protocol {
                endpoint: "ccp",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!format!("{err:?} {err}").contains(secret.content().expose_secret()));
}

#[tokio::test]
async fn ccp_dropped_connection_fault_is_unavailable() {
    let s = sim().await;
    s.handle
        .set_faults(Faults {
            drop_connection: true,
            ..Faults::default()
        })
        .unwrap();
    let err = ccp(&s).get(&payments()).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    // Nothing answered, so there is no HTTP status or CyberArk code to report.
    assert_eq!((err.status(), err.code()), (None, None), "{err:?}");
}

#[tokio::test]
async fn ccp_injected_server_error_is_unavailable_and_retried() {
    let s = sim().await;
    // Rate 0.5 fails every second request, counted from when the faults are set.
    let half = Faults {
        error_rate: 0.5,
        ..Faults::default()
    };
    s.handle.set_faults(half.clone()).unwrap();
    let once = ccp(&s);
    once.get(&payments()).await.unwrap();
    let err = once.get(&payments()).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    // The simulator tags an injected error with its own code; the client keeps it.
    assert_eq!(
        (err.status(), err.code()),
        (Some(500), Some("ARKSIM500E")),
        "{err:?}"
    );
    assert!(err.to_string().contains("HTTP 500"), "{err}");

    s.handle.set_faults(half).unwrap();
    let retry = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
    };
    let retrying = CcpClient::with_resilience(
        &s.config.cyberark.ccp,
        Resilience::new("ccp", retry, BreakerConfig::default()),
    )
    .unwrap();
    retrying.get(&payments()).await.unwrap();
    // The second request fails with 500 and its retry (the third request) succeeds.
    retrying.get(&payments()).await.unwrap();
}
