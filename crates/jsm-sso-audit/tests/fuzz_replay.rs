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

use jsm_sso_testkit::fuzz::{corpus_file, replay_corpus};

#[test]
fn audit_verify_corpus() {
    let n = replay_corpus("audit_verify", fuzz_logic::audit_verify);
    assert!(n >= 10, "only {n} corpus files replayed");
}

/// The sealed seed really verifies with the key, so the target reaches the signature path.
#[test]
fn sealed_seed_verifies() {
    let data = std::fs::read(corpus_file("audit_verify", "sealed.jsonl")).unwrap();
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
