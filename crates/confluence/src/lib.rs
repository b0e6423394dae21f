//! arkbridge-confluence: a Confluence Cloud REST (v2) client for runbook pages.
//!
//! [`ConfluenceClient`] reads pages (current or historic versions, by id or by title), resolves
//! spaces, updates page bodies with optimistic versioning (a concurrent edit is a
//! [`ConfluenceError::Conflict`]) and posts and lists footer comments. [`parse_page_ref`] turns
//! what users paste (a page id or a page URL) into a page id.
//!
//! Transport: rustls on the `ring` provider, roots from the configured CA bundle or
//! `webpki-roots`, no redirects, basic auth with the service user's API token in a sensitive
//! header. Rate limiting (`429`/`503` + `Retry-After`) and transient 5xx answers are retried a
//! bounded number of times. Errors never carry the token.

mod client;
mod error;
mod model;
mod page_ref;
mod retry;
mod tls;

pub use client::ConfluenceClient;
pub use error::ConfluenceError;
pub use model::{Comment, Page, Space};
pub use page_ref::{PageRef, parse_page_ref};
