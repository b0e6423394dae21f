//! Code blocks and runbook blocks of a parsed page.
//!
//! A code block is a `code` or `noformat` macro (`ac:structured-macro`, or the legacy
//! `ac:macro`), wherever it sits: at the top level, in an expand, a page-properties table or a
//! layout cell. Its parameters are its own direct `ac:parameter` children, so a nested macro's
//! parameters never leak into the enclosing one. Its script is the concatenation of the CDATA
//! sections and text of its `ac:plain-text-body`: CDATA verbatim, text entity-decoded.
//!
//! A runbook block is a `code` macro titled `arkbridge: NAME`. Cloud's editor offers no title on
//! code blocks, so authors there wrap the block in an `expand` macro instead; a code macro without
//! a runbook title whose nearest enclosing macro is an expand titled `arkbridge: NAME`, holding
//! no other code macro, is that runbook.

use std::ops::Range;

use super::parse::{NodeKind, Page};
use crate::runbook::{DirectiveErrors, Runbook, parse_script};

/// A `code` (or `noformat`) macro found on a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeBlock {
    pub macro_name: String,
    /// The `title` parameter, trimmed.
    pub title: Option<String>,
    /// The `language` parameter, trimmed.
    pub language: Option<String>,
    pub macro_id: Option<String>,
    /// The script.
    pub body: String,
    /// The macro element's bytes in the page.
    pub span: Range<usize>,
    /// The index of the macro's start node in the page.
    pub node: usize,
}

/// Where a runbook block's name comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameSource {
    /// The code macro's own `title` parameter.
    Title,
    /// The `title` of the expand macro that wraps it.
    Expand,
}

/// A runbook block, parsed or with every malformed directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunbookBlock {
    /// The name after `arkbridge:`, trimmed (empty when the title names none).
    pub name: String,
    pub name_source: NameSource,
    pub block: CodeBlock,
    pub parsed: Result<Runbook, DirectiveErrors>,
}

/// The title prefix of a runbook block.
pub const RUNBOOK_PREFIX: &str = "arkbridge:";

const MACROS: &[&str] = &["ac:structured-macro", "ac:macro"];

impl Page<'_> {
    /// All code and noformat macros, in document order.
    pub fn code_blocks(&self) -> Vec<CodeBlock> {
        (0..self.nodes().len())
            .filter(|&i| matches!(self.macro_name(i), Some("code" | "noformat")))
            .map(|i| self.code_block(i))
            .collect()
    }

    /// The runbook blocks, in document order, each parsed on its own so that one malformed
    /// block does not hide the others.
    pub fn runbook_blocks(&self) -> Vec<RunbookBlock> {
        let blocks: Vec<CodeBlock> = self.code_blocks();
        let outer = self.enclosing_macros();
        let mut out = Vec::new();
        for block in &blocks {
            if block.macro_name != "code" {
                continue;
            }
            let named = match block.title.as_deref().and_then(runbook_name) {
                Some(name) => Some((name, NameSource::Title)),
                None => outer[block.node]
                    .and_then(|expand| self.expand_title(expand, &blocks))
                    .map(|name| (name, NameSource::Expand)),
            };
            let Some((name, name_source)) = named else {
                continue;
            };
            let parsed = parse_script(&name, block.language.as_deref(), &block.body);
            out.push(RunbookBlock {
                name,
                name_source,
                block: block.clone(),
                parsed,
            });
        }
        out
    }

    /// The `ac:name` of a macro element starting at `idx`.
    pub fn macro_name(&self, idx: usize) -> Option<&str> {
        if !MACROS.contains(&self.name(idx)?)
            || matches!(self.nodes()[idx].kind, NodeKind::End { .. })
        {
            return None;
        }
        Some(self.attr(idx, "ac:name")?.value.as_str())
    }

    /// A macro's parameter (a direct `ac:parameter` child), decoded and trimmed.
    pub fn macro_parameter(&self, idx: usize, name: &str) -> Option<String> {
        self.children(idx)
            .find(|&c| {
                self.name(c) == Some("ac:parameter")
                    && self.attr(c, "ac:name").is_some_and(|a| a.value == name)
            })
            .map(|c| self.text_content(c).trim().to_string())
    }

    fn code_block(&self, idx: usize) -> CodeBlock {
        let body = self
            .children(idx)
            .filter(|&c| self.name(c) == Some("ac:plain-text-body"))
            .map(|c| self.text_content(c))
            .collect();
        CodeBlock {
            macro_name: self.macro_name(idx).unwrap_or_default().to_string(),
            title: self.macro_parameter(idx, "title"),
            language: self.macro_parameter(idx, "language"),
            macro_id: self.attr(idx, "ac:macro-id").map(|a| a.value.clone()),
            body,
            span: self.element_span(idx),
            node: idx,
        }
    }

    /// For every node, the nearest macro enclosing it, in one pass: parents come before their
    /// children, so each node's answer is its parent or its parent's answer.
    fn enclosing_macros(&self) -> Vec<Option<usize>> {
        let mut out: Vec<Option<usize>> = Vec::with_capacity(self.nodes().len());
        for node in self.nodes() {
            let nearest = node.parent.and_then(|p| {
                if self.macro_name(p).is_some() {
                    Some(p)
                } else {
                    out[p]
                }
            });
            out.push(nearest);
        }
        out
    }

    /// The runbook name an expand macro gives the code block in it: its title names a runbook
    /// and it holds exactly one code macro. `blocks` are the page's code blocks in order.
    fn expand_title(&self, expand: usize, blocks: &[CodeBlock]) -> Option<String> {
        if self.macro_name(expand) != Some("expand") {
            return None;
        }
        let name = runbook_name(&self.macro_parameter(expand, "title")?)?;
        let end = self.element_end(expand);
        let from = blocks.partition_point(|b| b.node <= expand);
        let to = blocks.partition_point(|b| b.node < end);
        let codes = blocks[from..to]
            .iter()
            .filter(|b| b.macro_name == "code")
            .count();
        (codes == 1).then_some(name)
    }
}

/// The name in a runbook title (`arkbridge: restart` gives `restart`). The prefix is matched
/// without regard to case, so `Arkbridge: restart` is not silently an ordinary code block.
fn runbook_name(title: &str) -> Option<String> {
    let head = title.get(..RUNBOOK_PREFIX.len())?;
    head.eq_ignore_ascii_case(RUNBOOK_PREFIX)
        .then(|| title[RUNBOOK_PREFIX.len()..].trim().to_string())
}
