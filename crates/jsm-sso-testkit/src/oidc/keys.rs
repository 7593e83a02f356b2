//! Fixed test keys and their JWKs.

use std::sync::Arc;

use ring::signature::{self as rs, KeyPair as _};
use serde_json::{Value, json};

use super::b64;

const RSA_A: &[u8] = include_bytes!("../../keys/rsa2048-a.pk8");
const RSA_B: &[u8] = include_bytes!("../../keys/rsa2048-b.pk8");
const P256_A: &[u8] = include_bytes!("../../keys/p256-a.pk8");
const ED25519_A: &[u8] = include_bytes!("../../keys/ed25519-a.pk8");
const RSA_1024_JWK: &str = include_str!("../../keys/rsa1024.jwk.json");

#[derive(Debug)]
enum Pair {
    Rsa(rs::RsaKeyPair),
    P256(rs::EcdsaKeyPair),
    Ed(rs::Ed25519KeyPair),
}

/// A test signing key with a `kid` and the JWS algorithm it signs.
#[derive(Debug, Clone)]
pub struct TestKey {
    kid: String,
    alg: &'static str,
    der: &'static [u8],
    pair: Arc<Pair>,
}

impl TestKey {
    #[expect(
        clippy::expect_used,
        reason = "the key files are fixed test data shipped with the crate"
    )]
    fn rsa(der: &'static [u8], kid: &str) -> Self {
        let pair = rs::RsaKeyPair::from_pkcs8(der).expect("test RSA key parses");
        Self {
            kid: kid.into(),
            alg: "RS256",
            der,
            pair: Arc::new(Pair::Rsa(pair)),
        }
    }

    /// The first RSA 2048 key, `kid` `rsa-a`, RS256.
    #[must_use]
    pub fn rs256() -> Self {
        Self::rsa(RSA_A, "rsa-a")
    }

    /// The second RSA 2048 key, `kid` `rsa-b`, RS256 (the key after a rotation).
    #[must_use]
    pub fn rs256_b() -> Self {
        Self::rsa(RSA_B, "rsa-b")
    }

    /// The P-256 key, `kid` `ec-a`, ES256.
    #[must_use]
    #[expect(
        clippy::expect_used,
        reason = "the key file is fixed test data shipped with the crate"
    )]
    pub fn es256() -> Self {
        let rng = ring::rand::SystemRandom::new();
        let pair = rs::EcdsaKeyPair::from_pkcs8(&rs::ECDSA_P256_SHA256_FIXED_SIGNING, P256_A, &rng)
            .expect("test P-256 key parses");
        Self {
            kid: "ec-a".into(),
            alg: "ES256",
            der: P256_A,
            pair: Arc::new(Pair::P256(pair)),
        }
    }

    /// The Ed25519 key, `kid` `ed-a`, EdDSA.
    #[must_use]
    #[expect(
        clippy::expect_used,
        reason = "the key file is fixed test data shipped with the crate"
    )]
    pub fn eddsa() -> Self {
        let pair = rs::Ed25519KeyPair::from_pkcs8_maybe_unchecked(ED25519_A)
            .expect("test Ed25519 key parses");
        Self {
            kid: "ed-a".into(),
            alg: "EdDSA",
            der: ED25519_A,
            pair: Arc::new(Pair::Ed(pair)),
        }
    }

    /// The same key under another `kid`.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = kid.into();
        self
    }

    /// The public JWK of a 1024-bit RSA key (`kid` `weak-1024`), which relying parties must
    /// refuse. Its private key was discarded: tokens "signed" with it carry any signature.
    #[must_use]
    #[expect(clippy::expect_used, reason = "fixed test data shipped with the crate")]
    pub fn weak_rsa_jwk() -> Value {
        serde_json::from_str(RSA_1024_JWK).expect("weak key JWK parses")
    }

    /// The `kid`.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWS algorithm (`RS256`, `ES256`, `EdDSA`).
    #[must_use]
    pub fn alg(&self) -> &'static str {
        self.alg
    }

    /// The PKCS#8 DER private key (for `private_key_jwt` tests and for a real OP).
    #[must_use]
    pub fn pkcs8_der(&self) -> &'static [u8] {
        self.der
    }

    /// The public key bytes: PKCS#1 `RSAPublicKey` DER for RSA, the uncompressed point for
    /// P-256, the 32 bytes for Ed25519. An algorithm-confusion attacker uses these as an
    /// HMAC secret.
    #[must_use]
    pub fn public_bytes(&self) -> Vec<u8> {
        match &*self.pair {
            Pair::Rsa(p) => p.public().as_ref().to_vec(),
            Pair::P256(p) => p.public_key().as_ref().to_vec(),
            Pair::Ed(p) => p.public_key().as_ref().to_vec(),
        }
    }

    /// The public JWK with `kid`, `alg` and `use: sig`.
    #[must_use]
    pub fn jwk(&self) -> Value {
        match &*self.pair {
            Pair::Rsa(p) => {
                let c: rs::RsaPublicKeyComponents<Vec<u8>> = p.public().into();
                json!({"kty":"RSA","kid":self.kid,"alg":self.alg,"use":"sig",
                       "n":b64(&c.n),"e":b64(&c.e)})
            }
            Pair::P256(p) => {
                let point = p.public_key().as_ref();
                let (x, y) = point.get(1..).unwrap_or_default().split_at(32);
                json!({"kty":"EC","crv":"P-256","kid":self.kid,"alg":self.alg,"use":"sig",
                       "x":b64(x),"y":b64(y)})
            }
            Pair::Ed(p) => json!({"kty":"OKP","crv":"Ed25519","kid":self.kid,"alg":self.alg,
                                  "use":"sig","x":b64(p.public_key().as_ref())}),
        }
    }

    /// Signs `input` (the JWS signing input).
    #[must_use]
    #[expect(
        clippy::expect_used,
        reason = "signing with a valid test key does not fail"
    )]
    pub fn sign(&self, input: &[u8]) -> Vec<u8> {
        let rng = ring::rand::SystemRandom::new();
        match &*self.pair {
            Pair::Rsa(p) => {
                let mut sig = vec![0; p.public().modulus_len()];
                p.sign(&rs::RSA_PKCS1_SHA256, &rng, input, &mut sig)
                    .expect("RSA signing");
                sig
            }
            Pair::P256(p) => p
                .sign(&rng, input)
                .expect("ECDSA signing")
                .as_ref()
                .to_vec(),
            Pair::Ed(p) => p.sign(input).as_ref().to_vec(),
        }
    }
}
