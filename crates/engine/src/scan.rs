//! Scanning Confluence for secrets people pasted (`arkbridge scan`, and the daily audit's scan).
//!
//! The pages come from spaces (all pages, or only those modified since a date or since the
//! space's last complete scan: CQL `lastmodified`), or from page ids; with `history` every
//! earlier version is read too, with `comments` the footer comments. Each body goes through the
//! scanner (`arkbridge_scanner`), and every finding is kept in the store's triage memory, keyed
//! by its fingerprint and page, so that a finding seen before keeps its state and only new ones
//! are reported as new. New findings are audited (`scan.finding`, with the masked preview only).
//! No value ever leaves the scanner: what is kept and printed is its preview and fingerprint.

use arkbridge_confluence::{CrawlOptions, Page};
use arkbridge_core::audit::{Action, AuditEvent, Outcome, Target};
use arkbridge_scanner::{Finding, FingerprintKey, PageMeta, PageScan, Report, Scanner};
use arkbridge_store::{FindingRecord, NewFinding, Store};
use secrecy::{ExposeSecret, SecretSlice};
use serde::Serialize;

use crate::{Bridge, EngineError, bootstrap, now_micros};

/// Which pages to scan.
#[derive(Debug, Clone, Default)]
pub struct ScanRequest {
    /// Space keys: every page of each (or those modified since `since`).
    pub spaces: Vec<String>,
    /// Page ids.
    pub pages: Vec<String>,
    pub since: Since,
    /// Earlier versions too.
    pub history: bool,
    /// Footer comments too.
    pub comments: bool,
}

/// How far back a space scan reaches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Since {
    /// Every page.
    #[default]
    All,
    /// Pages modified at or after this time (Unix microseconds).
    Time(i64),
    /// Pages modified since the space's last complete scan (every page the first time).
    Last,
}

/// One scanned document: a page, an earlier version or a comment.
#[derive(Debug, Clone, Serialize)]
pub struct ScannedDoc {
    pub page_id: String,
    pub title: String,
    pub version: u64,
    pub space: Option<String>,
    /// Account id of the version's author.
    pub author: Option<String>,
    /// `None` for the page body; `Some(id)` for a footer comment.
    pub comment_id: Option<String>,
    pub current: bool,
    pub url: Option<String>,
}

/// What the triage memory says about one finding of a scan.
#[derive(Debug, Clone, Serialize)]
pub struct ScanHit {
    /// Index of the document in [`ScanReport::report`]'s pages, and of the finding in it.
    pub page: usize,
    pub finding: usize,
    /// The store's row: finding id and triage state.
    pub record: FindingRecord,
    /// Seen for the first time.
    pub new: bool,
}

/// What a scan did: the scanner's report (pages and findings, for the text, JSON, SARIF and HTML
/// outputs) and the triage memory's view of each finding.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanReport {
    pub report: Report,
    pub hits: Vec<ScanHit>,
    pub bytes: u64,
}

impl ScanReport {
    pub fn new_hits(&self) -> impl Iterator<Item = &ScanHit> {
        self.hits.iter().filter(|h| h.new)
    }

    /// The finding and page of a hit.
    pub fn of(&self, hit: &ScanHit) -> (&PageScan, &Finding) {
        let page = &self.report.pages[hit.page];
        (page, &page.findings[hit.finding])
    }
}

/// Progress while scanning.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanProgress {
    pub documents: u64,
    pub bytes: u64,
    pub findings: u64,
}

impl<S: Store> Bridge<S> {
    /// The fingerprint key of `[scanner] fingerprint_key`, fetched through the CCP.
    pub async fn fingerprint_key(&self) -> Result<FingerprintKey, EngineError> {
        let secret = self
            .config
            .scanner
            .fingerprint_key
            .as_ref()
            .ok_or_else(|| {
                EngineError::Setup(
                    "[scanner] fingerprint_key is not set: scans that keep their findings need a \
                 cyberark:// reference to the key of their fingerprints"
                        .into(),
                )
            })?;
        let value =
            bootstrap::one(&self.ccp, &self.store, "scanner.fingerprint_key", secret).await?;
        Ok(FingerprintKey::new(&SecretSlice::from(
            value.expose_secret().as_bytes().to_vec(),
        )))
    }

