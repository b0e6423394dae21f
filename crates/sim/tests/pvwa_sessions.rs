//! PVWA sessions: the 300-session limit, logon methods (CyberArk, LDAP, RADIUS with its
//! challenge), the load balancer's node switch, and the Vault-wide audit of logons.

mod common;

use std::time::Duration;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

/// The demo seed plus an LDAP user `ldap-user` (`ldap-pass-1`), a RADIUS user `radius-user`
/// (`radius-pass-1`, passcode `246810`) and a RADIUS user without a challenge `radius-plain`
/// (`radius-pass-2`); all are Prod-DB members with `connect-only`.
fn sessions_seed() -> String {
    with_admin_password(arkbridge_sim::DEMO_SEED)
        .replacen(
            "pvwaUsers:\n",
            "pvwaUsers:\n  - username: ldap-user\n    password: ldap-pass-1\n    authType: LDAP\n  - username: radius-user\n    password: radius-pass-1\n    authType: RADIUS\n    radiusOtp: \"246810\"\n  - username: radius-plain\n    password: radius-pass-2\n    authType: radius\n",
            1,
        )
        .replacen(
            "      - { name: Administrator, type: user, permissions: full }\n",
            "      - { name: Administrator, type: user, permissions: full }\n      - { name: ldap-user, type: user, permissions: connect-only }\n      - { name: radius-user, type: user, permissions: connect-only }\n      - { name: radius-plain, type: user, permissions: connect-only }\n",
            1,
        )
}

async fn start_sessions() -> (Sim, reqwest::Client) {
    let sim = start_with(Some(&sessions_seed()), Duration::from_millis(20)).await;
    let c = client(sim.info(), false);
    (sim, c)
}

/// One logon request; the status, the body and the response's `Set-Cookie` value (name=value).
async fn logon_as(
    c: &reqwest::Client,
    info: &arkbridge_sim::SimInfo,
    method: &str,
    body: Value,
    cookie: Option<&str>,
) -> (u16, Value, Option<String>) {
    let mut req = c
        .post(format!(
            "{}/PasswordVault/API/auth/{method}/Logon",
            info.pvwa_url
        ))
        .json(&body);
    if let Some(cookie) = cookie {
        req = req.header("Cookie", cookie);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let set_cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_string);
    (status, r.json().await.unwrap_or(Value::Null), set_cookie)
}

