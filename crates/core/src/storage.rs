//! Reading runbook blocks out of Confluence storage format.
//!
//! Storage format is XML with undeclared `ac:`/`ri:` prefixes and HTML named entities. It is read
//! with quick-xml without namespace resolution. A runbook block is a `code` macro whose `title`
//! parameter is `arkbridge: NAME`; its script is the concatenation of the CDATA sections (and
//! text) of its `ac:plain-text-body`. CDATA is taken verbatim; text outside CDATA is
//! entity-decoded.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::runbook::{DirectiveError, Runbook, parse_script};

/// A `code` (or `noformat`) macro found on a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeBlock {
    pub macro_name: String,
    pub title: Option<String>,
    pub language: Option<String>,
    pub macro_id: Option<String>,
    pub body: String,
}

/// Why a page's runbooks could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    #[error("the page's storage format is malformed near byte {position}: {message}")]
    Xml { position: u64, message: String },
    #[error(transparent)]
    Directive(#[from] DirectiveError),
    #[error("two runbook blocks on the page are named `{0}`")]
    DuplicateName(String),
    #[error("a runbook block has an empty name (title `arkbridge:` needs a name after it)")]
    EmptyName,
}

const RUNBOOK_PREFIX: &str = "arkbridge:";

/// All code and noformat macros of a page, in document order.
pub fn code_blocks(storage: &str) -> Result<Vec<CodeBlock>, StorageError> {
    let mut reader = Reader::from_str(storage);
    let mut stack: Vec<Option<CodeBlock>> = Vec::new();
    let mut capture: Option<(Capture, String)> = None;
    let mut out = Vec::new();
    loop {
        let event = reader.read_event().map_err(|e| StorageError::Xml {
            position: reader.error_position(),
            message: e.to_string(),
        })?;
        match event {
            Event::Start(e) => match e.name().as_ref() {
                "ac:structured-macro" => stack.push(open_macro(&e)),
                "ac:parameter" if stack.last().is_some_and(Option::is_some) => {
                    capture = Some((
                        Capture::Param(attr(&e, "ac:name").unwrap_or_default()),
                        String::new(),
                    ));
                }
                "ac:plain-text-body" if stack.last().is_some_and(Option::is_some) => {
                    capture = Some((Capture::Body, String::new()));
                }
                _ => {}
            },
            Event::Empty(e) if e.name().as_ref() == "ac:structured-macro" => {
                if let Some(block) = open_macro(&e) {
                    out.push(block);
                }
            }
            Event::End(e) => match e.name().as_ref() {
                "ac:structured-macro" => {
                    if let Some(Some(block)) = stack.pop() {
                        out.push(block);
                    }
                }
                "ac:parameter" | "ac:plain-text-body" => {
                    if let (Some((target, text)), Some(Some(block))) =
                        (capture.take(), stack.last_mut())
                    {
                        match target {
                            Capture::Body => block.body.push_str(&text),
                            Capture::Param(name) => match name.as_str() {
                                "title" => block.title = Some(text.trim().to_string()),
                                "language" => block.language = Some(text.trim().to_string()),
                                _ => {}
                            },
                        }
                    }
                }
                _ => {}
            },
            Event::Text(t) => {
                if let Some((_, buf)) = &mut capture {
                    buf.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some((_, buf)) = &mut capture {
                    buf.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some((_, buf)) = &mut capture {
                    let name = r.xml10_content();
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => buf.push(c),
                        _ => match entity(&name) {
                            Some(s) => buf.push_str(s),
                            None => {
                                buf.push('&');
                                buf.push_str(&name);
                                buf.push(';');
                            }
                        },
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(StorageError::Xml {
            position: reader.buffer_position(),
            message: "a macro is not closed".into(),
        });
    }
    Ok(out)
}

/// The runbook blocks of a page, in document order.
pub fn runbooks(storage: &str) -> Result<Vec<Runbook>, StorageError> {
    let mut out: Vec<Runbook> = Vec::new();
    for block in code_blocks(storage)? {
        if block.macro_name != "code" {
            continue;
        }
        let Some(name) = block
            .title
            .as_deref()
            .and_then(|t| t.strip_prefix(RUNBOOK_PREFIX))
        else {
            continue;
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(StorageError::EmptyName);
        }
        if out.iter().any(|r| r.name == name) {
            return Err(StorageError::DuplicateName(name.to_string()));
        }
        out.push(parse_script(name, block.language.as_deref(), &block.body)?);
    }
    Ok(out)
}

/// A plain-text view of a storage-format body: text and CDATA in document order, entities
/// decoded, a line break after each block element. For showing pages and comments in a terminal.
pub fn plain_text(storage: &str) -> Result<String, StorageError> {
    let mut reader = Reader::from_str(storage);
    let mut out = String::new();
    loop {
        let event = reader.read_event().map_err(|e| StorageError::Xml {
            position: reader.error_position(),
            message: e.to_string(),
        })?;
        match event {
            Event::Text(t) => out.push_str(&t.xml10_content()),
            Event::CData(t) => {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str(&t.xml10_content());
                out.push('\n');
            }
            Event::GeneralRef(r) => match r.resolve_char_ref() {
                Ok(Some(c)) => out.push(c),
                _ => out.push_str(entity(&r.xml10_content()).unwrap_or(" ")),
            },
            Event::End(e)
                if matches!(
                    e.name().as_ref(),
                    "p" | "tr" | "li" | "h1" | "h2" | "h3" | "h4" | "pre" | "ac:parameter"
                ) && !out.ends_with('\n') =>
            {
                out.push(if e.name().as_ref() == "ac:parameter" {
                    ' '
                } else {
                    '\n'
                });
            }
            Event::Empty(e) if e.name().as_ref() == "br" => out.push('\n'),
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

enum Capture {
    Param(String),
    Body,
}

fn open_macro(e: &BytesStart<'_>) -> Option<CodeBlock> {
    let name = attr(e, "ac:name")?;
    if name != "code" && name != "noformat" {
        return None;
    }
    Some(CodeBlock {
        macro_name: name,
        title: None,
        language: None,
        macro_id: attr(e, "ac:macro-id"),
        body: String::new(),
    })
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    let a = e.try_get_attribute(name).ok()??;
    Some(
        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map(|v| v.into_owned())
            .unwrap_or_else(|_| a.value.into_owned()),
    )
}

/// HTML named entities that appear in storage format (XML's five plus common HTML ones).
fn entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        "nbsp" => "\u{a0}",
        "ndash" => "\u{2013}",
        "mdash" => "\u{2014}",
        "rarr" => "\u{2192}",
        "larr" => "\u{2190}",
        "hellip" => "\u{2026}",
        "lsquo" => "\u{2018}",
        "rsquo" => "\u{2019}",
        "ldquo" => "\u{201c}",
        "rdquo" => "\u{201d}",
        "copy" => "\u{a9}",
        "reg" => "\u{ae}",
        "trade" => "\u{2122}",
        "bull" => "\u{2022}",
        "middot" => "\u{b7}",
        "times" => "\u{d7}",
        "laquo" => "\u{ab}",
        "raquo" => "\u{bb}",
        "euro" => "\u{20ac}",
        _ => return None,
    })
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
            "echo &quot;a&quot; &amp;&amp; echo &#x41;&#66; &unknown;",
        );
        let rbs = runbooks(&page).unwrap();
        assert_eq!(rbs[0].script, "echo \"a\" && echo AB &unknown;");
    }

    #[test]
    fn malformed_xml_is_a_clear_error() {
        let err = runbooks("<p>open <b>bold</p>").unwrap_err();
        assert!(matches!(err, StorageError::Xml { .. }), "{err}");
        let err = runbooks(r#"<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[x"#)
            .unwrap_err();
        assert!(matches!(err, StorageError::Xml { .. }), "{err}");
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
    fn directive_errors_surface() {
        let err = runbooks(&code_macro(
            "arkbridge: a",
            "<![CDATA[# arkbridge: mode root]]>",
        ))
        .unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn plain_text_view() {
        let t = plain_text("<p>a&nbsp;&amp;b</p><ac:structured-macro ac:name=\"code\"><ac:plain-text-body><![CDATA[x <y>]]></ac:plain-text-body></ac:structured-macro><p>c<br/>d</p>").unwrap();
        assert_eq!(t, "a\u{a0}&b\nx <y>\nc\nd\n");
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
        ] {
            let _ = runbooks(s);
            let _ = plain_text(s);
        }
    }
}
