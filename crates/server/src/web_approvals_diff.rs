//! The approvals view's diff table: the last approved script against the current one, one row
//! per line, unified style.
//!
//! Each row says what happened to its line in words ("added", "removed") and with a `+`/`−`
//! sign, holds the line in `<ins>` or `<del>`, and is coloured by its class; colour is never the
//! only signal. Long runs of unchanged lines are folded to a few lines of context around each
//! change, with a row that says how many lines it hides.

use crate::line_diff::{DiffLine, Op};
use crate::web_html::escape;

/// Unchanged lines kept on each side of a change.
pub(crate) const CONTEXT: usize = 3;

/// One row of the table: a line, or a fold of unchanged lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row<'a> {
    Line {
        diff: &'a DiffLine,
        old_no: Option<usize>,
        new_no: Option<usize>,
    },
    Folded(usize),
}

/// The rows of `diff`, numbered, with unchanged runs longer than the context folded.
fn rows(diff: &[DiffLine]) -> Vec<Row<'_>> {
    let mut numbered = Vec::with_capacity(diff.len());
    let (mut old_no, mut new_no) = (0, 0);
    for d in diff {
        let (o, n) = match d.op {
            Op::Same => {
                old_no += 1;
                new_no += 1;
                (Some(old_no), Some(new_no))
            }
            Op::Del => {
                old_no += 1;
                (Some(old_no), None)
            }
            Op::Add => {
                new_no += 1;
                (None, Some(new_no))
            }
        };
        numbered.push(Row::Line {
            diff: d,
            old_no: o,
            new_no: n,
        });
    }
    let mut out = Vec::with_capacity(numbered.len());
    let mut i = 0;
    while i < diff.len() {
        let run = diff[i..].iter().take_while(|d| d.op == Op::Same).count();
        if run == 0 {
            out.push(numbered[i]);
            i += 1;
            continue;
        }
        let keep_before = if i == 0 { 0 } else { CONTEXT };
        let keep_after = if i + run == diff.len() { 0 } else { CONTEXT };
        let hidden = run.saturating_sub(keep_before + keep_after);
        // Folding a single line would hide nothing worth the extra row.
        if hidden < 2 {
            out.extend_from_slice(&numbered[i..i + run]);
        } else {
            out.extend_from_slice(&numbered[i..i + keep_before]);
            out.push(Row::Folded(hidden));
            out.extend_from_slice(&numbered[i + run - keep_after..i + run]);
        }
        i += run;
    }
    out
}

/// The diff as an accessible table captioned `caption` (already markup).
pub(crate) fn diff_table(caption: &str, diff: &[DiffLine]) -> String {
    // "No newline at end" matters only when one script has a final newline and the other not;
    // scripts pasted into Confluence usually have none, and saying so on every diff is noise.
    let old_unterminated = diff.iter().any(|d| d.op != Op::Add && d.no_newline);
    let new_unterminated = diff.iter().any(|d| d.op != Op::Del && d.no_newline);
    let show_eol = old_unterminated != new_unterminated;
    let mut body = String::new();
    for row in rows(diff) {
        match row {
            Row::Folded(n) => body.push_str(&format!(
                "<tr class=\"diff-fold\"><td colspan=\"4\">{n} unchanged lines not shown</td></tr>"
            )),
            Row::Line {
                diff,
                old_no,
                new_no,
            } => {
                let number = |n: Option<usize>| n.map(|n| n.to_string()).unwrap_or_default();
                let (class, change, text) = match diff.op {
                    Op::Same => (
                        "diff-same",
                        "unchanged",
                        format!("<code>{}</code>", escape(&diff.line)),
                    ),
                    Op::Add => (
                        "diff-add",
                        "+ added",
                        format!("<ins>{}</ins>", escape(&diff.line)),
                    ),
                    Op::Del => (
                        "diff-del",
                        "\u{2212} removed",
                        format!("<del>{}</del>", escape(&diff.line)),
                    ),
                };
                let eol = if show_eol && diff.no_newline {
                    " <span class=\"eol\">(no newline at end)</span>"
                } else {
                    ""
                };
                body.push_str(&format!(
                    "<tr class=\"{class}\"><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                     <td class=\"change\">{change}</td><td class=\"code\">{text}{eol}</td></tr>",
                    number(old_no),
                    number(new_no),
                ));
            }
        }
    }
    format!(
        "<table class=\"diff\"><caption>{caption}</caption><thead><tr>\
         <th scope=\"col\">Approved line</th><th scope=\"col\">Current line</th>\
         <th scope=\"col\">Change</th><th scope=\"col\">Script</th></tr></thead>\
         <tbody>{body}</tbody></table>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line_diff::line_diff;

    fn shape(diff: &[DiffLine]) -> Vec<String> {
        rows(diff)
            .iter()
            .map(|r| match r {
                Row::Folded(n) => format!("...{n}"),
                Row::Line {
                    diff,
                    old_no,
                    new_no,
                } => format!("{:?}{old_no:?}{new_no:?}", diff.op),
            })
            .collect()
    }

    #[test]
    fn long_unchanged_runs_fold_to_the_context_around_a_change() {
        let old: String = (1..=20).map(|i| format!("line {i}\n")).collect();
        let new = old.replace("line 10\n", "line ten\n");
        let shape = shape(&line_diff(&old, &new));
        assert_eq!(shape[0], "...6");
        assert_eq!(shape[1], "SameSome(7)Some(7)");
        assert_eq!(shape[4], "DelSome(10)None");
        assert_eq!(shape[5], "AddNoneSome(10)");
        assert_eq!(shape[6], "SameSome(11)Some(11)");
        assert_eq!(shape[8], "SameSome(13)Some(13)");
        assert_eq!(shape[9], "...7");
        assert_eq!(shape.len(), 10);
    }

    #[test]
    fn short_runs_are_shown_whole() {
        let shape = shape(&line_diff("a\nb\nc\nd\n", "a\nb\nx\nd\n"));
        assert_eq!(
            shape,
            [
                "SameSome(1)Some(1)",
                "SameSome(2)Some(2)",
                "DelSome(3)None",
                "AddNoneSome(3)",
                "SameSome(4)Some(4)"
            ]
        );
    }

    #[test]
    fn the_table_marks_changes_in_words_and_elements_and_escapes_lines() {
        let html = diff_table("Changes", &line_diff("echo <old>\n", "echo \"new\" & more"));
        assert!(html.contains("<th scope=\"col\">Change</th>"));
        assert!(html.contains(
            "<tr class=\"diff-del\"><td class=\"num\">1</td><td class=\"num\"></td>\
             <td class=\"change\">\u{2212} removed</td><td class=\"code\"><del>echo &lt;old&gt;</del></td></tr>"
        ));
        assert!(html.contains("<td class=\"change\">+ added</td>"));
        assert!(html.contains("<ins>echo &quot;new&quot; &amp; more</ins>"));
        assert!(
            html.contains("(no newline at end)"),
            "only the new script lacks it"
        );
        let html = diff_table("Changes", &line_diff("a\nb", "a\nc"));
        assert!(
            !html.contains("no newline"),
            "neither script has one: {html}"
        );
    }
}
