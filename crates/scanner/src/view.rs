//! The text view the detectors search, built on `arkbridge_core::storage`'s view, with the maps
//! a finding needs: view bytes to storage bytes, bytes to characters, and a view offset to its
//! element path (`table/tbody/tr[2]/td[3]`, `ac:structured-macro[code]/ac:plain-text-body`).
//!
//! Tags become boundaries, entities are decoded, CDATA is kept verbatim (so a token right
//! before `]]>` ends at a boundary like any other). A page that is not well-formed storage has
//! no element structure; [`TextView::lenient`] then falls back to the raw text, mapped one to
//! one, so that a broken page is still searched for tokens rather than skipped.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;

use arkbridge_core::storage::{self, Context, NodeKind, Page, Segment};

use crate::error::ScanError;

/// The text of a page as the detectors see it, mapped back to the storage string.
pub struct TextView<'a> {
    src: &'a str,
    inner: Option<(Page<'a>, storage::TextView<'a>)>,
    /// Per parent element (`None`: the top level), each child element's position among its
    /// same-named siblings and their count; filled as element paths ask, so that many findings
    /// under one large parent cost one pass over its children, not one each.
    positions: RefCell<HashMap<Option<usize>, Positions>>,
}

impl std::fmt::Debug for TextView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextView")
            .field("storage_bytes", &self.src.len())
            .field("view_bytes", &self.text().len())
            .field("well_formed", &self.is_well_formed())
            .finish()
    }
}

/// The view of a storage-format page, or an error saying where it is malformed.
pub fn text_view(storage: &str) -> Result<TextView<'_>, ScanError> {
    let page = Page::parse(storage).map_err(|e| ScanError::Malformed {
        line: e.line,
        column: e.column,
    })?;
    let view = page.text_view();
    Ok(TextView {
        src: storage,
        inner: Some((page, view)),
        positions: RefCell::default(),
    })
}

impl<'a> TextView<'a> {
    /// The view of a page, or the raw text itself when the page is not well-formed.
    pub fn lenient(storage: &'a str) -> TextView<'a> {
        text_view(storage).unwrap_or(TextView {
            src: storage,
            inner: None,
            positions: RefCell::default(),
        })
    }

    /// Whether the page parsed as storage format (otherwise the view is the raw text).
    pub fn is_well_formed(&self) -> bool {
        self.inner.is_some()
    }

    /// The storage string the view was made from.
    pub fn storage(&self) -> &'a str {
        self.src
    }

    /// The text to search.
    pub fn text(&self) -> &str {
        match &self.inner {
            Some((_, v)) => v.text(),
            None => self.src,
        }
    }

    pub(crate) fn page(&self) -> Option<&Page<'a>> {
        self.inner.as_ref().map(|(p, _)| p)
    }

    pub(crate) fn segments(&self) -> &[Segment] {
        match &self.inner {
            Some((_, v)) => v.segments(),
            None => &[],
        }
    }

    pub(crate) fn core(&self) -> Option<&storage::TextView<'a>> {
        self.inner.as_ref().map(|(_, v)| v)
    }

    /// The storage bytes a range of the view comes from, or `None` if it covers no page text.
    pub fn storage_range(&self, range: Range<usize>) -> Option<Range<usize>> {
        match &self.inner {
            Some((_, v)) => v.raw_range(range).ok(),
            None => {
                (range.start < range.end && self.src.get(range.clone()).is_some()).then_some(range)
            }
        }
    }

    /// The storage characters a range of the view comes from (character offsets, as SARIF
    /// counts them), or `None` if it covers no page text.
    pub fn storage_chars(&self, range: Range<usize>) -> Option<Range<usize>> {
        let raw = self.storage_range(range)?;
        let mut c = CharCounter::new(self.src);
        let start = c.at(raw.start);
        Some(start..c.at(raw.end))
    }

    /// The index of the segment holding view byte `at`.
    fn segment_at(&self, at: usize) -> Option<&Segment> {
        let segs = self.segments();
        let i = segs.partition_point(|s| s.text.end <= at);
        segs.get(i).filter(|s| s.text.start <= at)
    }

    /// Whether view byte `at` is inside a code block (a code macro body, `pre` or `code`).
    pub fn is_code(&self, at: usize) -> bool {
        let (Some(page), Some(seg)) = (self.page(), self.segment_at(at)) else {
            return false;
        };
        if seg.context == Context::CData {
            return true;
        }
        let mut cur = Some(seg.node);
        while let Some(idx) = cur {
            if matches!(page.name(idx), Some("ac:plain-text-body" | "pre" | "code")) {
                return true;
            }
            cur = page.nodes().get(idx).and_then(|n| n.parent);
        }
        false
    }

    /// The element path of view byte `at`: each enclosing element outermost first, a code
    /// macro with its name (`ac:structured-macro[code]`), an element with same-named siblings
    /// with its 1-based position among them (`tr[2]`), and `@name` for an attribute value.
    pub fn element_path(&self, at: usize) -> String {
        let (Some(page), Some(seg)) = (self.page(), self.segment_at(at)) else {
            return String::new();
        };
        let nodes = page.nodes();
        let mut chain = Vec::new();
        let mut cur = if seg.attribute.is_some() {
            Some(seg.node)
        } else {
            nodes.get(seg.node).and_then(|n| n.parent)
        };
        while let Some(idx) = cur {
            chain.push(idx);
            cur = nodes.get(idx).and_then(|n| n.parent);
        }
        chain.reverse();
        let mut parts: Vec<String> = chain.iter().map(|&i| self.step(page, i)).collect();
        if let Some(a) = &seg.attribute {
            parts.push(format!("@{a}"));
        }
        parts.join("/")
    }
}

