//! Tags' names and attributes, with the byte span of every attribute value.
//!
//! quick-xml splits a tag into attributes and checks duplicates and quoting; this module finds
//! where each value sits in the page, resolves its references (XHTML's named entities included)
//! and refuses what XML forbids in a value (`<`, a bare `&`).

use std::ops::Range;

use quick_xml::events::BytesStart;

use super::entities::{self, RefError};
use super::error::{Problem, XmlError, clip};

/// An attribute of an element. Its `Debug` form leaves the value out: pages being scanned may
/// hold secrets in attributes (a password in a link), and a debug print must not carry them.
#[derive(Clone, PartialEq, Eq)]
pub struct Attr {
    pub name: String,
    /// The value with references resolved. Whitespace is kept as written (not normalised), so
    /// that every character maps back to the page.
    pub value: String,
    /// The raw value between the quotes.
    pub span: Range<usize>,
    /// `"` or `'`.
    pub quote: char,
    /// How `value` is made of the raw text, in order.
    pub pieces: Vec<Piece>,
}

impl std::fmt::Debug for Attr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attr")
            .field("name", &self.name)
            .field("span", &self.span)
            .field("quote", &self.quote)
            .finish_non_exhaustive()
    }
}

/// A run of decoded text and the raw bytes it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// The range in the decoded value.
    pub text: Range<usize>,
    /// The range in the page.
    pub raw: Range<usize>,
    /// Whether the raw bytes are a reference (`&amp;`) rather than the text itself.
    pub reference: bool,
}

pub(super) fn resolve(name: &str) -> Result<char, Problem> {
    entities::resolve(name).map_err(|e| match e {
        RefError::Unknown => Problem::UnknownEntity(clip(name)),
        RefError::BadCharRef => Problem::BadCharRef(clip(name)),
    })
}

/// The name and attributes of a start or empty tag spanning `span`.
pub(super) fn element(
    src: &str,
    span: &Range<usize>,
    e: &BytesStart<'_>,
) -> Result<(String, Vec<Attr>), XmlError> {
    let name = e.name().as_ref().to_string();
    if !valid_name(&name) {
        return Err(XmlError::at(
            src,
            span.start + 1,
            Problem::BadName(clip(&name)),
        ));
    }
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|err| {
            XmlError::at(src, span.start, Problem::Attribute(clip(&err.to_string())))
        })?;
        let key = a.key.as_ref().to_string();
        let located = value_offset(src, span, &a.value);
        let Some(start) = located else {
            return Err(XmlError::at(
                src,
                span.start,
                Problem::Attribute(format!("cannot locate the value of `{}`", clip(&key))),
            ));
        };
        if !valid_name(&key) {
            return Err(XmlError::at(src, start, Problem::BadName(clip(&key))));
        }
        let raw = start..start + a.value.len();
        let quote = char::from(src.as_bytes()[start - 1]);
        let (value, pieces) = decode_attr(src, raw.clone())?;
        attrs.push(Attr {
            name: key,
            value,
            span: raw,
            quote,
            pieces,
        });
    }
    Ok((name, attrs))
}

/// Where an attribute value quick-xml borrowed from the page starts in the page. quick-xml
/// gives values as slices of the input; their address tells the offset without re-parsing.
fn value_offset(src: &str, span: &Range<usize>, value: &str) -> Option<usize> {
    let offset = (value.as_ptr() as usize).checked_sub(src.as_ptr() as usize)?;
    let end = offset.checked_add(value.len())?;
    let inside = offset > span.start && end < span.end;
    let quoted = matches!(
        src.as_bytes().get(offset.wrapping_sub(1)),
        Some(b'"' | b'\'')
    );
    (inside && quoted && src.get(offset..end) == Some(value)).then_some(offset)
}

/// Decodes a raw attribute value, keeping the map from decoded to raw text.
fn decode_attr(src: &str, raw: Range<usize>) -> Result<(String, Vec<Piece>), XmlError> {
    let text = &src[raw.clone()];
    let mut value = String::with_capacity(text.len());
    let mut pieces = Vec::new();
    let mut rest = 0;
    let mut push = |value: &mut String, s: &str, raw: Range<usize>, reference: bool| {
        if !s.is_empty() {
            let start = value.len();
            value.push_str(s);
            pieces.push(Piece {
                text: start..value.len(),
                raw,
                reference,
            });
        }
    };
    while let Some(i) = text[rest..].find(['&', '<']).map(|i| rest + i) {
        push(
            &mut value,
            &text[rest..i],
            raw.start + rest..raw.start + i,
            false,
        );
        if text.as_bytes()[i] == b'<' {
            return Err(XmlError::at(src, raw.start + i, Problem::LtInAttribute));
        }
        let Some(len) = text[i..].find(';') else {
            return Err(XmlError::at(src, raw.start + i, Problem::BareAmpersand));
        };
        let name = &text[i + 1..i + len];
        if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '&') {
            return Err(XmlError::at(src, raw.start + i, Problem::BareAmpersand));
        }
        let c = resolve(name).map_err(|p| XmlError::at(src, raw.start + i, p))?;
        let mut buf = [0; 4];
        push(
            &mut value,
            c.encode_utf8(&mut buf),
            raw.start + i..raw.start + i + len + 1,
            true,
        );
        rest = i + len + 1;
    }
    push(&mut value, &text[rest..], raw.start + rest..raw.end, false);
    Ok((value, pieces))
}

/// A loose check of XML's Name production: what Confluence's parser would refuse outright.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':' || !c.is_ascii();
    start(first) && chars.all(|c| start(c) || c.is_ascii_digit() || c == '-' || c == '.')
}
