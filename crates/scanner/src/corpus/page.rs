//! Writing one storage-format page while remembering where each planted value sits.

use arkbridge_core::storage::{escape_attr, escape_text};

use super::{Class, Label};

/// How a planted value is written into the page.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ctx {
    /// Element text: `&`, `<`, `>` become references.
    Text,
    /// Inside CDATA: as it is.
    CData,
    /// A double-quoted attribute value.
    Attr,
}

/// A page under construction.
pub(crate) struct PageWriter {
    pub(crate) out: String,
    pub(crate) labels: Vec<Label>,
}

impl PageWriter {
    pub(crate) fn new() -> PageWriter {
        PageWriter {
            out: String::new(),
            labels: Vec::new(),
        }
    }

    /// Appends markup as it is.
    pub(crate) fn raw(&mut self, s: &str) -> &mut Self {
        self.out.push_str(s);
        self
    }

    /// Appends text, escaped for element content.
    pub(crate) fn text(&mut self, s: &str) -> &mut Self {
        let escaped = escape_text(s).unwrap_or_default();
        self.out.push_str(&escaped);
        self
    }

    /// Appends unescaped text for a CDATA section.
    pub(crate) fn cdata_text(&mut self, s: &str) -> &mut Self {
        self.out.push_str(s);
        self
    }

    /// Writes a value where `ctx` says and labels its span.
    pub(crate) fn plant(
        &mut self,
        kind: &'static str,
        class: Class,
        value: &str,
        ctx: Ctx,
    ) -> &mut Self {
        let written = match ctx {
            Ctx::Text => escape_text(value).unwrap_or_default(),
            Ctx::CData => value.to_string(),
            Ctx::Attr => escape_attr(value, '"').unwrap_or_default(),
        };
        let start = self.out.len();
        self.out.push_str(&written);
        self.labels
            .push(Label::new(kind, class, start..self.out.len(), value));
        self
    }

    /// Opens a code macro with a language; the body is CDATA.
    pub(crate) fn code_open(&mut self, language: &str, id: u64) -> &mut Self {
        self.raw(&format!(
            r#"<ac:structured-macro ac:name="code" ac:schema-version="1" ac:macro-id="{id:08x}-3f2a-4c1b-9d8e-{id:012x}"><ac:parameter ac:name="language">{language}</ac:parameter><ac:plain-text-body><![CDATA["#
        ))
    }

    pub(crate) fn code_close(&mut self) -> &mut Self {
        self.raw("]]></ac:plain-text-body></ac:structured-macro>")
    }

    /// Opens an info, note, warning or panel macro with a rich-text body.
    pub(crate) fn panel_open(&mut self, kind: &str) -> &mut Self {
        self.raw(&format!(
            r#"<ac:structured-macro ac:name="{kind}" ac:schema-version="1"><ac:rich-text-body>"#
        ))
    }

    pub(crate) fn panel_close(&mut self) -> &mut Self {
        self.raw("</ac:rich-text-body></ac:structured-macro>")
    }
}
