//! Fuzz target `oidc_jwt`: see `fuzz_logic::jwt` in jsm-sso-oidc (shared with its
//! `fuzz_replay` test).
#![no_main]

#[path = "../../crates/jsm-sso-oidc/tests/fuzz_logic/mod.rs"]
mod fuzz_logic;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_logic::jwt(data));
