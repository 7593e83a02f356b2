//! Replays the policy fuzz seed corpus (`fuzz/corpus/policy_{parse,evaluate}/`) on stable
//! Rust through the same per-input logic the cargo-fuzz targets run (`tests/fuzz_logic/`).
//! A panic on any file fails the test; so does a corpus with fewer than ten files.
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
fn policy_parse_corpus() {
    let n = replay_corpus("policy_parse", fuzz_logic::parse);
    assert!(n >= 10, "only {n} policy_parse corpus files replayed");
}

#[test]
fn policy_evaluate_corpus() {
    let n = replay_corpus("policy_evaluate", fuzz_logic::evaluate);
    assert!(n >= 10, "only {n} policy_evaluate corpus files replayed");
}

/// The evaluate target's policy loads and its seeds reach allow, deny and near-miss paths.
#[test]
fn evaluate_policy_is_valid_and_seeds_reach_both_outcomes() {
    use jsm_sso_policy::{Format, load_str};
    let policy = load_str(fuzz_logic::POLICY, Format::Toml, "fuzz.toml").unwrap();
    let outcomes: Vec<bool> = ["acme-staff", "interns"]
        .iter()
        .map(|seed| {
            let data = std::fs::read(corpus_file("policy_evaluate", seed)).unwrap();
            let text = String::from_utf8(data).unwrap();
            let mut lines = text.lines();
            let mut id = jsm_sso_core::VerifiedIdentity::new(
                lines.next().unwrap(),
                jsm_sso_core::identity::Protocol::Oidc,
                jsm_sso_core::identity::Subject::new("s"),
                std::time::SystemTime::UNIX_EPOCH,
            );
            id.email = lines.next().and_then(|e| e.parse().ok());
            id.email_verified = lines.next() == Some("1");
            id.groups = lines
                .filter_map(|l| l.strip_prefix("group:"))
                .map(str::to_owned)
                .collect();
            policy.evaluate(&id).allow
        })
        .collect();
    assert_eq!(outcomes, [true, false]);
}
