//! Trusted verification keys (pinned IdP certificates) and signing keys.
//!
//! Trust comes only from here: a signature's `KeyInfo` can pick one of these keys but never add
//! one. RSA keys under 2048 bits are refused when loaded.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use x509_parser::prelude::FromDer as _;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::error::KeyError;

const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const OID_RSASSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";

/// Smallest RSA modulus accepted, in bits.
pub(crate) const MIN_RSA_BITS: usize = 2048;

/// The kind of a public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// RSA with this modulus length in bits.
    Rsa {
        /// Modulus length in bits.
        bits: usize,
    },
    /// ECDSA on NIST P-256.
    EcP256,
    /// ECDSA on NIST P-384.
    EcP384,
}

/// One trusted public key, from a pinned certificate or a bare SubjectPublicKeyInfo.
#[derive(Clone)]
pub struct TrustedKey {
    kind: KeyKind,
    /// The key as ring wants it: PKCS#1 `RSAPublicKey` DER, or the uncompressed EC point.
    public_key: Vec<u8>,
    /// The DER SubjectPublicKeyInfo, which `KeyInfo` certificates are matched against.
    spki: Vec<u8>,
    /// The DER certificate it came from, so a `KeyInfo` that repeats it matches without
    /// another X.509 parse.
    certificate: Option<Vec<u8>>,
    /// The same certificate in base64, as IdPs repeat it in `KeyInfo`.
    certificate_base64: Option<String>,
    not_after: Option<SystemTime>,
    /// [`TrustedKey::fingerprint`], computed once: every verification reports it.
    fingerprint: String,
}

impl fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedKey")
            .field("kind", &self.kind)
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl TrustedKey {
    /// The key type.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo: the same for every certificate
    /// issued over this key.
    pub fn fingerprint(&self) -> String {
        self.fingerprint.clone()
    }

    /// When the certificate it came from expires (none for a bare public key).
    pub fn not_after(&self) -> Option<SystemTime> {
        self.not_after
    }

    pub(crate) fn spki(&self) -> &[u8] {
        &self.spki
    }

    pub(crate) fn certificate_base64(&self) -> Option<&str> {
        self.certificate_base64.as_deref()
    }

    pub(crate) fn certificate(&self) -> Option<&[u8]> {
        self.certificate.as_deref()
    }

    pub(crate) fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    fn from_spki(
        spki: &SubjectPublicKeyInfo<'_>,
        not_after: Option<SystemTime>,
    ) -> Result<Self, KeyError> {
        let algorithm = spki.algorithm.algorithm.to_id_string();
        let bits = spki.subject_public_key.data.to_vec();
        let kind = match algorithm.as_str() {
            OID_RSA_ENCRYPTION | OID_RSASSA_PSS => {
                let modulus_bits = rsa_modulus_bits(&bits).ok_or_else(|| KeyError::Invalid {
                    detail: "malformed rsa public key".into(),
                })?;
                if modulus_bits < MIN_RSA_BITS {
                    return Err(KeyError::TooSmall { bits: modulus_bits });
                }
                KeyKind::Rsa { bits: modulus_bits }
            }
            OID_EC_PUBLIC_KEY => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.clone().oid().ok())
                    .map(|oid| oid.to_id_string());
                match curve.as_deref() {
                    Some(OID_P256) if bits.len() == 65 => KeyKind::EcP256,
                    Some(OID_P384) if bits.len() == 97 => KeyKind::EcP384,
                    other => {
                        return Err(KeyError::Unsupported {
                            detail: format!("elliptic curve {}", other.unwrap_or("unnamed")),
                        });
                    }
                }
            }
            other => {
                return Err(KeyError::Unsupported {
                    detail: format!("public key algorithm {other}"),
                });
            }
        };
        Ok(TrustedKey {
            kind,
            public_key: bits,
            spki: spki.raw.to_vec(),
            certificate: None,
            certificate_base64: None,
            not_after,
            fingerprint: hex(ring::digest::digest(&ring::digest::SHA256, spki.raw).as_ref()),
        })
    }

    /// Reads a DER X.509 certificate.
    pub fn from_certificate_der(der: &[u8]) -> Result<Self, KeyError> {
        let (_, cert) =
            x509_parser::parse_x509_certificate(der).map_err(|e| KeyError::Invalid {
                detail: format!("certificate: {e}"),
            })?;
        let not_after = u64::try_from(cert.validity().not_after.timestamp())
            .ok()
            .map(|secs| UNIX_EPOCH + Duration::from_secs(secs));
        let mut key = TrustedKey::from_spki(cert.public_key(), not_after)?;
        key.certificate_base64 = Some(base64::engine::general_purpose::STANDARD.encode(der));
        key.certificate = Some(der.to_vec());
        Ok(key)
    }

    /// Reads a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let (_, spki) = SubjectPublicKeyInfo::from_der(der).map_err(|e| KeyError::Invalid {
            detail: format!("public key: {e}"),
        })?;
        TrustedKey::from_spki(&spki, None)
    }
}

/// The SubjectPublicKeyInfo of a DER certificate, for matching `KeyInfo` against trusted keys.
pub(crate) fn certificate_spki(der: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.public_key().raw.to_vec())
}

/// Bit length of the modulus in a PKCS#1 `RSAPublicKey`.
fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    let (_, key) = x509_parser::public_key::RSAPublicKey::from_der(der).ok()?;
    let modulus = key.modulus;
    let first = modulus.iter().position(|b| *b != 0)?;
    let significant = modulus.get(first..)?;
    let top = significant.first()?;
    Some(significant.len() * 8 - top.leading_zeros() as usize)
}

