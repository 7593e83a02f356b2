//! Interleaved A/B timing of ID token validation against ring's raw verify, for a machine
//! shared with other work where criterion's separate runs drift apart: each round times a
//! batch of validations and a batch of raw verifies back to back, and the ratio of the
//! per-round medians is printed. `cargo run --release --example validate_ratio`.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::print_stdout,
    missing_docs,
    reason = "a measurement tool, not library code"
)]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsm_sso_core::clock::FixedClock;
use jsm_sso_oidc::{Expectations, IdTokenValidator, KeySet};
use jsm_sso_testkit::oidc::{TestIssuer, TestKey};
use ring::signature as rs;
use serde_json::json;

fn b64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
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
            .claim("groups", json!(["customers", "emea", "gold-support"]))
            .build();
        let jwk = key.jwk();
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig = b64(sig);
        let field = |n: &str| b64(jwk[n].as_str().unwrap());
        let (n, e, x, y) = match name {
            "rs256" => (field("n"), field("e"), vec![], vec![]),
            "es256" => (vec![], vec![], field("x"), field("y")),
            _ => (vec![], vec![], field("x"), vec![]),
        };
        let point: Vec<u8> = [vec![4], x.clone(), y].concat();
        let raw = || match name {
            "rs256" => rs::RsaPublicKeyComponents { n: &n, e: &e }
                .verify(&rs::RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), &sig)
                .is_ok(),
            "es256" => rs::UnparsedPublicKey::new(&rs::ECDSA_P256_SHA256_FIXED, &point)
                .verify(input.as_bytes(), &sig)
                .is_ok(),
            _ => rs::UnparsedPublicKey::new(&rs::ED25519, &x)
                .verify(input.as_bytes(), &sig)
                .is_ok(),
        };
        assert!(raw() && validator.validate(&token, &keys, &expect).is_ok());
        let batch = 200;
        let (mut v, mut f) = (Vec::new(), Vec::new());
        for _ in 0..40 {
            let t = Instant::now();
            for _ in 0..batch {
                std::hint::black_box(
                    validator
                        .validate(std::hint::black_box(&token), &keys, &expect)
                        .is_ok(),
                );
            }
            v.push(t.elapsed().as_secs_f64() * 1e6 / f64::from(batch));
            let t = Instant::now();
            for _ in 0..batch {
                std::hint::black_box(raw());
            }
            f.push(t.elapsed().as_secs_f64() * 1e6 / f64::from(batch));
        }
        let (mv, mf) = (median(v), median(f));
        println!(
            "{name}: validate {mv:.1} us, floor {mf:.1} us, ratio {:.3}",
            mv / mf
        );
    }
}
