//! SP private keys for key transport, and recipient public keys for encryption.

use std::fmt;

use base64::Engine as _;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
use rsa::traits::PublicKeyParts as _;
use rsa::{PrivateKey, PublicKey};

use super::DecryptError;

/// The smallest RSA key accepted by default.
const MIN_BITS: usize = 2048;
/// The smallest RSA key accepted by [`DecryptionKey::from_pem_allowing_1024_bits`].
const LEGACY_MIN_BITS: usize = 1024;

/// An SP private key that unwraps the content keys of encrypted assertions (RSA-OAEP key
/// transport): RSA, 2048 bits or more.
///
/// Configure every key the IdP may be encrypting for: during a key rollover the IdP may
/// still use the old certificate while the SP already publishes the new one, and
/// [`decrypt_assertion`](super::decrypt_assertion) tries each key. `Debug` prints the size
/// only, never the key.
#[derive(Clone)]
pub struct DecryptionKey {
    key: PrivateKey,
    bits: usize,
}

impl fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptionKey")
            .field("bits", &self.bits)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl DecryptionKey {
    /// Reads an RSA private key from PEM: PKCS#8 (`-----BEGIN PRIVATE KEY-----`) or PKCS#1
    /// (`-----BEGIN RSA PRIVATE KEY-----`). Text around the block (a certificate in the same
    /// file, comments) is ignored; the first private key block is used.
    ///
    /// # Errors
    ///
    /// `saml.decrypt.key.invalid` when no readable key is there, `saml.decrypt.key.unsupported`
    /// for a password-protected or non-RSA key, `saml.decrypt.key.too_small` under 2048 bits.
    pub fn from_pem(pem: &[u8]) -> Result<Self, DecryptError> {
        Self::read(pem, MIN_BITS)
    }

    /// Like [`DecryptionKey::from_pem`], but accepts RSA keys from 1024 bits. Only for a legacy
    /// SP key that cannot be replaced yet (and for old test fixtures): a 1024-bit RSA key is
    /// within reach of a well-funded attacker, who could then read every assertion.
    ///
    /// # Errors
    ///
    /// As [`DecryptionKey::from_pem`], with 1024 as the minimum size.
    pub fn from_pem_allowing_1024_bits(pem: &[u8]) -> Result<Self, DecryptError> {
        Self::read(pem, LEGACY_MIN_BITS)
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.bits
    }

    pub(crate) fn private_key(&self) -> &PrivateKey {
        &self.key
    }

    fn read(pem: &[u8], min_bits: usize) -> Result<Self, DecryptError> {
        let text = std::str::from_utf8(pem).map_err(|_| invalid("the PEM is not text"))?;
        let key = if let Some(der) = pem_block(text, "PRIVATE KEY")? {
            PrivateKey::from_pkcs8_der(&der).map_err(|e| match e {
                rsa::pkcs8::Error::PublicKey(_) => DecryptError::KeyUnsupported {
                    detail: "the PKCS#8 key is not an RSA key".to_owned(),
                },
                _ => invalid("the PKCS#8 private key does not parse"),
            })?
        } else if let Some(der) = pem_block(text, "RSA PRIVATE KEY")? {
            PrivateKey::from_pkcs1_der(&der)
                .map_err(|_| invalid("the PKCS#1 RSA private key does not parse"))?
        } else if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
            || text.contains("Proc-Type: 4,ENCRYPTED")
        {
            return Err(DecryptError::KeyUnsupported {
                detail: "the private key is password-protected; store it decrypted".to_owned(),
            });
        } else if text.contains("-----BEGIN EC PRIVATE KEY-----") {
            return Err(DecryptError::KeyUnsupported {
                detail: "an EC key cannot unwrap RSA-OAEP key transport".to_owned(),
            });
        } else {
            return Err(invalid(
                "no PEM block PRIVATE KEY or RSA PRIVATE KEY was found",
            ));
        };
        let bits = key.size().saturating_mul(8);
        if bits < min_bits {
            return Err(DecryptError::KeyTooSmall {
                bits,
                min: min_bits,
            });
        }
        Ok(DecryptionKey { key, bits })
    }
}

fn invalid(detail: &str) -> DecryptError {
    DecryptError::KeyInvalid {
        detail: detail.to_owned(),
    }
}

/// The DER inside the first `-----BEGIN {label}-----` block, if there is one.
fn pem_block(text: &str, label: &str) -> Result<Option<Vec<u8>>, DecryptError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let Some(start) = text.find(&begin) else {
        return Ok(None);
    };
    let body = text.get(start + begin.len()..).unwrap_or_default();
    let stop = body
        .find(&end)
        .ok_or_else(|| invalid("the PEM block has no END line"))?;
    let body = body.get(..stop).unwrap_or_default();
    let compact: Vec<u8> = body.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .map(Some)
        .map_err(|_| invalid("the PEM block is not valid base64"))
}

/// A recipient's RSA public key, from a certificate (`CERTIFICATE`) or a bare `PUBLIC KEY` PEM,
/// with the certificate's DER when there was one (for `KeyInfo`).
pub(crate) fn recipient_key(pem: &[u8]) -> Result<(PublicKey, Option<Vec<u8>>), DecryptError> {
    let text = std::str::from_utf8(pem).map_err(|_| invalid("the PEM is not text"))?;
    let (spki, cert) = if let Some(der) = pem_block(text, "CERTIFICATE")? {
        let (_, cert) = x509_parser::parse_x509_certificate(&der)
            .map_err(|_| invalid("the certificate does not parse"))?;
        (cert.public_key().raw.to_vec(), Some(der.clone()))
    } else if let Some(der) = pem_block(text, "PUBLIC KEY")? {
        (der, None)
    } else {
        return Err(invalid("no PEM block CERTIFICATE or PUBLIC KEY was found"));
    };
    let key = PublicKey::from_public_key_der(&spki).map_err(|_| DecryptError::KeyUnsupported {
        detail: "the recipient key is not an RSA key".to_owned(),
    })?;
    let bits = key.size().saturating_mul(8);
    if bits < MIN_BITS {
        return Err(DecryptError::KeyTooSmall {
            bits,
            min: MIN_BITS,
        });
    }
    Ok((key, cert))
}
