//! [`RedisStore`] and its builder.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use jsm_sso_core::clock::SystemClock;
use jsm_sso_core::store::StoreError;
use jsm_sso_core::{Clock, ReplayCache, StateStore};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::error::{Error, Failure};

/// The longest key accepted, in bytes, before the prefix (the same as the in-memory stores).
pub const MAX_KEY_LEN: usize = 512;
/// The default largest value a [`StateStore::put`] takes, in bytes.
pub const DEFAULT_MAX_VALUE_LEN: usize = 16 * 1024;
/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "jsm-sso:";
/// The longest key prefix.
pub const MAX_PREFIX_LEN: usize = 64;
/// The default time one operation may take before it fails.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(2);
/// The default time connecting may take.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest time-to-live sent to Redis (about 2,200 years), far below where Redis's
/// `PX` arithmetic overflows.
const MAX_TTL_MS: u64 = 1 << 46;

/// Builds a [`RedisStore`]; every setting has a safe default.
#[derive(Clone)]
#[must_use]
pub struct RedisStoreBuilder {
    url: String,
    prefix: String,
    clock: Arc<dyn Clock>,
    max_value_len: usize,
    operation_timeout: Duration,
    connect_timeout: Duration,
    allow_eviction: bool,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password: never shown.
        f.debug_struct("RedisStoreBuilder")
            .field("prefix", &self.prefix)
            .field("max_value_len", &self.max_value_len)
            .field("operation_timeout", &self.operation_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("allow_eviction", &self.allow_eviction)
            .finish_non_exhaustive()
    }
}

impl RedisStoreBuilder {
    /// Prefix of every key this store writes (default `jsm-sso:`), so one Redis can serve
    /// several deployments or applications. Every broker of one fleet must use the same.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The clock that turns `expires_at` into a time-to-live (default the system clock).
    /// Redis then expires keys by its own clock, so keep the hosts' clocks in sync (NTP).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The largest value [`StateStore::put`] takes, in bytes (default 16 KiB).
    pub fn max_value_len(mut self, max_value_len: usize) -> Self {
        self.max_value_len = max_value_len;
        self
    }

    /// How long one operation may take before it fails with `core.store.backend` (default
    /// 2 s). While Redis is unreachable every operation fails within this time, so sign-ins
    /// are refused quickly instead of hanging.
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// How long connecting may take (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// **Dangerous**: connect even when the server may evict keys under memory pressure
    /// (`maxmemory` set and `maxmemory-policy` other than `noeviction`). An evicted replay
    /// key lets that message be replayed; an evicted pending login fails the sign-in. Only
    /// for a Redis you size so it never reaches `maxmemory`.
    pub fn dangerous_allow_eviction(mut self) -> Self {
        self.allow_eviction = true;
        self
    }

