//! A line diff of two scripts: the approvals view shows what changed between the last approved
//! script and the current one.
//!
//! The diff is a longest common subsequence over lines. The common prefix and suffix are
//! matched first (most edits of a runbook touch a few lines in the middle), and the table of the
//! rest is bounded: past [`MAX_CELLS`] cells the middle is shown as wholly removed and then
//! wholly added, which is still a correct diff, only not the shortest one. Within a change the
//! removed lines come before the added ones, as in a unified diff.
//!
//! Lines are compared with their line terminators, so the diff is lossless: the old text is the
//! concatenation of the `same` and `del` lines, the new text that of the `same` and `add` lines.
//! A last line without a terminator is flagged, so that a difference in the final newline alone
//! can be shown (as `diff -u` does) instead of looking like no change at all.

use serde::Serialize;

/// The largest LCS table (cells) built for the changed middle of two texts; 4 million `u32`s
/// are 16 MB, reached by two scripts of 2000 changed lines each.
pub(crate) const MAX_CELLS: usize = 4_000_000;

/// What happened to one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Op {
    /// In both texts.
    Same,
    /// Only in the new text.
    Add,
    /// Only in the old text.
    Del,
}

/// One line of a diff, without its line terminator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DiffLine {
    pub(crate) op: Op,
    pub(crate) line: String,
    /// The line is the last of its text and has no `\n` after it.
    #[serde(skip)]
    pub(crate) no_newline: bool,
}

impl DiffLine {
    fn new(op: Op, token: &str) -> DiffLine {
        let (line, no_newline) = match token.strip_suffix('\n') {
            Some(l) => (l, false),
            None => (token, true),
        };
        DiffLine {
            op,
            line: line.to_string(),
            no_newline,
        }
    }
}

