//! Replays the fuzz seed corpus (`fuzz/corpus/oidc_jwt/`, `fuzz/corpus/oidc_callback/`) on
//! stable Rust, through the same per-input logic the cargo-fuzz targets run
//! (`tests/fuzz_logic/mod.rs`). A panic on any file fails the test; so does a corpus with
//! fewer than ten files. The seeds are written by `examples/write_oidc_fuzz_seeds.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should stop the run loudly"
)]

mod fuzz_logic;

use jsm_sso_testkit::fuzz::{corpus_file, replay_corpus};

use std::time::{Duration, SystemTime};

use jsm_sso_oidc::{Expectations, IdTokenValidator, KeySet};

#[test]
fn jwt_corpus() {
    let n = replay_corpus("oidc_jwt", fuzz_logic::jwt);
    assert!(n >= 10, "only {n} oidc_jwt corpus files replayed");
}

#[test]
fn callback_corpus() {
    let n = replay_corpus("oidc_callback", fuzz_logic::callback);
    assert!(n >= 10, "only {n} oidc_callback corpus files replayed");
}

/// The valid seeds really validate against the fuzz JWKS, so the `oidc_jwt` target reaches
/// the signature and claim checks rather than failing early on every input.
#[test]
fn valid_seeds_reach_full_validation() {
    let jwks = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/fuzz-jwks.json"
    ))
    .unwrap();
    let keys = KeySet::from_json(&jwks).unwrap();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let validator = IdTokenValidator::new("https://op.example", "portal");
    for seed in ["valid-rs256", "valid-es256", "valid-eddsa"] {
        let token =
            std::fs::read_to_string(corpus_file("oidc_jwt", &format!("{seed}.jwt"))).unwrap();
        let expect = Expectations::at(now).nonce("n-fuzz");
        assert!(validator.validate(&token, &keys, &expect).is_ok(), "{seed}");
    }
}
