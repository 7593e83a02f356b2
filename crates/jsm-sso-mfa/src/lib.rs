//! TOTP second factor for jsm-sso: RFC 6238 time-based codes over RFC 4226 HOTP, enrolment
//! with an `otpauth://` URI and a QR code, and secrets sealed at rest.
//!
//! The whole life of a second factor, from enrolment to sign-in:
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use jsm_sso_core::{Clock, CodedError, clock::FixedClock, memory::MemoryReplayCache};
//! use jsm_sso_mfa::{PendingEnrolment, Sealer, SealingKey, TotpParams, TotpVerifier};
//!
//! let clock = Arc::new(FixedClock::new(std::time::UNIX_EPOCH + Duration::from_secs(1_750_000_000)));
//! // One replay cache for the fleet (jsm-sso-redis in production), one key from the secret manager.
//! let verifier = TotpVerifier::new(clock.clone(), Arc::new(MemoryReplayCache::new(clock.clone(), 10_000)));
//! let sealer = Sealer::new(SealingKey::from_bytes(&[0x42; 32])?);
//!
//! // 1. Enrolment: show the QR code, keep the pending secret sealed until it is confirmed.
//! let enrolment = PendingEnrolment::generate("Acme Support", "jane@example.com", TotpParams::default())?;
//! let page = enrolment.qr_svg()?;
//! let pending = sealer.seal_pending("cust-1", &enrolment)?;
//! assert!(sealer.open("cust-1", &pending).is_err()); // not a second factor yet
//!
//! // 2. The customer types the first code from the app: the enrolment is confirmed.
//! let app = enrolment.secret_for_tests().clone(); // stands in for the phone
//! let first = app.totp(clock.now())?;
//! let secret = sealer.open_pending("cust-1", &pending)?.confirm(&verifier, "cust-1", &first).await?;
//! let stored = sealer.seal("cust-1", &secret)?; // what the integrator stores
//!
//! // 3. A later sign-in: open the stored secret and verify the typed code.
//! clock.advance(Duration::from_secs(90));
//! let secret = sealer.open("cust-1", &stored)?;
//! let code = app.totp(clock.now())?;
//! verifier.verify("cust-1", &secret, &code).await?;
//! let replay = verifier.verify("cust-1", &secret, &code).await.unwrap_err();
//! assert_eq!(replay.code(), "mfa.code.replayed");
//! # drop(page);
//! # Ok::<(), jsm_sso_mfa::Error>(()) }).unwrap();
//! ```
//!
//! | item | what |
//! | --- | --- |
//! | [`TotpParams`], [`Algorithm`] | SHA-1/SHA-256/SHA-512, 6 to 8 digits, 15 to 300 s steps (default SHA-1, 6, 30 s) |
//! | [`TotpSecret`] | the shared key (zeroed on drop, `Debug` redacted), HOTP and TOTP codes |
//! | [`TotpVerifier`] | ±1 step window, constant-time comparison, a used code refused through [`ReplayCache`](jsm_sso_core::ReplayCache) |
//! | [`PendingEnrolment`] | new secret, `otpauth://` URI, QR code as SVG, confirmed by the first valid code |
//! | [`Sealer`], [`SealingKey`] | AES-256-GCM at rest, bound to the customer, versioned text, key rotation |
//! | [`Error`] | one stable code per refusal (`mfa.code.invalid`, `mfa.secret.tampered`, ...) |
//!
//! Pure computation is synchronous; only [`TotpVerifier::verify`] awaits (the replay cache).
#![forbid(unsafe_code)]

mod enrol;
mod error;
mod params;
mod seal;
mod secret;
mod verify;

pub use enrol::{MAX_LABEL_LEN, PendingEnrolment};
pub use error::Error;
pub use jsm_sso_core::CodedError;
pub use params::{Algorithm, MAX_DIGITS, MAX_PERIOD, MIN_DIGITS, MIN_PERIOD, TotpParams};
pub use seal::{MAX_SEALED_LEN, Sealer, SealingKey};
pub use secret::{MAX_SECRET_LEN, MIN_SECRET_LEN, TotpSecret};
pub use verify::{MAX_CUSTOMER_LEN, MAX_WINDOW, TotpVerifier, Verified};

/// The crate README's example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
