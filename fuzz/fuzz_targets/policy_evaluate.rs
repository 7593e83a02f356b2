//! Fuzz target `policy_evaluate`: see `fuzz_logic::evaluate` in jsm-sso-policy (shared with
//! its `fuzz_replay` test).
#![no_main]

#[path = "../../crates/jsm-sso-policy/tests/fuzz_logic/mod.rs"]
mod fuzz_logic;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_logic::evaluate(data));
