//! The client's Cloud calls beyond pages and comments, against the simulator's site: CQL search
//! (v1), labels (v2 read, v1 write), content properties and version history (v2), the calling
//! user, groups and memberships (v1), restrictions and permission checks (v1), space
//! permissions (v2), and creating and deleting pages (v2).

mod common;

use arkbridge_confluence::{
    ConfluenceClient, ConfluenceError, NewPage, Page, PageQuery, PermissionSubject,
};
use common::{Extra, start};
use serde_json::json;

async fn page(c: &ConfluenceClient, title: &str) -> Page {
    c.find_pages(title, None).await.unwrap().remove(0)
}

#[tokio::test]
async fn cql_search_finds_pages_and_content_search_brings_bodies() {
    let s = start(Extra::default()).await;
    let c = s.site();
    let restart = page(&c, "Restart payments API").await;
    let results = c
        .search("type = page AND space = \"OPS\"", 25)
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    assert!(
        results
            .iter()
            .any(|r| r.content_id.as_deref() == Some(restart.id.as_str())),
        "{results:?}"
    );
    let pages = c
        .search_content("type = page AND space = \"OPS\"", true, 1)
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    let found = pages
        .iter()
        .find(|p| p.id == restart.id)
        .expect("found by CQL");
    assert_eq!(found.body_storage, restart.body_storage);
    assert_eq!(found.space_key.as_deref(), Some("OPS"));
    let err = c
        .search("type = = page", 25)
        .unwrap()
        .collect_all()
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConfluenceError::Refused { status: 400, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn labels_are_written_in_v1_and_read_in_v2() {
    let s = start(Extra::default()).await;
    let c = s.site();
    let p = page(&c, "Restart payments API").await;
    let after = c
        .add_labels(&p.id, &["runbook", "arkbridge-scanned"])
        .await
        .unwrap();
    assert!(after.iter().any(|l| l.name == "runbook"), "{after:?}");
    let names: Vec<String> = c
        .page_labels(&p.id)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert!(names.contains(&"runbook".into()) && names.contains(&"arkbridge-scanned".into()));
    c.remove_label(&p.id, "arkbridge-scanned").await.unwrap();
    let names: Vec<String> = c
        .page_labels(&p.id)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert!(!names.contains(&"arkbridge-scanned".into()), "{names:?}");
}

#[tokio::test]
async fn content_properties_are_versioned() {
    let s = start(Extra::default()).await;
    let c = s.site();
    let p = page(&c, "Payments DB health").await;
    assert!(
        c.page_property(&p.id, "arkbridge.audit")
            .await
            .unwrap()
            .is_none()
    );
    let created = c
        .create_page_property(&p.id, "arkbridge.audit", &json!({"hash": "ab12"}))
        .await
        .unwrap();
    let updated = c
        .update_page_property(&p.id, &created, &json!({"hash": "cd34"}))
        .await
        .unwrap();
    assert_eq!(updated.version, created.version + 1);
    let err = c
        .update_page_property(&p.id, &created, &json!({"hash": "stale"}))
        .await
        .unwrap_err();
    assert!(matches!(err, ConfluenceError::Conflict { .. }), "{err:?}");
    let read = c
        .page_property(&p.id, "arkbridge.audit")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.value, json!({"hash": "cd34"}));
    assert_eq!(c.page_properties(&p.id).await.unwrap().len(), 1);
    c.delete_page_property(&p.id, &read.id).await.unwrap();
    assert!(
        c.page_property(&p.id, "arkbridge.audit")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn version_history_lists_every_version() {
    let s = start(Extra::default()).await;
    let c = s.site();
    let p = page(&c, "Legacy DB notes").await;
    let body = format!("{}<p>reviewed</p>", p.body_storage);
    c.update_page(&p, &body, "review").await.unwrap();
    let versions = c.page_versions(&p.id).unwrap().collect_all().await.unwrap();
    let mut numbers: Vec<u64> = versions.iter().map(|v| v.number).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=p.version + 1).collect::<Vec<_>>());
    assert!(versions.iter().any(|v| v.message == "review"));
}

#[tokio::test]
async fn users_groups_restrictions_and_permissions() {
    let s = start(Extra::default()).await;
    let c = s.site();
    let me = c.current_user().await.unwrap();
    assert!(me.account_id.is_some(), "{me:?}");
    let restart = page(&c, "Restart payments API").await;
    let alice = restart
        .version_author_id
        .clone()
        .expect("alice wrote the demo runbook");
    let groups = c.user_groups(&alice).await.unwrap();
    let admins = groups
        .iter()
        .find(|g| g.name == "platform-admins")
        .unwrap_or_else(|| panic!("alice's groups: {groups:?}"));
    let same = c
        .group(admins.id.as_deref().expect("Cloud groups have ids"))
        .await
        .unwrap();
    assert_eq!(same.name, "platform-admins");
    let members = c.group_members(&same).unwrap().collect_all().await.unwrap();
    assert!(
        members
            .iter()
            .any(|u| u.account_id.as_deref() == Some(alice.as_str()))
    );
    assert_eq!(
        c.user(&alice).await.unwrap().account_id.as_deref(),
        Some(alice.as_str())
    );

    let restrictions = c.restrictions(&restart.id).await.unwrap();
    assert!(
        restrictions.iter().any(|r| r.operation == "read"),
        "{restrictions:?}"
    );
    let me_id = me.account_id.clone().unwrap();
    let check = c
        .check_permission(&restart.id, &PermissionSubject::User(me_id), "read")
        .await
        .unwrap();
    assert!(
        check.has_permission,
        "the bridge reads this page: {check:?}"
    );

    let ops = c.space_by_key("OPS").await.unwrap().unwrap();
    let permissions = c
        .space_permissions(&ops)
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    assert!(
        permissions
            .iter()
            .any(|p| p.operation == "read" && p.target_type == "space"),
        "{permissions:?}"
    );
}

#[tokio::test]
async fn pages_are_created_and_moved_to_the_trash() {
    let s = start(Extra::default()).await;
    let c = s.site();
    let ops = c.space_by_key("OPS").await.unwrap().unwrap();
    let created = c
        .create_page(&NewPage {
            space: &ops,
            title: "arkbridge scan report",
            parent_id: None,
            storage: "<p>no secrets found</p>",
        })
        .await
        .unwrap();
    assert_eq!(created.version, 1);
    let read = c.get_page(&created.id).await.unwrap();
    assert_eq!(read.body_storage, "<p>no secrets found</p>");
    c.delete_page(&created.id).await.unwrap();
    // A trashed page is no longer current; reading it by id either shows it in the trash or
    // (depending on the status filter a site applies by default) not at all.
    match c.get_page(&created.id).await {
        Ok(trashed) => assert_eq!(trashed.status, "trashed"),
        Err(err) => assert!(matches!(err, ConfluenceError::NotFound { .. }), "{err:?}"),
    }
    let current = c
        .pages(&PageQuery::new().in_space(&ops).status("current").limit(250))
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    assert!(current.iter().all(|p| p.id != created.id));
    assert!(current.iter().any(|p| p.title == "Restart payments API"));
}
