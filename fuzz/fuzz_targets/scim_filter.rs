//! Fuzz target `scim_filter`: see `fuzz_logic::filter` in jsm-sso-scim (shared with its
//! `fuzz_replay` test).
#![no_main]

#[path = "../../crates/jsm-sso-scim/tests/fuzz_logic/mod.rs"]
mod fuzz_logic;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_logic::filter(data));
