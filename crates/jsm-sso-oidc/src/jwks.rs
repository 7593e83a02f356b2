//! [`KeySet`]: a provider's JSON Web Key Set, parsed once, and key selection for a token.

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};

use crate::{Algorithm, Error};

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// The largest JWKS document read, in bytes.
pub const MAX_JWKS_BYTES: usize = 512 * 1024;
/// The most keys read from one JWKS.
pub const MAX_KEYS: usize = 100;

/// The shape of a key, which decides the algorithms it can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Rsa { bits: usize },
    P256,
    P384,
    Ed25519,
}

/// One usable verification key.
#[derive(Debug, Clone)]
struct Key {
    kid: Option<String>,
    shape: Shape,
    alg: Option<Algorithm>,
    decoding: DecodingKey,
}

/// A key that is in the set but cannot be used, kept so a token naming it gets the
/// precise reason (too small, broken, encryption key) instead of "unknown kid".
#[derive(Debug, Clone)]
struct Unusable {
    kid: Option<String>,
    reason: Reason,
}

#[derive(Debug, Clone)]
enum Reason {
    TooSmall(usize),
    Invalid(String),
    NotForSigning(String),
}

/// A provider's signing keys (RFC 7517), read from its `jwks_uri` or from a file.
///
/// Keys are selected for a token by `kid`, key type and curve, the key's `alg` and `use`
/// (`key_ops`). Keys that cannot verify signatures are kept aside with the reason: an RSA
/// key under 2048 bits, an `enc` key, an `oct` (symmetric) key, a broken key. A JWKS with
/// such keys still loads; a token signed with one is refused with the reason's code.
///
/// ```
/// use jsm_sso_oidc::KeySet;
///
/// let jwks = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed1",
///   "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
/// let keys = KeySet::from_json(jwks)?;
/// assert_eq!(keys.len(), 1);
/// assert!(keys.kids().any(|k| k == "ed1"));
/// # Ok::<(), jsm_sso_oidc::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Key>,
    unusable: Vec<Unusable>,
}

impl KeySet {
    /// Parses a JWKS document: a JSON object with a `keys` array.
    ///
    /// # Errors
    ///
    /// `oidc.jwks.malformed` when the document is not such an object, is larger than
    /// [`MAX_JWKS_BYTES`] or has more than [`MAX_KEYS`] keys.
    pub fn from_json(json: &[u8]) -> Result<Self, Error> {
        #[derive(serde::Deserialize)]
        struct Doc {
            keys: Vec<serde_json::Value>,
        }
        if json.len() > MAX_JWKS_BYTES {
            return Err(Error::JwksMalformed(format!(
                "{} bytes, more than {MAX_JWKS_BYTES}",
                json.len()
            )));
        }
        let doc: Doc = serde_json::from_slice(json)
            .map_err(|e| Error::JwksMalformed(format!("not a jwks object: {e}")))?;
        if doc.keys.len() > MAX_KEYS {
            return Err(Error::JwksMalformed(format!(
                "{} keys, more than {MAX_KEYS}",
                doc.keys.len()
            )));
        }
        let mut set = KeySet::default();
        for value in doc.keys {
            set.add(value);
        }
        Ok(set)
    }

    fn add(&mut self, value: serde_json::Value) {
        let kid = value
            .get("kid")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        match read_key(value) {
            Ok(mut key) => {
                key.kid = kid;
                self.keys.push(key);
            }
            Err(reason) => self.unusable.push(Unusable { kid, reason }),
        }
    }

