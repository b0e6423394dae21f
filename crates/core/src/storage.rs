//! The storage-format engine: Confluence storage XHTML in, runbooks, a text view and minimal
//! edits out. Pure computation, no I/O.
//!
//! Storage format is XML with undeclared `ac:`/`ri:` prefixes and HTML named entities; Cloud
//! adds `local-id`, `ac:local-id` and `ac:macro-id` attributes. [`Page::parse`] reads it with
//! quick-xml into nodes that keep their exact byte spans, and refuses malformed input with an
//! [`XmlError`] that says where. On a parsed page:
//! - [`Page::code_blocks`] and [`Page::runbook_blocks`] find code macros and runbooks (see
//!   `blocks`);
//! - [`Page::text_view`] gives the text a secret scanner searches, mapped back to the page (see
//!   `view`);
//! - [`TextView::replace`] and [`Page::insert_status_after`] produce [`Edit`]s that change one
//!   range of the page and leave every other byte as it was (see `edit`).
//!
//! The free functions [`code_blocks`], [`runbooks`] and [`plain_text`] are the one-call forms
//! the engine and the CLI use.

mod attrs;
mod blocks;
mod edit;
mod entities;
mod error;
pub mod fuzzing;
mod parse;
mod view;

pub use blocks::{CodeBlock, NameSource, RUNBOOK_PREFIX, RunbookBlock};
pub use edit::{Colour, Edit, EditError, Status, apply_edits, escape_attr, escape_text};
pub use error::{Problem, StorageError, XmlError};
pub use parse::{Attr, Node, NodeKind, Page, Piece};
pub use view::{Context, Located, Segment, SpanError, TextView};

use crate::runbook::Runbook;

impl<'a> Page<'a> {
    /// The scanner's view of the page.
    pub fn text_view(&self) -> TextView<'a> {
        TextView::new(self)
    }
}

/// All code and noformat macros of a page, in document order.
pub fn code_blocks(storage: &str) -> Result<Vec<CodeBlock>, StorageError> {
    Ok(Page::parse(storage)?.code_blocks())
}

/// The runbook blocks of a page, in document order. Fails on the first block with malformed
/// directives (reporting all of that block's), on an empty name and on a duplicate name; use
/// [`Page::runbook_blocks`] to see every block's result.
pub fn runbooks(storage: &str) -> Result<Vec<Runbook>, StorageError> {
    let mut out: Vec<Runbook> = Vec::new();
    for block in Page::parse(storage)?.runbook_blocks() {
        if block.name.is_empty() {
            return Err(StorageError::EmptyName);
        }
        if out.iter().any(|r| r.name == block.name) {
            return Err(StorageError::DuplicateName(block.name));
        }
        out.push(block.parsed?);
    }
    Ok(out)
}

/// Elements after which [`plain_text`] starts a new line.
const LINE_ENDS: &[&str] = &[
    "p", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "div",
];

