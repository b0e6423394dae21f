//! Finding the leftmost-longest occurrence of any needle, fast, among thousands of them.
//!
//! A plain Aho-Corasick scan over thousands of needles (a hundred secrets with all their forms)
//! walks one automaton state per byte and runs at about a hundred MB/s. Here the needles are
//! split:
//!
//! * **Long needles** (at least [`LONG`] bytes, nearly all of them) are found with a skip table
//!   in the manner of Wu and Manber: with `m` the shortest long needle's length (at most
//!   [`WINDOW`]), a window of `m` bytes slides over the text; the table, indexed by a hash of
//!   the window's last [`BLOCK`] bytes, says how far the window may move without passing the
//!   start of any needle, up to `m - BLOCK + 1` bytes per look-up. Where it may not move, the
//!   window's start is a candidate if the hash of its first `BLOCK` bytes is that of some long
//!   needle's start; each candidate is checked by an anchored walk of an Aho-Corasick automaton
//!   holding every needle, which gives the longest needle starting there. The scan runs in
//!   [`LANES`] independent lanes over consecutive parts of the text, so that the processor
//!   overlaps their look-ups instead of waiting on one chain of them.
//! * **Short needles** (the forms of very short secrets, if any) are found by an ordinary
//!   leftmost-longest Aho-Corasick search. When there are only [`FEW`] needles in all (one or
//!   two secrets), all of them go this way: Aho-Corasick's vectorised prefilter (Teddy) beats
//!   the skip table there.
//!
//! The earlier of the two next matches wins (the longer at the same start), so the result is
//! the leftmost-longest match over all needles, as one automaton would give it.

use aho_corasick::automaton::Automaton;
use aho_corasick::nfa::contiguous::NFA;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Anchored, Input, MatchKind};

/// Needles at least this long go through the skip table.
const LONG: usize = 8;
/// Up to this many needles, all go through Aho-Corasick.
const FEW: usize = 48;
/// The longest window the skip table looks at.
const WINDOW: usize = 16;
/// Bytes hashed per look-up.
const BLOCK: usize = 4;
/// Bits of the skip table's index.
const TABLE_BITS: u32 = 16;
/// Independent scans run side by side.
const LANES: usize = 4;

/// One occurrence of a needle: `start..end` in the text, and the needle's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Found {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) needle: usize,
}

/// The leftmost-longest searcher over a fixed set of needles.
pub(super) struct Searcher {
    /// Every needle, for anchored walks (candidate checks and prefix tests).
    all: NFA,
    skip: Option<Skip>,
    /// The short needles and their indexes among all needles.
    short: Option<(AhoCorasick, Vec<usize>)>,
    longest: usize,
}

/// Reusable buffers of a search: the candidates of one text, sorted, and the lanes' own lists.
#[derive(Default)]
pub(super) struct Scratch {
    candidates: Vec<usize>,
    lanes: [Vec<usize>; LANES],
}

/// The search over one text: its candidates and the next match of each half of the search,
/// remembered while it is still ahead.
pub(super) struct Search<'s> {
    searcher: &'s Searcher,
    hay: &'s [u8],
    candidates: &'s [usize],
    /// Candidates before this index are behind the search.
    next_candidate: usize,
    long: Option<Option<Found>>,
    short: Option<Option<Found>>,
}

