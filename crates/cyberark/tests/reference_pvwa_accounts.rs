//! Reference §2.3 and §2.5 (PVWA account administration and account lists), checked end to end
//! with the real `PvwaClient` against the simulator: add (201) and the account the CCP then
//! serves, PATCH operations (200) on top-level and nested paths, delete (204), the duplicate name
//! (409 PASWS027E), the missing safe (404 SFWS0007), the permission refusals (403 PASWS041E),
//! input the client refuses before the PVWA would answer 400 PASWS088E, and `find_account`
//! following a filtered `nextLink` to a later page.

mod common;

use std::time::Duration;

use arkbridge_cyberark::{CcpQuery, CyberArkError, NewAccount, PatchOp, PvwaClient};
use common::{
    ADMIN_PASSWORD, admin, assert_refused, ccp, demo_seed, edit, raw, refusal_message, service,
    sim, sim_with,
};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

const SECRET: &str = "Added-hunter2-Secret";

/// A new PostgreSQL account `reporting-db` in Prod-DB holding [`SECRET`].
fn reporting(secret: &SecretString) -> NewAccount<'_> {
    let mut new = NewAccount::new("Prod-DB", "PostgreSQL", secret);
    new.name = Some("reporting-db".into());
    new.address = Some("reporting.prod.example.com".into());
    new.user_name = Some("reporting".into());
    new.platform_account_properties
        .insert("Port".into(), "5432".into());
    new.platform_account_properties
        .insert("Database".into(), "reporting".into());
    new
}

/// Asserts that nothing about `err` shows the added secret.
fn assert_no_secret(err: &CyberArkError) {
    assert!(!format!("{err:?} {err}").contains("hunter2"), "{err:?}");
}

#[tokio::test]
async fn pvwa_add_account_is_201_and_the_ccp_then_serves_the_new_account() {
    let s = sim().await;
    let adm = admin(&s).await;
    let secret = SecretString::from(SECRET);
    let added = adm.add_account(&reporting(&secret)).await.unwrap();
    // Prod-DB is safe 21 and holds one account: the next object id is 2.
    assert_eq!(added.id, "21_2");
    assert_eq!(
        (added.name.as_str(), added.safe_name.as_str()),
        ("reporting-db", "Prod-DB")
    );
    assert_eq!(added.platform_id.as_deref(), Some("PostgreSQL"));
    assert_eq!(added.user_name.as_deref(), Some("reporting"));
    assert_eq!(
        added.secret_management.automatic_management_enabled,
        Some(true)
    );
    assert_eq!(adm.get_account("21_2").await.unwrap().name, "reporting-db");
    // The bridge's AppID is a Prod-DB member, so the CCP serves the new account at once.
    let fetched = ccp(&s)
        .get(&CcpQuery::for_account("Prod-DB", "reporting-db"))
        .await
        .unwrap();
    assert_eq!(fetched.content().expose_secret(), SECRET);
    assert_eq!(fetched.property("Database"), Some("reporting"));
}

#[tokio::test]
async fn pvwa_pasws027e_duplicate_account_name_is_a_refusal_with_status_409() {
    let s = sim().await;
    let adm = admin(&s).await;
    let secret = SecretString::from(SECRET);
    let mut duplicate = reporting(&secret);
    // Names are compared ignoring case within a safe.
    duplicate.name = Some("PAYMENTS-DB".into());
    let err = adm.add_account(&duplicate).await.unwrap_err();
    assert_refused(&err, 409, "PASWS027E");
    assert_no_secret(&err);
    // Renaming another account to a taken name is the same refusal.
    let added = adm.add_account(&reporting(&secret)).await.unwrap();
    let err = adm
        .update_account(&added.id, &[PatchOp::replace("/name", "Payments-DB")])
        .await
        .unwrap_err();
    assert_refused(&err, 409, "PASWS027E");
}

#[tokio::test]
async fn pvwa_update_account_applies_replace_add_and_remove_on_nested_paths() {
    let s = sim().await;
    let adm = admin(&s).await;
    let ops = [
        PatchOp::replace("/address", "db9.example.com"),
        PatchOp::replace("/secretManagement/automaticManagementEnabled", false),
        PatchOp::Add {
            path: "/platformAccountProperties/Owner".into(),
            value: json!("team-a"),
        },
        PatchOp::Remove {
            path: "/platformAccountProperties/Database".into(),
        },
    ];
    let updated = adm.update_account("21_1", &ops).await.unwrap();
    assert_eq!(updated.id, "21_1");
    assert_eq!(updated.address.as_deref(), Some("db9.example.com"));
    assert_eq!(
        updated.secret_management.automatic_management_enabled,
        Some(false)
    );
    let again = adm.get_account("21_1").await.unwrap();
    assert_eq!(again.address.as_deref(), Some("db9.example.com"));
    // The properties reach the CCP's answer: one added, one removed, the others kept.
    let fetched = ccp(&s)
        .get(&CcpQuery::for_account("Prod-DB", "payments-db"))
        .await
        .unwrap();
    assert_eq!(fetched.property("Owner"), Some("team-a"));
    assert_eq!(fetched.property("Database"), None);
    assert_eq!(fetched.property("Port"), Some("5432"));
}