#[tokio::test]
async fn the_301st_concurrent_session_of_a_user_is_refused_with_itats004e() {
    let (sim, c) = start_sessions().await;
    let info = sim.info();
    let mut tokens = Vec::new();
    for _ in 0..300 {
        tokens.push(logon(&c, info, "Administrator", ADMIN_PASSWORD, true).await);
    }
    let body =
        json!({"username": "Administrator", "password": ADMIN_PASSWORD, "concurrentSession": true});
    let (s, b, _) = logon_as(&c, info, "Cyberark", body.clone(), None).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (403, Some("ITATS004E")));
    assert!(b["ErrorMessage"].as_str().unwrap().contains("300"), "{b}");
    // The limit is per user, and the 300 sessions still work.
    logon(&c, info, &info.pvwa_user, &info.pvwa_password, true).await;
    assert_eq!(
        pvwa(&c, info, Method::GET, "LoginsInfo", &tokens[0], None)
            .await
            .0,
        200
    );
    // Logging one off makes room.
    let r = c
        .post(format!("{}/PasswordVault/API/Auth/Logoff", info.pvwa_url))
        .header("Authorization", &tokens[0])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(logon_as(&c, info, "CyberArk", body, None).await.0, 200);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn users_log_on_only_through_their_own_method() {
    let (sim, c) = start_sessions().await;
    let info = sim.info();
    let ldap = json!({"username": "ldap-user", "password": "ldap-pass-1"});
    let (s, token, _) = logon_as(&c, info, "ldap", ldap.clone(), None).await;
    assert_eq!(s, 200);
    let token = token.as_str().unwrap().to_string();
    assert_eq!(
        pvwa(&c, info, Method::GET, "Accounts", &token, None)
            .await
            .0,
        200
    );
    let (s, b, _) = logon_as(&c, info, "CyberArk", ldap, None).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (403, Some("ITATS004E")));
    let admin = json!({"username": "Administrator", "password": ADMIN_PASSWORD});
    assert_eq!(logon_as(&c, info, "LDAP", admin.clone(), None).await.0, 403);
    // RADIUS without a challenge: the password is enough.
    let plain = json!({"username": "radius-plain", "password": "radius-pass-2"});
    assert_eq!(logon_as(&c, info, "RADIUS", plain, None).await.0, 200);
    // Methods the simulator has no front end for.
    assert_eq!(logon_as(&c, info, "Windows", admin, None).await.0, 404);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn radius_challenge_is_500_itats542i_and_the_passcode_with_its_cookie_logs_on() {
    let (sim, c) = start_sessions().await;
    let info = sim.info();
    let first =
        json!({"username": "radius-user", "password": "radius-pass-1", "concurrentSession": true});
    let (s, b, cookie) = logon_as(&c, info, "RADIUS", first.clone(), None).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (500, Some("ITATS542I")));
    let cookie = cookie.expect("the challenge sets a session cookie");
    assert!(cookie.starts_with("ASP.NET_SessionId="), "{cookie}");
    // psPAS re-sends its body with the passcode as the password, in the same web session.
    let answer =
        json!({"username": "radius-user", "password": "246810", "concurrentSession": true});
    let (s, token, _) = logon_as(&c, info, "RADIUS", answer.clone(), Some(&cookie)).await;
    assert_eq!(s, 200, "{token}");
    let token = token.as_str().unwrap().to_string();
    assert_eq!(
        pvwa(&c, info, Method::GET, "LoginsInfo", &token, None)
            .await
            .1["UserName"],
        "radius-user"
    );
    // A challenge is answered once.
    assert_eq!(
        logon_as(&c, info, "RADIUS", answer.clone(), Some(&cookie))
            .await
            .0,
        403
    );
    // A wrong passcode ends the challenge.
    let (_, _, cookie) = logon_as(&c, info, "RADIUS", first, None).await;
    let cookie = cookie.unwrap();
    let wrong = json!({"username": "radius-user", "password": "000000"});
    assert_eq!(
        logon_as(&c, info, "RADIUS", wrong, Some(&cookie)).await.0,
        403
    );
    assert_eq!(
        logon_as(&c, info, "RADIUS", answer, Some(&cookie)).await.0,
        403
    );
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn radius_passcode_without_the_challenge_cookie_is_refused() {
    let (sim, c) = start_sessions().await;
    let info = sim.info();
    let first = json!({"username": "radius-user", "password": "radius-pass-1"});
    assert_eq!(logon_as(&c, info, "RADIUS", first, None).await.0, 500);
    // Without stickiness (no cookie) the passcode is taken for a password: refused.
    let answer = json!({"username": "radius-user", "password": "246810"});
    let (s, b, _) = logon_as(&c, info, "RADIUS", answer, None).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (403, Some("ITATS004E")));
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn load_balancer_node_switch_invalidates_tokens_until_a_new_logon() {
    let (sim, c) = start_sessions().await;
    let info = sim.info();
    let t = logon(&c, info, &info.pvwa_user, &info.pvwa_password, true).await;
    assert_eq!(
        pvwa(&c, info, Method::GET, "Accounts", &t, None).await.0,
        200
    );
    assert_eq!(sim.handle.switch_pvwa_node(), 2);
    let (s, b) = pvwa(&c, info, Method::GET, "Accounts", &t, None).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (401, Some("PASWS006E")));
    // A new logon lands on the new node and works.
    let t2 = logon(&c, info, &info.pvwa_user, &info.pvwa_password, true).await;
    assert_eq!(
        pvwa(&c, info, Method::GET, "Accounts", &t2, None).await.0,
        200
    );
    // The admin endpoint can switch too.
    let r = c
        .post(format!("{}/__arkbridge_sim/faults", info.pvwa_url))
        .basic_auth("Administrator", Some(ADMIN_PASSWORD))
        .json(&json!({"switch_node": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        pvwa(&c, info, Method::GET, "Accounts", &t2, None).await.0,
        401
    );
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn logons_failed_logons_and_logoffs_are_in_the_vault_audit() {
    let (sim, c) = start_sessions().await;
    let info = sim.info();
    let before = jiff::Timestamp::now().as_second();
    let t = logon(&c, info, &info.pvwa_user, &info.pvwa_password, true).await;
    let bad = json!({"username": "arkbridge-svc", "password": "wrong"});
    assert_eq!(logon_as(&c, info, "Cyberark", bad, None).await.0, 403);
    c.post(format!("{}/PasswordVault/API/Auth/Logoff", info.pvwa_url))
        .header("Authorization", &t)
        .send()
        .await
        .unwrap();
    let r = c
        .get(format!("{}/__arkbridge_sim/activities", info.pvwa_url))
        .basic_auth("Administrator", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let log: Value = r.json().await.unwrap();
    let acts = log["Activities"].as_array().unwrap();
    let actions: Vec<(&str, &str, bool)> = acts
        .iter()
        .take(3)
        .map(|a| {
            (
                a["Action"].as_str().unwrap(),
                a["User"].as_str().unwrap(),
                a["Alert"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("Logoff", "arkbridge-svc", false),
            ("Logon failed", "arkbridge-svc", true),
            ("Logon", "arkbridge-svc", false),
        ]
    );
    for a in acts.iter().take(3) {
        assert_eq!(a["ClientID"], "PVWA");
        assert!(a["Date"].as_i64().unwrap() >= before);
        assert_eq!(a["AccountID"], Value::Null);
        assert!(a.get("Reason").is_some());
    }
    assert!(acts[2]["MoreInfo"].as_str().unwrap().contains("127.0.0.1"));
    // The audit needs the Administrator.
    let r = c
        .get(format!("{}/__arkbridge_sim/activities", info.pvwa_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    sim.handle.shutdown().await;
}
