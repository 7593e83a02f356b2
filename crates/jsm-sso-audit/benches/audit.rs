//! Events per second through `AuditLog` into the file sink (group commit: one write and one
//! fsync per batch) and into the memory sink, and verification speed. Each iteration records
//! 1000 events and waits (`flush`) until they are stored.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "bench set-up")]

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jsm_sso_audit::sink::{AuditSink, FileSink, FileSinkOptions, MemorySink};
use jsm_sso_audit::verify::verify_log;
use jsm_sso_audit::{AuditEvent, AuditLog, CustomerRef, Details, SigningKey, Timestamp};

const EVENTS: u64 = 1000;

fn event(i: u64) -> AuditEvent {
    AuditEvent::new(
        Timestamp::from_unix_millis(1_700_000_000_000 + i as i64),
        Details::PortalAccessGranted {
            portal: "3".to_owned(),
        },
    )
    .with_customer(CustomerRef::by_id("5b10ac8d82e05b22cc7d4ef5"))
    .with_correlation_id("login-1")
}

async fn record_batch(log: &AuditLog) {
    for i in 0..EVENTS {
        log.record(event(i)).await.unwrap();
    }
    log.flush().await.unwrap();
}

fn bench_sinks(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("audit_log");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(20);

    let sinks: [(&str, Arc<dyn AuditSink>); 2] = [
        (
            "file_sink_fsync_per_batch",
            Arc::new(FileSink::new(dir.path(), FileSinkOptions::default())),
        ),
        ("memory_sink", Arc::new(MemorySink::new())),
    ];
    for (name, sink) in sinks {
        let (key, _) = SigningKey::generate().unwrap();
        let log = rt.block_on(AuditLog::builder(sink, key).start()).unwrap();
        group.bench_function(name, |b| b.to_async(&rt).iter(|| record_batch(&log)));
        rt.block_on(log.shutdown()).unwrap();
    }
    group.finish();

    // verification of a sealed log of 1000 events
    let memory = Arc::new(MemorySink::new());
    let (key, _) = SigningKey::generate().unwrap();
    let public = key.verifying_key().clone();
    rt.block_on(async {
        let log = AuditLog::builder(memory.clone(), key)
            .start()
            .await
            .unwrap();
        record_batch(&log).await;
        log.shutdown().await.unwrap();
    });
    let text = memory.to_jsonl();
    let mut group = c.benchmark_group("audit_verify");
    group.throughput(Throughput::Elements(EVENTS));
    group.bench_function("verify_with_key", |b| {
        b.iter(|| verify_log(text.as_bytes(), Some(&public)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench_sinks);
criterion_main!(benches);
