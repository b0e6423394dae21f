//! Data-driven tests of the storage engine: each case is a page and the expected rendering of
//! what the engine makes of it (runbook blocks, text-view runs, errors, edits).

use arkbridge_core::runbook::BindingKind;
use arkbridge_core::storage::{Context, NameSource, Page, TextView};

/// One line per run of the text view: its context, its text, and the page bytes it maps to.
fn render_view(view: &TextView<'_>, src: &str) -> String {
    let segs = view.segments();
    let mut out = String::new();
    let mut i = 0;
    while i < segs.len() {
        let run = segs[i].run;
        let j = segs[i..]
            .iter()
            .position(|s| s.run != run)
            .map_or(segs.len(), |k| i + k);
        let (first, last) = (&segs[i], &segs[j - 1]);
        let ctx = match first.context {
            Context::Text => "text".to_string(),
            Context::CData => "cdata".to_string(),
            Context::Attribute { .. } => format!("@{}", first.attribute.as_deref().unwrap_or("?")),
        };
        let text = &view.text()[first.text.start..last.text.end];
        let raw = &src[first.raw.start..last.raw.end];
        out.push_str(&format!("{ctx} {text:?} <- {raw:?}\n"));
        i = j;
    }
    out
}

#[track_caller]
fn check_view(src: &str, expect: &str) {
    let page = Page::parse(src).unwrap_or_else(|e| panic!("{e}"));
    let actual = render_view(&page.text_view(), src);
    assert_eq!(actual.trim(), expect.trim(), "\n--- actual ---\n{actual}");
}

/// One line per runbook block, then its bindings or its errors, indented.
fn render_runbooks(src: &str) -> String {
    let page = Page::parse(src).unwrap_or_else(|e| panic!("{e}"));
    let mut out = String::new();
    for rb in page.runbook_blocks() {
        let source = match rb.name_source {
            NameSource::Title => "title",
            NameSource::Expand => "expand",
        };
        let lang = rb.block.language.as_deref().unwrap_or("-");
        match &rb.parsed {
            Ok(r) => {
                let timeout = r
                    .timeout
                    .map_or("-".into(), |t| format!("{}s", t.as_secs()));
                out.push_str(&format!(
                    "{} ({source}) lang={lang} mode={} timeout={timeout}\n",
                    rb.name,
                    r.mode.as_str()
                ));
                for b in &r.bindings {
                    let kind = if b.kind == BindingKind::Env {
                        "env"
                    } else {
                        "file"
                    };
                    let fb = b
                        .fallback
                        .as_ref()
                        .map_or(String::new(), |f| format!(" fallback {f}"));
                    out.push_str(&format!("  {} {kind} {}{fb}\n", b.variable, b.reference));
                }
            }
            Err(errors) => {
                out.push_str(&format!("{} ({source}) lang={lang} ERRORS\n", rb.name));
                for e in &errors.0 {
                    assert_eq!(e.block, rb.name);
                    out.push_str(&format!("  line {}: {}\n", e.line, e.message));
                }
            }
        }
    }
    out
}

#[track_caller]
fn check_runbooks(src: &str, expect: &str) {
    let actual = render_runbooks(src);
    assert_eq!(actual.trim(), expect.trim(), "\n--- actual ---\n{actual}");
}

#[track_caller]
fn check_error(src: &str, expect: &str) {
    let err = Page::parse(src).expect_err("the page should be refused");
    assert_eq!(err.to_string(), expect);
}

fn code(title: &str, lang: &str, body: &str) -> String {
    format!(
        r#"<ac:structured-macro ac:name="code" ac:schema-version="1" ac:macro-id="9c1f" ac:local-id="a1b2"><ac:parameter ac:name="language">{lang}</ac:parameter><ac:parameter ac:name="title">{title}</ac:parameter><ac:parameter ac:name="breakoutMode">wide</ac:parameter><ac:plain-text-body><![CDATA[{body}]]></ac:plain-text-body></ac:structured-macro>"#
    )
}

