//! The per-input logic of the `oidc_jwt` and `oidc_callback` fuzz targets in
//! `fuzz/fuzz_targets/`, shared with the stable `fuzz_replay` test so the seed corpus is
//! replayed through exactly the same code.
//!
//! Included by path from the fuzz crate (`#[path = ...] mod fuzz_logic;`), so it depends on
//! nothing but `jsm_sso_oidc`, `jsm_sso_core` and `std`. The only failure a fuzzer reports is a panic (or a
//! hang / out-of-memory): every function ignores the `Result`s it gets.

#![allow(
    dead_code,
    reason = "each fuzz target uses only one of these functions"
)]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use jsm_sso_oidc::{
    Callback, Expectations, IdTokenValidator, KeySet, ProviderMetadata, UnverifiedJwt,
};

/// The testkit issuer's public keys (RS256, ES256, EdDSA), which sign the valid seeds.
const JWKS: &str = include_str!("../vectors/fuzz-jwks.json");

fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| KeySet::from_json(JWKS.as_bytes()).unwrap_or_default())
}

/// A JWT: split and header, full validation at the seeds' time (so valid seeds reach every
/// claim check), also with HMAC allowed; then the bytes as a JWKS and a discovery document.
pub(crate) fn jwt(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = UnverifiedJwt::parse(&text);
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut expect = Expectations::at(now)
        .nonce("n-fuzz")
        .access_token("access-token");
    expect.code = Some("code");
    expect.max_age = Some(Duration::from_secs(600));
    let validator =
        IdTokenValidator::new("https://op.example", "portal").trusted_audiences(["api".to_owned()]);
    if let Ok(token) = validator.validate(&text, keys(), &expect) {
        let _ = token.identity("fuzz", &jsm_sso_oidc::Profile::Entra);
    }
    let hmac = validator
        .algorithms([
            jsm_sso_oidc::Algorithm::HS256,
            jsm_sso_oidc::Algorithm::RS256,
        ])
        .hmac_secret(jsm_sso_core::Secret::new("secret"));
    let _ = hmac.validate(&text, keys(), &Expectations::at(now));
    let _ = KeySet::from_json(data);
    let _ = ProviderMetadata::from_discovery(data, "https://op.example");
}

/// An authorization response: as form parameters, and as a redirect URL.
pub(crate) fn callback(data: &[u8]) {
    let _ = Callback::parse(data);
    let _ = Callback::from_url(&String::from_utf8_lossy(data));
}
