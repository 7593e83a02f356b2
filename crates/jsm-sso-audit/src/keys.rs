//! Ed25519 keys for signed checkpoints: [`SigningKey`] (the writer's) and [`VerifyingKey`]
//! (the auditor's), read from PEM as OpenSSL writes them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{self, Ed25519KeyPair, KeyPair as _};

use crate::error::ConfigError;

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the raw 32-byte key follows.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The Ed25519 key that signs checkpoints and gap records.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    public: VerifyingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.public.key_id())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh random key, and its PKCS#8 PEM to store.
    ///
    /// # Errors
    ///
    /// The system has no randomness.
    pub fn generate() -> Result<(Self, String), ConfigError> {
        let pkcs8 =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| ConfigError::Key {
                reason: "no system randomness to generate a key".to_owned(),
            })?;
        let key = Self::from_pkcs8_der(pkcs8.as_ref())?;
        Ok((key, pem("PRIVATE KEY", pkcs8.as_ref())))
    }

    /// Reads a PKCS#8 `PRIVATE KEY` PEM (v1 as `openssl genpkey -algorithm ed25519` writes,
    /// or v2).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Key`] when the text holds no Ed25519 private key.
    pub fn from_pem(text: &[u8]) -> Result<Self, ConfigError> {
        Self::from_pkcs8_der(&unpem(text, "PRIVATE KEY")?)
    }

    /// Reads PKCS#8 DER.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Key`] when the bytes are no Ed25519 private key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, ConfigError> {
        let pair =
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|e| ConfigError::Key {
                reason: format!("not an ed25519 pkcs#8 private key ({e})"),
            })?;
        let public = VerifyingKey::from_raw(pair.public_key().as_ref())?;
        Ok(Self { pair, public })
    }

    /// The matching public key.
    #[must_use]
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.public
    }

    pub(crate) fn sign(&self, message: &[u8]) -> String {
        STANDARD.encode(self.pair.sign(message).as_ref())
    }
}

/// An Ed25519 public key that checks checkpoint signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    raw: [u8; 32],
    key_id: String,
}

impl VerifyingKey {
    /// The raw 32-byte key.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Key`] when it is not 32 bytes.
    pub fn from_raw(raw: &[u8]) -> Result<Self, ConfigError> {
        let raw: [u8; 32] = raw.try_into().map_err(|_| ConfigError::Key {
            reason: format!("an ed25519 public key has 32 bytes, not {}", raw.len()),
        })?;
        let digest = ring::digest::digest(&ring::digest::SHA256, &raw);
        let key_id = hex(digest.as_ref().get(..8).unwrap_or_default());
        Ok(Self { raw, key_id })
    }

    /// Reads a `PUBLIC KEY` PEM (SubjectPublicKeyInfo, as `openssl pkey -pubout` writes), or
    /// the raw key in base64.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Key`] when the text holds no Ed25519 public key.
    pub fn from_pem(text: &[u8]) -> Result<Self, ConfigError> {
        let trimmed = std::str::from_utf8(text).map(str::trim).unwrap_or_default();
        if !trimmed.starts_with("-----")
            && let Ok(raw) = STANDARD.decode(trimmed)
            && raw.len() == 32
        {
            return Self::from_raw(&raw);
        }
        let der = unpem(text, "PUBLIC KEY")?;
        match der.strip_prefix(&SPKI_PREFIX[..]) {
            Some(raw) => Self::from_raw(raw),
            None => Err(ConfigError::Key {
                reason: "the public key is not an ed25519 key".to_owned(),
            }),
        }
    }

    /// The key as `PUBLIC KEY` PEM.
    #[must_use]
    pub fn to_pem(&self) -> String {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.raw);
        pem("PUBLIC KEY", &der)
    }

    /// A short id: the first 8 bytes of SHA-256 of the raw key, in hex. Checkpoints name it.
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Checks a base64 signature over `message`.
    pub(crate) fn verify(&self, message: &[u8], signature_b64: &str) -> bool {
        let Ok(sig) = STANDARD.decode(signature_b64) else {
            return false;
        };
        signature::UnparsedPublicKey::new(&signature::ED25519, &self.raw)
            .verify(message, &sig)
            .is_ok()
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    let mut rest = body.as_str();
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(64));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn unpem(text: &[u8], label: &str) -> Result<Vec<u8>, ConfigError> {
    let bad = |reason: String| ConfigError::Key { reason };
    let text =
        std::str::from_utf8(text).map_err(|_| bad("key file is not text (pem)".to_owned()))?;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text
        .find(&begin)
        .ok_or_else(|| bad(format!("no `{begin}` block")))?
        .saturating_add(begin.len());
    let body = text.get(start..).unwrap_or_default();
    let stop = body
        .find(&end)
        .ok_or_else(|| bad(format!("no `{end}` line")))?;
    let b64: String = body
        .get(..stop)
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD
        .decode(b64)
        .map_err(|e| bad(format!("bad base64 in the pem block: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_sign_verify_and_pem_round_trip() {
        let (key, pem_text) = SigningKey::generate().unwrap();
        let again = SigningKey::from_pem(pem_text.as_bytes()).unwrap();
        assert_eq!(again.verifying_key(), key.verifying_key());
        let sig = key.sign(b"head");
        let public = VerifyingKey::from_pem(key.verifying_key().to_pem().as_bytes()).unwrap();
        assert!(public.verify(b"head", &sig));
        assert!(!public.verify(b"tail", &sig));
        assert!(!public.verify(b"head", "not base64!"));
        assert_eq!(public.key_id().len(), 16);
    }

    #[test]
    fn refuses_non_keys() {
        assert_eq!(
            SigningKey::from_pem(b"hello").unwrap_err().to_string(),
            "invalid key: no `-----BEGIN PRIVATE KEY-----` block"
        );
        assert!(VerifyingKey::from_raw(&[0; 31]).is_err());
        // an RSA SPKI is not an ed25519 key
        let rsa = "-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAL\n-----END PUBLIC KEY-----\n";
        assert!(VerifyingKey::from_pem(rsa.as_bytes()).is_err());
    }
}
