//! The simulator's other doors: the Cloud API gateway (`/ex/confluence/{cloudId}`, scoped API
//! token or OAuth bearer; next links must be re-prefixed) and Data Center (`/confluence/rest/api`,
//! personal access token, offset paging, `content/scan`, usernames).

mod common;

use arkbridge_confluence::{ConfluenceAuth, ConfluenceError, PageQuery};
use arkbridge_sim::parse_fault_spec;
use common::{Extra, start};

fn with_credentials(pages: usize) -> Extra {
    Extra {
        pages,
        credentials: true,
    }
}

#[tokio::test]
async fn gateway_with_oauth_follows_reprefixed_next_links() {
    let s = start(with_credentials(30)).await;
    let site = s.site();
    let cloud_id = site.discover_cloud_id().await.unwrap();
    let gw = s.gateway(&cloud_id, ConfluenceAuth::Oauth);
    assert!(
        gw.api_root()
            .ends_with(&format!("/ex/confluence/{cloud_id}"))
    );
    let ops = gw.space_by_key("OPS").await.unwrap().unwrap();
    let mut listing = gw.pages(&PageQuery::new().in_space(&ops).limit(7)).unwrap();
    let mut ids = Vec::new();
    while let Some(batch) = listing.next_batch().await.unwrap() {
        ids.extend(batch.into_iter().map(|p| p.id));
    }
    assert!(listing.requests() > 1, "the list took several answers");
    let direct = site
        .pages(&PageQuery::new().in_space(&ops).limit(250))
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    assert_eq!(ids.len(), direct.len());
    let page = gw.get_page(&ids[0]).await.unwrap();
    assert_eq!(page.id, ids[0]);
}

#[tokio::test]
async fn gateway_with_a_scoped_token_reads_and_searches() {
    let s = start(with_credentials(0)).await;
    let cloud_id = s.site().discover_cloud_id().await.unwrap();
    let gw = s.gateway(&cloud_id, ConfluenceAuth::Basic);
    let pages = gw.find_pages("Restart payments API", None).await.unwrap();
    assert_eq!(pages.len(), 1);
    let hits = gw
        .search("type = page AND space = \"OPS\"", 25)
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    assert!(
        hits.iter()
            .any(|h| h.content_id.as_deref() == Some(pages[0].id.as_str()))
    );
    assert!(gw.current_user().await.unwrap().account_id.is_some());
}

#[tokio::test]
async fn data_center_reads_lists_scans_and_updates_with_a_pat() {
    let s = start(with_credentials(12)).await;
    let dc = s.data_center();
    let ops = dc
        .space_by_key("OPS")
        .await
        .unwrap()
        .expect("space OPS by key");
    let listed = dc
        .pages(&PageQuery::new().in_space(&ops).limit(5))
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    let scanned = dc
        .space_pages(&ops, true, 4)
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    assert!(
        listed.len() > 12 && listed.len() == scanned.len(),
        "{} {}",
        listed.len(),
        scanned.len()
    );
    let page = dc
        .find_pages("Payments DB health", Some("OPS"))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(page.space_key.as_deref(), Some("OPS"));
    assert_eq!(dc.page_space(&page).await.unwrap().key, "OPS");
    let body = format!("{}<p>dc edit</p>", page.body_storage);
    let updated = dc.update_page(&page, &body, "dc test").await.unwrap();
    assert_eq!(updated.version, page.version + 1);
    let err = dc
        .update_page(&page, "<p>stale</p>", "stale")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConfluenceError::Conflict { current: Some(v), .. } if v == updated.version),
        "{err:?}"
    );
    let old = dc.get_page_version(&page.id, page.version).await.unwrap();
    assert_eq!(old.body_storage, page.body_storage);
    let me = dc.current_user().await.unwrap();
    let username = me
        .username
        .clone()
        .expect("Data Center users have usernames");
    assert_eq!(dc.user(&username).await.unwrap().username, Some(username));
    let groups = dc.user_groups("alice").await.unwrap();
    assert!(
        groups.iter().any(|g| g.name == "platform-admins"),
        "{groups:?}"
    );
    let members = dc
        .group_members(&groups[0])
        .unwrap()
        .collect_all()
        .await
        .unwrap();
    assert!(!members.is_empty());
}

#[tokio::test]
async fn data_center_offset_paging_survives_next_links_past_the_end() {
    let s = start(with_credentials(9)).await;
    s.handle
        .set_faults(parse_fault_spec("confluence-dc-over-paging").unwrap())
        .unwrap();
    let dc = s.data_center();
    let ops = dc.space_by_key("OPS").await.unwrap().unwrap();
    let mut paged = dc.pages(&PageQuery::new().in_space(&ops).limit(4)).unwrap();
    let mut count = 0;
    while let Some(batch) = paged.next_batch().await.unwrap() {
        count += batch.len();
    }
    let site_count = s
        .site()
        .pages(
            &PageQuery::new()
                .in_space(&s.site().space_by_key("OPS").await.unwrap().unwrap())
                .limit(250),
        )
        .unwrap()
        .collect_all()
        .await
        .unwrap()
        .len();
    assert_eq!(count, site_count);
    assert_eq!(paged.requests(), count / 4 + 1);
}

#[tokio::test]
async fn data_center_comments_are_comment_content_on_the_page() {
    let s = start(with_credentials(0)).await;
    let dc = s.data_center();
    let page = dc
        .find_pages("Payments DB health", Some("OPS"))
        .await
        .unwrap()
        .remove(0);
    let comment = dc
        .create_footer_comment(&page.id, "<p>dc result</p>")
        .await
        .unwrap();
    assert_eq!(comment.page_id.as_deref(), Some(page.id.as_str()));
    let comments = dc.footer_comments(&page.id).await.unwrap();
    let found = comments
        .iter()
        .find(|c| c.id == comment.id)
        .expect("listed");
    assert_eq!(found.body_storage, "<p>dc result</p>");
}
