//! Throughput of the in-memory stores: `insert_if_absent` on the replay cache and
//! `put` + `take` on the state store, single-threaded and with contention.
#![expect(
    clippy::expect_used,
    reason = "a bench stops on a broken store; there is no caller to hand an error to"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jsm_sso_core::clock::SystemClock;
use jsm_sso_core::memory::{MemoryReplayCache, MemoryStateStore};
use jsm_sso_core::{Clock, ReplayCache, StateStore};

const BATCH: u64 = 1_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("tokio runtime")
}

fn expiry() -> SystemTime {
    SystemClock.now() + Duration::from_secs(300)
}

fn replay_cache(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("replay_cache");
    group.throughput(Throughput::Elements(BATCH));

    // Fresh keys; the cache is big enough for every iteration criterion runs, and
    // is replaced when it fills up.
    let cache = std::cell::RefCell::new(MemoryReplayCache::new(Arc::new(SystemClock), 4_000_000));
    let counter = AtomicU64::new(0);
    group.bench_function("insert_if_absent/fresh", |b| {
        b.iter(|| {
            if cache.borrow().len() > 3_900_000 {
                *cache.borrow_mut() = MemoryReplayCache::new(Arc::new(SystemClock), 4_000_000);
            }
            let cache = cache.borrow();
            let at = expiry();
            rt.block_on(async {
                for _ in 0..BATCH {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let key = format!("saml:idp:_{n}");
                    black_box(cache.insert_if_absent(&key, at).await.expect("insert"));
                }
            });
        });
    });

    // Replays: the same keys again and again (the common check on a replayed message).
    let warm = MemoryReplayCache::new(Arc::new(SystemClock), 10_000);
    let keys: Vec<String> = (0..BATCH).map(|n| format!("saml:idp:_{n}")).collect();
    rt.block_on(async {
        for key in &keys {
            warm.insert_if_absent(key, expiry()).await.expect("insert");
        }
    });
    group.bench_function("insert_if_absent/replay", |b| {
        b.iter(|| {
            let at = expiry();
            rt.block_on(async {
                for key in &keys {
                    black_box(warm.insert_if_absent(key, at).await.expect("insert"));
                }
            });
        });
    });

    // Contended: 4 tasks on 2 worker threads, inserting fresh keys concurrently.
    let shared = Arc::new(MemoryReplayCache::new(Arc::new(SystemClock), 4_000_000));
    let counter = Arc::new(AtomicU64::new(0));
    group.bench_function("insert_if_absent/4_tasks", |b| {
        b.iter(|| {
            if shared.len() > 3_900_000 {
                shared.purge_expired();
            }
            let at = expiry();
            rt.block_on(async {
                let tasks: Vec<_> = (0..4)
                    .map(|_| {
                        let cache = shared.clone();
                        let counter = counter.clone();
                        tokio::spawn(async move {
                            for _ in 0..BATCH / 4 {
                                let n = counter.fetch_add(1, Ordering::Relaxed);
                                let key = format!("oidc:nonce:{n}");
                                let _ = black_box(cache.insert_if_absent(&key, at).await);
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.expect("task");
                }
            });
        });
    });
    group.finish();
}

fn state_store(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("state_store");
    group.throughput(Throughput::Elements(BATCH));
    let store = MemoryStateStore::new(Arc::new(SystemClock), 100_000);
    let keys: Vec<String> = (0..BATCH).map(|n| format!("state:{n:016x}")).collect();
    let value = vec![7u8; 256];
    group.bench_function("put_take/256B", |b| {
        b.iter(|| {
            let at = expiry();
            rt.block_on(async {
                for key in &keys {
                    store.put(key, value.clone(), at).await.expect("put");
                }
                for key in &keys {
                    black_box(store.take(key).await.expect("take"));
                }
            });
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = replay_cache, state_store
}
criterion_main!(benches);
