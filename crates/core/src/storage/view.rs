//! The text view of a page: what a secret scanner searches, with a map back to the XHTML.
//!
//! The view holds, in document order, the decoded text of text nodes and references, the
//! content of CDATA sections (adjacent sections concatenated, as a script is), and the values of
//! attributes that may carry user content (`href`, `ri:value`, `title`, ...; ids and layout
//! attributes are left out). Macro parameters are element text, so they are in it too.
//!
//! A `\n` separator, which maps to nothing in the page, goes around block elements and around
//! every attribute value, so that unrelated text does not run together into one token. The
//! separators depend on the markup only, never on the text, so an edit of the text changes the
//! view only where it edits. Comments and processing instructions are not part of the view.
//!
//! Each [`Segment`] maps a range of the view to bytes of the page: literally (text and CDATA
//! are their own bytes) or as a whole reference (`&amp;` for `&`). Consecutive segments that
//! are one piece of character data in XML terms form a *run*; an edit must stay inside a run.

use std::ops::Range;

use super::parse::{NodeKind, Page, cdata_content};

/// Where a segment's text sits in the markup, which decides how a replacement is escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Element text outside CDATA.
    Text,
    /// Inside a CDATA section.
    CData,
    /// An attribute value, quoted with `quote`.
    Attribute { quote: char },
}

/// A range of the view and the page bytes it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The range in [`TextView::text`].
    pub text: Range<usize>,
    /// The bytes in the page.
    pub raw: Range<usize>,
    /// Whether `raw` is a reference standing for `text` (otherwise `raw` is `text` itself).
    pub reference: bool,
    pub context: Context,
    /// The run this segment belongs to; runs are numbered in order.
    pub run: usize,
    /// The node of the page the text is in (the element, for an attribute).
    pub node: usize,
    /// For an attribute value, its name.
    pub attribute: Option<String>,
}

/// The scanner's view of a page. Its `Debug` form shows the shape, not the text.
#[derive(Clone)]
pub struct TextView<'a> {
    pub(crate) src: &'a str,
    text: String,
    segments: Vec<Segment>,
}

impl std::fmt::Debug for TextView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextView")
            .field("bytes", &self.text.len())
            .field("segments", &self.segments.len())
            .finish()
    }
}

/// Why a range of the view does not map to the page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpanError {
    #[error("the range {start}..{end} is outside the text view ({len} bytes)")]
    OutOfBounds {
        start: usize,
        end: usize,
        len: usize,
    },
    #[error("offset {0} of the text view is not on a character boundary")]
    NotCharBoundary(usize),
    #[error("the range is empty")]
    Empty,
    #[error("the range {start}..{end} covers no text of the page, only separators")]
    NoText { start: usize, end: usize },
    #[error(
        "the range {start}..{end} is not inside one run of text: it crosses markup or a separator"
    )]
    CrossesMarkup { start: usize, end: usize },
}

/// A range of the view that lies within one run, resolved to the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The page bytes that make up the range.
    pub raw: Range<usize>,
    pub context: Context,
    /// The first and last segments covered.
    pub first: usize,
    pub last: usize,
}

/// Elements that are not block-like, so their text runs on with their neighbours'.
const INLINE: &[&str] = &[
    "a",
    "abbr",
    "b",
    "cite",
    "code",
    "del",
    "em",
    "i",
    "ins",
    "kbd",
    "mark",
    "q",
    "s",
    "samp",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "sup",
    "time",
    "u",
    "var",
    "font",
    "ac:link",
    "ac:link-body",
    "ac:plain-text-link-body",
    "ac:inline-comment-marker",
    "ac:emoticon",
];

/// Attributes that hold ids, versions or layout, never user content.
const STRUCTURAL: &[&str] = &[
    "ac:name",
    "ac:schema-version",
    "ac:breakout-mode",
    "ac:breakout-width",
    "data-layout",
    "data-table-width",
    "data-colwidth",
    "data-highlight-colour",
    "data-card-appearance",
    "ac:layout",
    "ac:align",
    "ac:width",
    "ac:height",
    "ac:original-width",
    "ac:original-height",
    "ac:custom-width",
    "ac:thumbnail",
    "ac:border",
    "class",
    "style",
    "colspan",
    "rowspan",
    "ri:account-id",
    "ri:userkey",
    "ri:version-at-save",
    "ri:content-id",
    "ri:space-key",
    "xmlns:ac",
    "xmlns:ri",
];

/// Whether an element's boundaries separate text in the view.
fn is_block(name: &str) -> bool {
    !INLINE.contains(&name)
}

/// Whether an attribute's value is part of the view.
fn is_scanned(attr: &str) -> bool {
    !(STRUCTURAL.contains(&attr) || attr.ends_with("local-id") || attr.ends_with("macro-id"))
}

