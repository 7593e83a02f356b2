//! Replays the fuzz seed corpus (`fuzz/corpus/oidc_jwt/`, `fuzz/corpus/oidc_callback/`) on
//! stable Rust, through the same per-input logic the cargo-fuzz targets run
//! (`tests/fuzz_logic/mod.rs`). A panic on any file fails the test; so does a corpus with
//! fewer than ten files. The seeds are written by `examples/write_fuzz_seeds.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should stop the run loudly"
)]

mod fuzz_logic;

use std::path::Path;
use std::time::{Duration, SystemTime};

use jsm_sso_oidc::{Expectations, IdTokenValidator, KeySet};

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
fn jwt_corpus() {
    let n = replay("oidc_jwt", fuzz_logic::jwt);
    assert!(n >= 10, "only {n} oidc_jwt corpus files replayed");
}

#[test]
fn callback_corpus() {
    let n = replay("oidc_callback", fuzz_logic::callback);
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
        let token = std::fs::read_to_string(Path::new(CORPUS).join(format!("oidc_jwt/{seed}.jwt")))
            .unwrap();
        let expect = Expectations::at(now).nonce("n-fuzz");
        assert!(validator.validate(&token, &keys, &expect).is_ok(), "{seed}");
    }
}
