//! [`ReplayCache`](jsm_sso_core::ReplayCache) and [`StateStore`](jsm_sso_core::StateStore)
//! on Redis, so a fleet of jsm-sso brokers behind a load balancer shares one replay guard and
//! one set of pending logins: a login begun on one instance finishes on another, and a
//! message used on one is refused on every other.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::time::{Duration, SystemTime};
//! use jsm_sso_core::{CodedError, ReplayCache, StateStore};
//! use jsm_sso_redis::RedisStore;
//!
//! // Nothing listens on port 1: connecting fails with a clear code, nothing is assumed.
//! let err = RedisStore::builder("redis://127.0.0.1:1/")
//!     .connect_timeout(Duration::from_secs(2))
//!     .connect().await.unwrap_err();
//! assert!(["redis.connect.failed", "redis.connect.timeout"].contains(&err.code()));
//!
//! // With a server (scripts/peers.d/redis.sh starts one and sets JSM_SSO_REDIS_URL):
//! let Ok(url) = std::env::var("JSM_SSO_REDIS_URL") else { return Ok(()) };
//! let store = RedisStore::builder(url).prefix("doctest:").connect().await?;
//! let soon = SystemTime::now() + Duration::from_secs(60);
//! let id = format!("saml:idp:_{}", std::process::id());
//! assert!(store.insert_if_absent(&id, soon).await?);   // fresh
//! assert!(!store.insert_if_absent(&id, soon).await?);  // a replay, on every instance
//! store.put(&id, b"pending login".to_vec(), soon).await?;
//! assert_eq!(store.take(&id).await?.as_deref(), Some(&b"pending login"[..]));
//! assert_eq!(store.take(&id).await?, None);             // single use
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```
//!
//! The server must be Redis 6.2 or later (for `GETDEL`; Valkey works too) and must not evict
//! keys (`maxmemory-policy noeviction`, or no `maxmemory`): [`RedisStoreBuilder::connect`]
//! checks both. Keys are `<prefix>replay:<key>` and `<prefix>state:<key>`, each with a
//! time-to-live, so the server cleans up by itself.
//!
//! [`RedisFactorStore`] keeps enrolled second factors (sealed TOTP secrets, never clear
//! ones) under `<prefix>mfa:factor:<account>` with no time-to-live, so a customer enrolled
//! on one instance is asked for a code on every other (the broker's `FactorStore` with its
//! `redis` feature).
#![forbid(unsafe_code)]

mod error;
mod factors;
mod store;

pub use error::Error;
pub use factors::{FactorError, RedisFactorStore, SealedFactor};
pub use jsm_sso_core::CodedError;
pub use store::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_VALUE_LEN, DEFAULT_OPERATION_TIMEOUT, DEFAULT_PREFIX,
    MAX_KEY_LEN, MAX_PREFIX_LEN, RedisStore, RedisStoreBuilder,
};

/// The crate README's example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
