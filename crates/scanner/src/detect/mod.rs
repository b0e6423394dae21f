//! The detection engine: one Aho-Corasick pass over the view for every detector's keywords,
//! then the regex rules whose keywords occurred, the keyword-anchored context detectors at
//! each secret-word hit, and the table detector; overlapping candidates are reduced to the
//! most specific one.

mod context;
mod filter;
mod rules;
mod table;

use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::bytes::{Regex, RegexBuilder};

use crate::view::TextView;

pub use rules::DetectorInfo;

/// A value a detector matched, as a byte range of the view.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) info: DetectorInfo,
    pub(crate) range: Range<usize>,
    /// Higher wins when two candidates overlap.
    pub(crate) specificity: u16,
}

impl Candidate {
    pub(crate) fn new(info: DetectorInfo, range: Range<usize>, specificity: u16) -> Candidate {
        Candidate {
            info,
            range,
            specificity,
        }
    }
}

/// What a prefilter keyword triggers.
#[derive(Clone, Copy)]
enum Owner {
    Rule(usize),
    Context,
}

/// The compiled detectors; build once, share across pages and threads.
pub(crate) struct Engine {
    prefilter: AhoCorasick,
    owners: Vec<Owner>,
    regexes: Vec<Regex>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("rules", &self.regexes.len())
            .field("keywords", &self.owners.len())
            .finish()
    }
}

/// Every detector the engine can report, in rule order (for SARIF's rule list).
pub fn detectors() -> Vec<DetectorInfo> {
    let mut out: Vec<DetectorInfo> = rules::RULES.iter().map(|r| r.info).collect();
    out.extend([
        context::GENERIC,
        context::CODE_ASSIGNMENT,
        context::PROSE,
        table::TABLE,
    ]);
    out
}

impl Engine {
    pub(crate) fn new() -> Engine {
        let mut keywords: Vec<&str> = Vec::new();
        let mut owners = Vec::new();
        for (i, rule) in rules::RULES.iter().enumerate() {
            for k in rule.keywords {
                keywords.push(k);
                owners.push(Owner::Rule(i));
            }
        }
        for k in context::KEYWORDS {
            keywords.push(k);
            owners.push(Owner::Context);
        }
        let prefilter = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&keywords)
            .expect("the keyword list builds");
        let regexes = rules::RULES
            .iter()
            .map(|r| {
                RegexBuilder::new(r.pattern)
                    .unicode(false)
                    .size_limit(1 << 24)
                    .build()
                    .unwrap_or_else(|e| panic!("rule {} does not compile: {e}", r.info.id))
            })
            .collect();
        Engine {
            prefilter,
            owners,
            regexes,
        }
    }

    /// The candidates of one view, overlaps resolved, in view order.
    pub(crate) fn candidates(&self, view: &TextView<'_>) -> Vec<Candidate> {
        let text = view.text();
        let mut triggered = vec![false; self.regexes.len()];
        let mut hits: Vec<Range<usize>> = Vec::new();
        for m in self.prefilter.find_overlapping_iter(text) {
            match self.owners[m.pattern().as_usize()] {
                Owner::Rule(i) => triggered[i] = true,
                Owner::Context => hits.push(m.range()),
            }
        }
        let mut out = Vec::new();
        let n = rules::RULES.len();
        for (i, rule) in rules::RULES.iter().enumerate() {
            if !triggered[i] {
                continue;
            }
            // Earlier rules are more specific; the context detectors rank below all of them.
            let specificity = u16::try_from(10 + n - i).unwrap_or(u16::MAX);
            for caps in self.regexes[i].captures_iter(text.as_bytes()) {
                let Some(m) = caps.get(rule.group) else {
                    continue;
                };
                let range = snap(text, m.range());
                let Some(value) = text.get(range.clone()) else {
                    continue;
                };
                if !filter::is_decoy(value) && (rule.check)(value) {
                    out.push(Candidate::new(rule.info, range, specificity));
                }
            }
        }
        if !hits.is_empty() {
            hits.sort_by_key(|r| (r.start, r.end));
            let mut seen = 0..0;
            for hit in hits {
                context::at_hit(view, hit, &mut seen, &mut out);
            }
            table::scan(view, &mut out);
        }
        let references = reference_spans(text);
        if !references.is_empty() {
            // A value inside one of our own `cyberark://` references (whose object name may
            // well say `password`) is a reference, not a secret.
            out.retain(|c| {
                !references
                    .iter()
                    .any(|r| r.start < c.range.end && c.range.start < r.end)
            });
        }
        resolve(out)
    }
}

/// The spans of `cyberark://SAFE/OBJECT` references in the text: from the scheme to the first
/// character that cannot be part of a reference (whitespace, quotes, brackets, `<`, `>`).
fn reference_spans(text: &str) -> Vec<Range<usize>> {
    const SCHEME: &str = "cyberark://";
    let mut spans = Vec::new();
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find(SCHEME) {
        let start = from + at;
        let rest = &text[start..];
        let len = rest
            .find(|c: char| c.is_whitespace() || "\"'<>()[]{}`".contains(c))
            .unwrap_or(rest.len());
        spans.push(start..start + len);
        from = start + len.max(SCHEME.len());
    }
    spans
}

/// Widens a byte range to character boundaries.
fn snap(text: &str, r: Range<usize>) -> Range<usize> {
    let mut s = r.start.min(text.len());
    let mut e = r.end.min(text.len());
    while !text.is_char_boundary(s) {
        s -= 1;
    }
    while !text.is_char_boundary(e) {
        e += 1;
    }
    s..e
}

/// Keeps, of candidates that overlap, the most specific (then the longest, then the first).
fn resolve(mut cands: Vec<Candidate>) -> Vec<Candidate> {
    cands.sort_by(|a, b| {
        b.specificity
            .cmp(&a.specificity)
            .then((b.range.end - b.range.start).cmp(&(a.range.end - a.range.start)))
            .then(a.range.start.cmp(&b.range.start))
    });
    // Kept ranges never overlap, so the one starting last before a candidate's end is the
    // only one that can overlap it.
    let mut taken: std::collections::BTreeMap<usize, usize> = std::collections::BTreeMap::new();
    let mut kept: Vec<Candidate> = Vec::new();
    for c in cands {
        if c.range.is_empty() {
            continue;
        }
        let overlaps = taken
            .range(..c.range.end)
            .next_back()
            .is_some_and(|(_, &end)| end > c.range.start);
        if !overlaps {
            taken.insert(c.range.start, c.range.end);
            kept.push(c);
        }
    }
    kept.sort_by_key(|c| c.range.start);
    kept
}