const PRODUCT_EXAMPLE: &str = "#!/usr/bin/env bash
# arkbridge: mode write
# arkbridge: timeout 10m
# arkbridge: secret DB_PASSWORD cyberark://Prod-DB/postgres-admin
# arkbridge: secret DB_USER cyberark://Prod-DB/postgres-admin#UserName
# arkbridge: secret-file SSH_KEY cyberark://Prod-Linux/deploy-key
# arkbridge: fallback DB_PASSWORD cyberark://Prod-DB-RO/postgres-readonly
psql \"host=db.prod user=$DB_USER password=$DB_PASSWORD\" -c 'select 1'";

#[test]
fn extracts_the_product_example_with_every_binding() {
    check_runbooks(
        &format!(
            "<p>Intro</p>{}",
            code("arkbridge: restart", "bash", PRODUCT_EXAMPLE)
        ),
        "
restart (title) lang=bash mode=write timeout=600s
  DB_PASSWORD env cyberark://Prod-DB/postgres-admin fallback cyberark://Prod-DB-RO/postgres-readonly
  DB_USER env cyberark://Prod-DB/postgres-admin#UserName
  SSH_KEY file cyberark://Prod-Linux/deploy-key",
    );
}

#[test]
fn extracts_blocks_nested_in_expand_details_tables_and_layouts() {
    let page = format!(
        r#"<ac:layout><ac:layout-section ac:type="two_equal"><ac:layout-cell>{}</ac:layout-cell><ac:layout-cell><ac:structured-macro ac:name="details"><ac:rich-text-body><table><tbody><tr><td>{}</td></tr></tbody></table></ac:rich-text-body></ac:structured-macro></ac:layout-cell></ac:layout-section></ac:layout>"#,
        code("arkbridge: in-layout", "python", "print(1)"),
        code(
            "Arkbridge:  In Table ",
            "sql",
            "# arkbridge: mode read\nselect 1"
        ),
    );
    check_runbooks(
        &page,
        "
in-layout (title) lang=python mode=read timeout=-
In Table (title) lang=sql mode=read timeout=-",
    );
}

#[test]
fn an_expand_titled_as_a_runbook_names_its_only_untitled_code_block() {
    let untitled = r#"<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">bash</ac:parameter><ac:plain-text-body><![CDATA[# arkbridge: timeout 90]]></ac:plain-text-body></ac:structured-macro>"#;
    let expand = |title: &str, inner: &str| {
        format!(
            r#"<ac:structured-macro ac:name="expand"><ac:parameter ac:name="title">{title}</ac:parameter><ac:rich-text-body>{inner}</ac:rich-text-body></ac:structured-macro>"#
        )
    };
    check_runbooks(
        &expand(
            "arkbridge: deploy",
            &format!("<p>Runs the deploy.</p>{untitled}"),
        ),
        "deploy (expand) lang=bash mode=read timeout=90s",
    );
    // Two code blocks in one expand: which one is meant is unclear, so neither is a runbook.
    check_runbooks(
        &expand("arkbridge: deploy", &format!("{untitled}{untitled}")),
        "",
    );
    // The block's own runbook title wins over the expand's.
    check_runbooks(
        &expand(
            "arkbridge: outer",
            &code("arkbridge: inner", "bash", "true"),
        ),
        "inner (title) lang=bash mode=read timeout=-",
    );
}

#[test]
fn ignores_noformat_and_ordinary_code_and_decodes_titles() {
    let noformat = r#"<ac:structured-macro ac:name="noformat"><ac:parameter ac:name="title">arkbridge: nf</ac:parameter><ac:plain-text-body><![CDATA[x]]></ac:plain-text-body></ac:structured-macro>"#;
    let legacy = r#"<ac:macro ac:name="code"><ac:parameter ac:name="title">arkbridge:&nbsp;old&amp;new</ac:parameter><ac:plain-text-body><![CDATA[true]]></ac:plain-text-body></ac:macro>"#;
    check_runbooks(
        &format!(
            "{noformat}{}{legacy}",
            code("Restart notes", "bash", "true")
        ),
        "old&new (title) lang=- mode=read timeout=-",
    );
}

