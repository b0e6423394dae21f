//! Unit tests of the run buffer: split characters, the bound, the cursor.

use super::*;

fn entry(limit: usize) -> RunEntry {
    RunEntry {
        id: "r".into(),
        owner: "a".into(),
        page_id: "1".into(),
        block: "b".into(),
        started_us: 0,
        limit,
        state: Mutex::new(RunState::default()),
        changed: watch::channel(0).0,
    }
}

#[test]
fn a_character_split_across_reads_is_kept_whole() {
    let e = entry(1024);
    let euro = "€".as_bytes();
    e.push(Stream::Stdout, &[b'a', euro[0]]);
    e.push(Stream::Stdout, &euro[1..]);
    let page = e.output(0);
    let text: String = page.chunks.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(text, "a€");
    assert_eq!(page.next, 2);
    assert!(!page.done);
}

#[test]
fn the_buffer_drops_the_oldest_chunks_and_says_so() {
    let e = entry(10);
    for line in ["12345\n", "67890\n", "abcde\n"] {
        e.push(Stream::Stderr, line.as_bytes());
    }
    let page = e.output(0);
    assert_eq!(page.chunks.len(), 1);
    assert_eq!(page.chunks[0].text, "abcde\n");
    assert_eq!(page.dropped, 2);
    assert_eq!(page.chunks[0].stream, "stderr");
}

#[test]
fn the_cursor_returns_only_newer_chunks_and_done_at_the_end() {
    let e = entry(1024);
    e.push(Stream::Stdout, b"one\n");
    e.push(Stream::Stdout, b"two\n");
    let first = e.output(0);
    assert_eq!(first.next, 2);
    e.finish(Err(EngineError::Setup("boom".into())));
    let rest = e.output(first.next);
    assert!(rest.chunks.is_empty());
    assert!(rest.done);
    assert_eq!(rest.status.as_deref(), Some("error"));
    assert_eq!(e.view().error.as_deref(), Some("boom"));
}
