//! Group resolution against a real slapd: nested groups through `memberOf` and through a member
//! search, a user without groups, cycles, the nesting limit, posix groups and non-ASCII names.

mod support;

use arkbridge_identity::{GroupStrategy, LdapError, UserGroups, escape_dn_value};
use support::slapd::{SUFFIX, Slapd};

fn names_and_depths(found: &UserGroups) -> Vec<(&str, u32)> {
    found
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.depth))
        .collect()
}

fn member_search() -> GroupStrategy {
    GroupStrategy::Search {
        filter: "(&(objectClass=groupOfNames)(member={dn}))".into(),
    }
}

#[tokio::test]
async fn nested_groups_are_resolved_through_member_of() {
    let slapd = Slapd::start().await;
    let directory = slapd.directory(&slapd.config(&slapd.ldapi_url));
    let found = directory
        .groups_for_email("alice@example.test")
        .await
        .unwrap();
    assert_eq!(found.user_dn, format!("uid=alice,ou=people,{SUFFIX}"));
    // ops and oncall are direct; engineering contains both (reached once); staff contains
    // engineering. `outsider` lies outside ou=groups and is not arkbridge's to count.
    assert_eq!(
        names_and_depths(&found),
        [("oncall", 1), ("ops", 1), ("engineering", 2), ("staff", 3)]
    );
    assert!(found.is_member_of("STAFF") && !found.is_member_of("outsider"));
}

#[tokio::test]
async fn nested_groups_are_resolved_through_a_member_search() {
    let slapd = Slapd::start().await;
    let mut config = slapd.config(&slapd.ldapi_url);
    config.groups = member_search();
    let found = slapd
        .directory(&config)
        .groups_for_username("alice")
        .await
        .unwrap();
    assert_eq!(
        names_and_depths(&found),
        [("oncall", 1), ("ops", 1), ("engineering", 2), ("staff", 3)]
    );
}

#[tokio::test]
async fn nesting_can_be_switched_off() {
    let slapd = Slapd::start().await;
    let mut config = slapd.config(&slapd.ldapi_url);
    config.nested_groups = false;
    let found = slapd
        .directory(&config)
        .groups_for_email("alice@example.test")
        .await
        .unwrap();
    assert_eq!(found.names(), ["oncall", "ops"]);
}

#[tokio::test]
async fn a_user_without_groups_gets_an_empty_list() {
    let slapd = Slapd::start().await;
    for strategy in [GroupStrategy::default(), member_search()] {
        let mut config = slapd.config(&slapd.ldapi_url);
        config.groups = strategy;
        let found = slapd
            .directory(&config)
            .groups_for_email("bob@example.test")
            .await
            .unwrap();
        assert_eq!(found.user_dn, format!("uid=bob,ou=people,{SUFFIX}"));
        assert!(found.groups.is_empty(), "{found:?}");
    }
}

#[tokio::test]
async fn a_group_cycle_terminates_with_each_group_once() {
    let slapd = Slapd::start().await;
    // The fixture really is a cycle: each group's memberOf names the other.
    let cycle_a = format!("cn=cycle-a,ou=groups,{SUFFIX}");
    let cycle_b = format!("cn=cycle-b,ou=groups,{SUFFIX}");
    assert_eq!(
        slapd.read_attribute(&cycle_a, "memberOf").await,
        std::slice::from_ref(&cycle_b)
    );
    assert_eq!(
        slapd.read_attribute(&cycle_b, "memberOf").await,
        std::slice::from_ref(&cycle_a)
    );
    for strategy in [GroupStrategy::default(), member_search()] {
        let mut config = slapd.config(&slapd.ldapi_url);
        config.groups = strategy.clone();
        let found = slapd
            .directory(&config)
            .groups_for_username("carol")
            .await
            .unwrap();
        assert_eq!(
            names_and_depths(&found),
            [("cycle-a", 1), ("cycle-b", 2)],
            "{strategy:?}"
        );
    }
}

#[tokio::test]
async fn nesting_deeper_than_the_limit_is_an_error_not_a_shorter_list() {
    let slapd = Slapd::start().await;
    for strategy in [GroupStrategy::default(), member_search()] {
        let mut config = slapd.config(&slapd.ldapi_url);
        config.groups = strategy.clone();
        config.max_nesting_depth = 5;
        let directory = slapd.directory(&config);
        let found = directory.groups_for_username("dave").await.unwrap();
        assert_eq!(
            found.names(),
            ["deep-1", "deep-2", "deep-3", "deep-4", "deep-5"]
        );

        config.max_nesting_depth = 3;
        let err = slapd
            .directory(&config)
            .groups_for_username("dave")
            .await
            .unwrap_err();
        match &err {
            LdapError::NestingTooDeep {
                group_dn, limit, ..
            } => {
                assert_eq!(*limit, 3);
                assert_eq!(group_dn, &format!("cn=deep-4,ou=groups,{SUFFIX}"));
            }
            other => panic!("{strategy:?}: expected NestingTooDeep, got {other:?}"),
        }
        assert!(err.to_string().contains("deeper than 3 levels"), "{err}");
    }
}

#[tokio::test]
async fn posix_groups_are_found_by_member_uid() {
    let slapd = Slapd::start().await;
    let mut config = slapd.config(&slapd.ldapi_url);
    config.groups = GroupStrategy::Search {
        filter: "(&(objectClass=posixGroup)(memberUid={uid}))".into(),
    };
    let directory = slapd.directory(&config);
    let alice = directory
        .groups_for_email("alice@example.test")
        .await
        .unwrap();
    assert_eq!(names_and_depths(&alice), [("unix-admins", 1)]);
    let erin = directory
        .groups_for_email("erin@example.test")
        .await
        .unwrap();
    assert_eq!(erin.names(), ["unix-admins"]);
    let bob = directory
        .groups_for_email("bob@example.test")
        .await
        .unwrap();
    assert!(bob.groups.is_empty());
}

#[tokio::test]
async fn a_non_ascii_user_name_is_found_and_an_escaped_group_dn_is_handled() {
    let slapd = Slapd::start().await;
    for strategy in [GroupStrategy::default(), member_search()] {
        let mut config = slapd.config(&slapd.ldapi_url);
        config.groups = strategy;
        let found = slapd
            .directory(&config)
            .groups_for_username("jürgen")
            .await
            .unwrap();
        assert_eq!(found.user_dn, format!("uid=jürgen,ou=people,{SUFFIX}"));
        assert_eq!(found.names(), ["Ops, Night Shift"]);
        // slapd spells the escaped comma as `\2C`; RFC 4514's `\,` (what escape_dn_value
        // writes) names the same entry.
        let ours = format!(
            "cn={},ou=groups,{SUFFIX}",
            escape_dn_value("Ops, Night Shift")
        );
        let slapds = format!("cn=Ops\\2C Night Shift,ou=groups,{SUFFIX}");
        assert_eq!(ours, format!("cn=Ops\\, Night Shift,ou=groups,{SUFFIX}"));
        assert_eq!(found.groups[0].dn, slapds);
    }
}

#[tokio::test]
async fn a_user_name_full_of_filter_metacharacters_is_matched_literally() {
    let slapd = Slapd::start().await;
    let directory = slapd.directory(&slapd.config(&slapd.ldapi_url));
    let found = directory
        .groups_for_username("odd*(name)\\x")
        .await
        .unwrap();
    assert!(found.user_dn.starts_with("uid=odd"), "{}", found.user_dn);
    assert!(found.groups.is_empty());
}
