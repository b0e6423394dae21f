//! Data-driven tests of minimal edits: a page, the text to find in its view, the replacement,
//! and the exact page that must come out.

use arkbridge_core::storage::{Colour, EditError, Page, SpanError, Status};

/// Replaces the `nth` occurrence of `find` in the page's text view and returns the new page.
fn replace_nth(src: &str, find: &str, nth: usize, replacement: &str) -> Result<String, EditError> {
    let page = Page::parse(src).unwrap_or_else(|e| panic!("{e}"));
    let view = page.text_view();
    let (at, _) = view
        .text()
        .match_indices(find)
        .nth(nth)
        .unwrap_or_else(|| panic!("`{find}` not in the view {:?}", view.text()));
    let edit = view.replace(at..at + find.len(), replacement)?;
    let new = edit.apply(src)?;
    Page::parse(&new).unwrap_or_else(|e| panic!("the edited page does not parse: {e}\n{new}"));
    Ok(new)
}

#[track_caller]
fn check_replace(src: &str, find: &str, replacement: &str, expect: &str) {
    let actual = replace_nth(src, find, 0, replacement).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(actual, expect);
}

#[track_caller]
fn check_status(src: &str, status: &Status, expect: &str) {
    let page = Page::parse(src).unwrap();
    let block = page.code_blocks().into_iter().next().expect("a code block");
    let edit = page.insert_status_after(&block, status).unwrap();
    assert_eq!(edit.apply(src).unwrap(), expect);
}

const REF: &str = "cyberark://Prod-DB/pg";

#[test]
fn replaces_text_and_leaves_ids_and_entities_around_it_alone() {
    check_replace(
        r#"<p local-id="x1">pw:&nbsp;hunter2 &mdash; rotate</p>"#,
        "hunter2",
        REF,
        r#"<p local-id="x1">pw:&nbsp;cyberark://Prod-DB/pg &mdash; rotate</p>"#,
    );
}

#[test]
fn replaces_a_span_that_includes_references() {
    check_replace(
        "<p>k=a&amp;b&lt;c;</p>",
        "a&b<c",
        "x\"<'>&",
        "<p>k=x\"&lt;'&gt;&amp;;</p>",
    );
}

#[test]
fn escapes_for_double_and_single_quoted_attributes() {
    check_replace(
        r#"<a href="https://u:hunter2@db/x">x</a>"#,
        "hunter2",
        "a\"b'c&d<e\tf",
        r#"<a href="https://u:a&quot;b'c&amp;d&lt;e&#9;f@db/x">x</a>"#,
    );
    check_replace(
        "<ri:url ri:value='https://u:hunter2@db/x'/>",
        "hunter2",
        "a\"b'c\r\n",
        "<ri:url ri:value='https://u:a\"b&apos;c&#13;&#10;@db/x'/>",
    );
}

#[test]
fn splits_cdata_end_markers_in_the_replacement() {
    check_replace(
        "<pre><![CDATA[export PW=hunter2\n]]></pre>",
        "hunter2",
        "a]]>b]]>",
        "<pre><![CDATA[export PW=a]]]]><![CDATA[>b]]]]><![CDATA[>\n]]></pre>",
    );
}

#[test]
fn splits_cdata_end_markers_formed_with_the_surrounding_content() {
    // `]]` before the edit and a replacement starting with `>`.
    check_replace(
        "<pre><![CDATA[x]]hunter2]]></pre>",
        "hunter2",
        ">y",
        "<pre><![CDATA[x]]]]><![CDATA[>y]]></pre>",
    );
    // A replacement ending in `]` before content starting with `]>`.
    check_replace(
        "<pre><![CDATA[hunter2]>z]]></pre>",
        "hunter2",
        "w]",
        "<pre><![CDATA[w]]]><![CDATA[]>z]]></pre>",
    );
    // Brackets at the end of a section that a split already closed need nothing more.
    check_replace(
        "<pre><![CDATA[hunter2]]]]><![CDATA[>z]]></pre>",
        "hunter2",
        "w]",
        "<pre><![CDATA[w]]]]]><![CDATA[>z]]></pre>",
    );
    // An empty replacement that brings `]]` and `>` together.
    check_replace(
        "<pre><![CDATA[a]]hunter2>b]]></pre>",
        "hunter2",
        "",
        "<pre><![CDATA[a]]]]><![CDATA[>b]]></pre>",
    );
}

