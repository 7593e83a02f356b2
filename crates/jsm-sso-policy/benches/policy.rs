//! Compile time and decision time (with the full explanation) at 100, 10,000 and 100,000
//! rules. Criterion ids: `policy/compile/{n}` and `policy/decide/{n}`.
//!
//! In test mode (`cargo test --bench policy`, a debug build that runs each bench once) the
//! 100,000-rule size is left out: parsing 15 MB of TOML unoptimised takes longer than a CI
//! smoke run should, and the 10,000-rule size runs the same code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs,
    reason = "bench code"
)]

#[path = "support/mapping.rs"]
mod mapping;

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use jsm_sso_core::VerifiedIdentity;
use jsm_sso_core::identity::{Protocol, Subject};
use jsm_sso_policy::{Format, load_str};

const SIZES: [usize; 3] = [100, 10_000, 100_000];

fn identity(s: &mapping::SynthIdentity) -> VerifiedIdentity {
    let mut id = VerifiedIdentity::new(
        s.idp.as_str(),
        Protocol::Oidc,
        Subject::new("s"),
        SystemTime::UNIX_EPOCH,
    );
    id.email = Some(s.email.parse().unwrap());
    id.email_verified = true;
    id.groups.clone_from(&s.groups);
    id.attributes
        .insert("department".into(), vec![s.department.clone()]);
    id.attributes
        .insert("cost_center".into(), vec![s.cost_center.clone()]);
    id
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("policy");
    group.warm_up_time(Duration::from_millis(500));
    let test_mode = std::env::args().any(|a| a == "--test");
    for n in SIZES {
        if test_mode && n > 10_000 {
            continue;
        }
        let text = mapping::toml(n);
        group.sample_size(if n >= 10_000 { 10 } else { 50 });
        let mut compiled = None;
        group.bench_with_input(BenchmarkId::new("compile", n), &text, |b, text| {
            // Load + validate + index; dropping the result is not part of it.
            b.iter_with_large_drop(|| {
                load_str(black_box(text), Format::Toml, "bench.toml").unwrap()
            });
            compiled = Some(load_str(text, Format::Toml, "bench.toml").unwrap());
        });
        let policy =
            compiled.unwrap_or_else(|| load_str(&text, Format::Toml, "bench.toml").unwrap());
        let identities: Vec<_> = mapping::identities(n, 256).iter().map(identity).collect();
        group.sample_size(100);
        group.bench_function(BenchmarkId::new("decide", n), |b| {
            let mut i = 0usize;
            b.iter(|| {
                i = (i + 1) % identities.len();
                black_box(policy.evaluate(black_box(&identities[i])))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
