//! Inputs the fuzzers found that once broke an invariant, replayed through the fuzz entry
//! functions and checked directly. Each test names what went wrong.

use arkbridge_core::storage::Page;
use arkbridge_core::storage::fuzzing;

/// `fuzz/artifacts/storage_parse/crash-246f5c0b…`: a page opening with two byte-order marks.
/// quick-xml drops one leading mark and counts positions after it; the parser dropped the first
/// itself, so quick-xml dropped the second as well and every span was 3 bytes short.
#[test]
fn second_byte_order_mark_is_text_not_skipped() {
    let crash: &[u8] = b"\xef\xbb\xbf\xef\xbb\xbfuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu?>";
    fuzzing::parse_and_extract(crash);
    let src = "\u{feff}\u{feff}<p>x</p>";
    let page = Page::parse(src).unwrap();
    assert_eq!(page.nodes()[0].span, 3..6);
    assert_eq!(page.text_view().text(), "\u{feff}\nx\n");
}

/// `fuzz/artifacts/storage_edit/crash-47959411…`: a replacement starting with U+FEFF at the very
/// start of the page. Written as it was, it became a byte-order mark and fell out of the text.
#[test]
fn replacement_opening_the_page_with_u_feff_is_written_as_a_reference() {
    let crash: &[u8] = b"\x00\x00\x90\x01LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL\x00\xef\xbb\xbf<p local-i\x22>Restart&nbsp;the se<ac:vich-text-.<a;:ody>s";
    fuzzing::edit(crash);
    let src = "pw hunter2";
    let view = Page::parse(src).unwrap().text_view();
    let edit = view.replace(0..2, "\u{feff}x").unwrap();
    assert_eq!(edit.apply(src).unwrap(), "&#65279;x hunter2");
    // Removing what precedes a U+FEFF would bring the page's own one to the front.
    let src = "pw\u{feff} hunter2";
    let view = Page::parse(src).unwrap().text_view();
    let edit = view.replace(0..2, "").unwrap();
    assert_eq!(edit.apply(src).unwrap(), "&#65279; hunter2");
}
