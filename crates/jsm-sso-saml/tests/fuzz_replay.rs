//! Replays the fuzz seed corpus (`fuzz/corpus/saml_response/`) on stable Rust, through the
//! same per-input logic the cargo-fuzz target runs (`tests/fuzz_logic/mod.rs`). A panic on any
//! file fails the test; so does a corpus with fewer than twenty files. The seeds are written
//! by `examples/write_saml_fuzz_seeds.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should stop the run loudly"
)]

mod fuzz_logic;

use jsm_sso_saml::Expect;
use jsm_sso_testkit::fuzz::{corpus_file, replay_corpus};

#[test]
fn saml_response_corpus() {
    let n = replay_corpus("saml_response", fuzz_logic::response);
    assert!(n >= 20, "only {n} saml_response corpus files replayed");
}

/// The valid seeds really validate, so the target reaches every check rather than failing
/// early on every input.
#[test]
fn valid_seeds_reach_full_validation() {
    let setup = fuzz_logic::setup().unwrap();
    for seed in [
        "peerbench-medium.xml",
        "peerbench-medium-both.xml",
        "testkit-valid.xml",
        "testkit-response-signed.xml",
        "testkit-encrypted.xml",
    ] {
        let xml = std::fs::read(corpus_file("saml_response", seed)).unwrap();
        let expect = Expect {
            now: fuzz_logic::now(),
            request_id: Some(fuzz_logic::REQUEST),
        };
        let result = setup.sp.validate_response(&setup.idp, &xml, expect);
        assert!(result.is_ok(), "{seed}: {:?}", result.err());
    }
}
