//! Fuzz target `oidc_callback`: see `fuzz_logic::callback` in jsm-sso-oidc (shared with its
//! `fuzz_replay` test).
#![no_main]

#[path = "../../crates/jsm-sso-oidc/tests/fuzz_logic/mod.rs"]
mod fuzz_logic;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_logic::callback(data));
