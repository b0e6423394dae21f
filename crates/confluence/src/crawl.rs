//! Crawling a whole space without holding it in memory.
//!
//! [`ConfluenceClient::crawl_space`] lists the space one answer at a time and hands every page to
//! a callback as soon as it has it. With `fetch_each`, the listing carries no bodies and every
//! page is read on its own; with `history`, every earlier version is read as well. Those reads
//! run concurrently (at most `concurrency` in flight), and all of them go through the client's
//! pacer, so a rate cap just under the server's limit keeps a long crawl at the cap without
//! collecting 429s. Memory stays at one listing answer plus the reads in flight.

use std::ops::ControlFlow;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::client::ConfluenceClient;
use crate::error::ConfluenceError;
use crate::model::{Page, Space};

/// How [`ConfluenceClient::crawl_space`] reads a space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrawlOptions {
    /// Reads in flight at once (1 to 256).
    pub concurrency: usize,
    /// Pages per listing answer (1 to 250).
    pub list_limit: u32,
    /// List without bodies and read every page on its own, instead of taking the bodies from
    /// the listing.
    pub fetch_each: bool,
    /// Also read every earlier version of every page.
    pub history: bool,
}

impl Default for CrawlOptions {
    fn default() -> Self {
        CrawlOptions {
            concurrency: 8,
            list_limit: 250,
            fetch_each: false,
            history: false,
        }
    }
}

/// One page (or one earlier version of a page) found by a crawl.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CrawledPage {
    pub page: Page,
    /// False for an earlier version.
    pub current: bool,
}

/// What a crawl did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CrawlStats {
    /// Current pages delivered.
    pub pages: u64,
    /// Earlier versions delivered.
    pub versions: u64,
    /// Pages or versions that disappeared (404) between the listing and the read.
    pub skipped: u64,
    /// Requests the client sent during the crawl (including any other use of it meanwhile).
    pub requests: u64,
    /// 429 answers the client received during the crawl.
    pub throttled: u64,
    pub elapsed: Duration,
}

type Job = Result<Option<CrawledPage>, ConfluenceError>;

impl ConfluenceClient {
    fn spawn_read(&self, jobs: &mut JoinSet<Job>, id: String, version: Option<u64>) {
        let client = self.clone();
        jobs.spawn(async move {
            let read = match version {
                None => client.get_page(&id).await,
                Some(n) => client.get_page_version(&id, n).await,
            };
            match read {
                Ok(page) => Ok(Some(CrawledPage {
                    page,
                    current: version.is_none(),
                })),
                Err(ConfluenceError::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
    }

    /// Reads every page of `space` and calls `on_page` with each (in no particular order when
    /// reads run concurrently). `on_page` returning `Break` ends the crawl early; reads in
    /// flight are then cancelled. The first error ends the crawl too.
    pub async fn crawl_space<F>(
        &self,
        space: &Space,
        options: &CrawlOptions,
        mut on_page: F,
    ) -> Result<CrawlStats, ConfluenceError>
    where
        F: FnMut(CrawledPage) -> ControlFlow<()>,
    {
        if !(1..=256).contains(&options.concurrency) {
            return Err(ConfluenceError::Invalid(format!(
                "crawl concurrency must be between 1 and 256, not {}",
                options.concurrency
            )));
        }
        let started = tokio::time::Instant::now();
        let before = self.stats();
        let mut stats = CrawlStats::default();
        let mut listing = self.space_pages(space, !options.fetch_each, options.list_limit)?;
        let mut jobs: JoinSet<Job> = JoinSet::new();
        let mut stopped = false;
        'listing: while let Some(batch) = listing.next_batch().await? {
            for listed in batch {
                let (id, version) = (listed.id.clone(), listed.version);
                let mut reads = Vec::new();
                if options.fetch_each {
                    reads.push(None);
                } else if deliver(&mut stats, &mut on_page, Some(listed), true).is_break() {
                    stopped = true;
                    break 'listing;
                }
                if options.history {
                    reads.extend((1..version).map(Some));
                }
                for version in reads {
                    while jobs.len() >= options.concurrency {
                        if finish_one(&mut jobs, &mut stats, &mut on_page)
                            .await?
                            .is_break()
                        {
                            stopped = true;
                            break 'listing;
                        }
                    }
                    self.spawn_read(&mut jobs, id.clone(), version);
                }
            }
        }
        while !stopped && !jobs.is_empty() {
            if finish_one(&mut jobs, &mut stats, &mut on_page)
                .await?
                .is_break()
            {
                stopped = true;
            }
        }
        jobs.abort_all();
        let after = self.stats();
        stats.requests = after.requests - before.requests;
        stats.throttled = after.throttled - before.throttled;
        stats.elapsed = started.elapsed();
        Ok(stats)
    }
}

/// Counts and delivers one result; `None` is a page that vanished.
fn deliver<F>(
    stats: &mut CrawlStats,
    on_page: &mut F,
    page: Option<Page>,
    current: bool,
) -> ControlFlow<()>
where
    F: FnMut(CrawledPage) -> ControlFlow<()>,
{
    let Some(page) = page else {
        stats.skipped += 1;
        return ControlFlow::Continue(());
    };
    if current {
        stats.pages += 1;
    } else {
        stats.versions += 1;
    }
    on_page(CrawledPage { page, current })
}

/// Waits for one read and delivers it.
async fn finish_one<F>(
    jobs: &mut JoinSet<Job>,
    stats: &mut CrawlStats,
    on_page: &mut F,
) -> Result<ControlFlow<()>, ConfluenceError>
where
    F: FnMut(CrawledPage) -> ControlFlow<()>,
{
    let Some(joined) = jobs.join_next().await else {
        return Ok(ControlFlow::Continue(()));
    };
    let read = match joined {
        Ok(read) => read,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => {
            return Err(ConfluenceError::Protocol {
                detail: format!("a crawl read was cancelled: {e}"),
            });
        }
    };
    Ok(match read? {
        Some(c) => deliver(stats, on_page, Some(c.page), c.current),
        None => deliver(stats, on_page, None, true),
    })
}