impl<'a> TextView<'a> {
    /// Builds the view of a parsed page.
    pub fn new(page: &Page<'a>) -> TextView<'a> {
        let mut b = Builder {
            view: TextView {
                src: page.src(),
                text: String::new(),
                segments: Vec::new(),
            },
            open: None,
            run: 0,
        };
        for (idx, node) in page.nodes().iter().enumerate() {
            match &node.kind {
                NodeKind::Start { name, attrs, .. } | NodeKind::Empty { name, attrs } => {
                    b.separate_if(is_block(name));
                    for a in attrs.iter().filter(|a| is_scanned(&a.name)) {
                        b.separate();
                        for p in &a.pieces {
                            let text = &a.value[p.text.clone()];
                            let context = Context::Attribute { quote: a.quote };
                            let at = (idx, Some(a.name.as_str()));
                            b.push(text, p.raw.clone(), p.reference, context, at);
                        }
                        b.separate();
                    }
                    if matches!(node.kind, NodeKind::Empty { .. }) {
                        b.separate_if(is_block(name));
                    }
                }
                NodeKind::End { start } => {
                    b.separate_if(page.name(*start).is_some_and(is_block));
                }
                NodeKind::Text => {
                    let text = &page.src()[node.span.clone()];
                    b.push(text, node.span.clone(), false, Context::Text, (idx, None));
                }
                NodeKind::Ref(c) => {
                    let mut buf = [0; 4];
                    let text = c.encode_utf8(&mut buf);
                    b.push(text, node.span.clone(), true, Context::Text, (idx, None));
                }
                NodeKind::CData => {
                    let raw = cdata_content(&node.span);
                    let text = &page.src()[raw.clone()];
                    b.push(text, raw, false, Context::CData, (idx, None));
                }
                NodeKind::Comment | NodeKind::Decl | NodeKind::Pi | NodeKind::DocType => {
                    b.end_run();
                }
            }
        }
        b.view
    }

    /// The text to search.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// How the text maps to the page, in order. Gaps between segments are separators.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The page bytes from the first to the last character of `range` that come from the page
    /// (separators at either end are left out). For reporting where a finding is.
    pub fn raw_range(&self, range: Range<usize>) -> Result<Range<usize>, SpanError> {
        self.check(&range)?;
        let first = self.segments.partition_point(|s| s.text.end <= range.start);
        let last = self.segments.partition_point(|s| s.text.start < range.end);
        let no_text = SpanError::NoText {
            start: range.start,
            end: range.end,
        };
        if first >= last {
            return Err(no_text);
        }
        let (f, l) = (&self.segments[first], &self.segments[last - 1]);
        Ok(map_start(f, range.start)..map_end(l, range.end))
    }

    /// Resolves a range that lies inside one run, as an edit needs.
    pub fn locate(&self, range: Range<usize>) -> Result<Located, SpanError> {
        self.check(&range)?;
        let (start, end) = (range.start, range.end);
        let crosses = SpanError::CrossesMarkup { start, end };
        let first = self.segments.partition_point(|s| s.text.end <= start);
        let last = self.segments.partition_point(|s| s.text.start < end);
        let (Some(f), Some(l)) = (self.segments.get(first), last.checked_sub(1)) else {
            return Err(crosses);
        };
        let last = l;
        let l = &self.segments[last];
        // A reference stands for one character, so a range on character boundaries covers
        // all of it or none of it.
        if f.text.start > start || l.text.end < end || f.run != l.run || first > last {
            return Err(crosses);
        }
        Ok(Located {
            raw: map_start(f, start)..map_end(l, end),
            context: f.context,
            first,
            last,
        })
    }

    /// The segment a located range starts in.
    pub(crate) fn segment(&self, idx: usize) -> &Segment {
        &self.segments[idx]
    }

    fn check(&self, range: &Range<usize>) -> Result<(), SpanError> {
        if range.start > range.end || range.end > self.text.len() {
            return Err(SpanError::OutOfBounds {
                start: range.start,
                end: range.end,
                len: self.text.len(),
            });
        }
        if range.start == range.end {
            return Err(SpanError::Empty);
        }
        for at in [range.start, range.end] {
            if !self.text.is_char_boundary(at) {
                return Err(SpanError::NotCharBoundary(at));
            }
        }
        Ok(())
    }
}

/// The page offset where view offset `at` starts, within or before segment `s`.
fn map_start(s: &Segment, at: usize) -> usize {
    if s.reference || at <= s.text.start {
        s.raw.start
    } else {
        s.raw.start + (at - s.text.start)
    }
}

/// The page offset where view offset `at` ends, within or after segment `s`.
fn map_end(s: &Segment, at: usize) -> usize {
    if s.reference || at >= s.text.end {
        s.raw.end
    } else {
        s.raw.start + (at - s.text.start)
    }
}

struct Builder<'a> {
    view: TextView<'a>,
    /// The context of the run in progress, if any.
    open: Option<Context>,
    run: usize,
}

impl Builder<'_> {
    /// Appends text from the page; `at` is the node and, for an attribute value, its name.
    fn push(
        &mut self,
        text: &str,
        raw: Range<usize>,
        reference: bool,
        context: Context,
        at: (usize, Option<&str>),
    ) {
        if self.open != Some(context) {
            self.end_run();
            self.open = Some(context);
        }
        if text.is_empty() {
            return;
        }
        let start = self.view.text.len();
        self.view.text.push_str(text);
        self.view.segments.push(Segment {
            text: start..self.view.text.len(),
            raw,
            reference,
            context,
            run: self.run,
            node: at.0,
            attribute: at.1.map(str::to_string),
        });
    }

    fn end_run(&mut self) {
        if self.open.take().is_some() {
            self.run += 1;
        }
    }

    fn separate(&mut self) {
        self.end_run();
        self.view.text.push('\n');
    }

    fn separate_if(&mut self, block: bool) {
        if block {
            self.separate();
        } else {
            self.end_run();
        }
    }
}
