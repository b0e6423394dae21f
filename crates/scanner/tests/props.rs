//! Property tests: scanning never panics on any input, every finding's offsets point inside
//! the input, the character and byte offsets agree, (where no entity reference is involved)
//! the span at the offset is the very value that was fingerprinted, and the "vault it" edit of
//! a finding changes that span only (the checks of `arkbridge_scanner::fuzzing`).

use proptest::prelude::*;

/// Pieces that make inputs look like storage format, with secrets and broken markup mixed in.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("<p>".to_string()),
        Just("</p>".to_string()),
        Just("<table><tbody><tr><th>Password</th></tr><tr><td>".to_string()),
        Just("</td></tr></tbody></table>".to_string()),
        Just("<ac:structured-macro ac:name=\"code\"><ac:plain-text-body><![CDATA[".to_string()),
        Just("]]></ac:plain-text-body></ac:structured-macro>".to_string()),
        Just("&amp;".to_string()),
        Just("&#x41;".to_string()),
        Just("&nbsp;".to_string()),
        Just("pw: ".to_string()),
        Just("DB_PASSWORD=".to_string()),
        Just("postgres://u:".to_string()),
        Just("@db/x ".to_string()),
        Just("ghp_R8x2LqP0vN5mZt7KcW3yHs9dFj1Ga4Ub6Ee0".to_string()),
        Just("AKIAZ7QW3ERT5YUI2OPL".to_string()),
        Just("<a href=\"https://u:Xy7!pq9@h/\">".to_string()),
        Just("</a>".to_string()),
        "[A-Za-z0-9!@#$%^*<>&;:=_ .\\-]{0,12}",
        "\\PC{0,6}",
    ]
}

fn check(storage: &str) {
    arkbridge_scanner::fuzzing::check(storage);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics_and_offsets_hold(s in "\\PC{0,300}") {
        check(&s);
    }

    #[test]
    fn storage_like_input_never_panics_and_offsets_hold(parts in prop::collection::vec(fragment(), 0..40)) {
        check(&parts.concat());
    }
}

#[test]
fn text_view_of_garbage_is_an_error_not_a_panic() {
    for s in [
        "<",
        "&",
        "]]>",
        "<a><![CDATA[",
        "\u{0}<x y='&#xFFFFFFFF;'/>",
        "<a b='&'/>",
        "\u{feff}",
    ] {
        let _ = arkbridge_scanner::text_view(s);
        check(s);
    }
}
