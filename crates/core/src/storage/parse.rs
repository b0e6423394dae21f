//! The tokenizer: storage XHTML to a flat list of nodes, each with its exact byte span.
//!
//! quick-xml reads the document without namespace resolution, so the undeclared `ac:` and `ri:`
//! prefixes are plain parts of names. Its events are contiguous (each starts where the previous
//! one ended), which gives every node its span in the original text; edits rely on those spans.
//! What quick-xml does not check is checked here: entity and character references (XHTML's named
//! entities are resolved here, unknown ones refused), characters XML forbids, `]]>` in text,
//! `<` and bare `&` in attribute values, names, and elements left open at the end.
//!
//! Nothing here recurses, so deeply nested input cannot overflow the stack.

use std::ops::Range;

use quick_xml::Reader;
use quick_xml::events::Event;

use super::attrs::{element, resolve};
use super::entities::is_xml_char;
use super::error::{Problem, XmlError, clip};

pub use super::attrs::{Attr, Piece};

/// A parsed storage-format page. It borrows the text it was parsed from. Its `Debug` form shows
/// the shape, not the text, which may hold a secret the scanner is looking for.
#[derive(Clone)]
pub struct Page<'a> {
    src: &'a str,
    nodes: Vec<Node>,
}

impl std::fmt::Debug for Page<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page")
            .field("bytes", &self.src.len())
            .field("nodes", &self.nodes.len())
            .finish()
    }
}

/// One token of the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: NodeKind,
    /// The node's bytes in the page, markup included.
    pub span: Range<usize>,
    /// The index of the enclosing element's `Start` node.
    pub parent: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// `<name ...>`; `end` is the index of the matching `End` node.
    Start {
        name: String,
        attrs: Vec<Attr>,
        end: usize,
    },
    /// `</name>`; `start` is the index of the matching `Start` node.
    End {
        start: usize,
    },
    /// `<name .../>`.
    Empty {
        name: String,
        attrs: Vec<Attr>,
    },
    /// Character data without references: the span is the text itself.
    Text,
    /// An entity or character reference, resolved.
    Ref(char),
    /// `<![CDATA[...]]>`; the content is the span without the 9 + 3 delimiter bytes.
    CData,
    Comment,
    Decl,
    Pi,
    DocType,
}

/// CDATA's opening and closing delimiters.
pub(crate) const CDATA_OPEN: &str = "<![CDATA[";
pub(crate) const CDATA_CLOSE: &str = "]]>";

impl<'a> Page<'a> {
    /// Parses a storage-format body.
    pub fn parse(src: &'a str) -> Result<Page<'a>, XmlError> {
        if let Some((i, c)) = src.char_indices().find(|&(_, c)| !is_xml_char(c)) {
            return Err(XmlError::at(src, i, Problem::ForbiddenChar(u32::from(c))));
        }
        // quick-xml drops one leading byte-order mark and counts positions after it. It must be
        // given the whole text (stripping the mark here would make it drop a second one, which
        // is text), and `base` turns its positions back into offsets into `src`.
        let base = if src.starts_with('\u{feff}') { 3 } else { 0 };
        let mut reader = Reader::from_str(src);
        reader.config_mut().check_comments = true;
        let mut nodes: Vec<Node> = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        let error = |pos: usize, problem| XmlError::at(src, pos, problem);
        loop {
            let start = base + to_usize(reader.buffer_position());
            let event = match reader.read_event() {
                Ok(event) => event,
                Err(e) => {
                    let pos = base + to_usize(reader.error_position());
                    return Err(error(pos, Problem::Syntax(clip(&e.to_string()))));
                }
            };
            let end = base + to_usize(reader.buffer_position());
            let span = start..end;
            let parent = open.last().copied();
            let kind = match event {
                Event::Start(e) => {
                    let (name, attrs) = element(src, &span, &e)?;
                    open.push(nodes.len());
                    NodeKind::Start {
                        name,
                        attrs,
                        end: usize::MAX,
                    }
                }
                Event::Empty(e) => {
                    let (name, attrs) = element(src, &span, &e)?;
                    NodeKind::Empty { name, attrs }
                }
                Event::End(_) => {
                    // quick-xml has checked that the name matches the open element.
                    let Some(open_idx) = open.pop() else {
                        return Err(error(start, Problem::Syntax("unmatched end tag".into())));
                    };
                    let end_idx = nodes.len();
                    if let NodeKind::Start { end, .. } = &mut nodes[open_idx].kind {
                        *end = end_idx;
                    }
                    nodes.push(Node {
                        kind: NodeKind::End { start: open_idx },
                        span,
                        parent: nodes[open_idx].parent,
                    });
                    continue;
                }
                Event::Text(_) => {
                    if let Some(i) = src[span.clone()].find(CDATA_CLOSE) {
                        return Err(error(start + i, Problem::CdataEndInText));
                    }
                    NodeKind::Text
                }
                Event::GeneralRef(r) => {
                    let name = r.as_ref().to_string();
                    NodeKind::Ref(resolve(&name).map_err(|p| error(start, p))?)
                }
                Event::CData(_) => {
                    let raw = &src[span.clone()];
                    if !raw.starts_with(CDATA_OPEN) || !raw.ends_with(CDATA_CLOSE) {
                        return Err(error(
                            start,
                            Problem::Syntax("malformed CDATA section".into()),
                        ));
                    }
                    NodeKind::CData
                }
                Event::Comment(_) => NodeKind::Comment,
                Event::Decl(_) => NodeKind::Decl,
                Event::PI(_) => NodeKind::Pi,
                Event::DocType(_) => NodeKind::DocType,
                Event::Eof => break,
            };
            nodes.push(Node { kind, span, parent });
        }
        if let Some(&idx) = open.last() {
            let name = match &nodes[idx].kind {
                NodeKind::Start { name, .. } => clip(name),
                _ => String::new(),
            };
            return Err(error(nodes[idx].span.start, Problem::Unclosed(name)));
        }
        Ok(Page { src, nodes })
    }

    /// The text the page was parsed from.
    pub fn src(&self) -> &'a str {
        self.src
    }

