//! Streaming iteration over Confluence lists, one answer page at a time.
//!
//! [`Paged`] fetches a page of results only when the caller asks for more, so a crawl of ten
//! thousand pages holds one answer at a time. Two paging styles exist:
//!
//! - **cursor** (Cloud v2, Cloud v1 search, Data Center `content/scan`): follow the `Link`
//!   header's `rel="next"` target, else the body's `_links.next`; stop when neither is there.
//!   Links are resolved by [`Endpoints::resolve`](crate::endpoint::Endpoints), which re-prefixes
//!   them behind the gateway and refuses other hosts.
//! - **offset** (Data Center lists, v1 `memberof` and group members): `start`/`limit`; stop when
//!   an answer holds fewer results than the limit. `_links.next` is ignored on purpose: Data Center
//!   7.19 to 8.9 keep sending it past the end of lists longer than 200 (CONFSERVER-95396).
//!
//! A list that repeats a link, or exceeds 100,000 answers, is a protocol error rather than an
//! endless loop.

use std::collections::{HashSet, VecDeque};

use reqwest::header::LINK;
use serde_json::Value;

use crate::client::ConfluenceClient;
use crate::error::ConfluenceError;
use crate::model::{link_header_next, number_of, results};

/// Guard against servers that never stop paging.
const MAX_REQUESTS: usize = 100_000;

/// How a list pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Cursor,
    /// `start`/`limit`, with the limit the first URL asked for.
    Offset {
        limit: u64,
    },
}

/// A lazily fetched list of `T`. Ask for one answer page at a time ([`Paged::next_batch`]) or one
/// item at a time ([`Paged::try_next`]); nothing is fetched before the first call.
pub struct Paged<T> {
    client: ConfluenceClient,
    next: Option<String>,
    style: Style,
    what: String,
    parse: fn(&Value) -> Result<T, String>,
    seen: HashSet<String>,
    buffer: VecDeque<T>,
    requests: usize,
}

impl<T> std::fmt::Debug for Paged<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paged")
            .field("what", &self.what)
            .field("requests", &self.requests)
            .field("done", &self.next.is_none())
            .finish_non_exhaustive()
    }
}

/// `url` with its `start` query parameter set to `start` (added if absent). Other parameters
/// keep their encoding byte for byte.
pub(crate) fn with_start(url: &str, start: u64) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut pairs: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some("start"))
        .map(str::to_string)
        .collect();
    pairs.push(format!("start={start}"));
    format!("{base}?{}", pairs.join("&"))
}

/// The `start` query parameter of `url`, 0 if absent.
fn start_of(url: &str) -> u64 {
    url.split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("")
        .split('&')
        .find_map(|p| p.strip_prefix("start="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl<T> Paged<T> {
    pub(crate) fn new(
        client: &ConfluenceClient,
        first: String,
        style: Style,
        what: impl Into<String>,
        parse: fn(&Value) -> Result<T, String>,
    ) -> Paged<T> {
        Paged {
            client: client.clone(),
            next: Some(first),
            style,
            what: what.into(),
            parse,
            seen: HashSet::new(),
            buffer: VecDeque::new(),
            requests: 0,
        }
    }

    /// Requests made so far for this list.
    pub fn requests(&self) -> usize {
        self.requests
    }

    /// The next answer page's items; `None` when the list has ended. Items already buffered by
    /// [`Paged::try_next`] come first.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<T>>, ConfluenceError> {
        if !self.buffer.is_empty() {
            return Ok(Some(self.buffer.drain(..).collect()));
        }
        // Answers with no items but a next link (a filtered cursor page) are skipped over.
        while let Some(url) = self.next.take() {
            let items = self.fetch(url).await?;
            if !items.is_empty() {
                return Ok(Some(items));
            }
        }
        Ok(None)
    }

    /// The next item; `None` when the list has ended.
    pub async fn try_next(&mut self) -> Result<Option<T>, ConfluenceError> {
        loop {
            if let Some(item) = self.buffer.pop_front() {
                return Ok(Some(item));
            }
            match self.next_batch().await? {
                Some(batch) => self.buffer.extend(batch),
                None => return Ok(None),
            }
        }
    }

    /// Every remaining item (for lists known to be short).
    pub async fn collect_all(mut self) -> Result<Vec<T>, ConfluenceError> {
        let mut out: Vec<T> = self.buffer.drain(..).collect();
        while let Some(batch) = self.next_batch().await? {
            out.extend(batch);
        }
        Ok(out)
    }

    async fn fetch(&mut self, url: String) -> Result<Vec<T>, ConfluenceError> {
        let protocol = |detail: String| ConfluenceError::Protocol { detail };
        if self.requests >= MAX_REQUESTS || !self.seen.insert(url.clone()) {
            return Err(protocol(format!("the list of {} does not end", self.what)));
        }
        self.requests += 1;
        let (value, headers) = self.client.get_json(&url, &self.what).await?;
        let (raw, body_next) = results(&value).map_err(protocol)?;
        let items = raw
            .iter()
            .map(self.parse)
            .collect::<Result<Vec<T>, String>>()
            .map_err(protocol)?;
        self.next = match self.style {
            Style::Cursor => {
                let header_next = headers
                    .get_all(LINK)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .find_map(link_header_next);
                match header_next.or(body_next) {
                    Some(link) => Some(
                        self.client
                            .endpoints()
                            .resolve(&url, &link)
                            .map_err(protocol)?,
                    ),
                    None => None,
                }
            }
            Style::Offset { limit } => {
                // The server may cap the limit below the one asked for; its answer says so.
                let effective = number_of(value.get("limit"))
                    .filter(|n| *n > 0)
                    .map_or(limit, |n| n.min(limit));
                let count = raw.len() as u64;
                if count == 0 || count < effective {
                    None
                } else {
                    Some(with_start(&url, start_of(&url) + count))
                }
            }
        };
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_parameter_is_replaced_in_place() {
        assert_eq!(
            with_start(
                "https://h/rest/api/content?spaceKey=OPS&start=0&limit=25",
                25
            ),
            "https://h/rest/api/content?spaceKey=OPS&limit=25&start=25"
        );
        assert_eq!(
            with_start("https://h/rest/api/search?cql=title%20~%20%22a%26b%22", 50),
            "https://h/rest/api/search?cql=title%20~%20%22a%26b%22&start=50"
        );
        assert_eq!(with_start("https://h/x", 3), "https://h/x?start=3");
        assert_eq!(start_of("https://h/x?limit=5&start=40"), 40);
        assert_eq!(start_of("https://h/x?startAt=9"), 0);
    }
}
