//! [`FactorStore`] for [`RedisFactorStore`] (feature `redis`): a fleet of brokers behind a
//! load balancer shares enrolled factors, so a customer enrolled on one instance is asked for
//! a code, not offered a new enrolment, on every other.
//!
//! The conversion is one to one: the broker's sealed text goes to Redis as it is; the
//! store's errors (`redis.factor.*`, `core.store.*`) reach the MFA step with their codes.

use async_trait::async_trait;
use jsm_sso_redis::{RedisFactorStore, SealedFactor};

use super::{FactorStore, StoredFactor};
use crate::error::BoxedError;

#[async_trait]
impl FactorStore for RedisFactorStore {
    async fn get(&self, account: &str) -> Result<Option<StoredFactor>, BoxedError> {
        match Self::get(self, account).await {
            Ok(None) => Ok(None),
            Ok(Some(SealedFactor::Pending(sealed))) => Ok(Some(StoredFactor::Pending(sealed))),
            Ok(Some(SealedFactor::Confirmed(sealed))) => Ok(Some(StoredFactor::Confirmed(sealed))),
            // A newer jsm-sso-redis may know more kinds; never read one as "no factor".
            Ok(Some(other)) => Err(Box::new(Unknown(format!("{other:?}")))),
            Err(e) => Err(Box::new(e)),
        }
    }

    async fn put(&self, account: &str, factor: &StoredFactor) -> Result<(), BoxedError> {
        let sealed = match factor {
            StoredFactor::Pending(s) => SealedFactor::Pending(s.clone()),
            StoredFactor::Confirmed(s) => SealedFactor::Confirmed(s.clone()),
        };
        Self::put(self, account, &sealed)
            .await
            .map_err(|e| Box::new(e) as BoxedError)
    }
}

/// A factor kind this broker does not know (from a newer store).
#[derive(Debug, thiserror::Error)]
#[error("stored factor of a kind this build does not know: {0}")]
struct Unknown(String);

impl jsm_sso_core::CodedError for Unknown {
    fn code(&self) -> &'static str {
        "redis.factor.malformed"
    }

    fn hint(&self) -> &'static str {
        "run the same jsm-sso version on every instance of the fleet"
    }
}
