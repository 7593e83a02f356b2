//! ID token validation against the raw signature-verify floor.
//!
//! - `oidc/validate/{rs256,es256,eddsa}`: [`IdTokenValidator::validate`] on a realistic
//!   ID token (about 20 claims) with a three-key JWKS: parse, header checks, key selection,
//!   signature, every claim check.
//! - `oidc/floor/{rs256,es256,eddsa}`: ring's signature verify alone, on the same signing
//!   input with the same public key (already decoded): the least any validator must spend.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs,
    reason = "bench set-up: a failed unwrap is a broken bench"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use jsm_sso_core::clock::FixedClock;
use jsm_sso_oidc::{Expectations, IdTokenValidator, KeySet};
use jsm_sso_testkit::oidc::{TestIssuer, TestKey};
use ring::signature as rs;
use serde_json::{Value, json};

const T0: u64 = 1_700_000_000;

fn b64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

/// The raw verify with ring of `token`'s signature, with `jwk`'s key decoded up front.
fn floor(token: &str, jwk: &Value) -> impl Fn() -> bool + use<> {
    let (input, sig) = token.rsplit_once('.').unwrap();
    let (input, sig) = (input.as_bytes().to_vec(), b64(sig));
    let field = |name: &str| b64(jwk[name].as_str().unwrap());
    enum K {
        Rsa(Vec<u8>, Vec<u8>),
        Other(&'static dyn rs::VerificationAlgorithm, Vec<u8>),
    }
    let key = match jwk["kty"].as_str().unwrap() {
        "RSA" => K::Rsa(field("n"), field("e")),
        "EC" => {
            let mut point = vec![4];
            point.extend(field("x"));
            point.extend(field("y"));
            K::Other(&rs::ECDSA_P256_SHA256_FIXED, point)
        }
        _ => K::Other(&rs::ED25519, field("x")),
    };
    move || match &key {
        K::Rsa(n, e) => rs::RsaPublicKeyComponents { n, e }
            .verify(&rs::RSA_PKCS1_2048_8192_SHA256, &input, &sig)
            .is_ok(),
        K::Other(alg, k) => rs::UnparsedPublicKey::new(*alg, k)
            .verify(&input, &sig)
            .is_ok(),
    }
}

fn bench(c: &mut Criterion) {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(T0);
    let mut issuer = TestIssuer::new(
        "https://op.example",
        "portal",
        Arc::new(FixedClock::new(now)),
    );
    issuer.publish(TestKey::es256());
    issuer.publish(TestKey::eddsa());
    let keys = KeySet::from_json(issuer.jwks().to_string().as_bytes()).unwrap();
    let validator = IdTokenValidator::new("https://op.example", "portal");
    let expect = Expectations::at(now).nonce("n-0S6_WzA2Mj");

    for (name, key) in [
        ("rs256", TestKey::rs256()),
        ("es256", TestKey::es256()),
        ("eddsa", TestKey::eddsa()),
    ] {
        let token = issuer
            .id_token()
            .sign_with(&key)
            .claim("nonce", "n-0S6_WzA2Mj")
            .claim("email", "jane.customer@example.org")
            .claim("email_verified", true)
            .claim("name", "Jane Customer")
            .claim("given_name", "Jane")
            .claim("family_name", "Customer")
            .claim("preferred_username", "jane")
            .claim("locale", "en-GB")
            .claim("sid", "08a5019c-17e1-4977-8f42-65a12843ea02")
            .claim("groups", json!(["customers", "emea", "gold-support"]))
            .claim("at_hash", "77QmUPtjPfzWtF2AnpK9RQ")
            .build();
        assert!(validator.validate(&token, &keys, &expect).is_ok(), "{name}");
        let raw = floor(&token, &key.jwk());
        assert!(raw(), "{name} floor");

        c.bench_function(&format!("oidc/validate/{name}"), |b| {
            b.iter(|| {
                validator
                    .validate(black_box(&token), &keys, &expect)
                    .is_ok()
            });
        });
        c.bench_function(&format!("oidc/floor/{name}"), |b| {
            b.iter(|| black_box(&raw)())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