#[test]
fn reports_every_malformed_directive_with_its_line() {
    let body = "#!/bin/bash

# arkbridge: mode root
# Arkbridge: secret X cyberark://S/o
# arkbridge secret Y cyberark://S/o
# arkbridge: timeout 0
# arkbridge: secret pw hunter2
# arkbridge: secret PW hunter2
# arkbridge: fallback Z cyberark://S/z
# arkbridge: bogus
echo done
# arkbridge: mode nonsense-after-the-script";
    check_runbooks(
        &code("arkbridge: broken", "bash", body),
        "
broken (title) lang=bash ERRORS
  line 3: unknown mode `root`; use `read` or `write`
  line 4: `Arkbridge:` looks like a directive; the prefix is `arkbridge:` in lower case
  line 5: `arkbridge secret` looks like a directive but lacks the colon: write `arkbridge: secret`
  line 6: a timeout must be positive
  line 7: `pw` is not a valid variable name (use A-Z, 0-9 and _)
  line 8: the reference must start with cyberark:// (what was written is not shown, as it may be a secret)
  line 9: `fallback Z` comes before any `secret Z` or `secret-file Z`
  line 10: unknown directive `bogus`; known: mode, timeout, secret, secret-file, fallback",
    );
}

#[test]
fn view_of_prose_skips_ids_and_decodes_entities() {
    check_view(
        r#"<p local-id="p1" data-layout="x">Reset&nbsp;it &amp; check &rarr; done</p><p>pass<strong>word</strong></p><!-- note: pw=x -->"#,
        r#"
text "Reset\u{a0}it & check → done" <- "Reset&nbsp;it &amp; check &rarr; done"
text "pass" <- "pass"
text "word" <- "word""#,
    );
}

#[test]
fn view_of_a_code_macro_holds_parameters_and_the_joined_cdata() {
    check_view(
        &code("arkbridge: x", "bash", "echo ]]]]><![CDATA[> done"),
        r#"
text "bash" <- "bash"
text "arkbridge: x" <- "arkbridge: x"
text "wide" <- "wide"
cdata "echo ]]> done" <- "echo ]]]]><![CDATA[> done""#,
    );
}

#[test]
fn view_holds_link_targets_and_resource_values_but_not_user_ids() {
    check_view(
        r#"<p><a href="https://u:p%40ss@h/?a=1&amp;b=2" title='it&apos;s'>docs</a><ac:link><ri:user ri:account-id="557058:1"/></ac:link><ac:link><ri:page ri:space-key="OPS" ri:content-title="A &amp; B"/><ac:plain-text-link-body><![CDATA[see]]></ac:plain-text-link-body></ac:link><ac:image><ri:url ri:value="https://x/k?token=abc"/></ac:image></p>"#,
        r#"
@href "https://u:p%40ss@h/?a=1&b=2" <- "https://u:p%40ss@h/?a=1&amp;b=2"
@title "it's" <- "it&apos;s"
text "docs" <- "docs"
@ri:content-title "A & B" <- "A &amp; B"
cdata "see" <- "see"
@ri:value "https://x/k?token=abc" <- "https://x/k?token=abc""#,
    );
}

#[test]
fn view_separates_blocks_but_runs_inline_text_on() {
    let src =
        "<p>a</p><p>b<em>c</em></p><table><tbody><tr><td>d</td><td>e</td></tr></tbody></table>";
    let page = Page::parse(src).unwrap();
    let view = page.text_view();
    assert_eq!(view.text(), "\na\n\nbc\n\n\n\n\nd\n\ne\n\n\n\n");
    let found = view.text().find("bc").unwrap();
    assert_eq!(&src[view.raw_range(found..found + 2).unwrap()], "b<em>c");
}

