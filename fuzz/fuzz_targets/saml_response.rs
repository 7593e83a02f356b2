//! Fuzz target `saml_response`: see `fuzz_logic::response` in jsm-sso-saml (shared with its
//! `fuzz_replay` test).
#![no_main]

#[path = "../../crates/jsm-sso-saml/tests/fuzz_logic/mod.rs"]
mod fuzz_logic;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_logic::response(data));