impl Searcher {
    /// Builds the searcher. `needles` must be non-empty, each non-empty, without repeats.
    pub(super) fn new(needles: &[&[u8]]) -> Searcher {
        let all = NFA::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .prefilter(false)
            .build(needles)
            .expect("literal needles always build an automaton");
        let few = needles.len() <= FEW;
        let is_long = |n: &[u8]| !few && n.len() >= LONG;
        let long: Vec<&[u8]> = needles.iter().copied().filter(|n| is_long(n)).collect();
        let skip = (!long.is_empty()).then(|| Skip::new(&long));
        let short_ids: Vec<usize> = (0..needles.len())
            .filter(|&i| !is_long(needles[i]))
            .collect();
        let short = (!short_ids.is_empty()).then(|| {
            let ac = AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostLongest)
                .build(short_ids.iter().map(|&i| needles[i]))
                .expect("literal needles always build an automaton");
            (ac, short_ids)
        });
        Searcher {
            all,
            skip,
            short,
            longest: needles.iter().map(|n| n.len()).max().unwrap_or(0),
        }
    }

    /// The length of the longest needle.
    pub(super) fn longest(&self) -> usize {
        self.longest
    }

    /// Starts a search over `hay`: finds its candidates, into `scratch`.
    pub(super) fn search<'s>(&'s self, hay: &'s [u8], scratch: &'s mut Scratch) -> Search<'s> {
        scratch.candidates.clear();
        if let Some(skip) = &self.skip {
            skip.candidates(hay, scratch);
        }
        Search {
            searcher: self,
            hay,
            candidates: &scratch.candidates,
            next_candidate: 0,
            long: None,
            short: None,
        }
    }

    /// The longest needle starting exactly at `at`.
    fn longest_at(&self, hay: &[u8], at: usize) -> Option<Found> {
        let mut sid = self.all.start_state(Anchored::Yes).ok()?;
        let mut best = None;
        for (i, &b) in hay[at..].iter().enumerate() {
            sid = self.all.next_state(Anchored::Yes, sid, b);
            if self.all.is_dead(sid) {
                break;
            }
            if self.all.is_match(sid) {
                let needle = self.all.match_pattern(sid, 0);
                let end = at + i + 1;
                // A state may also report a shorter needle that ends here but starts later
                // (copied from its failure state); only one starting at `at` counts.
                if end - self.all.pattern_len(needle) == at {
                    best = Some(Found {
                        start: at,
                        end,
                        needle: needle.as_usize(),
                    });
                }
            }
        }
        best
    }

    /// Whether `tail` is a prefix of some needle (a needle itself included).
    fn is_prefix(&self, tail: &[u8]) -> bool {
        let Ok(mut sid) = self.all.start_state(Anchored::Yes) else {
            return false;
        };
        for &b in tail {
            sid = self.all.next_state(Anchored::Yes, sid, b);
            if self.all.is_dead(sid) {
                return false;
            }
        }
        true
    }
}

impl Search<'_> {
    /// The leftmost-longest match starting at `from` or later. `from` never decreases from one
    /// call to the next.
    pub(super) fn find(&mut self, from: usize) -> Option<Found> {
        let stale = |f: &Option<Option<Found>>| match f {
            None => true,
            Some(Some(found)) => found.start < from,
            Some(None) => false,
        };
        if stale(&self.long) {
            self.long = Some(self.find_long(from));
        }
        if stale(&self.short) {
            self.short = Some(self.find_short(from));
        }
        match (self.long.flatten(), self.short.flatten()) {
            (Some(l), Some(s)) if (s.start, l.end) < (l.start, s.end) => Some(s),
            (Some(l), _) => Some(l),
            (None, s) => s,
        }
    }

    fn find_long(&mut self, from: usize) -> Option<Found> {
        while let Some(&c) = self.candidates.get(self.next_candidate) {
            self.next_candidate += 1;
            if c < from {
                continue;
            }
            if let Some(found) = self.searcher.longest_at(self.hay, c) {
                return Some(found);
            }
        }
        None
    }

    fn find_short(&self, from: usize) -> Option<Found> {
        let (ac, ids) = self.searcher.short.as_ref()?;
        if from >= self.hay.len() {
            return None;
        }
        let m = ac.find(Input::new(self.hay).span(from..self.hay.len()))?;
        Some(Found {
            start: m.start(),
            end: m.end(),
            needle: ids[m.pattern().as_usize()],
        })
    }

    /// The earliest position from which the rest of the text could still grow into a needle,
    /// i.e. the rest is a prefix of one; the text's length when there is none. Bytes before it
    /// are final.
    pub(super) fn hold_from(&self) -> usize {
        let (hay, searcher) = (self.hay, self.searcher);
        let len = hay.len();
        let start = len.saturating_sub(searcher.longest.saturating_sub(1));
        let mut direct_from = start;
        if let Some(skip) = &searcher.skip {
            // A rest of at least `m` bytes can only begin a long needle, so it starts at a
            // candidate.
            let first = self.candidates.partition_point(|&c| c < start);
            if let Some(&c) = self.candidates[first..]
                .iter()
                .find(|&&c| searcher.is_prefix(&hay[c..]))
            {
                return c;
            }
            direct_from = direct_from.max((len + 1).saturating_sub(skip.m));
        }
        (direct_from..len)
            .find(|&p| searcher.is_prefix(&hay[p..]))
            .unwrap_or(len)
    }
}

