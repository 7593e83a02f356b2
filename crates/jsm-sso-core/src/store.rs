//! The storage seams: [`ReplayCache`] (seen-once ids) and [`StateStore`] (pending logins).
//!
//! In-memory implementations are in [`crate::memory`]; `jsm-sso-redis` shares them across
//! broker instances.

use std::time::SystemTime;

use async_trait::async_trait;

use crate::CodedError;

/// Remembers ids that must be accepted only once: SAML assertion ids, OIDC nonces,
/// TOTP codes.
///
/// Contract:
///
/// - [`insert_if_absent`](Self::insert_if_absent) is **atomic**: among any number of
///   concurrent calls with the same live key, across every broker instance that shares
///   the cache, exactly one returns `Ok(true)`.
/// - A key is live until `expires_at`, and `false` is returned for it until then; after
///   that the key may be forgotten. Callers choose `expires_at` no earlier than the
///   moment the message itself stops being valid (for SAML: the assertion's
///   `NotOnOrAfter` plus the allowed clock skew), so forgetting can never re-open a replay.
/// - An `expires_at` that is not in the future is refused with
///   [`StoreError::AlreadyExpired`] (a message that old should have been rejected).
/// - When the cache cannot record the key (full, backend down) it returns an error, never
///   `Ok(true)`: the caller must then reject the sign-in (fail closed). In particular a
///   full cache refuses new keys rather than evicting live ones.
/// - Keys are opaque bytes-as-text; namespacing them (`"saml:<idp>:<id>"`) is the
///   caller's job. Implementations may refuse keys longer than they support
///   ([`StoreError::KeyInvalid`]).
///
/// Object-safe: hold it as `Arc<dyn ReplayCache>`.
#[async_trait]
pub trait ReplayCache: Send + Sync {
    /// Records `key` until `expires_at`. `Ok(true)`: the key was not live, and now is (the
    /// message is fresh). `Ok(false)`: the key is already live (a replay).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the key could not be recorded; treat it as a rejection.
    async fn insert_if_absent(&self, key: &str, expires_at: SystemTime)
    -> Result<bool, StoreError>;
}

/// Holds pending logins (state, nonce, PKCE verifier, `RequestID`, return URL) between
/// `begin_login` and `finish_login`.
///
/// Contract:
///
/// - [`take`](Self::take) is **single use and atomic**: it returns a live value once and
///   removes it; among concurrent takes of one key exactly one gets `Some`.
/// - An entry is live until `expires_at`; an expired entry is never returned (`None`,
///   the same as a key that was never put or was already taken).
/// - [`put`](Self::put) refuses a key that is already live ([`StoreError::KeyExists`]):
///   keys are random state values the broker makes, so a clash is a bug or an attack, and
///   overwriting would let the second login hijack the first.
/// - An `expires_at` that is not in the future is refused ([`StoreError::AlreadyExpired`]).
/// - Values are opaque bytes (the broker serialises and authenticates them). Stores may
///   limit key and value sizes and the number of entries, and say so with an error, never
///   by dropping a live entry silently.
///
/// Object-safe: hold it as `Arc<dyn StateStore>`.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// Stores `value` under `key` until `expires_at`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the entry was not stored.
    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: SystemTime,
    ) -> Result<(), StoreError>;

    /// Removes and returns the live value under `key`; `None` if there is none (never
    /// put, already taken, or expired).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store could not be asked; treat it as a failed login.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

#[async_trait]
impl<C: ReplayCache + ?Sized> ReplayCache for std::sync::Arc<C> {
    async fn insert_if_absent(
        &self,
        key: &str,
        expires_at: SystemTime,
    ) -> Result<bool, StoreError> {
        (**self).insert_if_absent(key, expires_at).await
    }
}

#[async_trait]
impl<S: StateStore + ?Sized> StateStore for std::sync::Arc<S> {
    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: SystemTime,
    ) -> Result<(), StoreError> {
        (**self).put(key, value, expires_at).await
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).take(key).await
    }
}

/// Why a [`ReplayCache`] or [`StateStore`] operation failed. Each variant has its own code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Every slot holds a live entry; the new one was refused (not swapped for a live one).
    #[error("store is full (capacity {capacity})")]
    Full {
        /// The store's capacity in entries.
        capacity: usize,
    },
    /// The key is empty or longer than the store supports.
    #[error("store key is {len} bytes, allowed 1 to {max}")]
    KeyInvalid {
        /// Length of the key in bytes.
        len: usize,
        /// The longest key the store takes.
        max: usize,
    },
    /// The value is larger than the store supports.
    #[error("store value is {len} bytes, more than {max}")]
    ValueTooLarge {
        /// Length of the value in bytes.
        len: usize,
        /// The largest value the store takes.
        max: usize,
    },
    /// The entry's expiry time is not in the future.
    #[error("store entry expiry is not in the future")]
    AlreadyExpired,
    /// A live entry already has this key ([`StateStore::put`]).
    #[error("store already holds a live entry with this key")]
    KeyExists,
    /// The backing service (Redis, a database) failed or could not be reached.
    #[error("store backend failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl CodedError for StoreError {
    fn code(&self) -> &'static str {
        match self {
            Self::Full { .. } => "core.store.full",
            Self::KeyInvalid { .. } => "core.store.key_invalid",
            Self::ValueTooLarge { .. } => "core.store.value_too_large",
            Self::AlreadyExpired => "core.store.already_expired",
            Self::KeyExists => "core.store.key_exists",
            Self::Backend(_) => "core.store.backend",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Full { .. } => {
                "raise the store capacity, shorten entry lifetimes, or look for a flood of sign-in attempts"
            }
            Self::KeyInvalid { .. } => {
                "a caller built an empty or oversized key; check the IdP's ids"
            }
            Self::ValueTooLarge { .. } => {
                "the pending-login value is too big; check return URLs and the store's value limit"
            }
            Self::AlreadyExpired => {
                "an expiry in the past reached the store; check the server clock and clock-skew settings"
            }
            Self::KeyExists => "a state key was reused; state keys must be fresh random values",
            Self::Backend(_) => {
                "check that the store backend (for example Redis) is reachable and healthy"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_messages_lower_case() {
        let all = [
            StoreError::Full { capacity: 1 },
            StoreError::KeyInvalid { len: 0, max: 512 },
            StoreError::ValueTooLarge { len: 9, max: 8 },
            StoreError::AlreadyExpired,
            StoreError::KeyExists,
            StoreError::Backend("connection refused".into()),
        ];
        let codes: std::collections::BTreeSet<_> = all.iter().map(CodedError::code).collect();
        assert_eq!(codes.len(), all.len());
        for e in &all {
            assert!(e.code().starts_with("core.store."));
            assert!(!e.hint().is_empty());
            let msg = e.to_string();
            assert!(!msg.ends_with('.'), "{msg}");
            assert_eq!(
                msg.chars().next().map(char::is_lowercase),
                Some(true),
                "{msg}"
            );
        }
        assert_eq!(
            StoreError::Backend("connection refused".into()).to_string(),
            "store backend failed: connection refused"
        );
    }
}
