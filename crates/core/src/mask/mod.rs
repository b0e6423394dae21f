//! Masking secret values in a run's output.
//!
//! A [`Masker`] is built from the secret values of one run. It replaces every occurrence of each
//! value, and of its base64, base64url, URL-encoded, hex and JSON-escaped forms (`forms.rs`
//! lists them all), by a replacement: [`MASK`], or a label such as `[DB_PASSWORD]`
//! ([`label`]). [`MaskStream`] does the same over a stream of chunks: it holds back only the
//! tail of the output that could still be the start of a secret (a prefix of one of its forms),
//! so that a secret split across two reads is still masked while every other byte, a short
//! prompt or log line included, goes out at once. Its output is exactly what [`Masker::mask`]
//! gives for the whole stream.
//!
//! Overlapping occurrences are resolved leftmost-longest, and what is left between two
//! replacements contains no form of any secret. The search (`search.rs`) keeps up with output
//! at over a gigabyte per second with a hundred secrets; see `BENCHMARKS.md`.
//!
//! The search structures necessarily keep the needles in memory for the life of the masker; the
//! intermediate encodings and the stream's held-back bytes are zeroized.

mod forms;
mod search;

use zeroize::Zeroizing;

use search::{Scratch, Searcher};

/// The default replacement text.
pub const MASK: &str = "*****";

/// The label replacement for a binding, `[NAME]`, for configurations that name what was masked.
pub fn label(name: &str) -> String {
    format!("[{name}]")
}

/// Replaces secret values, and their common encodings, in output.
pub struct Masker {
    searcher: Option<Searcher>,
    replacements: Vec<String>,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Masker")
            .field("needles", &self.replacements.len())
            .finish_non_exhaustive()
    }
}

impl Masker {
    /// Builds a masker. Each secret comes with the replacement used for it and all its forms
    /// ([`MASK`], or a [`label`]). Empty values are skipped. When two secrets share a form, the
    /// first one's replacement is used.
    pub fn new<'a>(secrets: impl IntoIterator<Item = (&'a str, String)>) -> Masker {
        let mut needles: Vec<(Zeroizing<Vec<u8>>, usize)> = Vec::new();
        let mut replacements = Vec::new();
        for (value, replacement) in secrets {
            if value.is_empty() {
                continue;
            }
            for form in forms::forms(value) {
                needles.push((form, replacements.len()));
            }
            replacements.push(replacement);
        }
        // Remove repeated forms, keeping the first secret's (the sort is stable).
        needles.sort_by(|a, b| a.0.cmp(&b.0));
        needles.dedup_by(|later, first| later.0 == first.0);
        let searcher = (!needles.is_empty()).then(|| {
            let refs: Vec<&[u8]> = needles.iter().map(|(n, _)| n.as_slice()).collect();
            Searcher::new(&refs)
        });
        let replacements = needles
            .iter()
            .map(|(_, secret)| replacements[*secret].clone())
            .collect();
        Masker {
            searcher,
            replacements,
        }
    }

    /// A masker that masks each value with [`MASK`].
    pub fn with_default_mask<'a>(values: impl IntoIterator<Item = &'a str>) -> Masker {
        Masker::new(values.into_iter().map(|v| (v, MASK.to_string())))
    }

    /// A masker that masks each value with the [`label`] of its name, as `(value, name)`.
    pub fn with_labels<'a>(values: impl IntoIterator<Item = (&'a str, &'a str)>) -> Masker {
        Masker::new(values.into_iter().map(|(v, name)| (v, label(name))))
    }

    /// How many distinct forms are searched for.
    pub fn needle_count(&self) -> usize {
        self.replacements.len()
    }

    /// Masks a complete text.
    pub fn mask(&self, text: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len());
        self.mask_part(text, Cut::End, &mut out, &mut Scratch::default());
        out
    }

    /// Masks a complete string.
    pub fn mask_str(&self, text: &str) -> String {
        String::from_utf8_lossy(&self.mask(text.as_bytes())).into_owned()
    }

    /// A streaming masker over this masker's needles.
    pub fn stream(&self) -> MaskStream<'_> {
        MaskStream {
            masker: self,
            pending: Zeroizing::new(Vec::new()),
            joint: Zeroizing::new(Vec::new()),
            scratch: Scratch::default(),
        }
    }

    /// The length of the longest form.
    fn longest(&self) -> usize {
        self.searcher.as_ref().map_or(0, Searcher::longest)
    }

    /// Masks `buf`, appending to `out` everything that is final: the bytes before the cut and
    /// the replacement of every match that starts before it (a match may end past it). Returns
    /// the number of bytes of `buf` consumed.
    fn mask_part(&self, buf: &[u8], cut: Cut, out: &mut Vec<u8>, scratch: &mut Scratch) -> usize {
        let Some(searcher) = &self.searcher else {
            out.extend_from_slice(buf);
            return buf.len();
        };
        let mut search = searcher.search(buf, scratch);
        let cut = match cut {
            Cut::End => buf.len(),
            Cut::At(cut) => cut,
            Cut::Hold => search.hold_from(),
        };
        let mut pos = 0;
        while let Some(m) = search.find(pos) {
            if m.start >= cut {
                break;
            }
            out.extend_from_slice(&buf[pos..m.start]);
            out.extend_from_slice(self.replacements[m.needle].as_bytes());
            pos = m.end;
        }
        if pos < cut {
            out.extend_from_slice(&buf[pos..cut]);
            pos = cut;
        }
        pos
    }
}

