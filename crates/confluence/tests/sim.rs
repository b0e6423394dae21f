//! Integration tests against the Confluence Cloud simulator of `arkbridge-sim`, over HTTPS with
//! the simulator's CA: spaces, pages by title and id, historic versions, footer comments, the
//! 409 on a stale update, `edit_page` re-applying an edit after a concurrent change, and
//! `users-bulk`.

use std::time::Duration;

use arkbridge_confluence::{ConfluenceClient, ConfluenceError, parse_page_ref};
use arkbridge_core::config::Config;
use arkbridge_sim::{SimHandle, SimOptions};
use secrecy::SecretString;

struct Sim {
    _dir: tempfile::TempDir,
    _handle: SimHandle,
    client: ConfluenceClient,
    config: Config,
}

async fn sim() -> Sim {
    let dir = tempfile::tempdir().unwrap();
    let handle = arkbridge_sim::start(SimOptions {
        dir: dir.path().to_path_buf(),
        seed: None,
        cpm_delay: Duration::from_millis(50),
    })
    .await
    .unwrap();
    let config = Config::load(&dir.path().join("arkbridge.toml")).unwrap();
    let token = SecretString::from(handle.info().confluence_token.clone());
    let client = ConfluenceClient::new(&config.confluence, token).unwrap();
    Sim {
        _dir: dir,
        _handle: handle,
        client,
        config,
    }
}

#[tokio::test]
async fn spaces_by_key_and_id() {
    let s = sim().await;
    let ops = s.client.space_by_key("OPS").await.unwrap().unwrap();
    assert_eq!((ops.key.as_str(), ops.name.as_str()), ("OPS", "Operations"));
    let same = s.client.get_space(&ops.id).await.unwrap();
    assert_eq!(same.key, "OPS");
    assert!(s.client.space_by_key("NOPE").await.unwrap().is_none());
}

#[tokio::test]
async fn page_by_title_then_by_id_and_url() {
    let s = sim().await;
    let ops = s.client.space_by_key("OPS").await.unwrap().unwrap();
    let pages = s
        .client
        .find_pages("Restart payments API", Some(&ops.id))
        .await
        .unwrap();
    assert_eq!(pages.len(), 1, "{pages:?}");
    let page = &pages[0];
    assert_eq!(page.space_id, ops.id);
    assert!(page.body_storage.contains("cyberark://Prod-DB/payments-db"));
    let by_id = s.client.get_page(&page.id).await.unwrap();
    assert_eq!(
        (by_id.title.as_str(), by_id.version),
        (page.title.as_str(), page.version)
    );
    assert_eq!(by_id.body_storage, page.body_storage);
    let url = s
        .client
        .page_url(&by_id)
        .expect("the page answer carries _links.webui");
    let r = parse_page_ref(&url).unwrap();
    assert_eq!(r.id(), page.id);
    assert_eq!(r.site(), Some(s.client.site_url()));
    assert!(
        s.client
            .find_pages("No such page", None)
            .await
            .unwrap()
            .is_empty()
    );
    let err = s.client.get_page("999999999").await.unwrap_err();
    assert!(matches!(err, ConfluenceError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn footer_comment_create_and_list() {
    let s = sim().await;
    let page = s
        .client
        .find_pages("Restart payments API", None)
        .await
        .unwrap()
        .remove(0);
    let storage = "<p>arkbridge run 1: <strong>succeeded</strong></p>";
    let created = s
        .client
        .create_footer_comment(&page.id, storage)
        .await
        .unwrap();
    assert_eq!(created.page_id.as_deref(), Some(page.id.as_str()));
    let comments = s.client.footer_comments(&page.id).await.unwrap();
    let found = comments
        .iter()
        .find(|c| c.id == created.id)
        .expect("comment listed");
    assert_eq!(found.body_storage, storage);
}

#[tokio::test]
async fn update_then_stale_update_conflicts() {
    let s = sim().await;
    let page = s
        .client
        .find_pages("Payments DB health", None)
        .await
        .unwrap()
        .remove(0);
    let new_body = format!("{}<p>checked by arkbridge</p>", page.body_storage);
    let updated = s
        .client
        .update_page(&page, &new_body, "arkbridge test")
        .await
        .unwrap();
    assert_eq!(updated.version, page.version + 1);
    assert_eq!(
        s.client.get_page(&page.id).await.unwrap().body_storage,
        new_body
    );

    let err = s
        .client
        .update_page(&page, "<p>stale</p>", "stale")
        .await
        .unwrap_err();
    match err {
        ConfluenceError::Conflict { current, .. } => assert_eq!(current, Some(updated.version)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let old = s
        .client
        .get_page_version(&page.id, page.version)
        .await
        .unwrap();
    assert_eq!(old.body_storage, page.body_storage);
}

#[tokio::test]
async fn wrong_token_is_refused() {
    let s = sim().await;
    let bad =
        ConfluenceClient::new(&s.config.confluence, SecretString::from("not-the-token")).unwrap();
    let err = bad.space_by_key("OPS").await.unwrap_err();
    assert!(
        matches!(err, ConfluenceError::Refused { status: 401, .. }),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("not-the-token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_page_keeps_a_change_saved_between_its_read_and_its_write() {
    let s = sim().await;
    let page = s
        .client
        .find_pages("Payments DB health", None)
        .await
        .unwrap()
        .remove(0);
    let other = s.client.clone();
    let client = s.client.clone();
    let id = page.id.clone();
    let edited = tokio::spawn(async move {
        let mut calls = 0;
        let edited = client
            .edit_page(&id, "arkbridge: status", |body: &str| {
                calls += 1;
                if calls == 1 {
                    // Someone else saves while this edit is being computed.
                    tokio::task::block_in_place(|| {
                        tokio::runtime::Handle::current().block_on(async {
                            let now = other.get_page(&id).await.unwrap();
                            let theirs = format!("{}<p>theirs</p>", now.body_storage);
                            other
                                .update_page(&now, &theirs, "other editor")
                                .await
                                .unwrap();
                        })
                    });
                }
                Ok::<_, String>(format!("{body}<p>ours</p>"))
            })
            .await
            .unwrap();
        (edited, calls)
    })
    .await
    .unwrap();
    let (edited, calls) = edited;
    assert_eq!((calls, edited.conflicts), (2, 1));
    assert_eq!(edited.page.version, page.version + 2);
    let stored = s.client.get_page(&page.id).await.unwrap();
    assert!(
        stored.body_storage.ends_with("<p>theirs</p><p>ours</p>"),
        "{}",
        stored.body_storage
    );
}

#[tokio::test]
async fn users_bulk_names_the_page_authors() {
    let s = sim().await;
    let page = s
        .client
        .find_pages("Restart payments API", None)
        .await
        .unwrap()
        .remove(0);
    let author = page
        .version_author_id
        .clone()
        .expect("versions name their author");
    let users = s.client.users_bulk(&[author.as_str()]).await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].account_id.as_deref(), Some(author.as_str()));
    assert!(users[0].display_name.is_some());
}
