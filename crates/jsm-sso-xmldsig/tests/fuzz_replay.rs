//! Replays the fuzz seed corpus (`fuzz/corpus/{parse,canonicalize,verify}/`) on stable Rust,
//! through the same per-input logic the cargo-fuzz targets run (`tests/fuzz_logic/mod.rs`).
//! A panic on any file fails the test; so does a corpus with fewer than ten files.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::expect_used,
    reason = "test code: a failure should stop the run loudly"
)]

mod fuzz_logic;

use std::path::Path;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus");

/// Runs `logic` on every file of `fuzz/corpus/<target>/`; returns how many files it ran.
fn replay(target: &str, logic: fn(&[u8])) -> usize {
    let dir = Path::new(CORPUS).join(target);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    entries.sort();
    for path in &entries {
        let data = std::fs::read(path).unwrap();
        let outcome = std::panic::catch_unwind(|| logic(&data));
        assert!(outcome.is_ok(), "{target}: panicked on {}", path.display());
    }
    entries.len()
}

#[test]
fn parse_corpus() {
    let n = replay("parse", fuzz_logic::parse);
    assert!(n >= 10, "only {n} parse corpus files replayed");
}

#[test]
fn canonicalize_corpus() {
    let n = replay("canonicalize", fuzz_logic::canonicalize);
    assert!(n >= 10, "only {n} canonicalize corpus files replayed");
}

#[test]
fn verify_corpus() {
    let n = replay("verify", fuzz_logic::verify);
    assert!(n >= 10, "only {n} verify corpus files replayed");
}

/// The pinned key really verifies the peerbench seed, so the `verify` target reaches the
/// cryptographic path rather than failing early on every input.
#[test]
fn verify_seed_reaches_a_valid_signature() {
    use jsm_sso_xmldsig::{Document, Limits, TrustedKeys, Verifier, VerifyOptions};
    let data = std::fs::read(Path::new(CORPUS).join("verify/peerbench-medium.xml")).unwrap();
    let doc = Document::parse(&data, &Limits::default()).unwrap();
    let pem = include_bytes!("../testdata/peerbench/idp-rsa.crt");
    let verifier = Verifier::new(
        TrustedKeys::from_pem(pem).unwrap(),
        VerifyOptions::default(),
    );
    let mut stack = vec![doc.root()];
    let mut verified = 0;
    while let Some(element) = stack.pop() {
        if verifier.verify_enveloped(element).is_ok() {
            verified += 1;
        }
        stack.extend(element.child_elements());
    }
    assert!(verified >= 1, "no element of peerbench-medium.xml verified");
}