#[test]
fn malformed_pages_are_refused_with_a_position() {
    check_error(
        "<p>x &bogus; y</p>",
        "the page's storage format is malformed at line 1, column 6 (byte 5): unknown entity `&bogus;` (storage format allows XML's and XHTML's named entities)",
    );
    check_error(
        "<p>\n<b>x</p>",
        "the page's storage format is malformed at line 2, column 5 (byte 8): ill-formed document: expected `</b>`, but `</p>` was found",
    );
    check_error(
        "<p>a ]]> b</p>",
        "the page's storage format is malformed at line 1, column 6 (byte 5): `]]>` is not allowed in text outside a CDATA section",
    );
    check_error(
        r#"<a href="x<y"/>"#,
        "the page's storage format is malformed at line 1, column 11 (byte 10): `<` is not allowed in an attribute value",
    );
    check_error(
        r#"<a href="?a=1&b=2"/>"#,
        "the page's storage format is malformed at line 1, column 14 (byte 13): `&` must start a reference such as `&amp;`",
    );
    check_error(
        "<p>bell\u{7}</p>",
        "the page's storage format is malformed at line 1, column 8 (byte 7): character U+0007 is not allowed in XML",
    );
    check_error(
        "<p>&#xD800;</p>",
        "the page's storage format is malformed at line 1, column 4 (byte 3): malformed character reference, or one naming a character XML forbids: `&#xD800;`",
    );
    check_error(
        "<ac:layout><p>x</p>",
        "the page's storage format is malformed at line 1, column 1 (byte 0): element `<ac:layout>` is never closed",
    );
    check_error(
        "<p>x</p><pre><![CDATA[echo",
        "the page's storage format is malformed at line 1, column 14 (byte 13): syntax error: CDATA not closed: `]]>` not found before end of input",
    );
}

/// Deep nesting and thousands of blocks: nothing recurses (no stack overflow) and reading every
/// block stays linear in the page's size (a quadratic walk would not finish in a test's time).
#[test]
fn deep_nesting_and_many_blocks_are_read_without_recursion() {
    let depth = 50_000;
    let blocks = 5_000;
    let expand = |i: usize| {
        format!(
            r#"<ac:structured-macro ac:name="expand"><ac:parameter ac:name="title">arkbridge: b{i}</ac:parameter><ac:rich-text-body><ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[# arkbridge: timeout 1m]]></ac:plain-text-body></ac:structured-macro></ac:rich-text-body></ac:structured-macro>"#
        )
    };
    let mut src = "<div>".repeat(depth);
    for i in 0..blocks {
        src.push_str(&expand(i));
    }
    src.push_str(&"</div>".repeat(depth));
    let page = Page::parse(&src).unwrap();
    let found = page.runbook_blocks();
    assert_eq!(found.len(), blocks);
    assert!(
        found
            .iter()
            .all(|b| b.name_source == NameSource::Expand && b.parsed.is_ok())
    );
    let view = page.text_view();
    let at = view.text().find("b4999").unwrap();
    let edit = view.replace(at..at + 5, "renamed").unwrap();
    let renamed = edit.apply(&src).unwrap();
    let again = Page::parse(&renamed).unwrap().runbook_blocks();
    assert_eq!(again[blocks - 1].name, "renamed");
    assert!(Page::parse(&src[..src.len() - 6]).is_err());
}

#[test]
fn debug_output_of_a_page_and_its_view_holds_no_page_text() {
    let src = r#"<p title="hunter2">hunter2</p><a href="https://u:hunter2@h"/>"#;
    let page = Page::parse(src).unwrap();
    let printed = format!(
        "{page:?} {:?} {:?} {:?}",
        page.nodes(),
        page.text_view(),
        page.text_view().segments()
    );
    assert!(!printed.contains("hunter2"), "{printed}");
}
