//! An in-process OpenID Provider for tests.
//!
//! - [`TestKey`]: fixed RSA 2048 (two, for rotation), P-256 and Ed25519 test keys, with
//!   their public JWKs.
//! - [`TestIssuer`]: an issuer's identity (URL, client id, keys, clock) that mints ID
//!   tokens through [`IdTokenBuilder`], where every header field and claim can be set,
//!   removed or broken (unsigned, wrong key, HMAC with the RSA public key, bad signature).
//! - [`TestOp`]: the provider's endpoints (discovery, JWKS, authorization, token,
//!   userinfo) as a function over [`http::Request`] / [`http::Response`], and as an
//!   [`HttpClient`](jsm_sso_core::HttpClient) so a relying party can talk to it directly.

mod keys;
mod op;
mod token;

pub use keys::TestKey;
pub use op::{TestOp, TestUser};
pub use token::{IdTokenBuilder, TestIssuer, half_hash};

/// base64url without padding.
pub(crate) fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
