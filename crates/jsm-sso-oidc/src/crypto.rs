//! jsonwebtoken's crypto interface implemented with ring: the one crypto library of the
//! family (the XML-DSig crate uses it too).
//!
//! jsonwebtoken 11 ships only aws-lc-rs and RustCrypto backends; it lets a
//! [`CryptoProvider`] be plugged in instead. [`RING_PROVIDER`] is ours. The validator calls
//! its `verifier_factory` directly rather than through jsonwebtoken's process-wide default,
//! so whatever another crate installs there can never change how ID tokens are checked.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result as JwtResult};
use jsonwebtoken::signature;
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::signature as rs;

/// jsonwebtoken's [`CryptoProvider`] on ring: verifies and signs RS*, PS*, ES256, ES384,
/// EdDSA (Ed25519) and HS*.
pub(crate) static RING_PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory,
    verifier_factory,
    key_utils: KeyUtils::new_unimplemented(),
};

/// How a verifier checks: RSA from modulus and exponent, another public key, or HMAC.
enum Check {
    Rsa {
        params: &'static rs::RsaParameters,
        n: Vec<u8>,
        e: Vec<u8>,
    },
    Public {
        alg: &'static dyn rs::VerificationAlgorithm,
        key: Vec<u8>,
    },
    Hmac(ring::hmac::Key),
}

struct RingVerifier {
    alg: Algorithm,
    check: Check,
}

