//! [`RedisFactorStore`]: enrolled second factors (sealed TOTP secrets) shared by a fleet.
//!
//! One string key per account, `<prefix>mfa:factor:<account>`, with no time-to-live (a
//! factor lasts until it is replaced). The value is a small JSON object holding text the
//! broker has already sealed, `{"pending":"totp1.p..."}` or `{"confirmed":"totp1.c..."}`:
//! this crate never sees a clear secret and does not open what it stores.

use std::fmt;

use jsm_sso_core::CodedError;
use jsm_sso_core::store::StoreError;
use serde::{Deserialize, Serialize};

use crate::RedisStore;

/// The key space under the prefix.
const SPACE: &str = "mfa:factor";

/// Writes the value unless it is a pending enrolment and the key holds a confirmed factor:
/// read and write in one script, so no other instance's confirmation slips in between.
/// `SET` without options also drops any time-to-live someone put on the key.
const PUT_SCRIPT: &str = r#"
if ARGV[2] == 'pending' then
  local current = redis.call('GET', KEYS[1])
  if current and string.sub(current, 1, 13) == '{"confirmed":' then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"#;

/// A stored second factor: sealed text only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
#[non_exhaustive]
pub enum SealedFactor {
    /// An enrolment offered and not confirmed yet.
    Pending(String),
    /// A confirmed factor.
    Confirmed(String),
}

impl SealedFactor {
    fn kind(&self) -> &'static str {
        match self {
            Self::Pending(_) => "pending",
            Self::Confirmed(_) => "confirmed",
        }
    }

    fn sealed(&self) -> &str {
        match self {
            Self::Pending(s) | Self::Confirmed(s) => s,
        }
    }
}

impl fmt::Debug for SealedFactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Sealed text is safe to store but has no business in logs.
        write!(f, "SealedFactor::{}([sealed])", self.kind())
    }
}

/// Why reading or writing a factor failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FactorError {
    /// The key holds something that is not a factor this crate wrote.
    #[error("redis key {key} does not hold a jsm-sso factor: {detail}")]
    Malformed {
        /// The Redis key (prefix and account digest; no secret).
        key: String,
        /// What is wrong with the value.
        detail: String,
    },
    /// A pending enrolment would have replaced a factor that is already confirmed (another
    /// instance confirmed it meanwhile); nothing was written.
    #[error("redis key {key} holds a confirmed factor: a pending enrolment may not replace it")]
    Confirmed {
        /// The Redis key.
        key: String,
    },
    /// The factor to store is not sealed text (empty, not printable ASCII, too long).
    #[error("factor for redis key {key} is not sealed text: {detail}")]
    NotSealed {
        /// The Redis key.
        key: String,
        /// What is wrong.
        detail: String,
    },
    /// The store failed: Redis unreachable or erring (`core.store.backend`), or the
    /// account key is empty or too long (`core.store.key_invalid`).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CodedError for FactorError {
    fn code(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "redis.factor.malformed",
            Self::Confirmed { .. } => "redis.factor.confirmed",
            Self::NotSealed { .. } => "redis.factor.not_sealed",
            Self::Store(e) => e.code(),
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => {
                "make sure nothing else writes under this key prefix; delete the key to let the customer enrol again"
            }
            Self::Confirmed { .. } => {
                "the customer finished enrolling on another instance: sign in again to be asked for a code"
            }
            Self::NotSealed { .. } => "store only the text the broker's Sealer returns",
            Self::Store(e) => e.hint(),
        }
    }
}

/// Sealed second factors on Redis, one key per account, shared by every instance that
/// connects with the same prefix (enrol on one, be asked for a code on any other).
///
/// - `get` is `GET <prefix>mfa:factor:<account>`; a value that is not a factor this type
///   wrote is `redis.factor.malformed`, never read as "no factor" (which would offer a new
///   enrolment to whoever signs in next).
/// - `put` is one atomic script: `SET` with no time-to-live, except that a pending
///   enrolment never replaces a confirmed factor (`redis.factor.confirmed`), so two
///   instances racing on a first sign-in cannot undo a confirmation.
///
/// Factors have no expiry: run this Redis with persistence (AOF or RDB snapshots, or a
/// replica), since losing the keys lets everyone enrol again. Shares the connection,
/// operation timeout and value limit of the [`RedisStore`] it is made from.
#[derive(Clone)]
pub struct RedisFactorStore {
    store: RedisStore,
}

impl fmt::Debug for RedisFactorStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisFactorStore")
            .field("prefix", &self.store.prefix())
            .finish_non_exhaustive()
    }
}

impl RedisFactorStore {
    /// Factors on the server and under the prefix of `store` (sharing its connection).
    #[must_use]
    pub fn new(store: &RedisStore) -> Self {
        Self {
            store: store.clone(),
        }
    }

    /// The Redis key of an account's factor: `<prefix>mfa:factor:<account>`.
    ///
    /// # Errors
    ///
    /// `core.store.key_invalid` when `account` is empty or longer than
    /// [`MAX_KEY_LEN`](crate::MAX_KEY_LEN).
    pub fn key(&self, account: &str) -> Result<String, FactorError> {
        Ok(self.store.key(SPACE, account)?)
    }