/// The IdP keys a verifier trusts; never empty. Several keys support certificate rollover.
///
/// ```
/// use jsm_sso_xmldsig::TrustedKeys;
/// let pem = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/peerbench/idp-rsa.crt"))?;
/// let keys = TrustedKeys::from_pem(&pem)?;
/// assert_eq!(keys.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct TrustedKeys {
    keys: Vec<TrustedKey>,
}

impl TrustedKeys {
    /// Trusts exactly these keys.
    pub fn new(keys: Vec<TrustedKey>) -> Result<Self, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(TrustedKeys { keys })
    }

    /// Reads every `CERTIFICATE` and `PUBLIC KEY` block of a PEM file.
    pub fn from_pem(pem: &[u8]) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for block in x509_parser::pem::Pem::iter_from_buffer(pem) {
            let block = block.map_err(|e| KeyError::Invalid {
                detail: format!("pem: {e}"),
            })?;
            match block.label.as_str() {
                "CERTIFICATE" => keys.push(TrustedKey::from_certificate_der(&block.contents)?),
                "PUBLIC KEY" => keys.push(TrustedKey::from_spki_der(&block.contents)?),
                other => {
                    return Err(KeyError::Invalid {
                        detail: format!("unexpected pem block {other}"),
                    });
                }
            }
        }
        TrustedKeys::new(keys)
    }

    /// Reads a base64 DER certificate, as found in `ds:X509Certificate` of IdP metadata
    /// (white space inside is ignored).
    pub fn from_certificate_base64(text: &str) -> Result<Self, KeyError> {
        let der = decode_base64(text).ok_or_else(|| KeyError::Invalid {
            detail: "certificate is not valid base64".into(),
        })?;
        TrustedKeys::new(vec![TrustedKey::from_certificate_der(&der)?])
    }

    /// Adds the keys of `other` (rollover: old and new certificate side by side).
    pub fn extend(&mut self, other: TrustedKeys) {
        self.keys.extend(other.keys);
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a `TrustedKeys` holds at least one key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &TrustedKey> {
        self.keys.iter()
    }
}

/// Decodes standard base64, ignoring the white space XML puts inside long values.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let engine = base64::engine::general_purpose::STANDARD;
    if !text.bytes().any(|b| b.is_ascii_whitespace()) {
        return engine.decode(text).ok();
    }
    // Line by line: XML wraps long values every 64 or 76 characters.
    let mut compact = Vec::with_capacity(text.len());
    for chunk in text.as_bytes().split(u8::is_ascii_whitespace) {
        compact.extend_from_slice(chunk);
    }
    engine.decode(compact).ok()
}

/// Whether `text` is `compact` (base64 without white space) with white space inserted, as
/// IdPs wrap the certificate they repeat in `KeyInfo`: then it decodes to the same bytes,
/// and comparing is much cheaper than decoding. Document text holds no white space but
/// space, tab and line feed (the parser refuses form feeds and normalises carriage returns).
pub(crate) fn same_base64(text: &str, compact: &str) -> bool {
    let mut rest = compact.as_bytes();
    let mut text = text.as_bytes();
    loop {
        let end = memchr::memchr3(b'\n', b' ', b'\t', text).unwrap_or(text.len());
        let (run, after) = text.split_at_checked(end).unwrap_or((text, &[]));
        match rest.strip_prefix(run) {
            Some(r) => rest = r,
            None => return false,
        }
        match after.split_first() {
            Some((_, more)) => text = more,
            None => return rest.is_empty(),
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 0xF] {
            out.push(char::from(
                DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_base64_compares_equal_to_the_compact_form() {
        let compact = "MIIDZzCCAk+gAwIBAgIUQ/5IuZdSSAdex3Y=";
        for same in [
            compact,
            "MIIDZzCCAk+g\nAwIBAgIUQ/5IuZdSSAdex3Y=",
            "\n  MIIDZzCCAk+gAwIBAgIUQ/5IuZdSSAdex3Y=\n",
            "M I I D Z z C C A k + g A w I B A g I U Q / 5 I u Z d S S A d e x 3 Y =",
            "MIIDZzCCAk+gAwIBAgIUQ/5IuZdSSAdex3Y=\t\t",
        ] {
            assert!(same_base64(same, compact), "{same:?}");
        }
        for different in [
            "",
            "MIIDZzCCAk+gAwIBAgIUQ/5IuZdSSAdex3Y",
            "MIIDZzCCAk+gAwIBAgIUQ/5IuZdSSAdex3Y==",
            "MIIDZzCCAk+gAwIBAgIUQ/5IuZdSSAdex3Z=",
            "MIIDZzCCAk+g\r\nAwIBAgIUQ/5IuZdSSAdex3Y=",
            "xMIIDZzCCAk+gAwIBAgIUQ/5IuZdSSAdex3Y=",
        ] {
            assert!(!same_base64(different, compact), "{different:?}");
        }
        assert!(same_base64("", ""));
        assert!(same_base64(" \n", ""));
    }

    #[test]
    fn modulus_bits_ignore_leading_zero_octet() {
        // RSAPublicKey { modulus 0x00FF.., exponent 3 } with a 2-octet modulus: 8 bits.
        let der = [0x30, 0x07, 0x02, 0x02, 0x00, 0xFF, 0x02, 0x01, 0x03];
        assert_eq!(rsa_modulus_bits(&der), Some(8));
        let der = [0x30, 0x06, 0x02, 0x01, 0x7F, 0x02, 0x01, 0x03];
        assert_eq!(rsa_modulus_bits(&der), Some(7));
    }

    #[test]
    fn empty_key_set_is_refused() {
        assert_eq!(TrustedKeys::new(Vec::new()).err(), Some(KeyError::Empty));
        assert_eq!(TrustedKeys::from_pem(b"").err(), Some(KeyError::Empty));
    }
}
