//! Test identity providers for jsm-sso's own tests, the broker's and the demo, and for
//! integrators testing their front ends. Nothing here is for production: the keys are
//! public test keys.
//!
//! [`saml`]: a SAML IdP that issues signed Responses with every condition adjustable, and
//! signature-wrapping attack generators.
//!
//! [`oidc`]: an in-process OpenID Provider. It serves discovery, a JWKS with rotation,
//! authorization, token and userinfo endpoints as plain functions over `http` requests
//! and responses (and as an [`HttpClient`](jsm_sso_core::HttpClient)), and mints ID tokens
//! with every header field and claim adjustable, including broken ones.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::SystemTime;
//! use jsm_sso_core::clock::FixedClock;
//! use jsm_sso_testkit::oidc::{TestIssuer, TestKey};
//!
//! let clock = Arc::new(FixedClock::new(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000)));
//! let issuer = TestIssuer::new("https://op.test", "portal", clock);
//! let token = issuer.id_token().claim("email", "alice@example.com").build();
//! assert_eq!(token.split('.').count(), 3);
//! let wrong_nonce = issuer.id_token().claim("nonce", "not-the-one").build();
//! let unsigned = issuer.id_token().unsigned().build();          // alg none
//! let es256 = issuer.id_token().sign_with(&TestKey::es256()).build();
//! # let _ = (wrong_nonce, unsigned, es256);
//! ```
#![forbid(unsafe_code)]

pub mod fuzz;
pub mod oidc;
pub mod saml;