    /// The factor stored for `account`, if any.
    ///
    /// # Errors
    ///
    /// `redis.factor.malformed` for a value this type did not write; `core.store.backend`
    /// and `core.store.key_invalid` as for [`RedisStore`].
    pub async fn get(&self, account: &str) -> Result<Option<SealedFactor>, FactorError> {
        let key = self.key(account)?;
        let value: Option<Vec<u8>> = self.store.run("GET", redis::cmd("GET").arg(&key)).await?;
        let Some(value) = value else {
            return Ok(None);
        };
        let malformed = |detail: String| FactorError::Malformed {
            key: key.clone(),
            detail,
        };
        let max = self.max_value_len();
        if value.len() > max {
            return Err(malformed(format!("{} bytes, more than {max}", value.len())));
        }
        let factor: SealedFactor =
            serde_json::from_slice(&value).map_err(|e| malformed(e.to_string()))?;
        check_sealed(factor.sealed()).map_err(malformed)?;
        Ok(Some(factor))
    }

    /// Stores `factor` for `account`, replacing what was there, with no expiry; a pending
    /// enrolment does not replace a confirmed factor.
    ///
    /// # Errors
    ///
    /// `redis.factor.confirmed` when a pending enrolment meets a confirmed factor,
    /// `redis.factor.not_sealed` for text that cannot be sealed text,
    /// `core.store.value_too_large` over the store's value limit, `core.store.backend` and
    /// `core.store.key_invalid` as for [`RedisStore`].
    pub async fn put(&self, account: &str, factor: &SealedFactor) -> Result<(), FactorError> {
        let key = self.key(account)?;
        check_sealed(factor.sealed()).map_err(|detail| FactorError::NotSealed {
            key: key.clone(),
            detail,
        })?;
        let value = serde_json::to_vec(factor).map_err(|e| FactorError::NotSealed {
            key: key.clone(),
            detail: e.to_string(),
        })?;
        let max = self.max_value_len();
        if value.len() > max {
            return Err(StoreError::ValueTooLarge {
                len: value.len(),
                max,
            }
            .into());
        }
        let written: i64 = self
            .store
            .run(
                "EVAL",
                redis::cmd("EVAL")
                    .arg(PUT_SCRIPT)
                    .arg(1)
                    .arg(&key)
                    .arg(value)
                    .arg(factor.kind()),
            )
            .await?;
        if written == 1 {
            Ok(())
        } else {
            Err(FactorError::Confirmed { key })
        }
    }

    fn max_value_len(&self) -> usize {
        self.store.max_value_len()
    }
}

/// Sealed text is non-empty printable ASCII without spaces (what every sealing format
/// this project writes looks like); anything else was not sealed by the broker.
fn check_sealed(sealed: &str) -> Result<(), String> {
    if sealed.is_empty() {
        return Err("the sealed text is empty".to_owned());
    }
    if !sealed.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the sealed text has a space, a control or a non-ASCII character".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_matches_the_put_script() {
        let confirmed = serde_json::to_string(&SealedFactor::Confirmed("totp1.c.x".into()));
        assert_eq!(confirmed.unwrap(), r#"{"confirmed":"totp1.c.x"}"#);
        // The script recognises a confirmed factor by its first 13 bytes.
        assert_eq!(r#"{"confirmed":"#.len(), 13);
        let pending = serde_json::to_string(&SealedFactor::Pending("totp1.p.x".into()));
        assert_eq!(pending.unwrap(), r#"{"pending":"totp1.p.x"}"#);
    }

    #[test]
    fn debug_hides_the_sealed_text() {
        let shown = format!("{:?}", SealedFactor::Confirmed("totp1.c.secretish".into()));
        assert_eq!(shown, "SealedFactor::confirmed([sealed])");
    }

    #[test]
    fn sealed_text_checks() {
        assert!(check_sealed("totp1.c.a.b.c.d").is_ok());
        for bad in ["", "with space", "tab\t", "ünicode"] {
            assert!(check_sealed(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn codes_and_messages() {
        let all = [
            FactorError::Malformed {
                key: "k".into(),
                detail: "d".into(),
            },
            FactorError::Confirmed { key: "k".into() },
            FactorError::NotSealed {
                key: "k".into(),
                detail: "d".into(),
            },
        ];
        let docs = include_str!("../../../docs/errors.md");
        for e in &all {
            assert!(e.code().starts_with("redis.factor."));
            assert!(docs.contains(&format!("`{}`", e.code())), "{}", e.code());
            assert!(!e.hint().is_empty());
            let msg = e.to_string();
            assert!(
                msg.starts_with("redis key") || msg.starts_with("factor"),
                "{msg}"
            );
        }
        let store = FactorError::from(StoreError::KeyInvalid { len: 0, max: 512 });
        assert_eq!(store.code(), "core.store.key_invalid");
    }
}
