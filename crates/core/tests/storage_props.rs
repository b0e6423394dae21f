//! Property tests: parse, edit and serialise never corrupt a page.
//!
//! Pages are generated from a small grammar of storage format (paragraphs with entities and
//! inline markup, links, code macros with split CDATA, expands, tables, comments), encoded here
//! independently of the engine's own escaping. For every edit the tests check that the edited
//! page parses, that its text view is the original with only the edited range changed, that the
//! bytes outside the edit are untouched, and that arbitrary replacement text comes back intact.

use arkbridge_core::storage::fuzzing::{check_edited, check_page, splice};
use arkbridge_core::storage::{Colour, Context, Edit, EditError, Page, Status, apply_edits};
use proptest::prelude::*;
use proptest::sample::Index;

/// Text with the characters that matter to XML well represented.
fn tricky_text(max: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => "[a-zA-Z0-9 ]{1,6}",
        1 => Just("]]>".to_string()),
        1 => Just("]]".to_string()),
        1 => Just("]".to_string()),
        1 => Just(">".to_string()),
        1 => Just("&".to_string()),
        1 => Just("&amp;".to_string()),
        1 => Just("<".to_string()),
        1 => Just("\"".to_string()),
        1 => Just("'".to_string()),
        1 => Just("\n".to_string()),
        1 => Just("\t".to_string()),
        1 => Just("\r".to_string()),
        1 => Just("é€😀\u{a0}".to_string()),
        1 => any::<char>().prop_filter("an XML character", |c| xml_char(*c)).prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..max).prop_map(|v| v.concat())
}

fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// Element text, escaped the way an editor might: named, numeric or hex references.
fn encode_text(s: &str, style: u8) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match (c, style % 3) {
            ('&', 0) => out.push_str("&amp;"),
            ('&', 1) => out.push_str("&#38;"),
            ('&', _) => out.push_str("&#x26;"),
            ('<', 0 | 1) => out.push_str("&lt;"),
            ('<', _) => out.push_str("&#60;"),
            ('>', _) => out.push_str("&gt;"),
            ('\u{a0}', 0) => out.push_str("&nbsp;"),
            ('\r', _) => out.push_str("&#13;"),
            (c, _) => out.push(c),
        }
    }
    out
}

fn encode_attr(s: &str, quote: char) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' if quote == '"' => out.push_str("&quot;"),
            '\'' if quote == '\'' => out.push_str("&#39;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// CDATA for `s`: every `]]>` split, plus extra splits at `cuts` (as an editor may leave).
fn encode_cdata(s: &str, cuts: &[usize]) -> String {
    let mut out = String::from("<![CDATA[");
    let mut at = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (s.len() + 1)).collect();
    points.extend(s.match_indices("]]>").map(|(i, _)| i + 2));
    points.sort_unstable();
    points.dedup();
    for p in points.into_iter().filter(|p| s.is_char_boundary(*p)) {
        out.push_str(&s[at..p]);
        out.push_str("]]><![CDATA[");
        at = p;
    }
    out.push_str(&s[at..]);
    out.push_str("]]>");
    out
}

fn text() -> impl Strategy<Value = String> {
    (tricky_text(6), any::<u8>()).prop_map(|(t, style)| encode_text(&t, style))
}

fn inline() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        4 => text(),
        1 => text().prop_map(|t| format!("<strong>{t}</strong>")),
        1 => (tricky_text(5), text(), any::<bool>()).prop_map(|(href, t, dq): (String, String, bool)| {
            let q = if dq { '"' } else { '\'' };
            format!("<a href={q}{}{q}>{t}</a>", encode_attr(&href, q))
        }),
        1 => Just("<br/>".to_string()),
        1 => Just(r#"<ac:link><ri:user ri:account-id="557058:x"/></ac:link>"#.to_string()),
    ];
    prop::collection::vec(leaf, 0..4).prop_map(|v| v.concat())
}

fn code_macro() -> impl Strategy<Value = String> {
    (tricky_text(4), tricky_text(10), prop::collection::vec(any::<usize>(), 0..3), any::<u8>())
        .prop_map(|(title, body, cuts, style)| {
            format!(
                r#"<ac:structured-macro ac:name="code" ac:schema-version="1" ac:macro-id="m" ac:local-id="l"><ac:parameter ac:name="title">arkbridge: {}</ac:parameter><ac:plain-text-body>{}</ac:plain-text-body></ac:structured-macro>"#,
                encode_text(&title, style),
                encode_cdata(&body, &cuts)
            )
        })
}

fn block() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        3 => inline().prop_map(|i| format!(r#"<p local-id="p">{i}</p>"#)),
        2 => code_macro(),
        1 => (tricky_text(4), any::<u8>()).prop_map(|(t, s)| format!("<pre>{}</pre>", encode_text(&t, s))),
        1 => Just("<!-- a comment -->".to_string()),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..3).prop_map(|v| format!(
                r#"<ac:structured-macro ac:name="expand"><ac:parameter ac:name="title">t</ac:parameter><ac:rich-text-body>{}</ac:rich-text-body></ac:structured-macro>"#,
                v.concat()
            )),
            prop::collection::vec(inner, 1..3).prop_map(|v| format!(
                "<table><tbody><tr>{}</tr></tbody></table>",
                v.iter().map(|c| format!("<td>{c}</td>")).collect::<String>()
            )),
        ]
    })
}

