//! arkbridge-confluence: the Confluence client (Cloud and Data Center) for runbook pages.
//!
//! [`ConfluenceClient`] reads pages (current or historic versions, by id, title, CQL or a whole
//! space), edits them without overwriting concurrent changes ([`ConfluenceClient::edit_page`]),
//! posts and lists footer comments, and reads what decides who may do what: labels, content
//! properties, restrictions, space permissions, users and groups. [`parse_page_ref`] turns what
//! users paste (a page id or a page URL) into a page id.
//!
//! Flavors and authentication come from [`ConfluenceConfig`]: Cloud REST v2 (with v1 where v2 has
//! no equivalent) on the site or through the gateway `api.atlassian.com/ex/confluence/{cloudId}`
//! with basic (e-mail + API token) or OAuth bearer auth; Data Center `/rest/api` with a personal
//! access token or basic auth. Lists are streamed ([`Paged`]); the `Link` header and
//! `_links.next` are followed, re-prefixed behind the gateway.
//!
//! Transport: rustls on the `ring` provider, roots from the configured CA bundle or
//! `webpki-roots`, no redirects, the credential in a sensitive header. Requests are paced by an
//! optional rate cap ([`RateLimit`]) shared by all clones; `408`/`429`/`5xx` are retried as
//! [`RetryPolicy`] says, honouring `Retry-After`. Errors never carry the token.
//!
//! [`ConfluenceConfig`]: arkbridge_core::config::ConfluenceConfig

mod client;
mod content_meta;
mod crawl;
mod directory;
mod edit;
mod endpoint;
mod error;
mod model;
mod pacing;
mod page_ref;
mod pages;
mod paging;
mod records;
mod retry;
mod spaces;
mod tls;
mod transport;

pub use arkbridge_core::config::{ConfluenceAuth, ConfluenceFlavor};
pub use client::ConfluenceClient;
pub use crawl::{CrawlOptions, CrawlStats, CrawledPage};
pub use directory::PermissionSubject;
pub use edit::{EditError, Edited};
pub use error::ConfluenceError;
pub use model::{Comment, Page, Space};
pub use pacing::{ClientStats, RateLimit};
pub use page_ref::{PageRef, parse_page_ref};
pub use pages::{NewPage, PageQuery};
pub use paging::Paged;
pub use records::{
    ContentProperty, Group, Label, PageVersion, PermissionCheck, Restriction, SearchResult,
    SpacePermission, User,
};
pub use retry::RetryPolicy;

#[cfg(test)]
mod api_tests;
#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod edit_tests;
#[cfg(test)]
mod paging_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod timing_tests;
