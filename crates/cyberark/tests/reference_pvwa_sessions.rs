//! Reference §2.2, §2.12 and §7 (PVWA sessions), checked end to end with the real `PvwaClient`
//! against the simulator: a RADIUS challenge (500 ITATS542I) is a refusal that is neither retried
//! nor counted as an outage, the 301st concurrent session of a user is refused with ITATS004E
//! until the client's own logoff frees a slot, and a load-balancer node switch costs exactly one
//! new logon. One test counts the RADIUS logon requests on the canned-answer server instead,
//! because the simulator keeps no record of a challenge.

mod common;

use std::time::Duration;

use arkbridge_core::config::PvwaAuthMethod;
use arkbridge_cyberark::{
    BreakerConfig, CircuitState, CyberArkError, PvwaAuth, PvwaClient, Resilience, RetryPolicy,
};
use arkbridge_sim::SimInfo;
use common::fake::{Fake, canned};
use common::{ADMIN_PASSWORD, Sim, assert_refused, demo_seed, edit, raw, refusal_message, service};
use secrecy::SecretString;
use serde_json::json;

/// Three attempts with 1 ms waits behind a breaker that opens at the first unavailable answer:
/// an answer wrongly taken for an outage would be retried into the open circuit and come back
/// as `Unavailable`, and would leave the breaker open.
fn retrying() -> Resilience {
    let retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
    };
    let breaker = BreakerConfig {
        failure_threshold: 1,
        cool_down: Duration::from_secs(600),
    };
    Resilience::new("pvwa", retry, breaker)
}

/// The demo seed plus a RADIUS user `radius-user` (`radius-pass-1`) who is challenged for the
/// passcode `246810`, and a RADIUS user `radius-plain` (`radius-pass-2`) who is not; both hold
/// the read-only set on Prod-DB.
fn radius_seed() -> String {
    let seed = edit(
        &demo_seed(),
        "pvwaUsers:\n",
        "pvwaUsers:\n  - username: radius-user\n    password: radius-pass-1\n    authType: RADIUS\n    radiusOtp: \"246810\"\n  - username: radius-plain\n    password: radius-pass-2\n    authType: RADIUS\n",
    );
    edit(
        &seed,
        "      - { name: Administrator, type: user, permissions: full }\n",
        "      - { name: Administrator, type: user, permissions: full }\n      - { name: radius-user, type: user, permissions: read-only }\n      - { name: radius-plain, type: user, permissions: read-only }\n",
    )
}

/// The bridge's PVWA settings with another user and logon method.
async fn logon_as(
    s: &Sim,
    method: PvwaAuthMethod,
    user: &str,
    password: &str,
    resilience: Resilience,
) -> Result<PvwaClient, CyberArkError> {
    let mut cfg = s.config.cyberark.pvwa.clone();
    cfg.auth_method = method;
    cfg.username = user.into();
    PvwaClient::logon_with(&cfg, &SecretString::from(password), resilience).await
}

#[tokio::test]
async fn pvwa_radius_challenge_itats542i_is_a_refusal_with_status_500_and_is_not_retried() {
    let s = common::sim_with(&radius_seed(), Duration::from_millis(50)).await;
    let resilience = retrying();
    let err = logon_as(
        &s,
        PvwaAuthMethod::Radius,
        "radius-user",
        "radius-pass-1",
        resilience.clone(),
    )
    .await
    .unwrap_err();
    assert_refused(&err, 500, "ITATS542I");
    let message = refusal_message(&err);
    assert!(message.contains("RADIUS challenge"), "{message}");
    assert!(!format!("{err:?} {err}").contains("radius-pass-1"));
    assert_eq!(
        resilience.breaker().state(),
        CircuitState::Closed,
        "a challenge is an answer, not an outage"
    );
    // The same logon path serves a RADIUS user the server does not challenge.
    let plain = logon_as(
        &s,
        PvwaAuthMethod::Radius,
        "radius-plain",
        "radius-pass-2",
        retrying(),
    )
    .await
    .unwrap();
    let found = plain.find_account("Prod-DB", "payments-db").await.unwrap();
    assert!(found.is_some(), "the RADIUS session works");
}

