//! Where a run's masked output goes: live to the caller's sink, up to a cap, and into the kept
//! record, capped too (its first and last parts, with a note of what was left out between).

use std::collections::VecDeque;

use crate::Stream;

/// Collects masked output. Notes from the runner itself are marked `[arkbridge: ...]`.
pub(crate) struct Collector<'s> {
    sink: &'s mut (dyn FnMut(Stream, &[u8]) + Send),
    head: Vec<u8>,
    head_cap: usize,
    tail: VecDeque<u8>,
    tail_cap: usize,
    /// Bytes dropped between the head and the tail.
    omitted: u64,
    live_sent: u64,
    live_cap: u64,
    live_stopped: bool,
}

impl<'s> Collector<'s> {
    pub(crate) fn new(
        sink: &'s mut (dyn FnMut(Stream, &[u8]) + Send),
        keep: usize,
        live: u64,
    ) -> Self {
        let tail_cap = keep / 2;
        Collector {
            sink,
            head: Vec::new(),
            head_cap: keep - tail_cap,
            tail: VecDeque::new(),
            tail_cap,
            omitted: 0,
            live_sent: 0,
            live_cap: live,
            live_stopped: false,
        }
    }

    /// Takes masked bytes from one of the child's streams.
    pub(crate) fn push(&mut self, stream: Stream, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.live(stream, bytes);
        self.keep(bytes);
    }

    /// Adds a note of the runner's own, on its own line, to both the live output and the record.
    pub(crate) fn note(&mut self, text: &str) {
        let line = format!("[arkbridge: {text}]\n");
        (self.sink)(Stream::Stderr, line.as_bytes());
        self.keep(line.as_bytes());
    }

    fn live(&mut self, stream: Stream, bytes: &[u8]) {
        if self.live_stopped {
            return;
        }
        let room = self.live_cap.saturating_sub(self.live_sent);
        let n = bytes.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        if n > 0 {
            (self.sink)(stream, &bytes[..n]);
            self.live_sent += n as u64;
        }
        if n < bytes.len() {
            self.live_stopped = true;
            let note = format!(
                "\n[arkbridge: live output stops after {} bytes; the run goes on, and the end of \
                 its output is kept]\n",
                self.live_cap
            );
            (self.sink)(Stream::Stderr, note.as_bytes());
        }
    }

    fn keep(&mut self, mut bytes: &[u8]) {
        let room = self.head_cap - self.head.len();
        if room > 0 {
            let n = room.min(bytes.len());
            self.head.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
        }
        if bytes.len() >= self.tail_cap {
            self.omitted += (self.tail.len() + bytes.len() - self.tail_cap) as u64;
            self.tail.clear();
            self.tail.extend(&bytes[bytes.len() - self.tail_cap..]);
            return;
        }
        let over = (self.tail.len() + bytes.len()).saturating_sub(self.tail_cap);
        self.tail.drain(..over);
        self.omitted += over as u64;
        self.tail.extend(bytes);
    }

    /// The kept output, and whether some was left out.
    pub(crate) fn finish(self) -> (Vec<u8>, bool) {
        let mut out = self.head;
        if self.omitted > 0 {
            out.extend_from_slice(
                format!(
                    "\n[arkbridge: {} bytes of output left out here; the first and last {} bytes \
                     are kept]\n",
                    self.omitted, self.tail_cap
                )
                .as_bytes(),
            );
        }
        out.extend(self.tail);
        (out, self.omitted > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(keep: usize, live: u64, pushes: &[&[u8]]) -> (Vec<u8>, bool, Vec<u8>) {
        let mut seen = Vec::new();
        let mut sink = |_: Stream, b: &[u8]| seen.extend_from_slice(b);
        let mut c = Collector::new(&mut sink, keep, live);
        for p in pushes {
            c.push(Stream::Stdout, p);
        }
        let (out, truncated) = c.finish();
        (out, truncated, seen)
    }

    #[test]
    fn output_under_the_cap_is_kept_whole() {
        let (out, truncated, live) = collect(10, 100, &[b"abc", b"defg"]);
        assert_eq!((out.as_slice(), truncated), (b"abcdefg".as_slice(), false));
        assert_eq!(live, b"abcdefg");
    }

    #[test]
    fn output_over_the_cap_keeps_head_and_tail_with_a_note() {
        let (out, truncated, _) = collect(8, 100, &[b"0123", b"45", b"6789ab", b"cdef"]);
        let text = String::from_utf8(out).unwrap();
        assert!(truncated);
        assert!(
            text.starts_with("0123\n[arkbridge: 8 bytes of output left out"),
            "{text}"
        );
        assert!(text.ends_with("]\ncdef"), "{text}");
    }

    #[test]
    fn one_huge_push_is_capped_too() {
        let big = vec![b'x'; 1000];
        let (out, truncated, _) = collect(10, 2000, &[b"ab", &big, b"yz"]);
        let text = String::from_utf8(out).unwrap();
        assert!(truncated);
        assert!(text.starts_with("abxxx\n[arkbridge: 994 bytes"), "{text}");
        assert!(text.ends_with("xxxyz"), "{text}");
    }

    #[test]
    fn live_output_stops_at_its_cap_with_a_note() {
        let (_, _, live) = collect(100, 5, &[b"abc", b"defg", b"hij"]);
        let text = String::from_utf8(live).unwrap();
        assert!(
            text.starts_with("abcde\n[arkbridge: live output stops after 5 bytes"),
            "{text}"
        );
        assert_eq!(text.matches("arkbridge").count(), 1, "{text}");
        assert!(!text.contains("hij"));
    }
}
