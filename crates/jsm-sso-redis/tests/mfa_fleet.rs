//! The TOTP replay guard of `jsm-sso-mfa` shared through Redis: a code accepted by one broker
//! instance is refused by another, and of many instances racing with one code exactly one
//! accepts it. Skipped without `JSM_SSO_REDIS_URL` unless `JSM_SSO_REQUIRE_PEERS=1`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::sync::Arc;

use jsm_sso_core::clock::SystemClock;
use jsm_sso_core::{Clock, CodedError};
use jsm_sso_mfa::{TotpParams, TotpSecret, TotpVerifier};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_code_used_on_one_instance_is_refused_on_the_others() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let prefix = common::unique_prefix("mfa");
    let mut verifiers = Vec::new();
    for _ in 0..4 {
        let store = Arc::new(common::store(&url, &prefix).await);
        verifiers.push(TotpVerifier::new(Arc::new(SystemClock), store));
    }
    let secret = TotpSecret::generate(TotpParams::default()).unwrap();

    // Sequential: accepted on instance 0, refused on 1, 2 and 3.
    let code = secret.totp(SystemClock.now()).unwrap();
    verifiers[0].verify("cust-1", &secret, &code).await.unwrap();
    for other in &verifiers[1..] {
        let err = other.verify("cust-1", &secret, &code).await.unwrap_err();
        assert_eq!(err.code(), "mfa.code.replayed");
    }

    // Racing: 200 submissions of one code for another customer over the four instances.
    let verifiers = Arc::new(verifiers);
    let secret = Arc::new(secret);
    let barrier = Arc::new(tokio::sync::Barrier::new(200));
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (verifiers, secret, barrier) = (verifiers.clone(), secret.clone(), barrier.clone());
        let code = code.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            verifiers[i % 4]
                .verify("cust-2", &secret, &code)
                .await
                .map_err(|e| e.code())
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(code) => assert_eq!(code, "mfa.code.replayed"),
        }
    }
    assert_eq!(accepted, 1);
}