    /// Scans the requested pages, keeps every finding in the triage memory and audits the new
    /// ones. `progress` is called after each document.
    pub async fn scan(
        &self,
        actor: &str,
        req: &ScanRequest,
        mut progress: impl FnMut(ScanProgress),
    ) -> Result<ScanReport, EngineError> {
        let scanner = Scanner::new(self.fingerprint_key().await?);
        let mut report = ScanReport::default();
        let mut docs: Vec<(ScannedDoc, String)> = Vec::new();
        for id in &req.pages {
            let page = self.confluence.get_page(id).await?;
            self.collect(&page, true, req, &mut docs).await?;
            if req.history {
                for n in 1..page.version {
                    let old = self.confluence.get_page_version(id, n).await?;
                    self.collect(&old, false, req, &mut docs).await?;
                }
            }
        }
        // Scans flush per space, so that a long scan keeps what it found even if a later space fails.
        self.scan_docs(
            actor,
            &scanner,
            std::mem::take(&mut docs),
            &mut report,
            &mut progress,
        )
        .await?;
        for space_key in &req.spaces {
            let started = now_micros();
            let since = match req.since {
                Since::All => None,
                Since::Time(t) => Some(t),
                Since::Last => self.store.scan_cursor(space_key).await?,
            };
            let pages = self
                .space_pages_since(space_key, since, req.history)
                .await?;
            for (page, current) in pages {
                self.collect(&page, current, req, &mut docs).await?;
            }
            self.scan_docs(
                actor,
                &scanner,
                std::mem::take(&mut docs),
                &mut report,
                &mut progress,
            )
            .await?;
            self.store.set_scan_cursor(space_key, started).await?;
        }
        Ok(report)
    }

    /// The pages of a space, all of them or those modified since `since` (with their earlier
    /// versions when `history`): `(page, current)`.
    async fn space_pages_since(
        &self,
        space_key: &str,
        since: Option<i64>,
        history: bool,
    ) -> Result<Vec<(Page, bool)>, EngineError> {
        let mut out = Vec::new();
        match since {
            None => {
                let space = self
                    .confluence
                    .space_by_key(space_key)
                    .await?
                    .ok_or_else(|| {
                        EngineError::Setup(format!("there is no Confluence space `{space_key}`"))
                    })?;
                let options = CrawlOptions {
                    history,
                    ..CrawlOptions::default()
                };
                self.confluence
                    .crawl_space(&space, &options, |c| {
                        out.push((c.page, c.current));
                        std::ops::ControlFlow::Continue(())
                    })
                    .await?;
            }
            Some(t) => {
                let cql = format!(
                    "space = \"{}\" AND type = page AND lastmodified >= \"{}\"",
                    space_key.replace(['"', '\\'], ""),
                    cql_minute(t)
                );
                let pages = self
                    .confluence
                    .search_content(&cql, true, 100)?
                    .collect_all()
                    .await?;
                for page in pages {
                    if history {
                        for n in 1..page.version {
                            let old = self.confluence.get_page_version(&page.id, n).await?;
                            out.push((old, false));
                        }
                    }
                    out.push((page, true));
                }
            }
        }
        Ok(out)
    }

    /// Adds a page's body (and, when asked, its footer comments) to the documents to scan.
    async fn collect(
        &self,
        page: &Page,
        current: bool,
        req: &ScanRequest,
        docs: &mut Vec<(ScannedDoc, String)>,
    ) -> Result<(), EngineError> {
        let doc = ScannedDoc {
            page_id: page.id.clone(),
            title: page.title.clone(),
            version: page.version,
            space: page.space_key.clone(),
            author: page.version_author_id.clone(),
            comment_id: None,
            current,
            url: self.confluence.page_url(page),
        };
        if req.comments && current {
            for c in self.confluence.footer_comments(&page.id).await? {
                docs.push((
                    ScannedDoc {
                        comment_id: Some(c.id.clone()),
                        ..doc.clone()
                    },
                    c.body_storage,
                ));
            }
        }
        docs.push((doc, page.body_storage.clone()));
        Ok(())
    }

