//! Integration tests of safe and safe-member administration against `arkbridge-sim`: the whole
//! life cycle of a safe and its members, paging through `nextLink`, the `SFWS` refusals and the
//! local name checks.

mod common;

use arkbridge_cyberark::{
    CyberArkError, MemberType, NewSafeMember, Permissions, Retention, SafeRefusal, SafeSettings,
};
use common::{admin, sim};

#[tokio::test]
async fn safe_life_cycle_add_get_update_delete() {
    let s = sim().await;
    let pvwa = admin(&s).await;
    let settings = SafeSettings {
        description: Some("made by a test".into()),
        retention: Some(Retention::Versions(5)),
        ..SafeSettings::default()
    };
    let safe = pvwa.add_safe("Team Safe 1", &settings).await.unwrap();
    assert_eq!(safe.safe_name, "Team Safe 1");
    assert_eq!(safe.safe_url_id, "Team%20Safe%201");
    assert_eq!(safe.number_of_versions_retention, Some(5));
    assert_eq!(safe.creator.as_deref(), Some("Administrator"));
    let secs = safe.last_modification_time.unwrap();
    assert!(
        (1_600_000_000..4_000_000_000).contains(&secs),
        "µs scaled to s: {secs}"
    );

    let read = pvwa.get_safe("Team Safe 1").await.unwrap();
    assert_eq!(read.description, "made by a test");

    let changed = SafeSettings {
        description: Some("changed".into()),
        ..SafeSettings::default()
    };
    let updated = pvwa
        .update_safe("Team Safe 1", Some("Team-Safe-2"), &changed)
        .await
        .unwrap();
    assert_eq!(
        (updated.safe_name.as_str(), updated.description.as_str()),
        ("Team-Safe-2", "changed")
    );

    pvwa.delete_safe("Team-Safe-2").await.unwrap();
    let err = pvwa.get_safe("Team-Safe-2").await.unwrap_err();
    assert_eq!(err.safe_refusal(), Some(SafeRefusal::NotFound), "{err:?}");
    assert_eq!(err.status(), Some(404));
}

#[tokio::test]
async fn list_safes_follows_next_link_across_pages() {
    let s = sim().await;
    let pvwa = admin(&s).await.with_page_size(2);
    let safes = pvwa.list_safes(None).await.unwrap();
    let mut names: Vec<String> = safes.into_iter().map(|s| s.safe_name).collect();
    names.sort();
    assert_eq!(
        names,
        ["Integrations", "Prod-DB", "Prod-DB-RO", "Vaulted-Secrets"]
    );
    let found = pvwa.list_safes(Some("read-only")).await.unwrap();
    assert_eq!(found.len(), 1, "search matches the description");
    assert_eq!(found[0].safe_name, "Prod-DB-RO");
}

