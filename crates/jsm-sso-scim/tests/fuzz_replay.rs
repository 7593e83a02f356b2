//! Replays the SCIM fuzz seed corpus (`fuzz/corpus/scim_{filter,patch}/`) on stable Rust
//! through the same per-input logic the cargo-fuzz targets run (`tests/fuzz_logic/`). A panic
//! on any file fails the test; so does a corpus with fewer than ten files.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::expect_used,
    reason = "test code: a failure should stop the run loudly"
)]

mod fuzz_logic;

use jsm_sso_testkit::fuzz::replay_corpus;

#[test]
fn scim_filter_corpus() {
    let n = replay_corpus("scim_filter", fuzz_logic::filter);
    assert!(n >= 10, "only {n} scim_filter corpus files replayed");
}

#[test]
fn scim_patch_corpus() {
    let n = replay_corpus("scim_patch", fuzz_logic::patch);
    assert!(n >= 10, "only {n} scim_patch corpus files replayed");
}
