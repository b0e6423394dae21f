//! Replays the `scan_storage` fuzz target's seeds (`fuzz/corpus/scan_storage/seed-*`, crashes
//! the fuzzer found included) and the storage parser's seeds through the target's checks on
//! stable Rust, so CI runs them without nightly or libFuzzer.

use std::path::PathBuf;

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_string_lossy().into_owned();
            name.starts_with("seed-")
                .then(|| std::fs::read(&path).map(|d| (name, d)).ok())?
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seed-* inputs in {}", dir.display());
    files
}

#[test]
fn scan_target_accepts_its_seeds_and_the_parser_seeds() {
    for target in ["scan_storage", "storage_parse"] {
        for (name, data) in seeds(target) {
            let result =
                std::panic::catch_unwind(|| arkbridge_scanner::fuzzing::scan_storage(&data));
            assert!(result.is_ok(), "scan_storage failed on {target}/{name}");
        }
    }
}

#[test]
fn a_value_cut_at_the_length_cap_inside_a_character_is_no_panic() {
    let page = format!("<p>token={}é and more</p>", "a".repeat(199));
    arkbridge_scanner::fuzzing::check(&page);
    let page = format!("<p>password is {}€x</p>", "Ab1!".repeat(31));
    arkbridge_scanner::fuzzing::check(&page);
}
