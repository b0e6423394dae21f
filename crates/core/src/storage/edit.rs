//! Minimal edits of a page: replace a range of the text view, or insert a status macro.
//!
//! An [`Edit`] replaces one byte range of the page; every other byte stays as it was. The
//! replacement is escaped for where it lands:
//! - in text, `&`, `<`, `>` become references and CR becomes `&#13;` (XML would turn a raw CR
//!   into LF);
//! - in an attribute, also the quote character and TAB, LF, CR (XML would turn raw ones into
//!   spaces);
//! - in CDATA nothing is escaped, but every `]]>` the new content would hold, inside the
//!   replacement or formed with the bytes around it, is split as `]]]]><![CDATA[>`.
//!
//! In text, `]]>` is forbidden too: a `]` of the replacement, or the one just before it when the
//! replacement is empty, that would complete one with the text after it becomes `&#93;`. And a
//! U+FEFF that would open the page, where it would read as a byte-order mark, becomes
//! `&#65279;` (the page's own one after an empty replacement, too). These are the only cases
//! where an edit reaches beyond the range it was asked for (one byte before it, or one character
//! after it); the text view is the same either way.

use std::fmt::Write as _;
use std::ops::Range;

use super::blocks::CodeBlock;
use super::entities::is_xml_char;
use super::parse::{CDATA_CLOSE, NodeKind, Page};
use super::view::{Context, SpanError, TextView};

/// A replacement of one byte range of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub range: Range<usize>,
    pub replacement: String,
}

/// Why an edit could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error(transparent)]
    Span(#[from] SpanError),
    #[error("character U+{code:04X} cannot be written {place}")]
    Unrepresentable { code: u32, place: &'static str },
    #[error("the code block is not one of this page's macros")]
    NotABlock,
    #[error("the edit's range {start}..{end} does not fit the page ({len} bytes)")]
    OutOfPage {
        start: usize,
        end: usize,
        len: usize,
    },
    #[error("edits at {first:?} and {second:?} overlap or are less than two bytes apart")]
    TooClose {
        first: Range<usize>,
        second: Range<usize>,
    },
}

/// The colours of Confluence's status macro.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    Grey,
    Red,
    Yellow,
    Green,
    Blue,
    Purple,
}

impl Colour {
    pub fn as_str(self) -> &'static str {
        match self {
            Colour::Grey => "Grey",
            Colour::Red => "Red",
            Colour::Yellow => "Yellow",
            Colour::Green => "Green",
            Colour::Blue => "Blue",
            Colour::Purple => "Purple",
        }
    }
}

/// A status badge (`ac:structured-macro ac:name="status"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub colour: Colour,
    pub title: String,
    /// The lighter, outlined look.
    pub subtle: bool,
}

/// U+FEFF, a byte-order mark when it opens a page.
const BOM: char = '\u{feff}';

/// The split that ends a CDATA section and opens the next one.
const CDATA_SPLIT: &str = "]]><![CDATA[";

/// Elements that hold inline content only, where a `<p>` cannot go.
const INLINE_PARENTS: &[&str] = &[
    "p",
    "span",
    "a",
    "b",
    "i",
    "u",
    "em",
    "strong",
    "code",
    "s",
    "sub",
    "sup",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ac:link-body",
    "ac:task-body",
];

impl Edit {
    /// The page with this edit made.
    pub fn apply(&self, src: &str) -> Result<String, EditError> {
        apply_edits(src, std::slice::from_ref(self))
    }
}

/// The page with several edits made, all computed against `src`. Edits must be at least two
/// bytes apart: each was escaped against the two bytes on either side of it.
pub fn apply_edits(src: &str, edits: &[Edit]) -> Result<String, EditError> {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.range.start, e.range.end));
    for e in &sorted {
        let (start, end) = (e.range.start, e.range.end);
        if start > end || src.get(start..end).is_none() {
            let len = src.len();
            return Err(EditError::OutOfPage { start, end, len });
        }
    }
    for w in sorted.windows(2) {
        if w[0].range.end + 2 > w[1].range.start {
            return Err(EditError::TooClose {
                first: w[0].range.clone(),
                second: w[1].range.clone(),
            });
        }
    }
    let mut out = String::with_capacity(src.len());
    let mut at = 0;
    for e in sorted {
        out.push_str(&src[at..e.range.start]);
        out.push_str(&e.replacement);
        at = e.range.end;
    }
    out.push_str(&src[at..]);
    Ok(out)
}

impl TextView<'_> {
    /// The edit that replaces `range` of the view with `replacement`. The range must lie inside
    /// one run of text (see [`TextView::locate`]).
    pub fn replace(&self, range: Range<usize>, replacement: &str) -> Result<Edit, EditError> {
        let loc = self.locate(range)?;
        let before = &self.src[..loc.raw.start];
        let after = &self.src[loc.raw.end..];
        match loc.context {
            Context::Text => Ok(text_edit(loc.raw, before, after, replacement)?),
            Context::Attribute { quote } => Ok(Edit {
                range: loc.raw,
                replacement: escape_attr(replacement, quote)?,
            }),
            Context::CData => {
                // Only the bytes of the same CDATA sections can form a `]]>` with the
                // replacement; the delimiters around them end with `[` and start with `]]>`.
                let section_start = self.segment(loc.first).raw.start;
                let section_end = self.segment(loc.last).raw.end;
                let prefix = &self.src[section_start..loc.raw.start];
                let suffix = &self.src[loc.raw.end..section_end];
                Ok(Edit {
                    range: loc.raw,
                    replacement: escape_cdata(prefix, replacement, suffix)?,
                })
            }
        }
    }
}

