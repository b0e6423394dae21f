//! Fuzzes the storage parser, runbook extraction and the text view with arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    arkbridge_core::storage::fuzzing::parse_and_extract(data);
});