#[tokio::test]
async fn pvwa_radius_challenge_is_sent_once_even_with_retries_allowed() {
    // The canned server counts the logon requests, which the simulator does not expose.
    let body = json!({
        "ErrorCode": "ITATS542I",
        "ErrorMessage": "Enter the one-time passcode from your authenticator (RADIUS challenge)."
    })
    .to_string();
    let fake = Fake::start_all(move |_| canned(500, &body)).await;
    let resilience = retrying();
    let auth = PvwaAuth::Logon {
        method: PvwaAuthMethod::Radius,
        username: "radius-user".into(),
        password: SecretString::from("radius-pass-1"),
    };
    let err = PvwaClient::connect(&fake.url, "PasswordVault", auth, None, resilience.clone())
        .await
        .unwrap_err();
    assert_refused(&err, 500, "ITATS542I");
    let paths: Vec<String> = fake.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/PasswordVault/API/auth/RADIUS/Logon"]);
    assert_eq!(resilience.breaker().state(), CircuitState::Closed);
}

/// Opens `n` concurrent sessions of `user` over one connection pool.
async fn open_sessions(info: &SimInfo, user: &str, password: &str, n: usize) {
    let c = raw::client(info, false);
    let url = format!("{}/PasswordVault/API/auth/Cyberark/Logon", info.pvwa_url);
    let body = json!({"username": user, "password": password, "concurrentSession": true});
    for i in 0..n {
        let (status, token) = raw::answer(c.post(&url).json(&body).send().await.unwrap()).await;
        assert_eq!(status, 200, "session {i}: {token}");
    }
}

#[tokio::test]
async fn pvwa_301st_concurrent_session_is_an_itats004e_refusal_until_the_client_logs_off() {
    let s = common::sim().await;
    let info = s.handle.info().clone();
    open_sessions(&info, &info.pvwa_user, &info.pvwa_password, 299).await;
    // The client's own session is the 300th: it always asks for a concurrent session.
    let first = service(&s).await;
    let resilience = retrying();
    let err = logon_as(
        &s,
        PvwaAuthMethod::CyberArk,
        &info.pvwa_user,
        &info.pvwa_password,
        resilience.clone(),
    )
    .await
    .unwrap_err();
    assert_refused(&err, 403, "ITATS004E");
    assert!(refusal_message(&err).contains("300"), "{err:?}");
    assert_eq!(resilience.breaker().state(), CircuitState::Closed);
    // The limit is per user: the Administrator still logs on.
    common::admin(&s).await;
    // The client's logoff really ends its session and frees the slot.
    first.logoff().await.unwrap();
    let second = service(&s).await;
    assert_eq!(
        second.get_safe("Prod-DB").await.unwrap().safe_name,
        "Prod-DB"
    );
}

/// How many successful logons of `user` the Vault-wide audit holds.
async fn logons_of(info: &SimInfo, user: &str) -> usize {
    let resp = raw::client(info, false)
        .get(format!("{}/__arkbridge_sim/activities", info.pvwa_url))
        .basic_auth("Administrator", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    let (status, log) = raw::answer(resp).await;
    assert_eq!(status, 200, "{log}");
    log["Activities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["Action"] == "Logon" && a["User"] == user)
        .count()
}

#[tokio::test]
async fn pvwa_logs_on_again_once_after_a_load_balancer_node_switch() {
    let s = common::sim().await;
    let info = s.handle.info().clone();
    let svc = service(&s).await;
    svc.get_safe("Prod-DB").await.unwrap();
    assert_eq!(logons_of(&info, &info.pvwa_user).await, 1);
    for (switch, node) in [(1, 2), (2, 3)] {
        assert_eq!(s.handle.switch_pvwa_node(), node);
        // The new node answers 401 PASWS006E to the old token; the client logs on there once.
        let safe = svc.get_safe("Prod-DB").await.unwrap();
        assert_eq!(safe.safe_name, "Prod-DB");
        svc.get_safe("Prod-DB").await.unwrap();
        assert_eq!(
            logons_of(&info, &info.pvwa_user).await,
            1 + switch,
            "one new logon per switch, none per call"
        );
    }
}