fn page() -> impl Strategy<Value = String> {
    prop::collection::vec(block(), 1..5).prop_map(|v| v.concat())
}

/// Whether `new` is `old` with one range replaced: their common prefix and suffix cover `old`.
fn differs_in_one_place(old: &str, new: &str) -> bool {
    let prefix = old
        .bytes()
        .zip(new.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let suffix = old
        .bytes()
        .rev()
        .zip(new.bytes().rev())
        .take_while(|(a, b)| a == b)
        .count();
    prefix + suffix >= old.len().min(new.len()) && new.len() >= old.len()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_pages_parse_and_map_back(src in page()) {
        let page = Page::parse(&src).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_page(&page);
    }

    #[test]
    fn replacing_inside_a_run_keeps_the_page_whole(
        src in page(), seg in any::<Index>(), a in any::<Index>(), b in any::<Index>(),
        replacement in tricky_text(8),
    ) {
        let page = Page::parse(&src).unwrap();
        let view = page.text_view();
        prop_assume!(!view.segments().is_empty());
        let run = view.segments()[seg.index(view.segments().len())].run;
        let in_run: Vec<_> = view.segments().iter().filter(|s| s.run == run).collect();
        let (lo, hi) = (in_run[0].text.start, in_run[in_run.len() - 1].text.end);
        let bounds: Vec<usize> = (lo..=hi).filter(|&i| view.text().is_char_boundary(i)).collect();
        let (x, y) = (bounds[a.index(bounds.len())], bounds[b.index(bounds.len())]);
        prop_assume!(x != y);
        let range = x.min(y)..x.max(y);
        let located = view.locate(range.clone()).unwrap();
        match view.replace(range.clone(), &replacement) {
            Ok(edit) => {
                prop_assert!(edit.range.end == located.raw.end || edit.range.end == located.raw.end + 3);
                prop_assert!(edit.range.start == located.raw.start || edit.range.start + 1 == located.raw.start);
                let new = edit.apply(&src).unwrap();
                check_edited(&src, &new, &edit.range, &splice(view.text(), range, &replacement));
            }
            Err(EditError::Unrepresentable { code: 13, .. }) => {
                prop_assert_eq!(located.context, Context::CData);
                prop_assert!(replacement.contains('\r'));
            }
            Err(e) => prop_assert!(false, "unexpected error: {e}"),
        }
    }

    #[test]
    fn replacing_any_range_edits_cleanly_or_refuses(
        src in page(), a in any::<Index>(), b in any::<Index>(), replacement in tricky_text(4),
    ) {
        let page = Page::parse(&src).unwrap();
        let view = page.text_view();
        let len = view.text().len();
        let (x, y) = (a.index(len + 1), b.index(len + 1));
        let range = x.min(y)..x.max(y);
        if let Ok(edit) = view.replace(range.clone(), &replacement) {
            let new = edit.apply(&src).unwrap();
            check_edited(&src, &new, &edit.range, &splice(view.text(), range, &replacement));
        }
    }

    #[test]
    fn status_insertion_changes_nothing_else(src in page(), which in any::<Index>(), title in tricky_text(5), subtle in any::<bool>()) {
        let title: String = title.chars().filter(|&c| c != '\r').collect();
        let page = Page::parse(&src).unwrap();
        let blocks = page.code_blocks();
        prop_assume!(!blocks.is_empty());
        let block = &blocks[which.index(blocks.len())];
        let status = Status { colour: Colour::Green, title: title.clone(), subtle };
        let edit = page.insert_status_after(block, &status).unwrap();
        prop_assert_eq!(edit.range.clone(), block.span.end..block.span.end);
        let new = edit.apply(&src).unwrap();
        let after = Page::parse(&new).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_page(&after);
        prop_assert_eq!(after.code_blocks().len(), blocks.len());
        let old_view = page.text_view();
        let new_view = after.text_view();
        prop_assert!(differs_in_one_place(old_view.text(), new_view.text()));
        let statuses: Vec<_> = (0..after.nodes().len()).filter(|&i| after.macro_name(i) == Some("status")).collect();
        prop_assert_eq!(statuses.len(), 1);
        prop_assert_eq!(after.macro_parameter(statuses[0], "title"), Some(title.trim().to_string()));
        let colour = after.macro_parameter(statuses[0], "colour");
        prop_assert_eq!(colour.as_deref(), Some("Green"));
    }

    #[test]
    fn two_distant_edits_apply_together(src in page(), a in any::<Index>(), b in any::<Index>()) {
        let page = Page::parse(&src).unwrap();
        let view = page.text_view();
        let segs = view.segments();
        prop_assume!(segs.len() >= 2);
        let (i, j) = (a.index(segs.len()), b.index(segs.len()));
        let (s1, s2) = (&segs[i.min(j)], &segs[i.max(j)]);
        prop_assume!(s1.run != s2.run);
        let e1 = view.replace(s1.text.clone(), "cyberark://A/one]]>");
        let e2 = view.replace(s2.text.clone(), "cyberark://B/two&<");
        let (Ok(e1), Ok(e2)) = (e1, e2) else { return Err(TestCaseError::fail("edit refused")) };
        match apply_edits(&src, &[e2.clone(), e1.clone()]) {
            Ok(new) => {
                let text = view.text();
                let expected = format!(
                    "{}cyberark://A/one]]>{}cyberark://B/two&<{}",
                    &text[..s1.text.start], &text[s1.text.end..s2.text.start], &text[s2.text.end..]
                );
                let after = Page::parse(&new).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let after_view = after.text_view();
                prop_assert_eq!(after_view.text(), expected.as_str());
            }
            Err(EditError::TooClose { .. }) => prop_assert!(e1.range.end + 2 > e2.range.start),
            Err(e) => prop_assert!(false, "unexpected error: {e}"),
        }
    }

    #[test]
    fn arbitrary_text_round_trips_in_text_attributes_and_cdata(value in tricky_text(12)) {
        let src = r#"<p>pw hunter2 end</p><a href="https://u:hunter2@h" title='hunter2'>x</a><ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[pw=hunter2]]]]><![CDATA[>]]></ac:plain-text-body></ac:structured-macro>"#;
        let page = Page::parse(src).unwrap();
        let view = page.text_view();
        let mut edits: Vec<Edit> = Vec::new();
        for (at, _) in view.text().match_indices("hunter2") {
            match view.replace(at..at + 7, &value) {
                Ok(edit) => edits.push(edit),
                Err(EditError::Unrepresentable { code: 13, .. }) => prop_assert!(value.contains('\r')),
                Err(e) => prop_assert!(false, "unexpected error: {e}"),
            }
        }
        let new = apply_edits(src, &edits).unwrap();
        let after = Page::parse(&new).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let p = after.nodes().iter().position(|_| true).unwrap();
        prop_assert_eq!(after.text_content(p), format!("pw {value} end"));
        let a = (0..after.nodes().len()).find(|&i| after.name(i) == Some("a")).unwrap();
        prop_assert_eq!(&after.attr(a, "href").unwrap().value, &format!("https://u:{value}@h"));
        prop_assert_eq!(&after.attr(a, "title").unwrap().value, &value);
        if !value.contains('\r') {
            prop_assert_eq!(&after.code_blocks()[0].body, &format!("pw={value}]]>"));
        }
    }
}

/// Text made of the characters that form `]]>`, where escaping at the edges of an edit matters.
fn brackets(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop_oneof![Just(']'), Just('>'), Just('a')], 0..max)
        .prop_map(|v| v.into_iter().collect())
}