/// Where [`Masker::mask_part`] stops emitting bytes.
#[derive(Clone, Copy)]
enum Cut {
    /// At the end: the text is complete.
    End,
    /// Before the rest that could still grow into a secret.
    Hold,
    /// At a given position, before which nothing depends on bytes after the text.
    At(usize),
}

/// Streaming state: see [`Masker::stream`].
pub struct MaskStream<'m> {
    masker: &'m Masker,
    /// Bytes held back: they may be the start of a secret.
    pending: Zeroizing<Vec<u8>>,
    /// Scratch space for the held bytes joined with the start of the next chunk.
    joint: Zeroizing<Vec<u8>>,
    scratch: Scratch,
}

impl MaskStream<'_> {
    /// Feeds a chunk and returns the masked bytes that are now final.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(chunk.len() + self.pending.len());
        self.push_into(chunk, &mut out);
        out
    }

    /// Feeds a chunk and appends the masked bytes that are now final to `out`. Allocates
    /// nothing once its buffers have grown to the longest form.
    pub fn push_into(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let masker = self.masker;
        let longest = masker.longest();
        let mut rest = chunk;
        if !self.pending.is_empty() {
            if chunk.len() <= 2 * longest {
                // Small chunk: join it with the held bytes and treat the whole as one buffer.
                self.pending.extend_from_slice(chunk);
                let used = masker.mask_part(&self.pending, Cut::Hold, out, &mut self.scratch);
                self.pending.drain(..used);
                return;
            }
            // Settle the held bytes with just enough of the chunk behind them: a match starting
            // in them ends within `longest` bytes, so those decide everything about them.
            let held = self.pending.len();
            self.joint.clear();
            self.joint.extend_from_slice(&self.pending);
            self.joint.extend_from_slice(&chunk[..longest]);
            let used = masker.mask_part(&self.joint, Cut::At(held), out, &mut self.scratch);
            self.pending.clear();
            rest = &chunk[used - held..];
        }
        // Nothing is held: the rest of the chunk is masked where it lies.
        let used = masker.mask_part(rest, Cut::Hold, out, &mut self.scratch);
        self.pending.extend_from_slice(&rest[used..]);
    }

    /// Flushes what is held back at the end of the stream.
    pub fn finish(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.pending.len());
        self.finish_into(&mut out);
        out
    }

    /// Appends what is held back at the end of the stream to `out`.
    pub fn finish_into(mut self, out: &mut Vec<u8>) {
        self.masker
            .mask_part(&self.pending, Cut::End, out, &mut self.scratch);
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
