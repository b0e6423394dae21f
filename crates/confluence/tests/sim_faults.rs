//! The client under the simulator's Confluence faults: a burst of 429s with `Retry-After`, a
//! server-side rate limit during a crawl, and concurrent edits racing the bridge's updates.

mod common;

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use arkbridge_confluence::{CrawlOptions, RateLimit};
use arkbridge_sim::parse_fault_spec;
use common::{Extra, start};

#[tokio::test]
async fn a_burst_of_429s_is_waited_out() {
    let s = start(Extra::default()).await;
    let c = s.site();
    let page = c
        .find_pages("Restart payments API", None)
        .await
        .unwrap()
        .remove(0);
    s.handle
        .set_faults(parse_fault_spec("confluence-429-burst=2,confluence-retry-after=1").unwrap())
        .unwrap();
    let started = Instant::now();
    let again = c.get_page(&page.id).await.unwrap();
    assert_eq!(again.version, page.version);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let stats = c.stats();
    assert_eq!((stats.throttled, stats.max_consecutive_throttled), (2, 2));
}

#[tokio::test]
async fn a_capped_crawl_is_never_refused_twice_in_a_row() {
    let s = start(Extra {
        pages: 120,
        ..Extra::default()
    })
    .await;
    let c = s.site();
    let ops = c.space_by_key("OPS").await.unwrap().unwrap();
    s.handle
        .set_faults(parse_fault_spec("confluence-rate-limit=100").unwrap())
        .unwrap();
    c.set_rate_limit(Some(RateLimit::new(95.0, 1).unwrap()));
    let options = CrawlOptions {
        concurrency: 8,
        list_limit: 50,
        fetch_each: true,
        history: false,
    };
    let stats = c
        .crawl_space(&ops, &options, |_| ControlFlow::Continue(()))
        .await
        .unwrap();
    assert!(stats.pages > 120);
    assert!(c.stats().max_consecutive_throttled <= 1, "{:?}", c.stats());
}

#[tokio::test]
async fn edit_page_resolves_racing_edits() {
    let s = start(Extra::default()).await;
    let c = s.site();
    let page = c
        .find_pages("Payments DB health", None)
        .await
        .unwrap()
        .remove(0);
    // Every second page update meets a concurrent edit just before it.
    s.handle
        .set_faults(parse_fault_spec("confluence-edit-race=50%").unwrap())
        .unwrap();
    let mut conflicts = 0;
    for n in 0..2 {
        let edited = c
            .edit_page(&page.id, "race test", |body: &str| {
                Ok::<_, String>(format!("{body}<p>ours {n}</p>"))
            })
            .await
            .unwrap();
        conflicts += edited.conflicts;
        assert!(
            edited
                .page
                .body_storage
                .ends_with(&format!("<p>ours {n}</p>"))
        );
    }
    assert_eq!(conflicts, 1);
    let stored = c.get_page(&page.id).await.unwrap();
    assert!(stored.body_storage.contains("<p>ours 0</p>"));
}
