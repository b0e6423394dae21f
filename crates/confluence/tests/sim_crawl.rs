//! Paging and crawling against the simulator's Cloud site: a space of 300+ pages streamed in
//! cursor answers, crawled page by page under a client-side rate cap, and crawled with history.

mod common;

use std::ops::ControlFlow;
use std::time::Duration;

use arkbridge_confluence::{CrawlOptions, PageQuery, RateLimit};
use common::{Extra, start};

const BULK: usize = 300;

#[tokio::test]
async fn a_large_space_streams_in_cursor_answers() {
    let s = start(Extra {
        pages: BULK,
        ..Extra::default()
    })
    .await;
    let c = s.site();
    let ops = c.space_by_key("OPS").await.unwrap().unwrap();
    let mut listing = c.space_pages(&ops, false, 25).unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut answers = 0;
    while let Some(batch) = listing.next_batch().await.unwrap() {
        answers += 1;
        assert!(batch.len() <= 25, "{}", batch.len());
        for page in batch {
            assert!(
                seen.insert(page.id.clone()),
                "page {} listed twice",
                page.id
            );
        }
    }
    assert!(seen.len() > BULK, "{}", seen.len());
    assert_eq!(answers, seen.len().div_ceil(25));
    assert_eq!(listing.requests(), answers);

    // The same pages through `GET /pages?space-id=` with bodies, item by item.
    let mut pages = c
        .pages(&PageQuery::new().in_space(&ops).with_bodies().limit(250))
        .unwrap();
    let mut with_bodies = 0;
    while let Some(page) = pages.try_next().await.unwrap() {
        assert!(
            !page.body_storage.is_empty(),
            "page {} has no body",
            page.id
        );
        with_bodies += 1;
    }
    assert_eq!(with_bodies, seen.len());
}

#[tokio::test]
async fn crawl_reads_each_page_concurrently_under_the_rate_cap() {
    let s = start(Extra {
        pages: BULK,
        ..Extra::default()
    })
    .await;
    let c = s.site();
    let ops = c.space_by_key("OPS").await.unwrap().unwrap();
    let rate = 400.0;
    c.set_rate_limit(Some(RateLimit::new(rate, 1).unwrap()));
    let options = CrawlOptions {
        concurrency: 8,
        list_limit: 100,
        fetch_each: true,
        history: false,
    };
    let mut bodies = 0;
    let stats = c
        .crawl_space(&ops, &options, |crawled| {
            assert!(crawled.current);
            if crawled.page.body_storage.contains("bulk page") {
                bodies += 1;
            }
            ControlFlow::Continue(())
        })
        .await
        .unwrap();
    assert_eq!(bodies, BULK);
    assert!(stats.pages as usize > BULK);
    let listing_answers = (stats.pages as usize).div_ceil(100) as u64;
    assert_eq!(stats.requests, stats.pages + listing_answers);
    assert_eq!(stats.throttled, 0);
    // Requests are spaced by 1/rate: the crawl cannot be faster than the cap allows.
    let floor = Duration::from_secs_f64((stats.requests - 1) as f64 / rate);
    assert!(stats.elapsed >= floor, "{:?} < {floor:?}", stats.elapsed);
}

#[tokio::test]
async fn crawl_with_history_reads_earlier_versions_and_can_stop_early() {
    let s = start(Extra::default()).await;
    let c = s.site();
    let ops = c.space_by_key("OPS").await.unwrap().unwrap();
    let page = c
        .find_pages("Payments DB health", None)
        .await
        .unwrap()
        .remove(0);
    let mut current = page.clone();
    for n in 0..2 {
        let body = format!("{}<p>edit {n}</p>", current.body_storage);
        current = c
            .update_page(&current, &body, "history test")
            .await
            .unwrap();
    }
    let options = CrawlOptions {
        history: true,
        ..CrawlOptions::default()
    };
    let mut old_versions = Vec::new();
    let stats = c
        .crawl_space(&ops, &options, |crawled| {
            if !crawled.current && crawled.page.id == page.id {
                old_versions.push((crawled.page.version, crawled.page.body_storage.clone()));
            }
            ControlFlow::Continue(())
        })
        .await
        .unwrap();
    old_versions.sort();
    assert_eq!(old_versions.len(), 2, "{old_versions:?}");
    assert_eq!(old_versions[0], (page.version, page.body_storage.clone()));
    assert!(stats.versions >= 2);

    let mut delivered = 0;
    let stopped = c
        .crawl_space(&ops, &CrawlOptions::default(), |_| {
            delivered += 1;
            ControlFlow::Break(())
        })
        .await
        .unwrap();
    assert_eq!((delivered, stopped.pages), (1, 1));
}
