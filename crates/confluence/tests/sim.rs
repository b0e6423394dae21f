//! Integration tests against the Confluence Cloud simulator of `arkbridge-sim`, over HTTPS with
//! the simulator's CA: spaces, pages by title and id, historic versions, footer comments and the
//! 409 on a stale update.

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