#[test]
fn replaces_across_a_cdata_split_and_joins_the_sections() {
    check_replace(
        "<pre><![CDATA[pw=a]]]]><![CDATA[>b end]]></pre>",
        "a]]>b",
        REF,
        "<pre><![CDATA[pw=cyberark://Prod-DB/pg end]]></pre>",
    );
}

#[test]
fn keeps_text_free_of_cdata_end_markers() {
    check_replace("<p>x>y</p>", "x", "a]]", "<p>a]&#93;>y</p>");
    // The replacement is empty, so the page's own `]` before it is the one escaped.
    check_replace("<p>a]]x>b</p>", "x", "", "<p>a]&#93;>b</p>");
    check_replace("<p>a]x]>b</p>", "x", "", "<p>a&#93;]>b</p>");
}

#[test]
fn refuses_ranges_that_cross_markup_or_cannot_be_written() {
    let crossing = replace_nth("<p>pass<b>word</b></p>", "password", 0, REF).unwrap_err();
    assert!(
        matches!(crossing, EditError::Span(SpanError::CrossesMarkup { .. })),
        "{crossing}"
    );
    let mixed = replace_nth(
        "<ac:plain-text-body>ab<![CDATA[cd]]></ac:plain-text-body>",
        "bc",
        0,
        REF,
    )
    .unwrap_err();
    assert!(
        matches!(mixed, EditError::Span(SpanError::CrossesMarkup { .. })),
        "{mixed}"
    );
    let cr = replace_nth("<pre><![CDATA[x]]></pre>", "x", 0, "a\rb").unwrap_err();
    assert_eq!(
        cr.to_string(),
        "character U+000D cannot be written inside a CDATA section"
    );
}

#[test]
fn inserts_a_status_paragraph_after_a_top_level_block() {
    let code = r#"<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[x]]></ac:plain-text-body></ac:structured-macro>"#;
    let status = Status {
        colour: Colour::Green,
        title: "LAST RUN: OK <1s>".into(),
        subtle: false,
    };
    check_status(
        &format!("<p>a</p>{code}<p>b</p>"),
        &status,
        &format!(
            r#"<p>a</p>{code}<p><ac:structured-macro ac:name="status" ac:schema-version="1"><ac:parameter ac:name="colour">Green</ac:parameter><ac:parameter ac:name="title">LAST RUN: OK &lt;1s&gt;</ac:parameter></ac:structured-macro></p><p>b</p>"#
        ),
    );
}

#[test]
fn inserts_a_bare_status_inside_a_paragraph() {
    let code = r#"<ac:structured-macro ac:name="code"/>"#;
    let status = Status {
        colour: Colour::Red,
        title: "FAILED".into(),
        subtle: true,
    };
    check_status(
        &format!("<p>{code} after</p>"),
        &status,
        &format!(
            r#"<p>{code}<ac:structured-macro ac:name="status" ac:schema-version="1"><ac:parameter ac:name="colour">Red</ac:parameter><ac:parameter ac:name="title">FAILED</ac:parameter><ac:parameter ac:name="subtle">true</ac:parameter></ac:structured-macro> after</p>"#
        ),
    );
}

#[test]
fn refuses_a_block_from_another_page() {
    let a = r#"<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[x]]></ac:plain-text-body></ac:structured-macro>"#;
    let b = format!("<p>longer prefix</p>{a}");
    let block = Page::parse(&b).unwrap().code_blocks().remove(0);
    let status = Status {
        colour: Colour::Grey,
        title: String::new(),
        subtle: false,
    };
    let err = Page::parse(a)
        .unwrap()
        .insert_status_after(&block, &status)
        .unwrap_err();
    assert_eq!(err, EditError::NotABlock);
}

#[test]
fn several_edits_apply_together_but_not_when_they_touch() {
    let src = "<p>one hunter2 two hunter2</p>";
    let page = Page::parse(src).unwrap();
    let view = page.text_view();
    let edits: Vec<_> = view
        .text()
        .match_indices("hunter2")
        .map(|(at, _)| view.replace(at..at + 7, REF).unwrap())
        .collect();
    assert_eq!(
        arkbridge_core::storage::apply_edits(src, &edits).unwrap(),
        format!("<p>one {REF} two {REF}</p>")
    );
    let near = [
        view.replace(4..5, "x").unwrap(),
        view.replace(6..7, "y").unwrap(),
    ];
    let err = arkbridge_core::storage::apply_edits(src, &near).unwrap_err();
    assert!(matches!(err, EditError::TooClose { .. }), "{err}");
}