#[tokio::test]
async fn add_existing_safe_is_sfws0002_and_bad_names_are_not_sent() {
    let s = sim().await;
    let pvwa = admin(&s).await;
    let err = pvwa
        .add_safe("prod-db", &SafeSettings::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.safe_refusal(),
        Some(SafeRefusal::AlreadyExists),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(409));
    for bad in ["Prod.DB", "a&b", "this-name-is-longer-than-28-chars"] {
        let err = pvwa
            .add_safe(bad, &SafeSettings::default())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                CyberArkError::Invalid {
                    field: "safeName",
                    ..
                }
            ),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn safe_member_life_cycle_with_predefined_sets() {
    let s = sim().await;
    let pvwa = admin(&s).await;
    pvwa.add_safe("Members-Test", &SafeSettings::default())
        .await
        .unwrap();
    let added = pvwa
        .add_safe_member(
            "Members-Test",
            &NewSafeMember::new("arkbridge-svc", Permissions::read_only()),
        )
        .await
        .unwrap();
    assert_eq!(added.member_name, "arkbridge-svc");
    assert!(added.member_id.is_some());
    assert_eq!(added.permissions.set_name(), Some("read_only"));

    let read = pvwa
        .get_safe_member("Members-Test", "arkbridge-svc")
        .await
        .unwrap();
    assert_eq!(read.permissions, Permissions::read_only());
    assert_eq!(read.member_type, Some(MemberType::User));

    let updated = pvwa
        .update_safe_member(
            "Members-Test",
            "arkbridge-svc",
            &Permissions::accounts_manager(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(updated.permissions.set_name(), Some("accounts_manager"));

    let again = pvwa
        .add_safe_member(
            "Members-Test",
            &NewSafeMember::new("arkbridge-svc", Permissions::connect_only()),
        )
        .await
        .unwrap_err();
    assert_eq!(
        again.safe_refusal(),
        Some(SafeRefusal::AlreadyMember),
        "{again:?}"
    );

    let own = pvwa
        .update_safe_member("Members-Test", "Administrator", &Permissions::none(), None)
        .await
        .unwrap_err();
    assert_eq!(
        own.safe_refusal(),
        Some(SafeRefusal::OwnMembership),
        "{own:?}"
    );

    pvwa.remove_safe_member("Members-Test", "arkbridge-svc")
        .await
        .unwrap();
    let members = pvwa.list_safe_members("Members-Test", None).await.unwrap();
    let names: Vec<&str> = members.iter().map(|m| m.member_name.as_str()).collect();
    assert_eq!(names, ["Administrator"]);
    assert_eq!(members[0].permissions.set_name(), Some("full"));
}

#[tokio::test]
async fn list_safe_members_filters_groups_and_pages() {
    let s = sim().await;
    let pvwa = admin(&s).await.with_page_size(1);
    pvwa.add_safe_member(
        "Prod-DB",
        &NewSafeMember {
            member_type: Some(MemberType::Group),
            ..NewSafeMember::new("developers", Permissions::connect_only())
        },
    )
    .await
    .unwrap();
    let groups = pvwa
        .list_safe_members("Prod-DB", Some(MemberType::Group))
        .await
        .unwrap();
    // The demo seed's platform-admins group, and the one just added.
    let mut names: Vec<&str> = groups.iter().map(|g| g.member_name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["developers", "platform-admins"]);
    assert!(
        groups
            .iter()
            .all(|g| g.member_type == Some(MemberType::Group))
    );
    let users = pvwa
        .list_safe_members("Prod-DB", Some(MemberType::User))
        .await
        .unwrap();
    assert_eq!(
        users.len(),
        4,
        "arkbridge (app), arkbridge-svc, arkbridge-safe-admin, Administrator"
    );
    assert!(
        users
            .iter()
            .all(|m| m.member_type == Some(MemberType::User))
    );
}

#[tokio::test]
async fn service_user_without_manage_permissions_is_refused() {
    let s = sim().await;
    let ccp = arkbridge_cyberark::CcpClient::new(&s.config.cyberark.ccp).unwrap();
    let arkbridge_core::config::ConfigSecret::Reference(r) = &s.config.cyberark.pvwa.password
    else {
        panic!("the sim config should reference the PVWA password");
    };
    let account = ccp
        .get(&arkbridge_cyberark::CcpQuery::for_account(
            &r.safe, &r.object,
        ))
        .await
        .unwrap();
    let password = account.secret_property(r.property()).unwrap();
    let svc = arkbridge_cyberark::PvwaClient::logon(&s.config.cyberark.pvwa, &password)
        .await
        .unwrap();
    let err = svc
        .add_safe_member(
            "Prod-DB",
            &NewSafeMember::new("developers", Permissions::full()),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(403), Some("PASWS041E")),
        "{err:?}"
    );
    let err = svc.get_safe("Integrations").await.unwrap_err();
    assert_eq!(
        err.safe_refusal(),
        Some(SafeRefusal::NotFound),
        "not a member: {err:?}"
    );
}