impl Page<'_> {
    /// The edit that inserts a status macro right after a code block of this page. After a block
    /// element it goes in its own paragraph; inside a paragraph it goes bare.
    pub fn insert_status_after(
        &self,
        block: &CodeBlock,
        status: &Status,
    ) -> Result<Edit, EditError> {
        let is_block = matches!(
            self.nodes().get(block.node).map(|n| &n.kind),
            Some(NodeKind::Start { .. } | NodeKind::Empty { .. })
        ) && self.macro_name(block.node).is_some()
            && self.element_span(block.node) == block.span;
        if !is_block {
            return Err(EditError::NotABlock);
        }
        let inline = self.nodes()[block.node]
            .parent
            .and_then(|p| self.name(p))
            .is_some_and(|name| INLINE_PARENTS.contains(&name));
        let mut out = String::new();
        if !inline {
            out.push_str("<p>");
        }
        out.push_str(r#"<ac:structured-macro ac:name="status" ac:schema-version="1">"#);
        let _ = write!(
            out,
            r#"<ac:parameter ac:name="colour">{}</ac:parameter>"#,
            status.colour.as_str()
        );
        let _ = write!(
            out,
            r#"<ac:parameter ac:name="title">{}</ac:parameter>"#,
            escape_text(&status.title)?
        );
        if status.subtle {
            out.push_str(r#"<ac:parameter ac:name="subtle">true</ac:parameter>"#);
        }
        out.push_str("</ac:structured-macro>");
        if !inline {
            out.push_str("</p>");
        }
        Ok(Edit {
            range: block.span.end..block.span.end,
            replacement: out,
        })
    }
}

fn check_char(c: char, place: &'static str) -> Result<(), EditError> {
    if is_xml_char(c) {
        Ok(())
    } else {
        Err(EditError::Unrepresentable {
            code: u32::from(c),
            place,
        })
    }
}

/// Escapes text for element content.
pub fn escape_text(s: &str) -> Result<String, EditError> {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        check_char(c, "in a page")?;
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Escapes text for an attribute value quoted with `quote`.
pub fn escape_attr(s: &str, quote: char) -> Result<String, EditError> {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        check_char(c, "in a page")?;
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if quote == '"' => out.push_str("&quot;"),
            '\'' if quote == '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// The edit of a text range `raw`, with the page bytes `before` and `after` it.
fn text_edit(
    raw: Range<usize>,
    before: &str,
    after: &str,
    replacement: &str,
) -> Result<Edit, EditError> {
    let mut escaped = escape_text(replacement)?;
    let mut start = raw.start;
    // A `>` right after the edit completes `]]>` with the two bytes before it, and `]>` with
    // the one byte before it.
    let needs = if after.starts_with('>') {
        2
    } else if after.starts_with("]>") {
        1
    } else {
        0
    };
    if needs > 0 {
        let mut tail = before.as_bytes()[before.len().saturating_sub(2)..].to_vec();
        tail.extend_from_slice(&escaped.as_bytes()[escaped.len().saturating_sub(2)..]);
        let joined_ends =
            tail.len() >= needs && tail[tail.len() - needs..].iter().all(|&b| b == b']');
        if joined_ends {
            if escaped.ends_with(']') {
                escaped.pop();
            } else {
                // The replacement is empty, so the `]` to escape is the page's own, just before.
                start -= 1;
            }
            escaped.push_str("&#93;");
        }
    }
    // A U+FEFF at the very start of the page would read as a byte-order mark and vanish.
    let mut end = raw.end;
    if start == 0 {
        if escaped.starts_with(BOM) {
            escaped.replace_range(..BOM.len_utf8(), "&#65279;");
        } else if escaped.is_empty() && after.starts_with(BOM) {
            // The page's own U+FEFF would come first: write it as a reference instead.
            end += BOM.len_utf8();
            escaped.push_str("&#65279;");
        }
    }
    Ok(Edit {
        range: start..end,
        replacement: escaped,
    })
}

/// The raw CDATA content for `replacement`, written between the section content `prefix` and
/// `suffix`, with every `]]>` the whole would contain split.
fn escape_cdata(prefix: &str, replacement: &str, suffix: &str) -> Result<String, EditError> {
    for c in replacement.chars() {
        // XML turns a raw CR into LF even inside CDATA, so a CR cannot survive there.
        if c == '\r' {
            return Err(EditError::Unrepresentable {
                code: 13,
                place: "inside a CDATA section",
            });
        }
        check_char(c, "in a page")?;
    }
    let head = &prefix.as_bytes()[prefix.len().saturating_sub(2)..];
    let tail = &suffix.as_bytes()[..suffix.len().min(2)];
    let joined: Vec<u8> = [head, replacement.as_bytes(), tail].concat();
    let end = head.len() + replacement.len();
    // Split points, as offsets into `replacement`: before the `>` of each `]]>` when that `>`
    // is the replacement's, else at its end (the `>` is the suffix's).
    let mut splits: Vec<usize> = joined
        .windows(3)
        .enumerate()
        .filter(|(i, w)| *w == CDATA_CLOSE.as_bytes() && i + 2 >= head.len() && *i < end)
        .map(|(i, _)| (i + 2).min(end) - head.len())
        .collect();
    splits.dedup();
    let mut out = String::with_capacity(replacement.len() + splits.len() * CDATA_SPLIT.len());
    let mut at = 0;
    for s in splits {
        out.push_str(&replacement[at..s]);
        out.push_str(CDATA_SPLIT);
        at = s;
    }
    out.push_str(&replacement[at..]);
    Ok(out)
}