#[tokio::test]
async fn pvwa_delete_account_is_204_and_a_second_delete_is_a_404_refusal() {
    let s = sim().await;
    let adm = admin(&s).await;
    adm.delete_account("21_1").await.unwrap();
    let err = adm.get_account("21_1").await.unwrap_err();
    assert_eq!(err.status(), Some(404), "{err:?}");
    let err = adm.delete_account("21_1").await.unwrap_err();
    assert!(matches!(err, CyberArkError::Refused { .. }), "{err:?}");
    assert_eq!(err.status(), Some(404));
    // The account is gone for the CCP too.
    let err = ccp(&s)
        .get(&CcpQuery::for_account("Prod-DB", "payments-db"))
        .await
        .unwrap_err();
    assert_refused(&err, 404, "APPAP004E");
}

#[tokio::test]
async fn pvwa_pasws041e_account_administration_without_the_safe_permission_is_refused() {
    let s = sim().await;
    // The bridge's service user may list and rotate in Prod-DB, not add, update or delete.
    let svc = service(&s).await;
    let secret = SecretString::from(SECRET);
    let err = svc.add_account(&reporting(&secret)).await.unwrap_err();
    assert_refused(&err, 403, "PASWS041E");
    assert_no_secret(&err);
    let patch = [PatchOp::replace("/address", "elsewhere.example.com")];
    let err = svc.update_account("21_1", &patch).await.unwrap_err();
    assert_refused(&err, 403, "PASWS041E");
    let err = svc.delete_account("21_1").await.unwrap_err();
    assert_refused(&err, 403, "PASWS041E");
    assert_eq!(
        refusal_message(&err),
        "You are not authorized to perform this action."
    );
    let account = admin(&s).await.get_account("21_1").await.unwrap();
    assert_eq!(account.address.as_deref(), Some("db.prod.example.com"));
}

#[tokio::test]
async fn pvwa_add_account_to_a_missing_safe_is_an_sfws0007_refusal_with_status_404() {
    let s = sim().await;
    let secret = SecretString::from(SECRET);
    let mut new = reporting(&secret);
    new.safe_name = "No-Such-Safe".into();
    let err = admin(&s).await.add_account(&new).await.unwrap_err();
    assert_refused(&err, 404, "SFWS0007");
    assert_no_secret(&err);
}

/// How many accounts the Administrator sees in Prod-DB, asked without the client.
async fn prod_db_count(s: &common::Sim) -> u64 {
    let info = s.handle.info().clone();
    let token = raw::logon(&info, "Administrator", ADMIN_PASSWORD, true).await;
    let (status, page) = raw::pvwa(
        &info,
        Method::GET,
        "API/Accounts?filter=safeName%20eq%20Prod-DB",
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    page["count"].as_u64().unwrap()
}

#[tokio::test]
async fn pvwa_add_account_without_platform_or_secret_is_refused_before_the_pvwa_says_pasws088e() {
    let s = sim().await;
    let adm = admin(&s).await;
    let secret = SecretString::from(SECRET);
    let empty = SecretString::from("");
    let mut no_platform = reporting(&secret);
    no_platform.platform_id = "  ".into();
    let mut no_safe = reporting(&secret);
    no_safe.safe_name = String::new();
    for (new, field) in [
        (no_platform, "platformId"),
        (no_safe, "safeName"),
        (reporting(&empty), "secret"),
    ] {
        let err = adm.add_account(&new).await.unwrap_err();
        assert!(
            matches!(&err, CyberArkError::Invalid { field: f, .. } if *f == field),
            "{field}: {err:?}"
        );
    }
    assert_eq!(
        prod_db_count(&s).await,
        1,
        "nothing was sent, nothing added"
    );
}

/// The demo seed plus a safe `Bulk` holding 55 accounts `web-0001`.. and, seeded last, `web`
/// (so a search for `web` puts it on the second page of 50), and another `web` in Prod-DB.
fn bulk_seed() -> String {
    let fillers: String = (1..=55)
        .map(|i| format!("      - {{ name: web-{i:04}, platformId: PostgreSQL, address: w{i} }}\n"))
        .collect();
    let safe = format!(
        "  - name: Bulk\n    accounts:\n{fillers}      - {{ name: web, platformId: PostgreSQL, address: target.example.com }}\n    members:\n      - {{ name: Administrator, type: user, permissions: full }}\n\n  - name: Integrations\n"
    );
    let seed = edit(&demo_seed(), "  - name: Integrations\n", &safe);
    edit(
        &seed,
        "    accounts:\n      - name: payments-db\n",
        "    accounts:\n      - { name: web, platformId: PostgreSQL, address: decoy.example.com }\n      - name: payments-db\n",
    )
}

#[tokio::test]
async fn pvwa_find_account_follows_the_filtered_next_link_to_the_second_page() {
    let s = sim_with(&bulk_seed(), Duration::from_millis(50)).await;
    let info = s.handle.info().clone();
    // The first page (the PVWA's default 50) does not hold the account: it takes the nextLink.
    let token = raw::logon(&info, "Administrator", ADMIN_PASSWORD, true).await;
    let first = "API/Accounts?filter=safeName%20eq%20Bulk&search=web";
    let (_, page) = raw::pvwa(&info, Method::GET, first, &token, None).await;
    assert_eq!(page["count"], 56);
    let names: Vec<&str> = page["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(names.len(), 50);
    assert!(!names.contains(&"web"), "{names:?}");
    let adm: PvwaClient = admin(&s).await;
    let found = adm.find_account("Bulk", "web").await.unwrap().unwrap();
    assert_eq!(found.safe_name, "Bulk");
    assert_eq!(found.address.as_deref(), Some("target.example.com"));
    let other = adm.find_account("Prod-DB", "web").await.unwrap().unwrap();
    assert_eq!(other.address.as_deref(), Some("decoy.example.com"));
}
