//! Reference §2.1, §2.2, §2.12 and §5 (PVWA logon, sessions, routing, ISPSS discovery), checked
//! end to end: the real `PvwaClient` against the simulator for the typed errors and the logon
//! behaviour, plain requests for what the simulator itself must answer (JSON keys and paths in
//! any case, trailing slashes, response headers, platform discovery).

mod common;

use std::time::Duration;

use arkbridge_core::config::PvwaAuthMethod;
use arkbridge_cyberark::{PvwaClient, SafeSettings};
use common::{
    ADMIN_PASSWORD, admin, assert_refused, demo_seed, edit, no_retry, raw, refusal_message,
    service, sim, sim_with,
};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::json;

#[tokio::test]
async fn pvwa_itats004e_bad_password_is_a_refusal_with_status_403() {
    let s = sim().await;
    let err = PvwaClient::logon_with(
        &s.config.cyberark.pvwa,
        &SecretString::from("wrong-hunter2"),
        no_retry("pvwa"),
    )
    .await
    .unwrap_err();
    assert_refused(&err, 403, "ITATS004E");
    assert_eq!(
        refusal_message(&err),
        "Authentication failure for User [arkbridge-svc]."
    );
    assert!(!format!("{err:?} {err}").contains("hunter2"));
}

#[tokio::test]
async fn pvwa_pasws006e_carries_status_401_and_the_session_message() {
    let s = sim().await;
    let svc = service(&s).await;
    // With a zero inactivity timeout every token dies at its next use, the new one too.
    s.handle.set_session_timeout(Duration::ZERO);
    let err = svc.get_safe("Prod-DB").await.unwrap_err();
    assert_refused(&err, 401, "PASWS006E");
    assert_eq!(
        refusal_message(&err),
        "The session token is missing, invalid or expired."
    );
}

#[tokio::test]
async fn pvwa_logs_on_again_after_every_session_is_killed() {
    let s = sim().await;
    let svc = service(&s).await;
    svc.get_safe("Prod-DB").await.unwrap();
    assert!(s.handle.kill_sessions() >= 1);
    let safe = svc.get_safe("Prod-DB").await.unwrap();
    assert_eq!(safe.safe_name, "Prod-DB");
}

#[tokio::test]
async fn pvwa_logon_asks_for_a_concurrent_session_so_an_older_session_survives() {
    let s = sim().await;
    let info = s.handle.info().clone();
    let older = raw::logon(&info, &info.pvwa_user, &info.pvwa_password, true).await;
    let svc = service(&s).await;
    svc.get_safe("Prod-DB").await.unwrap();
    let (status, _) = raw::pvwa(&info, Method::GET, "API/Accounts", &older, None).await;
    assert_eq!(status, 200, "the client's logon ended the older session");
    // Without concurrentSession a new logon ends every other session of the user.
    raw::logon(&info, &info.pvwa_user, &info.pvwa_password, false).await;
    let (status, body) = raw::pvwa(&info, Method::GET, "API/Accounts", &older, None).await;
    assert_eq!(
        (status, body["ErrorCode"].as_str()),
        (401, Some("PASWS006E"))
    );
}

#[tokio::test]
async fn pvwa_lowercase_app_name_works_because_paths_ignore_case() {
    let s = sim().await;
    let mut cfg = s.config.cyberark.pvwa.clone();
    cfg.app_name = "passwordvault".into();
    cfg.username = "Administrator".into();
    let pvwa = PvwaClient::logon_with(&cfg, &SecretString::from(ADMIN_PASSWORD), no_retry("pvwa"))
        .await
        .unwrap();
    assert_eq!(pvwa.get_safe("prod-db").await.unwrap().safe_name, "Prod-DB");
}

#[tokio::test]
async fn pvwa_ldap_logon_uses_the_ldap_path() {
    let seed = edit(
        &demo_seed(),
        "pvwaUsers:\n",
        "pvwaUsers:\n  - username: ldap.user\n    password: ldap-pass-1\n    authType: LDAP\n",
    );
    let s = sim_with(&seed, Duration::from_millis(50)).await;
    let mut cfg = s.config.cyberark.pvwa.clone();
    cfg.username = "ldap.user".into();
    cfg.auth_method = PvwaAuthMethod::Ldap;
    let password = SecretString::from("ldap-pass-1");
    PvwaClient::logon_with(&cfg, &password, no_retry("pvwa"))
        .await
        .unwrap();
    // The same user on the CyberArk logon path is refused: the path chose the method.
    cfg.auth_method = PvwaAuthMethod::CyberArk;
    let err = PvwaClient::logon_with(&cfg, &password, no_retry("pvwa"))
        .await
        .unwrap_err();
    assert_refused(&err, 403, "ITATS004E");
}

