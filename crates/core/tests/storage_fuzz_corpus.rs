//! Replays the fuzz targets' corpus (`fuzz/corpus/<target>/`) through the fuzz entry functions
//! on stable Rust, so CI exercises them without nightly or libFuzzer. A missing or empty corpus
//! fails the test rather than passing vacuously.

use std::path::PathBuf;

use arkbridge_core::storage::fuzzing;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&path).expect("corpus file"))
        })
        .collect();
    files.sort();
    assert!(
        files.iter().any(|(name, _)| name.starts_with("seed-")),
        "no seed-* inputs in {}",
        dir.display()
    );
    files
}

#[test]
fn parse_target_accepts_its_whole_corpus() {
    for (name, data) in corpus("storage_parse") {
        let result = std::panic::catch_unwind(|| fuzzing::parse_and_extract(&data));
        assert!(
            result.is_ok(),
            "storage_parse failed on corpus input {name}"
        );
    }
}

#[test]
fn edit_target_accepts_its_whole_corpus() {
    for (name, data) in corpus("storage_edit") {
        let result = std::panic::catch_unwind(|| fuzzing::edit(&data));
        assert!(result.is_ok(), "storage_edit failed on corpus input {name}");
    }
}

/// The seeds are pages the engine must accept, except the one that is malformed on purpose, so
/// the replay above exercises the edit checks and not only the error paths.
#[test]
fn parse_seeds_other_than_the_malformed_one_parse() {
    for (name, data) in corpus("storage_parse") {
        if !name.starts_with("seed-") || name == "seed-malformed" {
            continue;
        }
        let src = std::str::from_utf8(&data).expect("seed is UTF-8");
        let page = arkbridge_core::storage::Page::parse(src);
        assert!(page.is_ok(), "{name}: {:?}", page.err());
    }
}
