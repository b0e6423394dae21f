//! Fuzzes the secret scanner: text view, detectors, finding offsets and the "vault it" edit.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    arkbridge_scanner::fuzzing::scan_storage(data);
});
