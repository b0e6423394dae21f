//! Fuzzing entry points for the storage engine, shared by the `cargo fuzz` targets in `fuzz/`
//! and by a test that replays the seed corpus on stable Rust.
//!
//! Each function takes arbitrary bytes, drives the engine with them, and panics when an
//! invariant breaks: that panic is the finding a fuzzer reports. The engine itself never
//! panics on bad input; these checks are what make a wrong answer visible too.

use std::ops::Range;

use super::edit::{Colour, Status};
use super::error::floor_char_boundary;
use super::parse::{NodeKind, Page, cdata_content};
use super::{plain_text, runbooks};

/// Parses the input as a page, extracts its blocks and text view, and checks that nodes tile
/// the page and that the view maps back to it exactly.
pub fn parse_and_extract(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let _ = plain_text(src);
    let _ = runbooks(src);
    let Ok(page) = Page::parse(src) else {
        return;
    };
    check_page(&page);
}

/// Parses a page from the input, replaces a range of its text view chosen by the input, and
/// inserts a status macro after its code blocks; each edited page must parse, and its text view
/// must differ from the original exactly where the edit was.
///
/// Layout: bytes 0-1 and 2-3 pick the range (little-endian), byte 4 holds flags, the rest is the
/// page, then optionally a NUL and the replacement text.
pub fn edit(data: &[u8]) {
    let [a0, a1, b0, b1, flags, rest @ ..] = data else {
        return;
    };
    let Ok(rest) = std::str::from_utf8(rest) else {
        return;
    };
    let (src, replacement) = rest
        .split_once('\0')
        .unwrap_or((rest, "cyberark://Safe/Object"));
    let Ok(page) = Page::parse(src) else {
        return;
    };
    let view = page.text_view();
    let (a, b) = (
        usize::from(u16::from_le_bytes([*a0, *a1])),
        usize::from(u16::from_le_bytes([*b0, *b1])),
    );
    if let Some(range) = pick_range(&view, a, b, flags & 1 != 0)
        && let Ok(edit) = view.replace(range.clone(), replacement)
    {
        let located = view
            .locate(range.clone())
            .expect("a replaced range locates");
        // An edit reaches at most one byte before its range (an escaped `]`) and one
        // character after it (an escaped U+FEFF at the start of the page).
        assert!(edit.range.start + 1 >= located.raw.start && edit.range.start <= located.raw.start);
        assert!(edit.range.end >= located.raw.end && edit.range.end <= located.raw.end + 3);
        let new = edit.apply(src).expect("an edit fits its page");
        let expected = splice(view.text(), range, replacement);
        check_edited(src, &new, &edit.range, &expected);
    }
    let colour = [Colour::Grey, Colour::Red, Colour::Green][usize::from(flags >> 1) % 3];
    let status = Status {
        colour,
        title: replacement.to_string(),
        subtle: flags & 8 != 0,
    };
    let blocks = page.code_blocks();
    for block in blocks.iter().take(3) {
        if let Ok(edit) = page.insert_status_after(block, &status) {
            let new = edit.apply(src).expect("an insertion fits its page");
            let after = Page::parse(&new)
                .unwrap_or_else(|e| panic!("status insertion broke the page: {e}"));
            let bodies =
                |bs: &[super::CodeBlock]| bs.iter().map(|b| b.body.clone()).collect::<Vec<_>>();
            assert_eq!(bodies(&after.code_blocks()), bodies(&blocks));
            assert!(after.text_view().text().contains(&status.title));
        }
    }
}

/// The view text with `range` replaced.
pub fn splice(text: &str, range: Range<usize>, replacement: &str) -> String {
    format!(
        "{}{replacement}{}",
        &text[..range.start],
        &text[range.end..]
    )
}

/// Checks an edited page: it parses, its view is `expected`, and it equals the original outside
/// the edit's range.
pub fn check_edited(old: &str, new: &str, range: &Range<usize>, expected_view: &str) {
    let page = Page::parse(new).unwrap_or_else(|e| panic!("the edited page does not parse: {e}"));
    check_page(&page);
    assert_eq!(
        page.text_view().text(),
        expected_view,
        "text view after the edit"
    );
    assert_eq!(
        &new[..range.start],
        &old[..range.start],
        "bytes before the edit"
    );
    let tail = old.len() - range.end;
    assert_eq!(
        &new[new.len() - tail..],
        &old[range.end..],
        "bytes after the edit"
    );
}

/// Picks a non-empty range of the view on character boundaries, either anywhere or (with
/// `in_run`) inside the run of one segment, where an edit can succeed.
fn pick_range(
    view: &super::TextView<'_>,
    a: usize,
    b: usize,
    in_run: bool,
) -> Option<Range<usize>> {
    let text = view.text();
    let (lo, hi) = if in_run {
        let segs = view.segments();
        let seg = segs.get(a % segs.len().max(1))?;
        let run: Vec<_> = segs.iter().filter(|s| s.run == seg.run).collect();
        (run.first()?.text.start, run.last()?.text.end)
    } else {
        (0, text.len())
    };
    let width = hi - lo + 1;
    let s = floor_char_boundary(text, lo + a % width);
    let e = floor_char_boundary(text, lo + b % width);
    let (s, e) = (s.min(e), s.max(e));
    (s < e).then_some(s..e)
}

/// Checks the structural invariants of a parsed page and its view.
pub fn check_page(page: &Page<'_>) {
    let src = page.src();
    let mut at = if src.starts_with('\u{feff}') { 3 } else { 0 };
    for (i, node) in page.nodes().iter().enumerate() {
        assert_eq!(
            node.span.start, at,
            "node {i} does not start where the last one ended"
        );
        assert!(node.span.end >= node.span.start && src.is_char_boundary(node.span.end));
        at = node.span.end;
        match &node.kind {
            NodeKind::Start { end, .. } => {
                assert_eq!(page.nodes()[*end].kind, NodeKind::End { start: i });
            }
            NodeKind::CData => {
                let c = cdata_content(&node.span);
                assert!(!src[c].contains("]]>"));
            }
            NodeKind::Text => assert!(!src[node.span.clone()].contains(['<', '&'])),
            _ => {}
        }
    }
    assert_eq!(at, src.len(), "nodes do not reach the end of the page");
    let view = page.text_view();
    let mut last_end = 0;
    for s in view.segments() {
        assert!(s.text.start >= last_end && s.text.end > s.text.start);
        last_end = s.text.end;
        let text = &view.text()[s.text.clone()];
        let raw = &src[s.raw.clone()];
        if s.reference {
            assert!(raw.starts_with('&') && raw.ends_with(';'));
        } else {
            assert_eq!(text, raw, "a literal segment differs from its page bytes");
        }
    }
    if !view.text().is_empty() {
        let _ = view.raw_range(0..view.text().len());
    }
    for block in page.runbook_blocks() {
        assert!(src.get(block.block.span.clone()).is_some());
    }
}
