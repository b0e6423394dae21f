//! The scanner's errors. None of them carries page text: a page under scan may hold secrets.

/// Why a page could not be viewed or edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// The page is not well-formed storage format; only the position is kept, since the
    /// parser's own message may quote page text.
    #[error("the page is not well-formed storage format (line {line}, column {column})")]
    Malformed { line: usize, column: usize },
}

/// Why a "vault it" edit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error("the span {start}..{end} is outside the page ({len} characters)")]
    OutOfPage {
        start: usize,
        end: usize,
        len: usize,
    },
    #[error("the span no longer holds the value found there (the page changed)")]
    FingerprintMismatch,
    #[error("the span does not lie in one run of page text, so it cannot be replaced alone")]
    NotReplaceable,
    #[error("the replacement cannot be written into the page: {0}")]
    Unrepresentable(String),
}
