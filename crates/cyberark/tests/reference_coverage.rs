//! Keeps `REFERENCE-COVERAGE.md` honest: every row of its table must name at least one test, and
//! every test it names must exist as `fn <name>` somewhere under `crates/`. A renamed or deleted
//! test, or a row added without a test, fails here instead of leaving the table to rot.
//!
//! No row may be left "pending": each behaviour the table lists is either checked against the
//! simulator or explicitly set apart. A row marked `not simulated: <reason>` is set apart: it
//! covers an answer no simulated situation produces. It must say why, must name a canned-answer
//! test from `tests/reference_unsimulated.rs`, and must name no test that drives the simulator
//! (which would prove the answer is simulated after all). Conversely, a row without the marker
//! may not rest on canned answers alone, and every test of the `tests/reference_*.rs` files must
//! appear in the table.

use std::path::{Path, PathBuf};

/// The marker of a row whose answer no simulated situation produces; a reason follows it.
const NOT_SIMULATED: &str = "not simulated:";
/// The file of the canned-answer tests, relative to this crate.
const CANNED: &str = "tests/reference_unsimulated.rs";
/// Fewest words that count as a reason for `not simulated`.
const MIN_REASON_WORDS: usize = 6;

/// One row of the coverage table.
#[derive(Debug)]
struct Row {
    line: usize,
    item: String,
    tests: Vec<String>,
    /// The reason given after [`NOT_SIMULATED`], when the row carries the marker.
    not_simulated: Option<String>,
    /// Whether the tests cell still says a check is pending.
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

/// The text of a cell outside its back-quoted spans.
fn prose(cell: &str) -> String {
    cell.split('`').step_by(2).collect::<Vec<_>>().join(" ")
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
        // Markers are looked for outside back quotes, so a test name never reads as one.
        let text = prose(&cell);
        let lower = text.to_ascii_lowercase();
        rows.push(Row {
            line: n + 1,
            item: c.get(item_col).cloned().unwrap_or_default(),
            tests: identifiers(&cell),
            not_simulated: lower
                .find(NOT_SIMULATED)
                .map(|i| text[i + NOT_SIMULATED.len()..].trim().to_string()),
            pending: lower.contains("pending"),
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

/// Every Rust source under `crates/`, with its text.
struct Sources {
    files: Vec<(PathBuf, String)>,
}

impl Sources {
    fn load() -> Self {
        let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let mut paths = Vec::new();
        rust_files(crates, &mut paths);
        let files = paths
            .into_iter()
            .filter_map(|p| std::fs::read_to_string(&p).ok().map(|s| (p, s)))
            .collect();
        Sources { files }
    }

    /// The files that define `fn name`.
    fn defining(&self, name: &str) -> Vec<&Path> {
        self.files
            .iter()
            .filter(|(_, s)| defines(s, name))
            .map(|(p, _)| p.as_path())
            .collect()
    }
}

/// This crate's canned-answer test file.
fn canned_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(CANNED)
}

/// Whether the tests of `file` drive the simulator: the simulator's own tests, and this crate's
/// integration tests except the canned-answer file, this file and the shared helpers.
fn drives_simulator(file: &Path) -> bool {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let own_tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    if file.starts_with(crates.join("sim")) {
        return true;
    }
    file.starts_with(&own_tests)
        && file != canned_file()
        && !file.ends_with("reference_coverage.rs")
        && !file.starts_with(own_tests.join("common"))
}

/// The names of the `#[test]` / `#[tokio::test]` functions of a source text.
fn test_functions(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut armed = false;
    for line in source.lines().map(str::trim) {
        if line.starts_with("#[test]") || line.starts_with("#[tokio::test") {
            armed = true;
            continue;
        }
        if armed && let Some(i) = line.find("fn ") {
            let name: String = line[i + 3..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            out.push(name);
            armed = false;
        }
    }
    out
}

fn table() -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("REFERENCE-COVERAGE.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    (path, text)
}

#[test]
fn every_reference_row_names_a_test_and_none_is_pending() {
    let (path, text) = table();
    let rows = parse(&text);
    assert!(
        rows.len() >= 100,
        "the table in {} lost its rows",
        path.display()
    );
    let empty: Vec<String> = rows
        .iter()
        .filter(|r| r.tests.is_empty() || r.pending)
        .map(|r| format!("line {}: {}", r.line, r.item))
        .collect();
    assert!(
        empty.is_empty(),
        "rows without a test, or still marked pending (the simulator has every behaviour \
         now; name the tests, or mark the row `not simulated: <reason>`):\n{}",
        empty.join("\n")
    );
}

#[test]
fn every_test_named_in_the_reference_table_exists_under_crates() {
    let (_, text) = table();
    let sources = Sources::load();
    let missing: Vec<String> = parse(&text)
        .iter()
        .flat_map(|r| r.tests.iter().map(move |t| (r.line, t)))
        .filter(|(_, t)| sources.defining(t).is_empty())
        .map(|(line, t)| format!("line {line}: fn {t}"))
        .collect();
    assert!(
        missing.is_empty(),
        "tests named in REFERENCE-COVERAGE.md that do not exist:\n{}",
        missing.join("\n")
    );
}

#[test]
fn not_simulated_rows_give_a_reason_and_rest_on_canned_answers_only() {
    let (_, text) = table();
    let sources = Sources::load();
    let canned = canned_file();
    let mut problems = Vec::new();
    for row in parse(&text) {
        let files: Vec<(&String, Vec<&Path>)> =
            row.tests.iter().map(|t| (t, sources.defining(t))).collect();
        let in_canned = files.iter().any(|(_, f)| f.contains(&canned.as_path()));
        let outside_canned = files
            .iter()
            .any(|(_, f)| f.iter().any(|p| *p != canned.as_path()));
        let at = format!("line {}: {}", row.line, row.item);
        match &row.not_simulated {
            Some(reason) => {
                if reason.split_whitespace().count() < MIN_REASON_WORDS {
                    problems.push(format!("{at}: `{NOT_SIMULATED}` needs a reason"));
                }
                if !in_canned {
                    problems.push(format!("{at}: names no test of {CANNED}"));
                }
                for (t, f) in &files {
                    if f.iter().any(|p| drives_simulator(p)) {
                        problems.push(format!(
                            "{at}: `{t}` drives the simulator, so the row is simulated"
                        ));
                    }
                }
            }
            None if in_canned && !outside_canned => problems.push(format!(
                "{at}: only canned-answer tests; mark it `{NOT_SIMULATED} <reason>`"
            )),
            None => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_reference_test_appears_in_the_table() {
    let (_, text) = table();
    let named: Vec<String> = parse(&text).into_iter().flat_map(|r| r.tests).collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut unmapped = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.starts_with("reference_") || name == "reference_coverage.rs" {
            continue;
        }
        let source = std::fs::read_to_string(entry.path()).unwrap();
        for t in test_functions(&source) {
            if !named.contains(&t) {
                unmapped.push(format!("{name}: fn {t}"));
            }
        }
    }
    unmapped.sort();
    assert!(
        unmapped.is_empty(),
        "reference tests that no row of REFERENCE-COVERAGE.md names:\n{}",
        unmapped.join("\n")
    );
}

#[test]
fn the_table_parser_reads_cells_names_and_markers() {
    let text = "intro\n\n| Section | Code / quirk | Meaning | Tests |\n|---|---|---|---|\n\
                | §1.5 | `APPAP004E` | a \\| b | `ccp_x`, `sim_y` |\n\
                | §2.2 | cap | c | pending sim |\n| §2.2 | none | d | `x_pending_y` |\n\
                | §1.5 | `X1` | e | `ccp_z`; Not simulated: no situation gives it |\n\nafter\n";
    let rows = parse(text);
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0].item, "`APPAP004E`");
    assert_eq!(rows[0].tests, ["ccp_x", "sim_y"]);
    assert!(!rows[0].pending && rows[0].not_simulated.is_none());
    assert!(rows[1].pending && rows[1].tests.is_empty());
    assert!(!rows[2].pending && rows[2].tests == ["x_pending_y"]);
    assert_eq!(rows[3].tests, ["ccp_z"]);
    assert_eq!(
        rows[3].not_simulated.as_deref(),
        Some("no situation gives it")
    );
    assert_eq!(cells("| a \\| b | c |"), ["a | b", "c"]);
    assert!(defines("async fn ccp_x() {}", "ccp_x"));
    assert!(!defines("async fn ccp_x_more() {}", "ccp_x"));
    assert!(!defines("fn my_ccp_x() {}", "ccp_x"));
    let source = "#[tokio::test]\nasync fn a_b() {}\nfn helper() {}\n#[test]\nfn c() {}\n";
    assert_eq!(test_functions(source), ["a_b", "c"]);
}