    /// Connects, and checks that the server has `GETDEL` (Redis 6.2+) and will not evict
    /// keys. A check is skipped when the server refuses its command (`INFO`, `CONFIG GET`:
    /// managed services and ACL users limited to `SET`, `GETDEL` and `PING` often do): then
    /// make sure of it yourself.
    ///
    /// # Errors
    ///
    /// `redis.url.invalid`, `redis.prefix.invalid`, `redis.connect.failed`,
    /// `redis.connect.timeout`, `redis.server.version`, `redis.server.eviction`.
    pub async fn connect(self) -> Result<RedisStore, Error> {
        check_prefix(&self.prefix)?;
        let client = redis::Client::open(self.url.as_str()).map_err(|e| Error::UrlInvalid {
            reason: e.to_string(),
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            // The operation timeout is applied around each command (`run`), so it reports
            // the operation; none inside the manager.
            .set_response_timeout(None)
            // Reconnection is attempted in the background on the next operation; a few
            // quick retries, so an outage is noticed and reported, not waited out.
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let conn = tokio::time::timeout(
            self.connect_timeout,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| Error::ConnectTimeout(self.connect_timeout))?
        .map_err(Error::Connect)?;
        let store = RedisStore {
            inner: Arc::new(Inner {
                conn,
                prefix: self.prefix,
                clock: self.clock,
                max_value_len: self.max_value_len,
                timeout: self.operation_timeout,
            }),
        };
        tokio::time::timeout(
            self.connect_timeout,
            store.check_server(self.allow_eviction),
        )
        .await
        .map_err(|_| Error::ConnectTimeout(self.connect_timeout))??;
        Ok(store)
    }
}

fn check_prefix(prefix: &str) -> Result<(), Error> {
    let reason = if prefix.is_empty() || prefix.len() > MAX_PREFIX_LEN {
        format!("{} bytes, allowed 1 to {MAX_PREFIX_LEN}", prefix.len())
    } else if !prefix.bytes().all(|b| b.is_ascii_graphic()) {
        "contains a space, a control or a non-ASCII character".to_owned()
    } else {
        return Ok(());
    };
    Err(Error::PrefixInvalid { reason })
}

/// [`ReplayCache`] and [`StateStore`] on Redis, shared by every broker instance that
/// connects to the same server with the same prefix.
///
/// - `insert_if_absent` is `SET <prefix>replay:<key> 1 NX PX <ttl>`: atomic on the server,
///   so among any number of brokers exactly one wins a key.
/// - `put` is `SET <prefix>state:<key> <value> NX PX <ttl>` (a live key is refused with
///   `core.store.key_exists`, never overwritten); `take` is `GETDEL`, so a pending login
///   is returned once even when two brokers race for it.
/// - The time-to-live is `expires_at` minus the [`Clock`]'s now, rounded **up** to the
///   millisecond, so a key is never forgotten before it may be.
/// - Every failure (connection refused or lost, Redis error, no answer within the
///   operation timeout) is `core.store.backend`: the caller rejects the sign-in. When an
///   answer is lost the outcome is unknown, and the store still reports failure: a code
///   may then be recorded as used without being accepted, never the other way round.
///
/// Cloning is cheap and shares the connection, which reconnects by itself after a loss.
/// Needs a Tokio runtime with time enabled.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: ConnectionManager,
    prefix: String,
    clock: Arc<dyn Clock>,
    max_value_len: usize,
    timeout: Duration,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.prefix)
            .field("max_value_len", &self.inner.max_value_len)
            .field("operation_timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A builder for a store on the server at `url` (`redis://[user:password@]host:port[/db]`).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            clock: Arc::new(SystemClock),
            max_value_len: DEFAULT_MAX_VALUE_LEN,
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            allow_eviction: false,
        }
    }

    /// Connects with the default settings.
    ///
    /// # Errors
    ///
    /// As [`RedisStoreBuilder::connect`].
    pub async fn connect(url: impl Into<String>) -> Result<Self, Error> {
        Self::builder(url).connect().await
    }

    /// The key prefix.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The largest value [`StateStore::put`] takes, in bytes.
    pub(crate) fn max_value_len(&self) -> usize {
        self.inner.max_value_len
    }

    /// Asks the server whether it answers (`PING`), for health checks.
    ///
    /// # Errors
    ///
    /// `core.store.backend` when it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let _: String = self.run("PING", &redis::cmd("PING")).await?;
        Ok(())
    }

    async fn check_server(&self, allow_eviction: bool) -> Result<(), Error> {
        let mut conn = self.inner.conn.clone();
        match redis::cmd("INFO")
            .arg("server")
            .query_async::<String>(&mut conn)
            .await
        {
            Ok(info) => {
                let version = info
                    .lines()
                    .find_map(|line| line.strip_prefix("redis_version:"))
                    .unwrap_or("unknown")
                    .trim()
                    .to_owned();
                if !has_getdel(&version) {
                    return Err(Error::ServerVersion { version });
                }
            }
            // An ACL user limited to the commands the store sends may not run INFO; a
            // server without GETDEL then shows at the first `take` (core.store.backend).
            Err(e) if e.code() == Some("NOPERM") => {}
            // Anything else (no password, wrong password, connection lost) is fatal.
            Err(e) => return Err(Error::Connect(e)),
        }
        if allow_eviction {
            return Ok(());
        }
        // Refused (ACL, renamed command, managed service): nothing to check against.
        let Ok(config) = redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxmemory*")
            .query_async::<HashMap<String, String>>(&mut conn)
            .await
        else {
            return Ok(());
        };
        let policy = config.get("maxmemory-policy").cloned().unwrap_or_default();
        let maxmemory = config
            .get("maxmemory")
            .cloned()
            .unwrap_or_else(|| "0".to_owned());
        if maxmemory != "0" && !policy.is_empty() && policy != "noeviction" {
            return Err(Error::Eviction { policy, maxmemory });
        }
        Ok(())
    }

    /// Runs one command with the operation timeout; every failure is a backend error.
    pub(crate) async fn run<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        cmd: &redis::Cmd,
    ) -> Result<T, StoreError> {
        let mut conn = self.inner.conn.clone();
        match tokio::time::timeout(self.inner.timeout, cmd.query_async::<T>(&mut conn)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => Err(StoreError::Backend(Box::new(Failure::Redis { op, source }))),
            Err(_) => Err(StoreError::Backend(Box::new(Failure::Timeout {
                op,
                after: self.inner.timeout,
            }))),
        }
    }

    pub(crate) fn key(&self, space: &str, key: &str) -> Result<String, StoreError> {
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            return Err(StoreError::KeyInvalid {
                len: key.len(),
                max: MAX_KEY_LEN,
            });
        }
        Ok(format!("{}{space}:{key}", self.inner.prefix))
    }

    async fn set_nx(&self, key: &str, value: &[u8], ttl_ms: u64) -> Result<bool, StoreError> {
        let reply: Option<String> = self
            .run(
                "SET NX",
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms),
            )
            .await?;
        Ok(reply.is_some())
    }
}

