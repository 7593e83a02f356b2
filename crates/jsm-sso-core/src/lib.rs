#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! | module | what |
//! | --- | --- |
//! | [`identity`] | [`VerifiedIdentity`], [`IdpId`](identity::IdpId), [`Protocol`](identity::Protocol), [`Subject`](identity::Subject) |
//! | [`email`] | [`Email`] and [`EmailError`](email::EmailError) |
//! | [`decision`] | [`Decision`], [`AccessPolicy`], [`Explanation`](decision::Explanation) |
//! | [`clock`] | [`Clock`], [`SystemClock`](clock::SystemClock), [`FixedClock`](clock::FixedClock) |
//! | [`store`] | [`ReplayCache`], [`StateStore`], [`StoreError`](store::StoreError) |
//! | [`directory`] | [`CustomerDirectory`], customer, organization and portal ids |
//! | [`transport`] | [`HttpClient`], [`HttpError`](transport::HttpError), and with the `reqwest` feature `ReqwestHttpClient` |
//! | [`memory`] | bounded in-memory stores, and a test directory |
//! | [`secret`] | [`Secret`] |
//! | [`error`] | [`CodedError`] and the crate's [`Error`] |
//!
//! # Features
//!
//! - `serde`: `Serialize`/`Deserialize` for identities, decisions, emails and ids (times
//!   as RFC 3339 strings); `Deserialize` for [`Secret`].
//! - `reqwest`: `transport::ReqwestHttpClient`, an [`HttpClient`] on reqwest and rustls
//!   (the `ring` provider).
#![forbid(unsafe_code)]

/// Defines a string newtype id with the usual conversions.
macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[cfg_attr(feature = "serde", serde(transparent))]
        pub struct $name(String);

        impl $name {
            /// Wraps an id.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Unwraps the id.
            #[must_use]
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub mod clock;
pub mod decision;
pub mod directory;
pub mod email;
pub mod error;
pub mod identity;
pub mod memory;
pub mod secret;
pub mod store;
pub mod transport;

#[cfg(feature = "serde")]
mod serde_time;

pub use clock::Clock;
pub use decision::{AccessPolicy, Decision};
pub use directory::CustomerDirectory;
pub use email::Email;
pub use error::{CodedError, Error};
pub use http;
pub use identity::VerifiedIdentity;
pub use secret::Secret;
pub use store::{ReplayCache, StateStore};
pub use transport::HttpClient;
