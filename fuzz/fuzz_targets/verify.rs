//! Fuzz target `verify`: see `fuzz_logic::verify` (shared with the `fuzz_replay` test).
#![no_main]

#[path = "../../crates/jsm-sso-xmldsig/tests/fuzz_logic/mod.rs"]
mod fuzz_logic;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_logic::verify(data));
