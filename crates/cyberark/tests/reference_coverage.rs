//! Keeps `REFERENCE-COVERAGE.md` honest: every row of its table must name at least one test (or
//! say `pending sim` while the simulator work it waits for is unfinished), and every test it
//! names must exist as `fn <name>` somewhere under `crates/`. A renamed or deleted test, or a row
//! added without a test, fails here instead of leaving the table to rot.

use std::path::{Path, PathBuf};

/// The marker of a row whose test waits for simulator work.
const PENDING: &str = "pending sim";

/// One row of the coverage table.
#[derive(Debug)]
struct Row {
    line: usize,
    item: String,
    tests: Vec<String>,
    pending: bool,
}

/// Splits a Markdown table line into cells; `\|` is a literal bar inside a cell.
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                out.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out.into_iter().map(|c| c.trim().to_string()).collect()
}

/// The back-quoted Rust identifiers of a cell.
fn identifiers(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            !s.is_empty()
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !s.starts_with(|c: char| c.is_ascii_digit())
        })
        .map(str::to_string)
        .collect()
}

/// The rows of the first table whose header names a `test` column.
fn parse(text: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut test_col = None;
    let mut item_col = 1;
    for (n, line) in text.lines().enumerate() {
        if !line.trim_start().starts_with('|') {
            if test_col.is_some() && !rows.is_empty() {
                break;
            }
            continue;
        }
        let c = cells(line);
        if test_col.is_none() {
            if let Some(i) = c
                .iter()
                .position(|h| h.to_ascii_lowercase().contains("test"))
            {
                test_col = Some(i);
                item_col = c
                    .iter()
                    .position(|h| h.to_ascii_lowercase().contains("code"))
                    .unwrap_or(1);
            }
            continue;
        }
        if c.iter()
            .all(|x| x.chars().all(|ch| matches!(ch, '-' | ':' | ' ')))
        {
            continue;
        }
        let col = test_col.unwrap();
        let cell = c.get(col).cloned().unwrap_or_default();
        rows.push(Row {
            line: n + 1,
            item: c.get(item_col).cloned().unwrap_or_default(),
            tests: identifiers(&cell),
            pending: cell.to_ascii_lowercase().contains(PENDING),
        });
    }
    rows
}

/// Every `.rs` file under `dir`, skipping build output and hidden folders.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// Whether `source` defines `fn name` (followed by `(` or `<`).
fn defines(source: &str, name: &str) -> bool {
    let needle = format!("fn {name}");
    source.match_indices(&needle).any(|(i, _)| {
        let before_ok = i == 0 || !source[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_');
        let rest = source[i + needle.len()..].trim_start();
        before_ok && (rest.starts_with('(') || rest.starts_with('<'))
    })
}

fn table() -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("REFERENCE-COVERAGE.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    (path, text)
}

#[test]
fn every_reference_row_names_a_test_or_is_pending_sim() {
    let (path, text) = table();
    let rows = parse(&text);
    assert!(
        rows.len() >= 50,
        "the table in {} lost its rows",
        path.display()
    );
    let empty: Vec<String> = rows
        .iter()
        .filter(|r| r.tests.is_empty() && !r.pending)
        .map(|r| format!("line {}: {}", r.line, r.item))
        .collect();
    assert!(
        empty.is_empty(),
        "rows without a test:\n{}",
        empty.join("\n")
    );
}

#[test]
fn every_test_named_in_the_reference_table_exists_under_crates() {
    let (_, text) = table();
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    rust_files(crates, &mut files);
    let sources: Vec<String> = files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect();
    let missing: Vec<String> = parse(&text)
        .iter()
        .flat_map(|r| r.tests.iter().map(move |t| (r.line, t)))
        .filter(|(_, t)| !sources.iter().any(|s| defines(s, t)))
        .map(|(line, t)| format!("line {line}: fn {t}"))
        .collect();
    assert!(
        missing.is_empty(),
        "tests named in REFERENCE-COVERAGE.md that do not exist:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_table_parser_reads_cells_names_and_pending_markers() {
    let text = "intro\n\n| Section | Code / quirk | Meaning | Tests |\n|---|---|---|---|\n\
                | §1.5 | `APPAP004E` | a \\| b | `ccp_x`, `sim_y` |\n\
                | §2.2 | cap | c | pending sim |\n| §2.2 | none | d | |\n\nafter\n";
    let rows = parse(text);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].item, "`APPAP004E`");
    assert_eq!(rows[0].tests, ["ccp_x", "sim_y"]);
    assert!(rows[1].pending && rows[1].tests.is_empty());
    assert!(!rows[2].pending && rows[2].tests.is_empty());
    assert_eq!(cells("| a \\| b | c |"), ["a | b", "c"]);
    assert!(defines("async fn ccp_x() {}", "ccp_x"));
    assert!(!defines("async fn ccp_x_more() {}", "ccp_x"));
    assert!(!defines("fn my_ccp_x() {}", "ccp_x"));
}
