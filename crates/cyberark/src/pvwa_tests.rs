//! Unit tests for the PVWA client's pure parts: the CPM polling loop (with paused tokio time),
//! account selection, URL building and the Debug impl.

use std::sync::{Arc, Mutex as StdMutex};

use super::*;
use crate::account::pick_account;
use arkbridge_core::config::PvwaAuthMethod;

fn account(status: Option<&str>, modified: Option<i64>) -> Account {
    Account {
        id: "77_4".into(),
        name: "payments-db".into(),
        safe_name: "Prod-DB".into(),
        user_name: None,
        address: None,
        platform_id: None,
        secret_management: crate::account::SecretManagement {
            automatic_management_enabled: Some(true),
            status: status.map(str::to_string),
            last_modified_time: modified,
        },
    }
}

/// A scripted fetch: returns the statuses in order (the last one repeats) and records the
/// (paused) instants of each call.
type Calls = Arc<StdMutex<Vec<tokio::time::Instant>>>;

fn script(
    statuses: Vec<(Option<&'static str>, Option<i64>)>,
) -> (
    impl FnMut() -> std::future::Ready<Result<Account, CyberArkError>>,
    Calls,
) {
    let calls = Arc::new(StdMutex::new(Vec::new()));
    let seen = calls.clone();
    let mut i = 0usize;
    let fetch = move || {
        seen.lock().unwrap().push(tokio::time::Instant::now());
        let (s, m) = statuses[i.min(statuses.len() - 1)];
        i += 1;
        std::future::ready(Ok(account(s, m)))
    };
    (fetch, calls)
}

#[tokio::test(start_paused = true)]
async fn polls_with_backoff_until_success() {
    let start = tokio::time::Instant::now();
    let (fetch, calls) = script(vec![
        (Some("inProcess"), None),
        (Some("inProcess"), None),
        (Some("inProcess"), None),
        (Some("inProcess"), None),
        (Some("success"), Some(5)),
    ]);
    let a = poll_cpm("77_4", Duration::from_secs(60), None, fetch)
        .await
        .unwrap();
    assert_eq!(a.secret_management.status.as_deref(), Some("success"));
    let offsets: Vec<u128> = calls
        .lock()
        .unwrap()
        .iter()
        .map(|t| (*t - start).as_millis())
        .collect();
    // 200, 400, 800, 1600 ms waits.
    assert_eq!(offsets, vec![0, 200, 600, 1400, 3000]);
}

#[tokio::test(start_paused = true)]
async fn interval_is_capped_at_two_seconds_and_deadline_wins() {
    let start = tokio::time::Instant::now();
    let (fetch, calls) = script(vec![(Some("inProcess"), None)]);
    let err = poll_cpm("77_4", Duration::from_secs(9), None, fetch)
        .await
        .unwrap_err();
    assert!(matches!(err, CyberArkError::CpmTimeout { ref account_id } if account_id == "77_4"));
    let offsets: Vec<u128> = calls
        .lock()
        .unwrap()
        .iter()
        .map(|t| (*t - start).as_millis())
        .collect();
    assert_eq!(offsets, vec![0, 200, 600, 1400, 3000, 5000, 7000, 9000]);
    assert_eq!(tokio::time::Instant::now() - start, Duration::from_secs(9));
}

#[tokio::test(start_paused = true)]
async fn failure_is_reported() {
    let (fetch, _) = script(vec![(Some("inProcess"), None), (Some("failure"), None)]);
    let err = poll_cpm("77_4", Duration::from_secs(10), None, fetch)
        .await
        .unwrap_err();
    assert!(matches!(err, CyberArkError::CpmFailed { ref status, .. } if status == "failure"));
    assert!(err.to_string().contains("77_4"));
}

#[tokio::test(start_paused = true)]
async fn stale_success_is_not_taken_for_a_new_change() {
    let (fetch, calls) = script(vec![
        (Some("success"), Some(100)),
        (Some("inProcess"), Some(100)),
        (Some("success"), Some(150)),
    ]);
    let a = poll_cpm("77_4", Duration::from_secs(10), Some(100), fetch)
        .await
        .unwrap();
    assert_eq!(a.secret_management.last_modified_time, Some(150));
    assert_eq!(calls.lock().unwrap().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn same_second_success_counts_after_seeing_the_cpm_at_work() {
    let (fetch, calls) = script(vec![
        (Some("success"), Some(100)),
        (Some("inProcess"), Some(100)),
        (Some("success"), Some(100)),
    ]);
    poll_cpm("77_4", Duration::from_secs(10), Some(100), fetch)
        .await
        .unwrap();
    assert_eq!(calls.lock().unwrap().len(), 3);
    let (fetch, _) = script(vec![(Some("success"), Some(100))]);
    let err = poll_cpm("77_4", Duration::from_secs(3), Some(100), fetch)
        .await
        .unwrap_err();
    assert!(matches!(err, CyberArkError::CpmTimeout { .. }));
}

#[tokio::test(start_paused = true)]
async fn zero_deadline_still_reads_once() {
    let (fetch, calls) = script(vec![(None, None)]);
    let err = poll_cpm("1_1", Duration::ZERO, None, fetch)
        .await
        .unwrap_err();
    assert!(matches!(err, CyberArkError::CpmTimeout { .. }));
    assert_eq!(calls.lock().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn fetch_errors_propagate() {
    let fetch = || {
        std::future::ready(Err::<Account, _>(CyberArkError::Unavailable {
            endpoint: "pvwa",
            detail: "down".into(),
            status: None,
            code: None,
        }))
    };
    let err = poll_cpm("1_1", Duration::from_secs(5), None, fetch)
        .await
        .unwrap_err();
    assert!(err.is_unavailable());
}

#[test]
fn picks_exact_then_case_insensitive_match() {
    let mut a = account(None, None);
    a.id = "1_1".into();
    a.name = "payments-db".into();
    let mut b = a.clone();
    b.id = "1_2".into();
    b.name = "Payments-DB".into();
    let picked = pick_account(vec![a.clone(), b.clone()], "Prod-DB", "payments-db").unwrap();
    assert_eq!(picked.unwrap().id, "1_1");
    let picked = pick_account(vec![b.clone()], "Prod-DB", "payments-db").unwrap();
    assert_eq!(picked.unwrap().id, "1_2");
    assert!(pick_account(vec![], "S", "n").unwrap().is_none());
    let err = pick_account(vec![a.clone(), b], "Prod-DB", "PAYMENTS-DB").unwrap_err();
    assert!(err.to_string().contains("1_1, 1_2"), "{err}");
}

#[test]
fn account_paths_are_checked() {
    assert_eq!(
        PvwaClient::account_path("77_4", "/Change").unwrap(),
        "API/Accounts/77_4/Change"
    );
    for bad in ["", "77/4", "../x", "a b", "7%2F"] {
        assert!(PvwaClient::account_path(bad, "").is_err(), "{bad}");
    }
}

#[test]
fn values_with_unsupported_characters_are_refused() {
    assert!(check_value("safe name", "Prod-DB").is_ok());
    for bad in ["a+b", "a&b", "100%", "", " ", "a\u{7}"] {
        assert!(check_value("safe name", bad).is_err(), "{bad:?}");
    }
    assert_eq!(enc("safeName eq Prod DB"), "safeName%20eq%20Prod%20DB");
}

#[test]
fn debug_hides_token_and_password() {
    let tls = crate::tls::client_config(None, None, None).unwrap();
    let c = PvwaClient {
        http: crate::tls::http_client(tls, REQUEST_TIMEOUT).unwrap(),
        app_base: url::Url::parse("https://pvwa.example.com/PasswordVault/").unwrap(),
        auth: PvwaAuth::Logon {
            method: PvwaAuthMethod::Ldap,
            username: "arkbridge-svc".into(),
            password: SecretString::from("pw-hunter2"),
        },
        token: Arc::new(Mutex::new(Session {
            token: SecretString::from("tok-hunter3"),
            refresh_at: None,
        })),
        resilience: Resilience::new("pvwa", RetryPolicy::default(), BreakerConfig::default()),
        page_size: DEFAULT_PAGE_SIZE,
    };
    let dbg = format!("{c:?}");
    assert!(
        dbg.contains("arkbridge-svc") && dbg.contains("Ldap"),
        "{dbg}"
    );
    assert!(!dbg.contains("hunter"), "{dbg}");
    let header = c.auth_header().unwrap();
    assert!(header.is_sensitive());
    assert!(!format!("{header:?}").contains("hunter3"));
}

#[tokio::test(start_paused = true)]
async fn stale_failure_does_not_end_the_wait_for_a_new_change() {
    let (fetch, calls) = script(vec![
        (Some("failure"), Some(100)),
        (Some("inProcess"), Some(100)),
        (Some("success"), Some(160)),
    ]);
    let a = poll_cpm("77_4", Duration::from_secs(10), Some(100), fetch)
        .await
        .unwrap();
    assert_eq!(a.secret_management.last_modified_time, Some(160));
    assert_eq!(calls.lock().unwrap().len(), 3);

    let (fetch, _) = script(vec![
        (Some("failure"), Some(100)),
        (Some("inProcess"), Some(100)),
        (Some("failure"), Some(100)),
    ]);
    let err = poll_cpm("77_4", Duration::from_secs(10), Some(100), fetch)
        .await
        .unwrap_err();
    assert!(
        matches!(err, CyberArkError::CpmFailed { .. }),
        "a new failure is reported"
    );
}