/// The skip table over the first `m` bytes of the long needles.
struct Skip {
    m: usize,
    table: Box<[u8]>,
    /// A bit per hash of a long needle's first `BLOCK` bytes: a window whose start hashes to a
    /// clear bit is no candidate, which spares most anchored walks.
    starts: Box<[u64]>,
}

impl Skip {
    fn new(long: &[&[u8]]) -> Skip {
        let m = long
            .iter()
            .map(|n| n.len())
            .min()
            .unwrap_or(LONG)
            .min(WINDOW);
        let most = u8::try_from(m - BLOCK + 1).expect("the window is short");
        let mut table = vec![most; 1 << TABLE_BITS].into_boxed_slice();
        let mut starts = vec![0u64; (1 << TABLE_BITS) / 64].into_boxed_slice();
        for n in long {
            let h = hash(&n[..BLOCK]);
            starts[h / 64] |= 1 << (h % 64);
            for j in BLOCK - 1..m {
                let h = hash(&n[j + 1 - BLOCK..=j]);
                let shift = u8::try_from(m - 1 - j).expect("the window is short");
                table[h] = table[h].min(shift);
            }
        }
        Skip { m, table, starts }
    }

    /// Every position where a long needle may start with all of its first `m` bytes inside
    /// `hay`, in order, into `scratch.candidates`. A needle starting at `c` is never passed
    /// over: a window ending `j` bytes into it (`j < m`) moves by at most `m - 1 - j`, and one
    /// ending before its `BLOCK`th byte by at most `m - BLOCK + 1`, so no window moves beyond
    /// `c + m - 1`.
    ///
    /// Lane `k` looks for candidates in the `k`th of `LANES` equal parts of the text: its
    /// windows end from the part's start `+ m - 1` up to the next part's start `+ m - 1`.
    fn candidates(&self, hay: &[u8], scratch: &mut Scratch) {
        let m = self.m;
        if hay.len() < m {
            return;
        }
        let starts = hay.len() - m + 1;
        let part = starts.div_ceil(LANES);
        let end: [usize; LANES] = std::array::from_fn(|k| (k * part).min(starts) + m - 1);
        let limit: [usize; LANES] = std::array::from_fn(|k| ((k + 1) * part).min(starts) + m - 1);
        let mut end = end;
        for lane in &mut scratch.lanes {
            lane.clear();
        }
        // All lanes in step while each has work; then each lane on its own.
        while end.iter().zip(&limit).all(|(e, l)| e < l) {
            for (e, lane) in end.iter_mut().zip(&mut scratch.lanes) {
                *e = self.step(hay, *e, lane);
            }
        }
        for ((e, l), lane) in end.iter_mut().zip(&limit).zip(&mut scratch.lanes) {
            while *e < *l {
                *e = self.step(hay, *e, lane);
            }
            scratch.candidates.extend_from_slice(lane);
        }
    }

    /// Looks at the window ending at `end`, notes its start if it is a candidate, and returns
    /// the end of the next window to look at.
    #[inline(always)]
    fn step(&self, hay: &[u8], end: usize, out: &mut Vec<usize>) -> usize {
        let shift = self.table[hash(&hay[end + 1 - BLOCK..=end])];
        if shift != 0 {
            return end + usize::from(shift);
        }
        let c = end + 1 - self.m;
        let h = hash(&hay[c..c + BLOCK]);
        if self.starts[h / 64] & (1 << (h % 64)) != 0 {
            out.push(c);
        }
        end + 1
    }
}

/// A multiplicative hash of `BLOCK` bytes into the table's index range.
#[inline(always)]
fn hash(block: &[u8]) -> usize {
    let word = u32::from_le_bytes(block.try_into().expect("BLOCK bytes"));
    (word.wrapping_mul(0x9E37_79B1) >> (32 - TABLE_BITS)) as usize
}
