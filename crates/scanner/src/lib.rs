//! The Confluence secret scanner: finds secrets in storage-format pages and reports them
//! without ever holding the cleartext. A pure library: no network, no store, no files (the
//! corpus generator writes files only when its caller asks).
//!
//! - [`text_view`] / [`TextView`]: the page as text (tags are boundaries, entities decoded,
//!   CDATA kept), mapped back to the storage string and to element paths.
//! - [`Scanner`]: the detectors (format-based tokens, connection strings, generic
//!   `key = value` with entropy, and Confluence-style passwords in tables, prose and code
//!   blocks), behind an Aho-Corasick keyword prefilter, with decoys suppressed.
//! - [`Finding`]: detector, category, severity, location (element path, character offsets),
//!   masked preview and keyed HMAC-SHA256 fingerprint.
//! - [`report`]: text, JSON, SARIF 2.1.0 and HTML outputs of a [`Report`].
//! - [`replace_secret`]: the minimal "vault it" edit of one finding's span.
//! - [`corpus`]: a labelled corpus generator, and its scoring, for the recall goals.

pub mod corpus;
mod detect;
mod edit;
mod error;
mod finding;
pub mod fuzzing;
pub mod report;
mod view;

use serde::{Deserialize, Serialize};

pub use detect::{DetectorInfo, detectors};
pub use edit::replace_secret;
pub use error::{EditError, ScanError};
pub use finding::{Category, Finding, FingerprintKey, Location, Severity, mask};
pub use view::{TextView, text_view};

use view::CharCounter;

/// What the caller knows about a scanned page; the scanner only copies it into the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageMeta {
    pub page_id: Option<String>,
    pub title: Option<String>,
    pub version: Option<u64>,
    pub author: Option<String>,
    pub space_key: Option<String>,
    /// The page's web URL, when scanned through Confluence.
    pub url: Option<String>,
    /// The file, relative to the scanned directory, for `--path` scans.
    pub path: Option<String>,
}

impl PageMeta {
    /// The artifact a SARIF viewer opens: the file path, else the page URL, else
    /// `confluence:page/ID`, else `confluence:page/unknown`.
    pub fn artifact_uri(&self) -> String {
        if let Some(p) = &self.path {
            return p.replace('\\', "/");
        }
        if let Some(u) = &self.url {
            return u.clone();
        }
        format!(
            "confluence:page/{}",
            self.page_id.as_deref().unwrap_or("unknown")
        )
    }
}

/// The scan of one page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageScan {
    pub meta: PageMeta,
    /// Characters in the storage string.
    pub chars: usize,
    /// Whether the page parsed as storage format; if not, its raw text was searched and
    /// findings have no element path.
    pub well_formed: bool,
    pub findings: Vec<Finding>,
}

/// A whole run: the pages in the order they were scanned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub pages: Vec<PageScan>,
}

impl Report {
    /// All findings with their page.
    pub fn findings(&self) -> impl Iterator<Item = (&PageScan, &Finding)> {
        self.pages
            .iter()
            .flat_map(|p| p.findings.iter().map(move |f| (p, f)))
    }

    /// The highest severity found, if any.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings().map(|(_, f)| f.severity).max()
    }
}

/// The scanner: compiled detectors and the fingerprint key. Build once per run.
#[derive(Debug)]
pub struct Scanner {
    engine: detect::Engine,
    key: FingerprintKey,
}

impl Scanner {
    pub fn new(key: FingerprintKey) -> Scanner {
        Scanner {
            engine: detect::Engine::new(),
            key,
        }
    }

    /// The fingerprint key, for the edit helper.
    pub fn key(&self) -> &FingerprintKey {
        &self.key
    }

    /// Scans one page. A page that is not well-formed storage is searched as raw text.
    pub fn scan(&self, meta: PageMeta, storage: &str) -> PageScan {
        let view = TextView::lenient(storage);
        let findings = self.findings(&view);
        PageScan {
            meta,
            chars: storage.chars().count(),
            well_formed: view.is_well_formed(),
            findings,
        }
    }

    /// The findings of a view, in page order.
    pub fn findings(&self, view: &TextView<'_>) -> Vec<Finding> {
        let text = view.text();
        let storage = view.storage();
        let mut in_view = CharCounter::new(text);
        let mut in_storage = CharCounter::new(storage);
        let mut out = Vec::new();
        for c in self.engine.candidates(view) {
            let Some(raw) = view.storage_range(c.range.clone()) else {
                continue;
            };
            let Some(value) = text.get(c.range.clone()) else {
                continue;
            };
            let view_char_offset = in_view.at(c.range.start);
            let view_char_length = value.chars().count();
            let char_offset = in_storage.at(raw.start);
            let char_length = in_storage.at(raw.end) - char_offset;
            out.push(Finding {
                detector: c.info.id.to_string(),
                category: c.info.category,
                severity: c.info.severity,
                location: Location {
                    element_path: view.element_path(c.range.start),
                    char_offset,
                    char_length,
                    byte_offset: raw.start,
                    byte_length: raw.end - raw.start,
                    view_char_offset,
                    view_char_length,
                },
                preview: mask(value),
                fingerprint: self.key.fingerprint(value),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanner_and_reports_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Scanner>();
        shareable::<Report>();
        let key = FingerprintKey::new(&secrecy::SecretSlice::from(b"k".to_vec()));
        let scanner = Scanner::new(key);
        let page = "<p>pw: Xy7!abc9</p>";
        let (a, b) = std::thread::scope(|s| {
            let one = s.spawn(|| scanner.scan(PageMeta::default(), page));
            let two = s.spawn(|| scanner.scan(PageMeta::default(), page));
            (one.join().unwrap(), two.join().unwrap())
        });
        assert_eq!(a, b);
        assert_eq!(a.findings.len(), 1);
    }
}
