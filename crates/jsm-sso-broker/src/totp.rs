//! [`TotpFactor`]: the [`SecondFactor`] on `jsm-sso-mfa` (feature `totp`, on by default):
//! RFC 6238 codes with a ±1 step window, a used code refused again (through the broker's
//! replay cache, so across a fleet), enrolment with an `otpauth://` URI and a QR code, and
//! secrets sealed (AES-256-GCM, bound to the account) with a key the integrator provides.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use jsm_sso_core::CodedError;
use jsm_sso_mfa::{PendingEnrolment, Sealer, TotpParams, TotpVerifier};
use ring::digest::{SHA256, digest};

use crate::error::BoxedError;
use crate::idp::Seams;
use crate::mfa::{Enrolment, MfaAccount, MfaVerdict, SecondFactor};

#[cfg(feature = "redis")]
mod redis;

/// A stored factor: sealed text only, never a clear secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoredFactor {
    /// An enrolment offered and not confirmed yet.
    Pending(String),
    /// A confirmed factor.
    Confirmed(String),
}

/// Where sealed factors are kept, per account key ([`MfaAccount::key`]).
///
/// Implementations: [`MemoryFactorStore`] (one process), and with the `redis` feature
/// `jsm_sso_redis::RedisFactorStore` (a fleet sharing one Redis).
#[async_trait]
pub trait FactorStore: Send + Sync {
    /// The stored factor of an account.
    ///
    /// # Errors
    ///
    /// The backend's error.
    async fn get(&self, account: &str) -> Result<Option<StoredFactor>, BoxedError>;

    /// Replaces the stored factor of an account.
    ///
    /// # Errors
    ///
    /// The backend's error.
    async fn put(&self, account: &str, factor: &StoredFactor) -> Result<(), BoxedError>;
}

/// A [`FactorStore`] in memory: for one process and tests (factors are lost on restart).
#[derive(Debug, Default)]
pub struct MemoryFactorStore {
    factors: Mutex<HashMap<String, StoredFactor>>,
}

impl MemoryFactorStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl FactorStore for MemoryFactorStore {
    async fn get(&self, account: &str) -> Result<Option<StoredFactor>, BoxedError> {
        Ok(self
            .factors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(account)
            .cloned())
    }

    async fn put(&self, account: &str, factor: &StoredFactor) -> Result<(), BoxedError> {
        self.factors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(account.to_owned(), factor.clone());
        Ok(())
    }
}

/// TOTP as the broker's second factor.
pub struct TotpFactor {
    verifier: TotpVerifier,
    sealer: Sealer,
    issuer: String,
    params: TotpParams,
    store: Arc<dyn FactorStore>,
}

impl std::fmt::Debug for TotpFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpFactor")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl TotpFactor {
    /// TOTP with default parameters (SHA-1, 6 digits, 30 s: what every authenticator app
    /// reads), named `issuer` in the apps, sealing with `sealer`, keeping factors in
    /// `store` and used codes in the seams' replay cache.
    pub fn new(
        issuer: impl Into<String>,
        sealer: Sealer,
        store: Arc<dyn FactorStore>,
        seams: &Seams,
    ) -> Self {
        Self {
            verifier: TotpVerifier::new(seams.clock.clone(), seams.replay.clone()),
            sealer,
            issuer: issuer.into(),
            params: TotpParams::default(),
            store,
        }
    }

    /// Sets the parameters for new enrolments (SHA-256, 8 digits, ...).
    #[must_use]
    pub fn params(mut self, params: TotpParams) -> Self {
        self.params = params;
        self
    }
}

/// The id the factor is sealed to and replay-guarded under: a digest of the account key,
/// so it is bounded in length whatever the IdP's subject.
fn customer_key(account: &MfaAccount) -> String {
    digest(&SHA256, account.key().as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn boxed(e: jsm_sso_mfa::Error) -> BoxedError {
    Box::new(e)
}

/// Whether the error means "wrong code" (the customer may try again) rather than a fault.
fn is_wrong_code(e: &jsm_sso_mfa::Error) -> bool {
    matches!(
        e.code(),
        "mfa.code.malformed" | "mfa.code.invalid" | "mfa.code.replayed"
    )
}

fn offer(pending: &PendingEnrolment) -> Result<Enrolment, BoxedError> {
    let svg = pending.qr_svg().map_err(boxed)?;
    Ok(Enrolment::new(pending.uri().as_str(), svg.as_str()))
}

#[async_trait]
impl SecondFactor for TotpFactor {
    async fn enrolment(&self, account: &MfaAccount) -> Result<Option<Enrolment>, BoxedError> {
        let key = customer_key(account);
        match self.store.get(&key).await? {
            Some(StoredFactor::Confirmed(_)) => Ok(None),
            Some(StoredFactor::Pending(sealed)) => {
                let pending = self.sealer.open_pending(&key, &sealed).map_err(boxed)?;
                Ok(Some(offer(&pending)?))
            }
            None => {
                let pending = PendingEnrolment::generate(&self.issuer, &account.email, self.params)
                    .map_err(boxed)?;
                let sealed = self.sealer.seal_pending(&key, &pending).map_err(boxed)?;
                self.store.put(&key, &StoredFactor::Pending(sealed)).await?;
                Ok(Some(offer(&pending)?))
            }
        }
    }

    async fn verify(&self, account: &MfaAccount, code: &str) -> Result<MfaVerdict, BoxedError> {
        let key = customer_key(account);
        match self.store.get(&key).await? {
            Some(StoredFactor::Confirmed(sealed)) => {
                let secret = self.sealer.open(&key, &sealed).map_err(boxed)?;
                match self.verifier.verify(&key, &secret, code).await {
                    Ok(_) => Ok(MfaVerdict::Accepted { enrolled: false }),
                    Err(e) if is_wrong_code(&e) => Ok(MfaVerdict::Refused),
                    Err(e) => Err(boxed(e)),
                }
            }
            Some(StoredFactor::Pending(sealed)) => {
                let pending = self.sealer.open_pending(&key, &sealed).map_err(boxed)?;
                match pending.confirm(&self.verifier, &key, code).await {
                    Ok(secret) => {
                        let sealed = self.sealer.seal(&key, &secret).map_err(boxed)?;
                        self.store
                            .put(&key, &StoredFactor::Confirmed(sealed))
                            .await?;
                        Ok(MfaVerdict::Accepted { enrolled: true })
                    }
                    Err(e) if is_wrong_code(&e) => Ok(MfaVerdict::Refused),
                    Err(e) => Err(boxed(e)),
                }
            }
            // No enrolment was offered: nothing can match.
            None => Ok(MfaVerdict::Refused),
        }
    }
}