    /// The number of usable signing keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is no usable signing key.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The `kid`s of the usable keys.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().filter_map(|k| k.kid.as_deref())
    }

    /// The algorithms the usable keys can verify (a key's `alg`, else all its type allows).
    #[must_use]
    pub fn algorithms(&self) -> Vec<Algorithm> {
        let mut algs: Vec<Algorithm> = Algorithm::ASYMMETRIC
            .into_iter()
            .filter(|a| self.allows(*a))
            .collect();
        algs.dedup();
        algs
    }

    /// Whether some usable key can verify `alg`.
    #[must_use]
    pub fn allows(&self, alg: Algorithm) -> bool {
        self.keys.iter().any(|k| fits(k, alg))
    }

    /// Whether a key with this `kid` is in the set, usable or not.
    pub(crate) fn knows_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
            || self.unusable.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// The key that verifies a token with header `alg` and `kid`.
    pub(crate) fn select(&self, alg: Algorithm, kid: Option<&str>) -> Result<&DecodingKey, Error> {
        match kid {
            Some(kid) => self.select_by_kid(alg, kid),
            None => {
                let mut fitting = self.keys.iter().filter(|k| fits(k, alg));
                match (fitting.next(), fitting.next()) {
                    (Some(key), None) => Ok(&key.decoding),
                    (None, _) => Err(Error::NoKey {
                        alg: alg.to_string(),
                        kid: None,
                    }),
                    (Some(_), Some(_)) => Err(Error::AmbiguousKey {
                        alg: alg.to_string(),
                        candidates: 2 + fitting.count(),
                    }),
                }
            }
        }
    }

    fn select_by_kid(&self, alg: Algorithm, kid: &str) -> Result<&DecodingKey, Error> {
        let mut mismatch = None;
        let mut found: Option<&Key> = None;
        for key in self.keys.iter().filter(|k| k.kid.as_deref() == Some(kid)) {
            match (fits(key, alg), found) {
                (true, Some(_)) => {
                    return Err(Error::AmbiguousKey {
                        alg: alg.to_string(),
                        candidates: 2,
                    });
                }
                (true, None) => found = Some(key),
                (false, _) => mismatch = Some(misfit(key, alg)),
            }
        }
        if let Some(key) = found {
            return Ok(&key.decoding);
        }
        if let Some(reason) = mismatch {
            return Err(Error::KeyMismatch {
                kid: kid.to_owned(),
                alg: alg.to_string(),
                reason,
            });
        }
        match self
            .unusable
            .iter()
            .find(|k| k.kid.as_deref() == Some(kid))
            .map(|k| &k.reason)
        {
            Some(Reason::TooSmall(bits)) => Err(Error::KeyTooSmall {
                kid: kid.to_owned(),
                bits: *bits,
                min: MIN_RSA_BITS,
            }),
            Some(Reason::Invalid(reason)) => Err(Error::KeyInvalid {
                kid: kid.to_owned(),
                reason: reason.clone(),
            }),
            Some(Reason::NotForSigning(reason)) => Err(Error::KeyMismatch {
                kid: kid.to_owned(),
                alg: alg.to_string(),
                reason: reason.clone(),
            }),
            None => Err(Error::UnknownKid {
                kid: kid.to_owned(),
            }),
        }
    }
}

/// Whether `key` can verify `alg` (no allocation: this runs for every token).
fn fits(key: &Key, alg: Algorithm) -> bool {
    if key.alg.is_some_and(|key_alg| key_alg != alg) {
        return false;
    }
    match key.shape {
        Shape::Rsa { .. } => alg.is_rsa(),
        Shape::P256 => alg == Algorithm::ES256,
        Shape::P384 => alg == Algorithm::ES384,
        Shape::Ed25519 => alg == Algorithm::EdDSA,
    }
}

/// Why `key` cannot verify `alg`, for the error message.
fn misfit(key: &Key, alg: Algorithm) -> String {
    match key.alg {
        Some(key_alg) if key_alg != alg => format!("the key is for {key_alg}"),
        _ => format!("a {} key cannot verify {alg}", key.shape.name()),
    }
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Rsa { .. } => "RSA",
            Shape::P256 => "P-256",
            Shape::P384 => "P-384",
            Shape::Ed25519 => "Ed25519",
        }
    }
}