/// The lines of `text`, each with its `\n` (the last one may lack it). An empty text has none.
fn tokens(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// The line diff turning `old` into `new`.
pub(crate) fn line_diff(old: &str, new: &str) -> Vec<DiffLine> {
    let a = tokens(old);
    let b = tokens(new);
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (mid_a, mid_b) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut out: Vec<DiffLine> = a[..prefix]
        .iter()
        .map(|t| DiffLine::new(Op::Same, t))
        .collect();
    middle(mid_a, mid_b, &mut out);
    out.extend(
        a[a.len() - suffix..]
            .iter()
            .map(|t| DiffLine::new(Op::Same, t)),
    );
    out
}

/// The diff of the changed middle, appended to `out`.
fn middle(a: &[&str], b: &[&str], out: &mut Vec<DiffLine>) {
    let (n, m) = (a.len(), b.len());
    let cells = (n + 1).saturating_mul(m + 1);
    if n == 0 || m == 0 || cells > MAX_CELLS {
        out.extend(a.iter().map(|t| DiffLine::new(Op::Del, t)));
        out.extend(b.iter().map(|t| DiffLine::new(Op::Add, t)));
        return;
    }
    // lcs[i * (m + 1) + j] is the length of the LCS of a[i..] and b[j..].
    let width = m + 1;
    let mut lcs = vec![0u32; cells];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * width + j] = if a[i] == b[j] {
                lcs[(i + 1) * width + j + 1] + 1
            } else {
                lcs[(i + 1) * width + j].max(lcs[i * width + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if a[i] == b[j] {
            out.push(DiffLine::new(Op::Same, a[i]));
            i += 1;
            j += 1;
        } else if lcs[(i + 1) * width + j] >= lcs[i * width + j + 1] {
            // Removing first on a tie keeps a change's removed lines before its added ones.
            out.push(DiffLine::new(Op::Del, a[i]));
            i += 1;
        } else {
            out.push(DiffLine::new(Op::Add, b[j]));
            j += 1;
        }
    }
    out.extend(a[i..].iter().map(|t| DiffLine::new(Op::Del, t)));
    out.extend(b[j..].iter().map(|t| DiffLine::new(Op::Add, t)));
}

/// Every line of `text` as added: the diff of a script that was never approved.
pub(crate) fn all_added(text: &str) -> Vec<DiffLine> {
    tokens(text)
        .iter()
        .map(|t| DiffLine::new(Op::Add, t))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The diff as `diff -u` marks it: ' ', '+' or '-' and the line.
    fn marked(diff: &[DiffLine]) -> Vec<String> {
        diff.iter()
            .map(|d| {
                let mark = match d.op {
                    Op::Same => ' ',
                    Op::Add => '+',
                    Op::Del => '-',
                };
                format!("{mark}{}", d.line)
            })
            .collect()
    }

    /// The old and new texts put back together from a diff.
    fn rebuild(diff: &[DiffLine]) -> (String, String) {
        let (mut old, mut new) = (String::new(), String::new());
        for d in diff {
            let line = if d.no_newline {
                d.line.clone()
            } else {
                format!("{}\n", d.line)
            };
            if d.op != Op::Add {
                old.push_str(&line);
            }
            if d.op != Op::Del {
                new.push_str(&line);
            }
        }
        (old, new)
    }

    #[test]
    fn a_changed_line_is_removed_then_added_between_unchanged_ones() {
        let old = "#!/bin/sh\necho start\necho old\necho end\n";
        let new = "#!/bin/sh\necho start\necho new\necho end\n";
        assert_eq!(
            marked(&line_diff(old, new)),
            [
                " #!/bin/sh",
                " echo start",
                "-echo old",
                "+echo new",
                " echo end"
            ]
        );
    }

    #[test]
    fn insertions_and_deletions_keep_the_longest_common_lines() {
        let old = "a\nb\nc\nd\ne\nf";
        let new = "a\nx\nc\nd\nf\ny";
        let diff = line_diff(old, new);
        assert_eq!(
            marked(&diff),
            [" a", "-b", "+x", " c", " d", "-e", "-f", "+f", "+y"]
        );
        // Three lines are kept: a, c and d; the last `f` differs from `f\n` by its terminator.
        assert_eq!(diff.iter().filter(|d| d.op == Op::Same).count(), 3);
        assert_eq!(rebuild(&diff), (old.to_string(), new.to_string()));
    }

    #[test]
    fn moved_lines_show_as_one_removal_and_one_addition() {
        let diff = line_diff("1\n2\n3\n4\n", "2\n3\n4\n1\n");
        assert_eq!(marked(&diff), ["-1", " 2", " 3", " 4", "+1"]);
    }

    #[test]
    fn identical_and_empty_texts() {
        assert!(
            line_diff("a\nb\n", "a\nb\n")
                .iter()
                .all(|d| d.op == Op::Same)
        );
        assert!(line_diff("", "").is_empty());
        assert_eq!(marked(&line_diff("", "a\nb")), ["+a", "+b"]);
        assert_eq!(marked(&line_diff("a\nb\n", "")), ["-a", "-b"]);
        assert_eq!(marked(&all_added("x\ny\n")), ["+x", "+y"]);
    }

    #[test]
    fn a_missing_final_newline_is_a_change_and_is_flagged() {
        let diff = line_diff("a\nb\n", "a\nb");
        assert_eq!(marked(&diff), [" a", "-b", "+b"]);
        assert!(!diff[1].no_newline && diff[2].no_newline);
        assert_eq!(rebuild(&diff), ("a\nb\n".into(), "a\nb".into()));
    }

    #[test]
    fn carriage_returns_are_part_of_the_line() {
        let diff = line_diff("a\r\nb\r\n", "a\nb\r\n");
        assert_eq!(marked(&diff), ["-a\r", "+a", " b\r"]);
    }

    #[test]
    fn the_diff_rebuilds_both_texts_for_assorted_edits() {
        let cases = [
            ("", "x"),
            ("x", ""),
            ("a\nb\nc\n", "c\nb\na\n"),
            ("same\n", "same\n"),
            ("1\n2\n3\n4\n5\n6\n", "0\n1\n3\n4\n4\n6\n7"),
            ("\n\n\n", "\n"),
        ];
        for (old, new) in cases {
            let diff = line_diff(old, new);
            assert_eq!(
                rebuild(&diff),
                (old.to_string(), new.to_string()),
                "{old:?} -> {new:?}"
            );
        }
    }

    #[test]
    fn a_change_too_large_for_the_table_is_still_a_correct_diff() {
        let old: String = (0..2100).map(|i| format!("old {i}\n")).collect();
        let mut new: String = (0..2100).map(|i| format!("new {i}\n")).collect();
        new.push_str("tail\n");
        let diff = line_diff(&old, &new);
        assert_eq!(diff.iter().filter(|d| d.op == Op::Del).count(), 2100);
        assert_eq!(diff.iter().filter(|d| d.op == Op::Add).count(), 2101);
        assert_eq!(diff[0].op, Op::Del);
        assert_eq!(rebuild(&diff), (old, new));
    }

    #[test]
    fn ops_serialise_as_lower_case_words_without_the_newline_flag() {
        let json = serde_json::to_value(line_diff("a\n", "b\n")).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{"op": "del", "line": "a"}, {"op": "add", "line": "b"}])
        );
    }
}
