//! Signatures over plain bytes with the same keys and algorithms: what the SAML
//! HTTP-Redirect binding signs (`SAMLRequest=..&RelayState=..&SigAlg=..`), where there is no
//! XML to envelop.

use crate::algorithm::SignatureMethod;
use crate::error::{Error, KeyError, SignatureError};
use crate::keys::{TrustedKey, TrustedKeys};
use crate::sign::SigningKey;

impl SignatureMethod {
    /// Parses an algorithm URI (as the Redirect binding's `SigAlg` carries it), refusing
    /// HMAC, DSA, MD5 and unknown URIs, and RSA-SHA1 unless `allow_sha1`.
    pub fn from_algorithm_uri(uri: &str, allow_sha1: bool) -> Result<Self, SignatureError> {
        SignatureMethod::from_uri(uri, allow_sha1)
    }
}

impl TrustedKeys {
    /// Verifies `signature` over `message` with the trusted keys that fit `method`, and returns
    /// the key that verified it.
    ///
    /// ```
    /// use jsm_sso_xmldsig::{SigningKey, TrustedKeys};
    /// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/peerbench");
    /// let key = SigningKey::from_pem(&std::fs::read(format!("{dir}/idp-rsa.key"))?)?;
    /// let keys = TrustedKeys::from_pem(&std::fs::read(format!("{dir}/idp-rsa.crt"))?)?;
    /// let signature = key.sign_detached(b"SAMLRequest=abc&SigAlg=x")?;
    /// let used = keys.verify_detached(key.signature_method(), b"SAMLRequest=abc&SigAlg=x", &signature)?;
    /// assert_eq!(used.fingerprint(), keys.iter().next().map(|k| k.fingerprint()).unwrap_or_default());
    /// assert!(keys.verify_detached(key.signature_method(), b"tampered", &signature).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`KeyError::NoMatchingKey`] when no trusted key can check `method` (an RSA signature
    /// and only EC keys, say); [`SignatureError::Invalid`] when none verifies;
    /// [`SignatureError::Encoding`] for an ECDSA value that is not raw `r || s`.
    pub fn verify_detached(
        &self,
        method: SignatureMethod,
        message: &[u8],
        signature: &[u8],
    ) -> Result<&TrustedKey, Error> {
        let mut fitting = self
            .iter()
            .filter(|key| crate::crypto::key_fits(method, key.kind()))
            .peekable();
        if fitting.peek().is_none() {
            return Err(Error::Key(KeyError::NoMatchingKey {
                algorithm: method.name(),
            }));
        }
        for key in fitting {
            if crate::crypto::verify(method, key, message, signature)? {
                return Ok(key);
            }
        }
        Err(Error::Signature(SignatureError::Invalid))
    }
}

impl SigningKey {
    /// Signs `message` with [`SigningKey::signature_method`] (ECDSA as raw `r || s`).
    ///
    /// # Errors
    /// [`KeyError::Invalid`] if the signing primitive fails.
    pub fn sign_detached(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.sign(message)
    }
}
