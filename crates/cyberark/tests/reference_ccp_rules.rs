//! Reference §1.2, §2.7 and §7 (CCP-side exclusive and reason-required accounts), checked end to
//! end with the real `CcpClient` and `PvwaClient` against the simulator. The reference documents
//! no CCP error code for these two rules, so the simulator answers 400 with its own code
//! (`ARKSIM400E`); what the client must do is keep status and code and treat the answer as a
//! refusal, never as an outage (no read-only fallback).

mod common;

use std::time::Duration;

use arkbridge_cyberark::{
    BreakerConfig, CcpClient, CcpQuery, CircuitState, CyberArkError, PvwaClient, Resilience,
    RetryPolicy,
};
use common::{Sim, assert_refused, ccp, demo_seed, edit, pvwa_as, refusal_message, service};
use secrecy::ExposeSecret;

/// The simulator's code for a CCP rule the reference gives no code for.
const SIM_RULE_CODE: &str = "ARKSIM400E";
const OPERATOR: (&str, &str) = ("operator", "op-pass-1");

/// The demo seed plus a safe `Exclusive` holding `root-otp` (exclusive platform) and `audited`
/// (reason-required platform), readable by the bridge's AppID, rotatable by its service user,
/// and readable by a PVWA user `operator`.
fn rules_seed() -> String {
    let safe = "  - name: Exclusive\n    accounts:\n      - name: root-otp\n        platformId: UnixSSH-OTP\n        address: host.example.com\n        userName: root\n      - name: audited\n        platformId: AuditedDB\n        userName: auditor\n    members:\n      - { name: arkbridge, type: app, permissions: [listAccounts, retrieveAccounts] }\n      - { name: arkbridge-svc, type: user, permissions: [listAccounts, initiateCPMAccountManagementOperations] }\n      - { name: Administrator, type: user, permissions: full }\n      - { name: operator, type: user, permissions: read-only }\n\n  - name: Integrations\n";
    let seed = edit(&demo_seed(), "  - name: Integrations\n", safe);
    edit(
        &seed,
        "pvwaUsers:\n",
        "platforms:\n  - { id: UnixSSH-OTP, exclusive: true }\n  - { id: AuditedDB, requireReason: true }\n\npvwaUsers:\n  - username: operator\n    password: op-pass-1\n",
    )
}

async fn rules_sim() -> Sim {
    common::sim_with(&rules_seed(), Duration::from_millis(50)).await
}

/// A CCP client that would retry an outage into a breaker that opens at the first one, so that
/// a refusal taken for an outage shows as an open circuit.
fn strict_ccp(s: &Sim) -> CcpClient {
    let retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
    };
    let breaker = BreakerConfig {
        failure_threshold: 1,
        cool_down: Duration::from_secs(600),
    };
    let resilience = Resilience::new("ccp", retry, breaker);
    CcpClient::with_resilience(&s.config.cyberark.ccp, resilience).unwrap()
}

async fn id_of(pvwa: &PvwaClient, name: &str) -> String {
    pvwa.find_account("Exclusive", name)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{name} is in Exclusive"))
        .id
}

#[tokio::test]
async fn ccp_reason_required_account_is_a_400_refusal_without_a_reason_and_served_with_one() {
    let s = rules_sim().await;
    let client = strict_ccp(&s);
    let query = CcpQuery::for_account("Exclusive", "audited");
    let err = client.get(&query).await.unwrap_err();
    assert_refused(&err, 400, SIM_RULE_CODE);
    assert!(
        refusal_message(&err).contains("requires a reason"),
        "{err:?}"
    );
    assert_eq!(client.resilience().breaker().state(), CircuitState::Closed);
    // A blank reason, which the CCP would refuse the same way, is not even sent.
    let err = client.get(&query.clone().reason("   ")).await.unwrap_err();
    assert!(matches!(err, CyberArkError::Config(_)), "{err:?}");
    let account = client.get(&query.reason("run 7 by alice")).await.unwrap();
    assert_eq!(account.property("UserName"), Some("auditor"));
    assert!(!account.content().expose_secret().is_empty());
}

#[tokio::test]
async fn ccp_exclusive_account_fetched_by_the_application_locks_out_pvwa_users_until_check_in() {
    let s = rules_sim().await;
    let query = CcpQuery::for_account("Exclusive", "root-otp");
    let first = ccp(&s).get(&query).await.unwrap();
    // The application holds the account now: it may fetch it again, a PVWA user may not.
    let again = ccp(&s).get(&query).await.unwrap();
    assert_eq!(
        again.content().expose_secret(),
        first.content().expose_secret()
    );
    let operator = pvwa_as(&s, OPERATOR.0, OPERATOR.1).await;
    let svc = service(&s).await;
    let id = id_of(&svc, "root-otp").await;
    let err = operator
        .retrieve_password(&id, "maintenance", None)
        .await
        .unwrap_err();
    assert_refused(&err, 400, "PASWS143E");
    // The bridge's own rotation path: CheckIn releases the lock and the CPM changes the value.
    let before = svc.get_account(&id).await.unwrap();
    svc.check_in(&id).await.unwrap();
    let done = svc
        .wait_for_change_after(
            &id,
            before.secret_management.last_modified_time,
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    assert_eq!(done.secret_management.status.as_deref(), Some("success"));
    let after = operator
        .retrieve_password(&id, "after check-in", None)
        .await
        .unwrap();
    assert_ne!(after.expose_secret(), first.content().expose_secret());
}

#[tokio::test]
async fn ccp_exclusive_account_held_by_a_pvwa_user_is_a_400_refusal_not_an_outage() {
    let s = rules_sim().await;
    let operator = pvwa_as(&s, OPERATOR.0, OPERATOR.1).await;
    let id = id_of(&operator, "root-otp").await;
    operator
        .retrieve_password(&id, "maintenance", None)
        .await
        .unwrap();
    let client = strict_ccp(&s);
    let err = client
        .get(&CcpQuery::for_account("Exclusive", "root-otp"))
        .await
        .unwrap_err();
    assert_refused(&err, 400, SIM_RULE_CODE);
    assert!(
        refusal_message(&err).contains("locked by another user"),
        "{err:?}"
    );
    assert_eq!(client.resilience().breaker().state(), CircuitState::Closed);
    // Once the holder checks it in, the application gets it again.
    operator.check_in(&id).await.unwrap();
    client
        .get(&CcpQuery::for_account("Exclusive", "root-otp"))
        .await
        .unwrap();
}