impl TextView<'_> {
    /// One step of an element path.
    fn step(&self, page: &Page<'_>, idx: usize) -> String {
        let name = page.name(idx).unwrap_or("?");
        if name == "ac:structured-macro" || name == "ac:macro" {
            let m = page
                .attr(idx, "ac:name")
                .map(|a| a.value.as_str())
                .unwrap_or("");
            return format!("{name}[{m}]");
        }
        let parent = page.nodes().get(idx).and_then(|n| n.parent);
        let mut memo = self.positions.borrow_mut();
        let positions = memo
            .entry(parent)
            .or_insert_with(|| sibling_positions(page, parent));
        match positions.get(&idx) {
            Some(&(pos, count)) if count > 1 => format!("{name}[{pos}]"),
            _ => name.to_string(),
        }
    }
}

/// Child element → (1-based position among the same-named children, how many there are).
type Positions = HashMap<usize, (usize, usize)>;

/// The [`Positions`] of the child elements of `parent` (or of the top level).
fn sibling_positions(page: &Page<'_>, parent: Option<usize>) -> Positions {
    let nodes = page.nodes();
    let children: Vec<usize> = match parent {
        Some(p) => page.children(p).collect(),
        None => (0..nodes.len())
            .filter(|&i| nodes[i].parent.is_none())
            .collect(),
    };
    let elements = children.into_iter().filter(|&i| {
        matches!(
            nodes[i].kind,
            NodeKind::Start { .. } | NodeKind::Empty { .. }
        )
    });
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut out = Positions::new();
    let mut named: Vec<(usize, &str)> = Vec::new();
    for i in elements {
        let name = page.name(i).unwrap_or("?");
        let n = seen.entry(name).or_default();
        *n += 1;
        out.insert(i, (*n, 0));
        named.push((i, name));
    }
    for (i, name) in named {
        if let Some(e) = out.get_mut(&i) {
            e.1 = seen[name];
        }
    }
    out
}

/// Converts increasing byte offsets of one string to character offsets in one pass.
pub(crate) struct CharCounter<'s> {
    s: &'s str,
    byte: usize,
    chars: usize,
}

impl<'s> CharCounter<'s> {
    pub(crate) fn new(s: &'s str) -> CharCounter<'s> {
        CharCounter {
            s,
            byte: 0,
            chars: 0,
        }
    }

    /// The character offset of byte `at` (clamped to the string, rounded down to a character
    /// boundary). Cheap when calls come in increasing order; restarts otherwise.
    pub(crate) fn at(&mut self, at: usize) -> usize {
        let mut at = at.min(self.s.len());
        while !self.s.is_char_boundary(at) {
            at -= 1;
        }
        if at < self.byte {
            self.byte = 0;
            self.chars = 0;
        }
        self.chars += self.s[self.byte..at].chars().count();
        self.byte = at;
        self.chars
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_are_decoded_and_cdata_kept() {
        let v = text_view(
            "<p>a&amp;b&#65;&#x42;&nbsp;c</p><ac:structured-macro ac:name=\"code\"><ac:plain-text-body><![CDATA[x <&> y]]></ac:plain-text-body></ac:structured-macro>",
        )
        .unwrap();
        assert_eq!(v.text(), "\na&bAB\u{a0}c\n\n\nx <&> y\n\n");
        // `&` in the view is `&amp;` in the page, and `A` after `b` is `&#65;`.
        let amp = v.text().find('&').unwrap();
        assert_eq!(v.storage_range(amp..amp + 1), Some(4..9));
        assert_eq!(v.storage_chars(amp..amp + 3), Some(4..15));
    }

    #[test]
    fn element_paths_name_macros_and_sibling_positions() {
        let src = "<table><tbody><tr><th>a</th></tr><tr><td>b</td><td>c</td><td>secret</td></tr></tbody></table><ac:structured-macro ac:name=\"code\"><ac:plain-text-body><![CDATA[k=v]]></ac:plain-text-body></ac:structured-macro>";
        let v = text_view(src).unwrap();
        let at = v.text().find("secret").unwrap();
        assert_eq!(v.element_path(at), "table/tbody/tr[2]/td[3]");
        let at = v.text().find("k=v").unwrap();
        assert_eq!(
            v.element_path(at),
            "ac:structured-macro[code]/ac:plain-text-body"
        );
        assert!(v.is_code(at));
        assert!(!v.is_code(v.text().find("secret").unwrap()));
    }

    #[test]
    fn attribute_values_have_an_at_step() {
        let v = text_view("<p><a href=\"https://u:pw@h/\">x</a></p>").unwrap();
        let at = v.text().find("https").unwrap();
        assert_eq!(v.element_path(at), "p/a/@href");
    }

    #[test]
    fn malformed_page_is_an_error_or_raw_text() {
        let err = text_view("<p>open").unwrap_err();
        assert!(matches!(err, ScanError::Malformed { .. }), "{err}");
        let v = TextView::lenient("<p>open &bogus; AKIA");
        assert!(!v.is_well_formed());
        assert_eq!(v.text(), "<p>open &bogus; AKIA");
        assert_eq!(v.storage_range(3..7), Some(3..7));
        assert_eq!(v.element_path(3), "");
    }

    #[test]
    fn char_counter_counts_characters_in_any_order() {
        let s = "aé€b";
        let mut c = CharCounter::new(s);
        assert_eq!(c.at(1), 1);
        assert_eq!(c.at(3), 2);
        assert_eq!(c.at(6), 3);
        assert_eq!(c.at(2), 1);
        assert_eq!(c.at(100), 4);
    }
}