/// Element text for `s` with `>` written literally where XML allows it (not after `]]`), else
/// as `&gt;`, chosen by `literal`.
fn encode_brackets_text(s: &str, literal: &[bool]) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c == '>' && (out.ends_with("]]") || !literal.get(i).copied().unwrap_or(true)) {
            out.push_str("&gt;");
        } else {
            out.push(c);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn edits_between_brackets_never_form_a_cdata_terminator(
        content in brackets(12), cuts in prop::collection::vec(any::<usize>(), 0..4),
        literal in prop::collection::vec(any::<bool>(), 12), replacement in brackets(4),
        a in any::<Index>(), b in any::<Index>(), in_cdata in any::<bool>(),
    ) {
        let src = if in_cdata {
            format!("<pre>{}</pre>", encode_cdata(&content, &cuts))
        } else {
            format!("<p>{}</p>", encode_brackets_text(&content, &literal))
        };
        let page = Page::parse(&src).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let view = page.text_view();
        let len = view.text().len();
        let (x, y) = (a.index(len + 1), b.index(len + 1));
        let range = x.min(y)..x.max(y);
        if let Ok(edit) = view.replace(range.clone(), &replacement) {
            let new = edit.apply(&src).unwrap();
            check_edited(&src, &new, &edit.range, &splice(view.text(), range, &replacement));
        } else {
            // Inside `<pre>` the only refusals are ranges that touch a separator.
            prop_assert!(range.is_empty() || range.start == 0 || range.end == len);
        }
    }
}

#[test]
fn characters_xml_forbids_cannot_be_written_anywhere() {
    let src = r#"<p>secret</p><a href="secret"/><pre><![CDATA[secret]]></pre>"#;
    let page = Page::parse(src).unwrap();
    let view = page.text_view();
    for (at, _) in view.text().match_indices("secret") {
        for bad in ["\u{0}", "a\u{1b}b", "\u{fffe}"] {
            let err = view.replace(at..at + 6, bad).unwrap_err();
            assert!(matches!(err, EditError::Unrepresentable { .. }), "{err}");
        }
    }
}
