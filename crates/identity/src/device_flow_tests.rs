//! Tests of the device authorization grant: the polling schedule on tokio's paused clock, the
//! token and refresh answers, and the refusal messages.

use serde_json::json;

use super::*;

#[test]
fn pending_waits_slow_down_adds_five_seconds_and_the_rest_fail() {
    assert_eq!(after_error("authorization_pending", 5), Next::Wait(5));
    assert_eq!(after_error("slow_down", 5), Next::Wait(10));
    assert_eq!(after_error("slow_down", 10), Next::Wait(15));
    for e in ["access_denied", "expired_token", "invalid_grant"] {
        assert_eq!(after_error(e, 5), Next::Fail(e.to_string()));
    }
}

/// Runs the poll loop against `answers` (OAuth error codes, or `"ok"` for tokens) and
/// returns its outcome and the seconds after the start at which each request was made.
async fn polled(
    expires_in: u64,
    answers: &[&str],
) -> (Result<TokenSet, DeviceFlowError>, Vec<u64>) {
    let start = Instant::now();
    let asked = std::cell::RefCell::new(Vec::new());
    let result = poll_loop(expires_in, 5, || {
        let n = {
            let mut asked = asked.borrow_mut();
            asked.push(start.elapsed().as_secs());
            asked.len() - 1
        };
        let answer = answers.get(n).copied().unwrap_or("authorization_pending");
        async move {
            Ok(if answer == "ok" {
                Ok(json!({"id_token": "i", "access_token": "a"}))
            } else {
                Err((answer.to_string(), None))
            })
        }
    })
    .await;
    (result, asked.into_inner())
}

#[tokio::test(start_paused = true)]
async fn polling_waits_the_interval_and_five_more_seconds_after_slow_down() {
    let (result, asked) = polled(
        600,
        &[
            "authorization_pending",
            "slow_down",
            "authorization_pending",
            "ok",
        ],
    )
    .await;
    assert!(result.is_ok());
    assert_eq!(asked, [5, 10, 20, 30]);
}

#[tokio::test(start_paused = true)]
async fn polling_stops_on_denial_on_expiry_and_at_the_deadline() {
    let (result, asked) = polled(600, &["authorization_pending", "access_denied"]).await;
    assert!(matches!(result, Err(DeviceFlowError::AccessDenied)));
    assert_eq!(asked, [5, 10]);
    let (result, _) = polled(600, &["expired_token"]).await;
    assert!(matches!(result, Err(DeviceFlowError::Expired)));
    let (result, asked) = polled(12, &[]).await;
    assert!(matches!(result, Err(DeviceFlowError::Expired)));
    assert_eq!(asked, [5, 10], "no request after the code's lifetime");
    let (result, _) = polled(600, &["invalid_grant"]).await;
    let err = result.err().unwrap().to_string();
    assert!(err.contains("invalid_grant"), "{err}");
}

#[test]
fn a_token_answer_needs_both_tokens_and_never_shows_them() {
    let set = tokens(json!({"id_token": "ID-SECRET", "access_token": "AT-SECRET",
        "expires_in": 3600}))
    .unwrap();
    assert_eq!(set.expires_in, Some(3600));
    let printed = format!("{set:?}");
    assert!(!printed.contains("SECRET"), "{printed}");
    let err = tokens(json!({"access_token": "AT-SECRET"}))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("id_token") && !err.contains("AT-SECRET"),
        "{err}"
    );
}

#[test]
fn refusals_name_the_oauth_error_and_its_description() {
    let e = DeviceFlowError::Refused {
        what: "device token request",
        error: "invalid_client".into(),
        description: Some("unknown client".into()),
    };
    assert_eq!(
        e.to_string(),
        "the provider refused the device token request: invalid_client (unknown client)"
    );
}

#[test]
fn a_refresh_answer_keeps_the_id_and_refresh_tokens_it_does_not_replace() {
    let old_refresh = SecretString::from("RT-OLD-SECRET".to_string());
    let old_id = SecretString::from("ID-OLD-SECRET".to_string());
    let rotated = refreshed(
        json!({"access_token": "AT-NEW", "refresh_token": "RT-NEW", "id_token": "ID-NEW",
            "expires_in": 300}),
        &old_refresh,
        &old_id,
    )
    .unwrap();
    assert_eq!(rotated.access_token.expose_secret(), "AT-NEW");
    assert_eq!(rotated.id_token.expose_secret(), "ID-NEW");
    assert_eq!(
        rotated.refresh_token.as_ref().unwrap().expose_secret(),
        "RT-NEW"
    );
    assert_eq!(rotated.expires_in, Some(300));
    let kept = refreshed(json!({"access_token": "AT-NEW"}), &old_refresh, &old_id).unwrap();
    assert_eq!(kept.id_token.expose_secret(), "ID-OLD-SECRET");
    assert_eq!(
        kept.refresh_token.as_ref().unwrap().expose_secret(),
        "RT-OLD-SECRET"
    );
    assert!(!format!("{kept:?}").contains("SECRET"));
    assert!(matches!(
        refreshed(json!({"id_token": "x"}), &old_refresh, &old_id),
        Err(DeviceFlowError::Malformed { .. })
    ));
}

#[test]
fn a_token_answer_keeps_the_refresh_token_when_there_is_one() {
    let set = tokens(json!({"id_token": "I", "access_token": "A", "refresh_token": "R"})).unwrap();
    assert_eq!(set.refresh_token.unwrap().expose_secret(), "R");
    let set = tokens(json!({"id_token": "I", "access_token": "A"})).unwrap();
    assert!(set.refresh_token.is_none());
}