    /// All nodes in document order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The element name of a `Start`, `End` or `Empty` node.
    pub fn name(&self, idx: usize) -> Option<&str> {
        match &self.nodes.get(idx)?.kind {
            NodeKind::Start { name, .. } | NodeKind::Empty { name, .. } => Some(name),
            NodeKind::End { start } => self.name(*start),
            _ => None,
        }
    }

    /// An attribute of a `Start` or `Empty` node.
    pub fn attr(&self, idx: usize, name: &str) -> Option<&Attr> {
        match &self.nodes.get(idx)?.kind {
            NodeKind::Start { attrs, .. } | NodeKind::Empty { attrs, .. } => {
                attrs.iter().find(|a| a.name == name)
            }
            _ => None,
        }
    }

    /// The index of the last node of the element starting at `idx` (its `End`, or itself).
    pub fn element_end(&self, idx: usize) -> usize {
        match self.nodes.get(idx).map(|n| &n.kind) {
            Some(NodeKind::Start { end, .. }) => *end,
            _ => idx,
        }
    }

    /// The element's bytes in the page, from its start tag to the end of its end tag.
    pub fn element_span(&self, idx: usize) -> Range<usize> {
        self.nodes[idx].span.start..self.nodes[self.element_end(idx)].span.end
    }

    /// The direct children of the element starting at `idx`, in order.
    pub fn children(&self, idx: usize) -> impl Iterator<Item = usize> + '_ {
        let end = self.element_end(idx);
        let mut next = idx + 1;
        std::iter::from_fn(move || {
            if next >= end {
                return None;
            }
            let child = next;
            next = self.element_end(child) + 1;
            Some(child)
        })
    }

    /// The names of the elements enclosing a node, outermost first.
    pub fn path(&self, idx: usize) -> Vec<&str> {
        let mut out = Vec::new();
        let mut cur = self.nodes.get(idx).and_then(|n| n.parent);
        while let Some(p) = cur {
            out.extend(self.name(p));
            cur = self.nodes[p].parent;
        }
        out.reverse();
        out
    }

    /// The decoded character data directly inside an element (text, references and CDATA,
    /// concatenated), leaving out what is inside its child elements. Looking at direct children
    /// only keeps the cost of reading every macro of a page linear in the page's size.
    pub fn text_content(&self, idx: usize) -> String {
        let mut out = String::new();
        for child in self.children(idx) {
            let node = &self.nodes[child];
            match node.kind {
                NodeKind::Text => out.push_str(&self.src[node.span.clone()]),
                NodeKind::Ref(c) => out.push(c),
                NodeKind::CData => out.push_str(&self.src[cdata_content(&node.span)]),
                _ => {}
            }
        }
        out
    }
}

/// The content range of a CDATA node's span.
pub(crate) fn cdata_content(span: &Range<usize>) -> Range<usize> {
    span.start + CDATA_OPEN.len()..span.end - CDATA_CLOSE.len()
}

fn to_usize(pos: u64) -> usize {
    usize::try_from(pos).unwrap_or(usize::MAX)
}
