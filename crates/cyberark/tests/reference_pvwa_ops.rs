//! Reference §2.3–§2.7 and §2.12 (PVWA accounts, retrieval and CPM operations), checked end to
//! end: the real `PvwaClient` against the simulator for the typed errors (PASWS041E, PASWS088E,
//! PASWS143E, CAWS00001E, a missing account), the JSON-string retrieve answer, CheckIn and the
//! CPM outcome; plain requests for what the simulator itself must accept (both ticketing names,
//! both group-change names) and its list paging limits.

mod common;

use std::time::Duration;

use arkbridge_cyberark::{CyberArkError, PvwaClient};
use arkbridge_sim::Faults;
use common::{
    ADMIN_PASSWORD, Sim, admin, assert_refused, ccp, demo_seed, edit, pvwa_as, raw,
    refusal_message, service, sim, sim_with,
};
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::json;

const OPERATOR: (&str, &str) = ("operator", "op-pass-1");

/// The demo seed plus, in Prod-DB, an exclusive account `root-otp` and a reason-required
/// account `audited`, and a PVWA user `operator` with the read-only set on Prod-DB.
fn ops_seed() -> String {
    let seed = edit(
        &demo_seed(),
        "pvwaUsers:\n",
        "platforms:\n  - { id: UnixSSH-OTP, exclusive: true }\n  - { id: AuditedDB, requireReason: true }\n\npvwaUsers:\n  - username: operator\n    password: op-pass-1\n",
    );
    let seed = edit(
        &seed,
        "    members:\n",
        "      - name: root-otp\n        platformId: UnixSSH-OTP\n        address: host.example.com\n        userName: root\n      - name: audited\n        platformId: AuditedDB\n        userName: auditor\n    members:\n",
    );
    edit(
        &seed,
        "      - { name: Administrator, type: user, permissions: full }\n",
        "      - { name: Administrator, type: user, permissions: full }\n      - { name: operator, type: user, permissions: read-only }\n",
    )
}

async fn id_of(pvwa: &PvwaClient, name: &str) -> String {
    pvwa.find_account("Prod-DB", name)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{name} is in Prod-DB"))
        .id
}

async fn ops_sim() -> Sim {
    sim_with(&ops_seed(), Duration::from_millis(50)).await
}

#[tokio::test]
async fn pvwa_get_account_for_a_missing_id_is_a_refusal_with_status_404() {
    let s = sim().await;
    let err = admin(&s).await.get_account("21_999").await.unwrap_err();
    assert!(matches!(err, CyberArkError::Refused { .. }), "{err:?}");
    assert_eq!(err.status(), Some(404));
    assert!(!err.is_unavailable());
}

#[tokio::test]
async fn pvwa_retrieve_decodes_the_json_string_body() {
    let s = sim().await;
    let adm = admin(&s).await;
    let id = id_of(&adm, "payments-db").await;
    let via_pvwa = adm
        .retrieve_password(&id, "reference test", None)
        .await
        .unwrap();
    let via_ccp = ccp(&s)
        .get(&arkbridge_cyberark::CcpQuery::for_account(
            "Prod-DB",
            "payments-db",
        ))
        .await
        .unwrap();
    assert_eq!(
        via_pvwa.expose_secret(),
        via_ccp.content().expose_secret(),
        "the quotes of the JSON string are not part of the value"
    );
}

#[tokio::test]
async fn pvwa_pasws041e_retrieve_without_retrieve_permission_is_a_refusal_with_status_403() {
    let s = sim().await;
    let svc = service(&s).await;
    let id = id_of(&svc, "payments-db").await;
    let err = svc
        .retrieve_password(&id, "reference test", None)
        .await
        .unwrap_err();
    assert_refused(&err, 403, "PASWS041E");
    assert_eq!(
        refusal_message(&err),
        "You are not authorized to perform this action."
    );
}

#[tokio::test]
async fn pvwa_pasws088e_retrieve_without_reason_is_a_refusal_with_status_400() {
    let s = ops_sim().await;
    let adm = admin(&s).await;
    let id = id_of(&adm, "audited").await;
    let err = adm.retrieve_password(&id, "", None).await.unwrap_err();
    assert_refused(&err, 400, "PASWS088E");
    assert_eq!(
        refusal_message(&err),
        "Missing mandatory parameter - Reason."
    );
    adm.retrieve_password(&id, "incident 42", None)
        .await
        .unwrap();
}

#[tokio::test]
async fn pvwa_pasws143e_exclusive_account_locked_by_another_user_is_a_refusal_with_status_400() {
    let s = ops_sim().await;
    let operator = pvwa_as(&s, OPERATOR.0, OPERATOR.1).await;
    let adm = admin(&s).await;
    let id = id_of(&adm, "root-otp").await;
    operator
        .retrieve_password(&id, "maintenance", None)
        .await
        .unwrap();
    let err = adm
        .retrieve_password(&id, "maintenance", None)
        .await
        .unwrap_err();
    assert_refused(&err, 400, "PASWS143E");
    assert_eq!(refusal_message(&err), "Password is locked by another user.");
}