/// A plain-text view of a storage-format body for showing pages and comments in a terminal:
/// text and CDATA in document order, entities decoded, a line break after each block element
/// and around each code body, parameters separated by spaces.
pub fn plain_text(storage: &str) -> Result<String, StorageError> {
    let page = Page::parse(storage)?;
    let nodes = page.nodes();
    let is_cdata = |i: usize| nodes.get(i).is_some_and(|n| n.kind == NodeKind::CData);
    let mut out = String::new();
    for (i, node) in nodes.iter().enumerate() {
        match &node.kind {
            NodeKind::Text => out.push_str(&storage[node.span.clone()]),
            NodeKind::Ref(c) => out.push(*c),
            NodeKind::CData => {
                // Adjacent sections are one text split around a `]]>`: keep them together.
                let continues = i > 0 && is_cdata(i - 1);
                if !(continues || out.is_empty() || out.ends_with('\n')) {
                    out.push('\n');
                }
                out.push_str(&storage[parse::cdata_content(&node.span)]);
                if !is_cdata(i + 1) {
                    out.push('\n');
                }
            }
            NodeKind::End { start } if !out.ends_with('\n') => match page.name(*start) {
                Some("ac:parameter") => out.push(' '),
                Some(name) if LINE_ENDS.contains(&name) => out.push('\n'),
                _ => {}
            },
            NodeKind::Empty { name, .. } if name == "br" => out.push('\n'),
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_macro(title: &str, body_xml: &str) -> String {
        format!(
            r#"<ac:structured-macro ac:name="code" ac:schema-version="1" ac:macro-id="m1" ac:local-id="l1"><ac:parameter ac:name="language">bash</ac:parameter><ac:parameter ac:name="title">{title}</ac:parameter><ac:plain-text-body>{body_xml}</ac:plain-text-body></ac:structured-macro>"#
        )
    }

    #[test]
    fn finds_runbook_among_prose_and_other_macros() {
        let page = format!(
            r#"<p local-id="p1">Restart&nbsp;it &amp; check &rarr; done</p>{}{}<ac:structured-macro ac:name="expand"><ac:rich-text-body>{}</ac:rich-text-body></ac:structured-macro><ac:link><ri:page ri:content-title="X" /></ac:link>"#,
            code_macro(
                "arkbridge: restart",
                "<![CDATA[# arkbridge: mode write\necho \"<&>\" ]]]]><![CDATA[>\n]]>"
            ),
            code_macro("plain code", "<![CDATA[ls]]>"),
            code_macro("arkbridge:  nested ", "<![CDATA[echo nested]]>"),
        );
        let rbs = runbooks(&page).unwrap();
        let names: Vec<_> = rbs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["restart", "nested"]);
        assert_eq!(rbs[0].script, "# arkbridge: mode write\necho \"<&>\" ]]>\n");
        assert_eq!(rbs[0].language.as_deref(), Some("bash"));
    }

    #[test]
    fn entity_encoded_body_without_cdata() {
        let page = code_macro(
            "arkbridge: x",
            "echo &quot;a&quot; &amp;&amp; echo &#x41;&#66;&nbsp;&mdash;",
        );
        let rbs = runbooks(&page).unwrap();
        assert_eq!(rbs[0].script, "echo \"a\" && echo AB\u{a0}\u{2014}");
    }

    #[test]
    fn unknown_entity_is_a_positioned_error() {
        let err = runbooks("<p>\n x &bogus;</p>").unwrap_err();
        let StorageError::Xml(e) = &err else {
            panic!("{err}")
        };
        assert_eq!((e.line, e.column, e.position), (2, 4, 7));
        assert_eq!(e.problem, Problem::UnknownEntity("bogus".into()));
    }

    #[test]
    fn malformed_xml_is_a_clear_error() {
        let err = runbooks("<p>open <b>bold</p>").unwrap_err();
        assert!(matches!(err, StorageError::Xml(_)), "{err}");
        let err = runbooks(r#"<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[x"#)
            .unwrap_err();
        assert!(matches!(err, StorageError::Xml(_)), "{err}");
        let err = runbooks("<p><b>x</b>").unwrap_err();
        assert!(err.to_string().contains("`<p>` is never closed"), "{err}");
    }

    #[test]
    fn duplicate_and_empty_names_are_refused() {
        let two = format!(
            "{}{}",
            code_macro("arkbridge: a", "x"),
            code_macro("arkbridge: a", "y")
        );
        assert_eq!(
            runbooks(&two).unwrap_err(),
            StorageError::DuplicateName("a".into())
        );
        assert_eq!(
            runbooks(&code_macro("arkbridge:", "x")).unwrap_err(),
            StorageError::EmptyName
        );
    }

    #[test]
    fn directive_errors_surface_with_block_and_line() {
        let err = runbooks(&code_macro(
            "arkbridge: a",
            "<![CDATA[# arkbridge: mode root\n# arkbridge: timeout soon]]>",
        ))
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("runbook `a` has 2 malformed directives"),
            "{msg}"
        );
        assert!(
            msg.contains("line 1: unknown mode") && msg.contains("line 2:"),
            "{msg}"
        );
    }

    #[test]
    fn plain_text_view() {
        let t = plain_text("<p>a&nbsp;&amp;b</p><ac:structured-macro ac:name=\"code\"><ac:plain-text-body><![CDATA[x <y>]]></ac:plain-text-body></ac:structured-macro><p>c<br/>d</p>").unwrap();
        assert_eq!(t, "a\u{a0}&b\nx <y>\nc\nd\n");
    }

    #[test]
    fn plain_text_keeps_split_cdata_together() {
        let t = plain_text("<p>a</p><pre><![CDATA[x]]]]><![CDATA[>y]]></pre>").unwrap();
        assert_eq!(t, "a\nx]]>y\n");
    }

    #[test]
    fn never_panics_on_garbage() {
        for s in [
            "",
            "<",
            "&",
            "]]>",
            "<ac:structured-macro/>",
            "<a><![CDATA[",
            "\u{0}<x y='&#xFFFFFFFF;'/>",
            "&#0;",
            "<a b='&'/>",
            "<a b='&x y;'/>",
            "\u{feff}<p>x</p>",
        ] {
            let _ = runbooks(s);
            let _ = plain_text(s);
        }
    }
}