    async fn scan_docs(
        &self,
        actor: &str,
        scanner: &Scanner,
        docs: Vec<(ScannedDoc, String)>,
        report: &mut ScanReport,
        progress: &mut impl FnMut(ScanProgress),
    ) -> Result<(), EngineError> {
        for (doc, body) in docs {
            report.bytes += body.len() as u64;
            let scanned = scanner.scan(doc.meta(), &body);
            if !scanned.well_formed {
                tracing::warn!(document = %doc_name(&doc), "not well-formed storage; searched as raw text");
            }
            let page = report.report.pages.len();
            for (i, finding) in scanned.findings.iter().enumerate() {
                let (record, new) = self
                    .store
                    .record_finding(&new_finding(&doc, finding), now_micros())
                    .await?;
                if new {
                    self.audit_new_finding(actor, &doc, &record).await?;
                }
                report.hits.push(ScanHit {
                    page,
                    finding: i,
                    record,
                    new,
                });
            }
            report.report.pages.push(scanned);
            progress(ScanProgress {
                documents: report.report.pages.len() as u64,
                bytes: report.bytes,
                findings: report.hits.len() as u64,
            });
        }
        Ok(())
    }

    async fn audit_new_finding(
        &self,
        actor: &str,
        doc: &ScannedDoc,
        record: &FindingRecord,
    ) -> Result<(), EngineError> {
        let f = &record.finding;
        self.audit(
            actor,
            AuditEvent::new(Action::ScanFinding)
                .outcome(Outcome::Failure)
                .reason(format!(
                    "{} ({}) on page {}",
                    f.detector, f.severity, doc.page_id
                ))
                .target(Target {
                    page_version: Some(doc.version),
                    ..Target::page(&doc.page_id)
                })
                .details(serde_json::json!({
                    "finding": record.id,
                    "detector": f.detector,
                    "category": f.category,
                    "severity": f.severity,
                    "preview": f.preview,
                    "fingerprint": f.fingerprint,
                    "element_path": f.element_path,
                    "comment": doc.comment_id,
                    "current": doc.current,
                })),
        )
        .await?;
        Ok(())
    }
}

impl ScannedDoc {
    /// What the scanner's report says about the document.
    fn meta(&self) -> PageMeta {
        PageMeta {
            page_id: Some(self.page_id.clone()),
            title: Some(match &self.comment_id {
                Some(c) => format!("{} (comment {c})", self.title),
                None if !self.current => format!("{} (version {})", self.title, self.version),
                None => self.title.clone(),
            }),
            version: Some(self.version),
            author: self.author.clone(),
            space_key: self.space.clone(),
            url: self.url.clone(),
            path: None,
        }
    }
}

fn doc_name(doc: &ScannedDoc) -> String {
    match &doc.comment_id {
        Some(c) => format!("page {} comment {}", doc.page_id, c),
        None => format!("page {} version {}", doc.page_id, doc.version),
    }
}

/// The store row of a finding: a comment's findings are the page's, with the comment in the
/// element path; an earlier version's are the page's too (the value is still in its history).
fn new_finding(doc: &ScannedDoc, f: &Finding) -> NewFinding {
    let element_path = match &doc.comment_id {
        Some(c) => format!("comment[{c}]/{}", f.location.element_path),
        None => f.location.element_path.clone(),
    };
    NewFinding {
        fingerprint: f.fingerprint.clone(),
        location_key: format!("page:{}", doc.page_id),
        page_id: Some(doc.page_id.clone()),
        page_version: i64::try_from(doc.version).ok(),
        title: Some(doc.title.clone()),
        author: doc.author.clone(),
        space: doc.space.clone(),
        file_path: None,
        element_path,
        char_offset: i64::try_from(f.location.char_offset).unwrap_or(i64::MAX),
        char_length: i64::try_from(f.location.char_length).unwrap_or(i64::MAX),
        detector: f.detector.clone(),
        category: f.category.as_str().to_string(),
        severity: f.severity.as_str().to_string(),
        preview: f.preview.clone(),
    }
}

/// A time as CQL's `"yyyy-MM-dd HH:mm"` (UTC), rounded down to the minute so that nothing
/// modified within the minute of the last scan is missed.
fn cql_minute(micros: i64) -> String {
    let ts = jiff::Timestamp::from_microsecond(micros).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.strftime("%Y-%m-%d %H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cql_times_round_down_to_the_minute_in_utc() {
        // 2026-11-29T08:05:59.9Z
        let t = 1_795_939_559_900_000;
        assert_eq!(cql_minute(t), "2026-11-29 08:05");
        assert_eq!(cql_minute(i64::MIN), "1970-01-01 00:00");
    }
}
