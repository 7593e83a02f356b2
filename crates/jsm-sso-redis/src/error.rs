//! The crate's [`Error`] (connecting and configuring), and the backend failure carried by
//! [`StoreError::Backend`](jsm_sso_core::store::StoreError::Backend) at run time.

use std::time::Duration;

use jsm_sso_core::CodedError;

/// Why a [`RedisStore`](crate::RedisStore) could not be built. Operations on a built store
/// fail with the core [`StoreError`](jsm_sso_core::store::StoreError) instead, as the seams
/// require.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection URL does not parse, or asks for something this build lacks (TLS).
    #[error("redis URL is invalid: {reason}")]
    UrlInvalid {
        /// What is wrong (never the URL itself: it may hold a password).
        reason: String,
    },
    /// The key prefix is unusable.
    #[error("key prefix is invalid: {reason}")]
    PrefixInvalid {
        /// What is wrong with it.
        reason: String,
    },
    /// The server could not be reached, refused the credentials, or failed a check command.
    #[error("could not connect to redis: {0}")]
    Connect(#[source] redis::RedisError),
    /// Connecting took longer than the connect timeout.
    #[error("could not connect to redis within {} ms", .0.as_millis())]
    ConnectTimeout(Duration),
    /// The server is older than Redis 6.2 and has no `GETDEL`.
    #[error("redis server version {version} has no GETDEL, 6.2 or later required")]
    ServerVersion {
        /// The `redis_version` the server reports.
        version: String,
    },
    /// The server may evict keys under memory pressure, which would forget live replay
    /// keys and pending logins.
    #[error(
        "redis maxmemory-policy is {policy} with maxmemory {maxmemory}: live keys may be evicted"
    )]
    Eviction {
        /// The server's `maxmemory-policy`.
        policy: String,
        /// The server's `maxmemory` in bytes.
        maxmemory: String,
    },
}

impl CodedError for Error {
    fn code(&self) -> &'static str {
        match self {
            Self::UrlInvalid { .. } => "redis.url.invalid",
            Self::PrefixInvalid { .. } => "redis.prefix.invalid",
            Self::Connect(_) => "redis.connect.failed",
            Self::ConnectTimeout(_) => "redis.connect.timeout",
            Self::ServerVersion { .. } => "redis.server.version",
            Self::Eviction { .. } => "redis.server.eviction",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::UrlInvalid { .. } => {
                "write redis://[user:password@]host:port[/db] (rediss:// TLS is not built in)"
            }
            Self::PrefixInvalid { .. } => {
                "use a prefix of 1 to 64 printable ASCII characters without spaces, such as jsm-sso:"
            }
            Self::Connect(_) => {
                "check the Redis address, that it listens, and the user and password in the URL"
            }
            Self::ConnectTimeout(_) => {
                "check the network path to Redis and that the server is not overloaded"
            }
            Self::ServerVersion { .. } => "upgrade Redis to 6.2 or later (or use Valkey)",
            Self::Eviction { .. } => {
                "set maxmemory-policy noeviction on this Redis (a full server then refuses new sign-ins instead of re-opening replays)"
            }
        }
    }
}

/// The cause inside `StoreError::Backend` when an operation on Redis fails.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// Redis answered with an error, or the connection failed.
    #[error("redis {op}: {source}")]
    Redis {
        op: &'static str,
        #[source]
        source: redis::RedisError,
    },
    /// No answer within the operation timeout; the outcome is unknown, so the caller
    /// treats it as a failure (fail closed).
    #[error("redis {op}: no answer within {} ms", .after.as_millis())]
    Timeout { op: &'static str, after: Duration },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_messages_lower_case() {
        let all = [
            Error::UrlInvalid {
                reason: "Redis URL did not parse".into(),
            },
            Error::PrefixInvalid {
                reason: "empty".into(),
            },
            Error::Connect(redis::RedisError::from((
                redis::ErrorKind::Io,
                "connection refused",
            ))),
            Error::ConnectTimeout(Duration::from_secs(5)),
            Error::ServerVersion {
                version: "6.0.16".into(),
            },
            Error::Eviction {
                policy: "allkeys-lru".into(),
                maxmemory: "1000000".into(),
            },
        ];
        let codes: std::collections::BTreeSet<_> = all.iter().map(CodedError::code).collect();
        assert_eq!(codes.len(), all.len());
        let docs = include_str!("../../../docs/errors.md");
        for e in &all {
            assert!(e.code().starts_with("redis."));
            assert!(!e.hint().is_empty());
            assert!(docs.contains(&format!("`{}`", e.code())), "{}", e.code());
            let msg = e.to_string();
            assert!(!msg.ends_with('.'), "{msg}");
            assert_eq!(
                msg.chars().next().map(char::is_lowercase),
                Some(true),
                "{msg}"
            );
        }
        assert_eq!(
            Failure::Timeout {
                op: "GETDEL",
                after: Duration::from_millis(250)
            }
            .to_string(),
            "redis GETDEL: no answer within 250 ms"
        );
    }
}
