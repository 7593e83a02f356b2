//! Replays the fuzz seed corpus (`fuzz/corpus/audit_verify/`) on stable Rust through the same
//! per-input logic the cargo-fuzz target runs (`tests/fuzz_logic/mod.rs`). A panic on any file
//! fails the test; so does a corpus with fewer than ten files.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::expect_used,
    reason = "test code: a failure should stop the run loudly"
)]

mod fuzz_logic;

use std::path::Path;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fuzz/corpus/audit_verify"
);

#[test]
fn audit_verify_corpus() {
    let mut entries: Vec<_> = std::fs::read_dir(CORPUS)
        .unwrap_or_else(|e| panic!("cannot read {CORPUS}: {e}"))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    entries.sort();
    for path in &entries {
        let data = std::fs::read(path).unwrap();
        let outcome = std::panic::catch_unwind(|| fuzz_logic::audit_verify(&data));
        assert!(outcome.is_ok(), "panicked on {}", path.display());
    }
    assert!(
        entries.len() >= 10,
        "only {} corpus files replayed",
        entries.len()
    );
}

/// The sealed seed really verifies with the key, so the target reaches the signature path.
#[test]
fn sealed_seed_verifies() {
    let data = std::fs::read(Path::new(CORPUS).join("sealed.jsonl")).unwrap();
    let key =
        jsm_sso_audit::VerifyingKey::from_pem(include_bytes!("vectors/audit-signing.pub.pem"))
            .unwrap();
    assert_eq!(
        jsm_sso_audit::verify::verify_log(&data, Some(&key))
            .unwrap()
            .events,
        7
    );
}
