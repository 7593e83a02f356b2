//! What a second-factor check costs: a code verified against a secret (±1 window, the three
//! algorithms), and opening a sealed secret, the other per-sign-in step.
//!
//! Ids: `mfa/verify/{sha1,sha256,sha512}`, `mfa/open`, `mfa/seal`. The verify bench uses a
//! replay cache that admits every key, so it measures this crate, not a store.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "bench code: a failure should stop the run loudly"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use jsm_sso_core::clock::FixedClock;
use jsm_sso_core::store::StoreError;
use jsm_sso_core::{Clock, ReplayCache};
use jsm_sso_mfa::{Algorithm, Sealer, SealingKey, TotpParams, TotpSecret, TotpVerifier};

/// Admits every key: the bench is about the code check, not a store.
struct AdmitAll;

#[async_trait::async_trait]
impl ReplayCache for AdmitAll {
    async fn insert_if_absent(&self, _: &str, _: SystemTime) -> Result<bool, StoreError> {
        Ok(true)
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let clock = Arc::new(FixedClock::new(
        UNIX_EPOCH + Duration::from_secs(1_750_000_000),
    ));
    let verifier = TotpVerifier::new(clock.clone(), Arc::new(AdmitAll));
    let mut group = c.benchmark_group("mfa");
    for (name, algorithm) in [
        ("sha1", Algorithm::Sha1),
        ("sha256", Algorithm::Sha256),
        ("sha512", Algorithm::Sha512),
    ] {
        let secret = TotpSecret::generate(TotpParams::new(algorithm, 6, 30).unwrap()).unwrap();
        // The previous step's code: a match found after the current step was computed.
        let code = secret.totp(clock.now() - Duration::from_secs(30)).unwrap();
        group.bench_function(format!("verify/{name}"), |b| {
            b.iter(|| {
                rt.block_on(verifier.verify("customer-1", black_box(&secret), black_box(&code)))
                    .unwrap()
            });
        });
    }
    let sealer = Sealer::new(SealingKey::from_bytes(&[9; 32]).unwrap());
    let secret = TotpSecret::generate(TotpParams::default()).unwrap();
    let sealed = sealer.seal("customer-1", &secret).unwrap();
    group.bench_function("open", |b| {
        b.iter(|| sealer.open("customer-1", black_box(&sealed)).unwrap());
    });
    group.bench_function("seal", |b| {
        b.iter(|| sealer.seal("customer-1", black_box(&secret)).unwrap());
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
