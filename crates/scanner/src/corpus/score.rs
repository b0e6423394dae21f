//! Scoring a scan against the corpus labels: a planted value counts as found when a finding's
//! span in the same file overlaps it; a finding that overlaps no label is a false positive, and
//! one that overlaps a decoy is a decoy hit.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;

use super::{Class, Label};

/// One reported span, in a file of the corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub file: String,
    pub range: Range<usize>,
}

/// Planted and found counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub planted: usize,
    pub found: usize,
}

impl Tally {
    /// found / planted, or 1 when nothing was planted.
    pub fn rate(&self) -> f64 {
        if self.planted == 0 {
            1.0
        } else {
            self.found as f64 / self.planted as f64
        }
    }
}

/// The result of scoring one tool on the corpus.
#[derive(Debug, Clone, Default)]
pub struct Score {
    pub by_kind: BTreeMap<String, Tally>,
    pub by_class: BTreeMap<Class, Tally>,
    /// Findings reported.
    pub findings: usize,
    /// Findings on a planted secret.
    pub true_findings: usize,
    /// Findings on a decoy.
    pub decoy_findings: usize,
    /// Findings on nothing that was planted.
    pub unlabelled_findings: usize,
    /// The planted secrets no finding covered.
    pub missed: Vec<Label>,
}

impl Score {
    /// Recall of a class (for decoys: the share hit, which should be 0).
    pub fn recall(&self, class: Class) -> f64 {
        self.by_class
            .get(&class)
            .copied()
            .unwrap_or_default()
            .rate()
    }

    /// True findings / all findings (1 when there are none).
    pub fn precision(&self) -> f64 {
        if self.findings == 0 {
            1.0
        } else {
            self.true_findings as f64 / self.findings as f64
        }
    }
}

/// Scores hits against labels.
pub fn score(labels: &[Label], hits: &[Hit]) -> Score {
    let mut by_file: HashMap<&str, Vec<&Hit>> = HashMap::new();
    for h in hits {
        by_file.entry(h.file.as_str()).or_default().push(h);
    }
    let overlaps = |a: &Range<usize>, b: &Range<usize>| a.start < b.end && b.start < a.end;
    let mut s = Score {
        findings: hits.len(),
        ..Score::default()
    };
    for l in labels {
        let found = by_file
            .get(l.file.as_str())
            .is_some_and(|hs| hs.iter().any(|h| overlaps(&h.range, &l.byte_range())));
        for t in [
            s.by_kind.entry(l.kind.clone()).or_default(),
            s.by_class.entry(l.class).or_default(),
        ] {
            t.planted += 1;
            t.found += usize::from(found);
        }
        if !found && l.class != Class::Decoy {
            s.missed.push(l.clone());
        }
    }
    let mut labels_by_file: HashMap<&str, Vec<&Label>> = HashMap::new();
    for l in labels {
        labels_by_file.entry(l.file.as_str()).or_default().push(l);
    }
    for h in hits {
        let on: Vec<&&Label> = labels_by_file
            .get(h.file.as_str())
            .map(|ls| {
                ls.iter()
                    .filter(|l| overlaps(&h.range, &l.byte_range()))
                    .collect()
            })
            .unwrap_or_default();
        if on.iter().any(|l| l.class != Class::Decoy) {
            s.true_findings += 1;
        } else if on.is_empty() {
            s.unlabelled_findings += 1;
        } else {
            s.decoy_findings += 1;
        }
    }
    s
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "| kind | planted | found | recall |")?;
        writeln!(f, "|---|---|---|---|")?;
        for (k, t) in &self.by_kind {
            writeln!(
                f,
                "| {k} | {} | {} | {:.1}% |",
                t.planted,
                t.found,
                100.0 * t.rate()
            )?;
        }
        for (c, t) in &self.by_class {
            writeln!(
                f,
                "| **{}** | {} | {} | {:.1}% |",
                serde_json::to_value(c)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                t.planted,
                t.found,
                100.0 * t.rate()
            )?;
        }
        write!(
            f,
            "findings {}: {} on planted secrets, {} on decoys, {} on unlabelled text; precision {:.1}%",
            self.findings,
            self.true_findings,
            self.decoy_findings,
            self.unlabelled_findings,
            100.0 * self.precision()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(file: &str, class: Class, r: Range<usize>) -> Label {
        Label {
            file: file.into(),
            kind: "k".into(),
            class,
            byte_offset: r.start,
            byte_length: r.end - r.start,
            char_offset: 0,
            char_length: 0,
            line: 1,
            sha1: String::new(),
        }
    }

    #[test]
    fn overlap_counts_found_decoys_and_false_positives() {
        let labels = [
            label("a", Class::Structured, 10..20),
            label("a", Class::Decoy, 30..35),
            label("b", Class::Confluence, 0..5),
        ];
        let hit = |f: &str, r: Range<usize>| Hit {
            file: f.into(),
            range: r,
        };
        let s = score(
            &labels,
            &[
                hit("a", 15..25),
                hit("a", 31..32),
                hit("a", 50..60),
                hit("c", 0..5),
            ],
        );
        assert_eq!(
            s.by_class[&Class::Structured],
            Tally {
                planted: 1,
                found: 1
            }
        );
        assert_eq!(
            s.by_class[&Class::Confluence],
            Tally {
                planted: 1,
                found: 0
            }
        );
        assert_eq!(
            s.by_class[&Class::Decoy],
            Tally {
                planted: 1,
                found: 1
            }
        );
        assert_eq!(
            (s.true_findings, s.decoy_findings, s.unlabelled_findings),
            (1, 1, 2)
        );
        assert_eq!(s.missed.len(), 1);
        assert!((s.precision() - 0.25).abs() < 1e-9);
    }
}
