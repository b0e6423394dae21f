//! Fuzzes text-view replacements and status-macro insertion: every edited page must parse and
//! differ from the original only where it was edited.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    arkbridge_core::storage::fuzzing::edit(data);
});