#[tokio::test]
async fn pvwa_check_in_releases_the_lock_and_the_cpm_changes_the_password() {
    let s = ops_sim().await;
    let operator = pvwa_as(&s, OPERATOR.0, OPERATOR.1).await;
    let adm = admin(&s).await;
    let id = id_of(&adm, "root-otp").await;
    let before = adm.get_account(&id).await.unwrap();
    let first = operator
        .retrieve_password(&id, "maintenance", None)
        .await
        .unwrap();
    // The holder may check in without the CPM permission; the CPM then rotates at once.
    operator.check_in(&id).await.unwrap();
    let done = adm
        .wait_for_change_after(
            &id,
            before.secret_management.last_modified_time,
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    assert_eq!(done.secret_management.status.as_deref(), Some("success"));
    let after = adm
        .retrieve_password(&id, "after check-in", None)
        .await
        .unwrap();
    assert_ne!(first.expose_secret(), after.expose_secret());
}

#[tokio::test]
async fn pvwa_change_sends_change_entire_group_which_the_sim_logs() {
    let s = sim().await;
    let svc = service(&s).await;
    let id = id_of(&svc, "payments-db").await;
    svc.change(&id).await.unwrap();
    let activities = admin(&s).await.account_activities(&id).await.unwrap();
    assert!(
        activities
            .iter()
            .any(|a| a.more_info.contains("change entire group: true")),
        "{activities:?}"
    );
}

#[tokio::test]
async fn sim_pvwa_change_accepts_change_creds_for_group_too() {
    let s = sim().await;
    let info = s.handle.info().clone();
    let token = raw::logon(&info, "Administrator", ADMIN_PASSWORD, true).await;
    let body = json!({"ChangeCredsForGroup": false});
    let (status, _) = raw::pvwa(
        &info,
        Method::POST,
        "API/Accounts/21_1/Change",
        &token,
        Some(body),
    )
    .await;
    assert_eq!(status, 200);
    let activities = admin(&s).await.account_activities("21_1").await.unwrap();
    assert!(
        activities
            .iter()
            .any(|a| a.more_info.contains("change entire group: false")),
        "{activities:?}"
    );
}

#[tokio::test]
async fn pvwa_cpm_failure_is_reported_as_cpm_failed() {
    let s = sim().await;
    s.handle
        .set_faults(Faults {
            cpm_failure_rate: 1.0,
            ..Faults::default()
        })
        .unwrap();
    let svc = service(&s).await;
    let id = id_of(&svc, "payments-db").await;
    svc.change(&id).await.unwrap();
    let err = svc
        .wait_for_cpm(&id, Duration::from_secs(20))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CyberArkError::CpmFailed { status, .. } if status == "failure"),
        "{err:?}"
    );
}

#[tokio::test]
async fn sim_pvwa_retrieve_accepts_both_ticketing_field_names() {
    let s = sim().await;
    let info = s.handle.info().clone();
    let token = raw::logon(&info, "Administrator", ADMIN_PASSWORD, true).await;
    let path = "API/Accounts/21_1/Password/Retrieve";
    for body in [
        json!({"reason": "r", "TicketingSystem": "SysOne", "TicketId": "INC1"}),
        json!({"reason": "r", "TicketingSystemName": "SysTwo", "TicketId": "INC2"}),
    ] {
        let (status, value) = raw::pvwa(&info, Method::POST, path, &token, Some(body)).await;
        assert_eq!(status, 200, "{value}");
        assert!(value.is_string(), "the answer is a JSON string: {value}");
    }
    let activities = admin(&s).await.account_activities("21_1").await.unwrap();
    for ticket in ["Ticket SysOne INC1", "Ticket SysTwo INC2"] {
        assert!(
            activities.iter().any(|a| a.more_info.contains(ticket)),
            "{ticket}: {activities:?}"
        );
    }
}

#[tokio::test]
async fn pvwa_caws00001e_500_while_the_vault_is_down_is_unavailable() {
    let s = sim().await;
    let svc = service(&s).await;
    s.handle.set_vault_down(true);
    let err = svc.get_safe("Prod-DB").await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert_eq!(
        (err.status(), err.code()),
        (Some(500), Some("CAWS00001E")),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("HTTP 500 CAWS00001E"), "{text}");
    s.handle.set_vault_down(false);
    svc.get_safe("Prod-DB").await.unwrap();
}

#[tokio::test]
async fn sim_pvwa_account_list_defaults_to_50_and_caps_limit_at_1000() {
    let accounts: String = (0..1001)
        .map(|n| format!("      - {{ name: bulk-{n:04}, platformId: PostgreSQL }}\n"))
        .collect();
    let safe = format!(
        "  - name: Bulk\n    accounts:\n{accounts}    members:\n      - {{ name: Administrator, type: user, permissions: full }}\n\n  - name: Integrations\n"
    );
    let s = sim_with(
        &edit(&demo_seed(), "  - name: Integrations\n", &safe),
        Duration::from_millis(50),
    )
    .await;
    let info = s.handle.info().clone();
    let token = raw::logon(&info, "Administrator", ADMIN_PASSWORD, true).await;
    let filter = "filter=safeName%20eq%20Bulk";
    let (status, page) = raw::pvwa(
        &info,
        Method::GET,
        &format!("API/Accounts?{filter}"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(page["value"].as_array().map(Vec::len), Some(50));
    assert_eq!(page["count"], 1001, "count is the total, not the page size");
    let next = page["nextLink"].as_str().unwrap();
    assert!(
        next.starts_with("api/Accounts?offset=50&limit=50"),
        "{next}"
    );

    let (_, page) = raw::pvwa(
        &info,
        Method::GET,
        &format!("API/Accounts?{filter}&limit=5000"),
        &token,
        None,
    )
    .await;
    assert_eq!(page["value"].as_array().map(Vec::len), Some(1000));
    let next = page["nextLink"].as_str().unwrap();
    assert!(
        next.starts_with("api/Accounts?offset=1000&limit=1000"),
        "{next}"
    );
}
