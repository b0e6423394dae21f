//! Errors of the storage-format engine.
//!
//! Messages name positions, element and entity names, never page text: a page being scanned may
//! hold a secret, and an error message must not carry it. Quoted names are clipped so that a
//! garbage document cannot produce an unbounded message.

use crate::runbook::DirectiveErrors;

/// Why a page's storage format could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error(transparent)]
    Directive(#[from] DirectiveErrors),
    #[error("two runbook blocks on the page are named `{0}`")]
    DuplicateName(String),
    #[error("a runbook block has an empty name (title `arkbridge:` needs a name after it)")]
    EmptyName,
}

/// Malformed storage XHTML, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the page's storage format is malformed at line {line}, column {column} (byte {position}): {problem}"
)]
pub struct XmlError {
    /// Byte offset into the storage text.
    pub position: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    pub problem: Problem,
}

/// What is wrong at an [`XmlError`]'s position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// quick-xml's own complaint (unclosed tag, mismatched end tag, unterminated CDATA, ...).
    #[error("{0}")]
    Syntax(String),
    #[error("unknown entity `&{0};` (storage format allows XML's and XHTML's named entities)")]
    UnknownEntity(String),
    #[error("malformed character reference, or one naming a character XML forbids: `&{0};`")]
    BadCharRef(String),
    #[error("character U+{0:04X} is not allowed in XML")]
    ForbiddenChar(u32),
    #[error("`]]>` is not allowed in text outside a CDATA section")]
    CdataEndInText,
    #[error("`<` is not allowed in an attribute value")]
    LtInAttribute,
    #[error("`&` must start a reference such as `&amp;`")]
    BareAmpersand,
    #[error("element `<{0}>` is never closed")]
    Unclosed(String),
    #[error("`{0}` is not a valid element or attribute name")]
    BadName(String),
    #[error("malformed attribute: {0}")]
    Attribute(String),
}

impl XmlError {
    /// An error at byte `position` of `src`, with its line and column worked out.
    pub(crate) fn at(src: &str, position: usize, problem: Problem) -> XmlError {
        let position = floor_char_boundary(src, position.min(src.len()));
        let before = &src[..position];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        XmlError {
            position,
            line,
            column: before[line_start..].chars().count() + 1,
            problem,
        }
    }
}

/// The largest char boundary at or before `i`.
pub(crate) fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A name quoted in a message, clipped to a sane length.
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 160;
    if s.chars().count() <= MAX {
        return s.to_string();
    }
    let mut out: String = s.chars().take(MAX).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_gives_line_and_character_column() {
        let e = XmlError::at("ab\nçd<x", 6, Problem::LtInAttribute);
        assert_eq!((e.line, e.column, e.position), (2, 3, 6));
        assert!(e.to_string().contains("line 2, column 3 (byte 6)"), "{e}");
    }

    #[test]
    fn position_inside_a_character_moves_to_its_start() {
        let e = XmlError::at("é", 1, Problem::BareAmpersand);
        assert_eq!((e.position, e.column), (0, 1));
        let e = XmlError::at("x", 99, Problem::BareAmpersand);
        assert_eq!((e.position, e.column), (1, 2));
    }

    #[test]
    fn long_names_are_clipped() {
        let long = "n".repeat(500);
        let msg = Problem::UnknownEntity(clip(&long)).to_string();
        assert!(msg.len() < 300, "{msg}");
    }
}