#[tokio::test]
async fn sim_pvwa_binds_json_keys_ignoring_case() {
    let s = sim().await;
    let info = s.handle.info().clone();
    let (status, token) = raw::logon_body(
        &info,
        json!({"USERNAME": "Administrator", "Password": ADMIN_PASSWORD, "concurrentsession": true}),
    )
    .await;
    assert_eq!(status, 200, "{token}");
    let token = token.as_str().unwrap();
    // The Add Safe doc example spells it `oLACEnabled`; the answer says `olacEnabled`.
    let body = json!({"SAFENAME": "Case-Safe", "oLACEnabled": true, "NumberOfDaysRetention": 3});
    let (status, safe) = raw::pvwa(&info, Method::POST, "API/Safes", token, Some(body)).await;
    assert_eq!(status, 201, "{safe}");
    assert_eq!(safe["safeName"], "Case-Safe");
    assert_eq!(safe["olacEnabled"], true);
    assert_eq!(safe["numberOfDaysRetention"], 3);
}

#[tokio::test]
async fn sim_pvwa_accepts_a_trailing_slash_on_every_path() {
    let s = sim().await;
    let info = s.handle.info().clone();
    let (status, token) = raw::answer(
        raw::client(&info, false)
            .post(format!(
                "{}/PasswordVault/API/auth/Cyberark/Logon/",
                info.pvwa_url
            ))
            .json(&json!({"username": "Administrator", "password": ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{token}");
    let token = token.as_str().unwrap();
    for path in [
        "API/Accounts/",
        "API/Accounts/21_1/",
        "API/Safes/",
        "API/Safes/Prod-DB/",
        "API/Safes/Prod-DB/Members/",
        "API/Safes/Prod-DB/Members/arkbridge-svc/",
    ] {
        let (status, body) = raw::pvwa(&info, Method::GET, path, token, None).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (status, _) = raw::pvwa(&info, Method::POST, "API/Auth/Logoff/", token, None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn sim_pvwa_answers_json_with_the_no_cache_headers() {
    let s = sim().await;
    let info = s.handle.info().clone();
    let resp = raw::client(&info, false)
        .get(format!("{}/PasswordVault/API/Accounts", info.pvwa_url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert!(
        header("content-type").starts_with("application/json"),
        "{}",
        header("content-type")
    );
    assert_eq!(header("cache-control"), "no-cache");
    assert_eq!(header("pragma"), "no-cache");
    assert_eq!(header("expires"), "-1");
}

#[tokio::test]
async fn pvwa_olac_cannot_be_turned_off_once_enabled() {
    let s = sim().await;
    let adm = admin(&s).await;
    let on = SafeSettings {
        olac_enabled: Some(true),
        ..SafeSettings::default()
    };
    let safe = adm.add_safe("Olac-Safe", &on).await.unwrap();
    assert_eq!(safe.olac_enabled, Some(true));
    let off = SafeSettings {
        olac_enabled: Some(false),
        ..SafeSettings::default()
    };
    let err = adm.update_safe("Olac-Safe", None, &off).await.unwrap_err();
    assert_eq!(err.status(), Some(400), "{err:?}");
    assert!(!err.is_unavailable());
}

#[tokio::test]
async fn pvwa_member_name_with_dots_is_reached_through_the_trailing_slash() {
    let seed = edit(
        &demo_seed(),
        "pvwaUsers:\n",
        "pvwaUsers:\n  - username: ops.user@example.com\n",
    );
    let s = sim_with(&seed, Duration::from_millis(50)).await;
    let adm = admin(&s).await;
    let name = "ops.user@example.com";
    adm.add_safe_member(
        "Prod-DB",
        &arkbridge_cyberark::NewSafeMember::new(name, arkbridge_cyberark::Permissions::read_only()),
    )
    .await
    .unwrap();
    let member = adm.get_safe_member("Prod-DB", name).await.unwrap();
    assert_eq!(member.member_name, name);
    adm.remove_safe_member("Prod-DB", name).await.unwrap();
    let err = adm.get_safe_member("Prod-DB", name).await.unwrap_err();
    assert_eq!(err.status(), Some(404), "{err:?}");
}

#[tokio::test]
async fn sim_ispss_platform_discovery_names_the_privilege_cloud_and_identity_urls() {
    let s = sim().await;
    let info = s.handle.info().clone();
    let c = raw::client(&info, false);
    let url = |sub: &str| format!("{}/API/v2/services/subdomain/{sub}", info.pvwa_url);
    let (status, body) = raw::answer(c.get(url("arkbridge")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["pcloud"]["api"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://")),
        "{body}"
    );
    assert!(body["identity_user_portal"]["api"].is_string(), "{body}");
    let (status, body) = raw::answer(c.get(url("nobody")).send().await.unwrap()).await;
    assert_eq!(status, 404);
    assert!(
        body["code"].is_string() && body["message"].is_string(),
        "{body}"
    );
}
