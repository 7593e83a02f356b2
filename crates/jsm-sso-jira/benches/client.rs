//! Client overhead on the in-process JSM: one request through the whole path (auth, limit,
//! retry loop, JSON), a page stream, and the directory's ensure-customer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "bench set-up: a failure is a failed bench"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use jsm_sso_core::CustomerDirectory;
use jsm_sso_jira::memory::MemoryJsm;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let jsm = MemoryJsm::new();
    for n in 0..200 {
        jsm.add_organization(&format!("Org {n}"));
    }
    let client = jsm.client();
    c.bench_function("get organization (in-process)", |b| {
        b.iter(|| rt.block_on(client.organization("7")).unwrap());
    });
    c.bench_function("list 200 organizations (4 pages)", |b| {
        b.iter(|| rt.block_on(client.organizations().try_collect()).unwrap());
    });
    let directory = jsm.directory();
    let email = "existing@acme.example".parse().unwrap();
    rt.block_on(directory.create_customer(&email, "Existing"))
        .unwrap();
    c.bench_function("ensure existing customer (409 then search)", |b| {
        b.iter(|| {
            rt.block_on(directory.create_customer(&email, "Existing"))
                .unwrap()
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