/// Milliseconds from `now` until `expires_at`, rounded up; refused if not in the future.
fn ttl_ms(now: SystemTime, expires_at: SystemTime) -> Result<u64, StoreError> {
    let left = expires_at
        .duration_since(now)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or(StoreError::AlreadyExpired)?;
    let whole = u64::try_from(left.as_millis()).unwrap_or(u64::MAX);
    let rounded = if left.subsec_nanos() % 1_000_000 == 0 {
        whole
    } else {
        whole.saturating_add(1)
    };
    Ok(rounded.min(MAX_TTL_MS))
}

/// Whether `redis_version` is 6.2 or later.
fn has_getdel(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= (6, 2),
        _ => false,
    }
}

#[async_trait]
impl ReplayCache for RedisStore {
    async fn insert_if_absent(
        &self,
        key: &str,
        expires_at: SystemTime,
    ) -> Result<bool, StoreError> {
        let key = self.key("replay", key)?;
        let ttl = ttl_ms(self.inner.clock.now(), expires_at)?;
        self.set_nx(&key, b"1", ttl).await
    }
}

#[async_trait]
impl StateStore for RedisStore {
    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        expires_at: SystemTime,
    ) -> Result<(), StoreError> {
        let key = self.key("state", key)?;
        if value.len() > self.inner.max_value_len {
            return Err(StoreError::ValueTooLarge {
                len: value.len(),
                max: self.inner.max_value_len,
            });
        }
        let ttl = ttl_ms(self.inner.clock.now(), expires_at)?;
        if self.set_nx(&key, &value, ttl).await? {
            Ok(())
        } else {
            Err(StoreError::KeyExists)
        }
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = self.key("state", key)?;
        self.run("GETDEL", redis::cmd("GETDEL").arg(key)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_with_getdel() {
        for (v, ok) in [
            ("7.0.15", true),
            ("6.2.0", true),
            ("6.0.16", false),
            ("5.0.7", false),
            ("10.0.0", true),
            ("unknown", false),
            ("", false),
        ] {
            assert_eq!(has_getdel(v), ok, "{v}");
        }
    }

    #[test]
    fn ttl_is_rounded_up_and_capped() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let ms = |d: Duration| ttl_ms(t0, t0 + d);
        assert_eq!(ms(Duration::from_millis(1_500)).unwrap(), 1_500);
        assert_eq!(ms(Duration::from_nanos(1)).unwrap(), 1);
        assert_eq!(ms(Duration::from_micros(2_001)).unwrap(), 3);
        assert_eq!(ms(Duration::from_secs(1 << 50)).unwrap(), MAX_TTL_MS);
        for past in [t0, t0 - Duration::from_secs(1)] {
            assert!(matches!(ttl_ms(t0, past), Err(StoreError::AlreadyExpired)));
        }
    }

    #[test]
    fn prefixes() {
        for ok in ["jsm-sso:", "a", "tenant-1/prod:"] {
            assert!(check_prefix(ok).is_ok(), "{ok}");
        }
        for bad in ["", "has space:", "tab\t", "ünicode:", &"p".repeat(65)] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
    }
}
