//! Editing a page without overwriting a concurrent change.
//!
//! [`ConfluenceClient::edit_page`] takes an edit *function* instead of a new body: it reads the
//! page, applies the function to the current storage, and sends the result as version
//! `current + 1`. When Confluence answers 409 (someone saved in between), it reads the page again
//! and re-applies the function to the newer body, up to `RetryPolicy::conflict_attempts` times.
//! The edit must therefore be expressed against whatever the page holds now (replace *this* span,
//! insert *after that* macro), which is what a secret-replacement or status edit is anyway.
//!
//! A PUT whose answer was lost is retried; if the first copy had landed, the retry gets a 409,
//! and the re-read shows our own body at the version we sent. That is recognised as success
//! rather than applying the edit a second time.

use crate::client::ConfluenceClient;
use crate::error::ConfluenceError;
use crate::model::Page;

/// Why [`ConfluenceClient::edit_page`] failed.
#[derive(Debug, thiserror::Error)]
pub enum EditError<E> {
    /// The edit function refused the page's current body.
    #[error("the edit of page {page_id} failed: {reason}")]
    Edit { page_id: String, reason: E },
    /// Confluence failed or refused; a `Conflict` here means the conflicts outlasted the retries.
    #[error(transparent)]
    Confluence(#[from] ConfluenceError),
}

/// What [`ConfluenceClient::edit_page`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Edited {
    /// The page as it now is.
    pub page: Page,
    /// False when the edit left the body as it was (nothing was sent).
    pub changed: bool,
    /// How many 409 conflicts were met and resolved by re-applying the edit.
    pub conflicts: u32,
}

impl ConfluenceClient {
    /// Reads page `id`, applies `edit` to its storage body and saves the result as a new version
    /// with `message`. On a version conflict the page is read again and `edit` re-applied to the
    /// newer body, so a concurrent change is kept, never overwritten.
    pub async fn edit_page<F, E>(
        &self,
        id: &str,
        message: &str,
        mut edit: F,
    ) -> Result<Edited, EditError<E>>
    where
        F: FnMut(&str) -> Result<String, E>,
    {
        let max_conflicts = self.retry_policy().conflict_attempts;
        let mut conflicts = 0;
        // The version and body of the last update sent, to recognise it if it landed.
        let mut sent: Option<(u64, String)> = None;
        loop {
            let page = self.get_page(id).await?;
            if let Some((version, body)) = &sent
                && page.version == *version
                && page.body_storage == *body
            {
                return Ok(Edited {
                    page,
                    changed: true,
                    conflicts,
                });
            }
            let new_body = edit(&page.body_storage).map_err(|reason| EditError::Edit {
                page_id: id.to_string(),
                reason,
            })?;
            if new_body == page.body_storage {
                return Ok(Edited {
                    page,
                    changed: false,
                    conflicts,
                });
            }
            match self.update_page(&page, &new_body, message).await {
                Ok(updated) => {
                    return Ok(Edited {
                        page: updated,
                        changed: true,
                        conflicts,
                    });
                }
                Err(ConfluenceError::Conflict { current, message })
                    if conflicts < max_conflicts =>
                {
                    conflicts += 1;
                    tracing::info!(
                        page = id,
                        sent = page.version + 1,
                        current,
                        conflict = %message,
                        "page changed meanwhile; re-applying the edit to the newer version"
                    );
                    sent = Some((page.version + 1, new_body));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