/// Reads one JWK; keys that cannot verify signatures come back as the reason.
fn read_key(value: serde_json::Value) -> Result<Key, Reason> {
    let jwk: Jwk = serde_json::from_value(value)
        .map_err(|e| Reason::Invalid(format!("not a supported jwk: {e}")))?;
    if let Some(use_) = &jwk.common.public_key_use
        && *use_ != PublicKeyUse::Signature
    {
        return Err(Reason::NotForSigning("the key's use is not sig".into()));
    }
    if let Some(ops) = &jwk.common.key_operations
        && !ops.contains(&KeyOperations::Verify)
    {
        return Err(Reason::NotForSigning(
            "the key's key_ops lack verify".into(),
        ));
    }
    let alg = match &jwk.common.key_algorithm {
        None => None,
        Some(a) => Some(
            a.to_string()
                .parse::<Algorithm>()
                .ok()
                .filter(|a| !a.is_hmac())
                .ok_or_else(|| Reason::NotForSigning(format!("the key is for {a}")))?,
        ),
    };
    let (shape, decoding) = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let n = crate::b64::decode(rsa.n.as_bytes())
                .ok_or_else(|| Reason::Invalid("n is not base64url".into()))?;
            let e = crate::b64::decode(rsa.e.as_bytes())
                .ok_or_else(|| Reason::Invalid("e is not base64url".into()))?;
            let bits = bit_length(&n);
            if bits < MIN_RSA_BITS {
                return Err(Reason::TooSmall(bits));
            }
            if bits > 8192 || e.is_empty() || e.len() > 8 {
                return Err(Reason::Invalid(format!(
                    "unsupported rsa key ({bits}-bit modulus, {}-byte exponent)",
                    e.len()
                )));
            }
            (
                Shape::Rsa { bits },
                DecodingKey::from_rsa_raw_components(&n, &e),
            )
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            let (shape, len) = match ec.curve {
                EllipticCurve::P256 => (Shape::P256, 32),
                EllipticCurve::P384 => (Shape::P384, 48),
                _ => return Err(Reason::Invalid("unsupported curve".into())),
            };
            let x = crate::b64::decode(ec.x.as_bytes()).filter(|x| x.len() == len);
            let y = crate::b64::decode(ec.y.as_bytes()).filter(|y| y.len() == len);
            let (Some(x), Some(y)) = (x, y) else {
                return Err(Reason::Invalid(format!(
                    "x and y must be {len}-byte base64url"
                )));
            };
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            (shape, DecodingKey::from_ec_der(&point))
        }
        AlgorithmParameters::OctetKeyPair(okp) => {
            if okp.curve != EllipticCurve::Ed25519 {
                return Err(Reason::Invalid("unsupported okp curve".into()));
            }
            let x = crate::b64::decode(okp.x.as_bytes())
                .filter(|x| x.len() == 32)
                .ok_or_else(|| Reason::Invalid("x must be 32-byte base64url".into()))?;
            (Shape::Ed25519, DecodingKey::from_ed_der(&x))
        }
        AlgorithmParameters::OctetKey(_) => {
            return Err(Reason::NotForSigning(
                "symmetric (oct) keys from a jwks are never used".into(),
            ));
        }
        _ => {
            return Err(Reason::Invalid("unsupported key type".into()));
        }
    };
    Ok(Key {
        kid: None,
        shape,
        alg,
        decoding,
    })
}

/// Bits in a big-endian unsigned integer, leading zeros ignored.
fn bit_length(bytes: &[u8]) -> usize {
    let Some(start) = bytes.iter().position(|b| *b != 0) else {
        return 0;
    };
    let rest = bytes.len() - start;
    let top = bytes.get(start).copied().unwrap_or(0);
    (rest - 1) * 8 + (8 - top.leading_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsm_sso_core::CodedError;

    #[test]
    fn bit_lengths() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[0, 0, 1]), 1);
        assert_eq!(bit_length(&[0x80, 0]), 16);
        assert_eq!(bit_length(&[0, 0x7f, 0]), 15);
    }

    #[test]
    fn malformed_documents() {
        for bad in [&b"[]"[..], b"{}", b"{\"keys\":{}}", b"not json"] {
            assert_eq!(
                KeySet::from_json(bad).unwrap_err().code(),
                "oidc.jwks.malformed"
            );
        }
        let many = format!("{{\"keys\":[{}]}}", vec!["{}"; MAX_KEYS + 1].join(","));
        assert_eq!(
            KeySet::from_json(many.as_bytes()).unwrap_err().code(),
            "oidc.jwks.malformed"
        );
    }

    #[test]
    fn unusable_keys_give_their_reason() {
        let jwks = br#"{"keys":[
            {"kty":"oct","kid":"sym","k":"c2VjcmV0"},
            {"kty":"OKP","crv":"Ed25519","kid":"enc","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty":"OKP","crv":"Ed25519","kid":"short","x":"AAAA"},
            {"kty":"RSA","kid":"small","n":"AQAB","e":"AQAB"},
            {"kty":"weird","kid":"w"}
        ]}"#;
        let set = KeySet::from_json(jwks).unwrap();
        assert!(set.is_empty());
        let code = |kid| set.select(Algorithm::EdDSA, Some(kid)).unwrap_err().code();
        assert_eq!(code("sym"), "oidc.jwks.key_mismatch");
        assert_eq!(code("enc"), "oidc.jwks.key_mismatch");
        assert_eq!(code("short"), "oidc.jwks.key_invalid");
        assert_eq!(code("small"), "oidc.jwks.key_too_small");
        assert_eq!(code("w"), "oidc.jwks.key_invalid");
        assert_eq!(code("nope"), "oidc.jwks.unknown_kid");
        assert_eq!(
            set.select(Algorithm::EdDSA, None).unwrap_err().code(),
            "oidc.jwks.no_key"
        );
    }
}