impl signature::Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> Result<(), signature::Error> {
        let ok = match &self.check {
            Check::Rsa { params, n, e } => rs::RsaPublicKeyComponents { n, e }
                .verify(params, msg, sig)
                .is_ok(),
            Check::Public { alg, key } => rs::UnparsedPublicKey::new(*alg, key)
                .verify(msg, sig)
                .is_ok(),
            Check::Hmac(key) => ring::hmac::verify(key, msg, sig).is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(signature::Error::new())
        }
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

fn rsa_params(alg: Algorithm) -> Option<&'static rs::RsaParameters> {
    Some(match alg {
        Algorithm::RS256 => &rs::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &rs::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &rs::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &rs::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &rs::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &rs::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

fn hmac_alg(alg: Algorithm) -> Option<ring::hmac::Algorithm> {
    Some(match alg {
        Algorithm::HS256 => ring::hmac::HMAC_SHA256,
        Algorithm::HS384 => ring::hmac::HMAC_SHA384,
        Algorithm::HS512 => ring::hmac::HMAC_SHA512,
        _ => return None,
    })
}

fn verifier_factory(alg: &Algorithm, key: &DecodingKey) -> JwtResult<Box<dyn JwtVerifier>> {
    let alg = *alg;
    let check = match (key.kind(), alg) {
        (DecodingKeyKind::RsaModulusExponent { n, e }, _) => Check::Rsa {
            params: rsa_params(alg).ok_or(ErrorKind::InvalidAlgorithm)?,
            n: n.clone(),
            e: e.clone(),
        },
        (DecodingKeyKind::SecretOrDer(bytes), Algorithm::ES256) => Check::Public {
            alg: &rs::ECDSA_P256_SHA256_FIXED,
            key: bytes.clone(),
        },
        (DecodingKeyKind::SecretOrDer(bytes), Algorithm::ES384) => Check::Public {
            alg: &rs::ECDSA_P384_SHA384_FIXED,
            key: bytes.clone(),
        },
        (DecodingKeyKind::SecretOrDer(bytes), Algorithm::EdDSA) => Check::Public {
            alg: &rs::ED25519,
            key: bytes.clone(),
        },
        (DecodingKeyKind::SecretOrDer(bytes), _) => match hmac_alg(alg) {
            Some(h) => Check::Hmac(ring::hmac::Key::new(h, bytes)),
            // An RSA key given as DER (not used by this crate): parse as SubjectPublicKeyInfo
            // content is not supported; refuse rather than guess.
            None => return Err(ErrorKind::InvalidKeyFormat.into()),
        },
    };
    Ok(Box::new(RingVerifier { alg, check }))
}

/// Signing through the provider (jsonwebtoken's `encode` after `install_default`): keys as
/// PKCS#8 DER for RSA, ECDSA and Ed25519, raw bytes for HMAC.
struct RingSigner {
    alg: Algorithm,
    key: SignKey,
}

enum SignKey {
    Rsa(rs::RsaKeyPair, &'static dyn rs::RsaEncoding),
    Ecdsa(rs::EcdsaKeyPair),
    Ed(rs::Ed25519KeyPair),
    Hmac(ring::hmac::Key),
}

impl signature::Signer<Vec<u8>> for RingSigner {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let rng = ring::rand::SystemRandom::new();
        match &self.key {
            SignKey::Rsa(pair, enc) => {
                let mut out = vec![0; pair.public().modulus_len()];
                pair.sign(*enc, &rng, msg, &mut out)
                    .map_err(|_| signature::Error::new())?;
                Ok(out)
            }
            SignKey::Ecdsa(pair) => pair
                .sign(&rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| signature::Error::new()),
            SignKey::Ed(pair) => Ok(pair.sign(msg).as_ref().to_vec()),
            SignKey::Hmac(key) => Ok(ring::hmac::sign(key, msg).as_ref().to_vec()),
        }
    }
}

impl JwtSigner for RingSigner {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

fn signer_factory(alg: &Algorithm, key: &EncodingKey) -> JwtResult<Box<dyn JwtSigner>> {
    let alg = *alg;
    let bytes = key.as_bytes();
    let bad = |_| jsonwebtoken::errors::Error::from(ErrorKind::InvalidKeyFormat);
    let key = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            let h = hmac_alg(alg).ok_or(ErrorKind::InvalidAlgorithm)?;
            SignKey::Hmac(ring::hmac::Key::new(h, bytes))
        }
        Algorithm::ES256 | Algorithm::ES384 => {
            let curve = if alg == Algorithm::ES256 {
                &rs::ECDSA_P256_SHA256_FIXED_SIGNING
            } else {
                &rs::ECDSA_P384_SHA384_FIXED_SIGNING
            };
            let rng = ring::rand::SystemRandom::new();
            SignKey::Ecdsa(rs::EcdsaKeyPair::from_pkcs8(curve, bytes, &rng).map_err(bad)?)
        }
        Algorithm::EdDSA => SignKey::Ed(
            rs::Ed25519KeyPair::from_pkcs8_maybe_unchecked(bytes)
                .map_err(|_| ErrorKind::InvalidKeyFormat)?,
        ),
        _ => {
            let enc: &'static dyn rs::RsaEncoding = match alg {
                Algorithm::RS256 => &rs::RSA_PKCS1_SHA256,
                Algorithm::RS384 => &rs::RSA_PKCS1_SHA384,
                Algorithm::RS512 => &rs::RSA_PKCS1_SHA512,
                Algorithm::PS256 => &rs::RSA_PSS_SHA256,
                Algorithm::PS384 => &rs::RSA_PSS_SHA384,
                _ => &rs::RSA_PSS_SHA512,
            };
            let pair = rs::RsaKeyPair::from_pkcs8(bytes)
                .or_else(|_| rs::RsaKeyPair::from_der(bytes))
                .map_err(|_| ErrorKind::InvalidKeyFormat)?;
            SignKey::Rsa(pair, enc)
        }
    };
    Ok(Box::new(RingSigner { alg, key }))
}

/// Verifies `signature` over `message` with `key`, through [`RING_PROVIDER`].
pub(crate) fn verify(alg: Algorithm, key: &DecodingKey, message: &[u8], signature: &[u8]) -> bool {
    match (RING_PROVIDER.verifier_factory)(&alg, key) {
        Ok(verifier) => verifier.verify(message, &signature.to_vec()).is_ok(),
        Err(_) => false,
    }
}

/// The left half of the token algorithm's hash of `value`, base64url: the `at_hash` /
/// `c_hash` of OIDC Core 3.1.3.6 (EdDSA with Ed25519 hashes with SHA-512).
pub(crate) fn half_hash(alg: Algorithm, value: &str) -> String {
    let digest_alg = match alg {
        Algorithm::RS384 | Algorithm::PS384 | Algorithm::ES384 | Algorithm::HS384 => {
            &ring::digest::SHA384
        }
        Algorithm::RS512 | Algorithm::PS512 | Algorithm::HS512 | Algorithm::EdDSA => {
            &ring::digest::SHA512
        }
        _ => &ring::digest::SHA256,
    };
    let digest = ring::digest::digest(digest_alg, value.as_bytes());
    let bytes = digest.as_ref();
    let half = bytes.get(..bytes.len() / 2).unwrap_or(bytes);
    crate::b64::encode(half)
}

/// Installs the ring provider as jsonwebtoken's process-wide default, for code that calls
/// jsonwebtoken's own `encode`/`decode`. Returns `false` when another provider was already
/// installed. This crate does not need it: it always verifies through ring directly.
pub fn install_ring_provider() -> bool {
    RING_PROVIDER.install_default().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_example_from_oidc_core() {
        // OIDC Core A.3: access token and at_hash of the RS256 example.
        assert_eq!(
            half_hash(
                Algorithm::RS256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }

    #[test]
    fn hmac_round_trip_and_wrong_key() {
        let signer = signer_factory(&Algorithm::HS256, &EncodingKey::from_secret(b"k1")).unwrap();
        let sig = signature::Signer::try_sign(&*signer, b"msg").unwrap();
        assert!(verify(
            Algorithm::HS256,
            &DecodingKey::from_secret(b"k1"),
            b"msg",
            &sig
        ));
        assert!(!verify(
            Algorithm::HS256,
            &DecodingKey::from_secret(b"k2"),
            b"msg",
            &sig
        ));
        assert!(!verify(
            Algorithm::HS256,
            &DecodingKey::from_secret(b"k1"),
            b"msh",
            &sig
        ));
    }

    #[test]
    fn ed25519_round_trip() {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = rs::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = rs::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let signer =
            signer_factory(&Algorithm::EdDSA, &EncodingKey::from_ed_der(pkcs8.as_ref())).unwrap();
        let sig = signature::Signer::try_sign(&*signer, b"msg").unwrap();
        let public = rs::KeyPair::public_key(&pair).as_ref().to_vec();
        let b64 = crate::b64::encode(&public);
        let key = DecodingKey::from_ed_components(&b64).unwrap();
        assert!(verify(Algorithm::EdDSA, &key, b"msg", &sig));
        assert!(!verify(Algorithm::EdDSA, &key, b"other", &sig));
        // The same key bytes under an ECDSA algorithm never verify.
        assert!(!verify(Algorithm::ES256, &key, b"msg", &sig));
    }
}
