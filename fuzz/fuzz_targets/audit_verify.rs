//! Fuzz target `audit_verify`: the audit-log verifier on arbitrary files; see
//! `fuzz_logic::audit_verify` (shared with jsm-sso-audit's `fuzz_replay` test).
#![no_main]

#[path = "../../crates/jsm-sso-audit/tests/fuzz_logic/mod.rs"]
mod fuzz_logic;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_logic::audit_verify(data));
