//! The `AuditLog` handle and worker against real sinks: many concurrent writers keep one
//! valid chain across rotated files; backpressure and `try_record`; fail-closed refuses,
//! fail-open leaves a signed gap; the spool keeps events while the sink is down; a crash-cut
//! file is recovered; a restart continues the chain; privacy rules apply; queries filter.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::sync::Arc;
use std::time::Duration;

use jsm_sso_audit::sink::{AuditSink, FanOut, FileSink, FileSinkOptions, MemorySink, TracingSink};
use jsm_sso_audit::verify::verify_log;
use jsm_sso_audit::{
    AuditError, AuditEvent, AuditLog, CodedError, CustomerRef, Details, EventKind, FailureMode,
    FieldRule, Health, PersonalField, Privacy, Query, RetryPolicy, SigningKey, Source, Timestamp,
};
use jsm_sso_core::Secret;

fn at(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_700_000_000_000 + ms)
}

fn granted(i: u64) -> AuditEvent {
    AuditEvent::new(
        at(i as i64),
        Details::PortalAccessGranted {
            portal: format!("p{i}"),
        },
    )
    .with_customer(CustomerRef::by_id(format!("c{}", i % 7)))
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy::new(2, Duration::from_millis(1), Duration::from_millis(5))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_keep_one_chain_across_rotated_files() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = SigningKey::generate().unwrap();
    let public = key.verifying_key().clone();
    let sink = Arc::new(FileSink::new(
        dir.path(),
        FileSinkOptions::default().rotate_bytes(32 * 1024),
    ));
    let log = AuditLog::builder(sink.clone(), key)
        .queue_capacity(64)
        .checkpoint_every(100)
        .start()
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for t in 0..16u64 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..100u64 {
                log.record(granted(t * 1000 + i).with_correlation_id(format!("task-{t}")))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    log.shutdown().await.unwrap();
    assert!(matches!(
        log.record(granted(0)).await,
        Err(AuditError::Closed)
    ));

    let segments = sink.segments().unwrap();
    assert!(
        segments.len() > 2,
        "rotation should have made several files: {segments:?}"
    );
    let report = sink.verify(Some(public.clone())).await.unwrap().unwrap();
    assert_eq!(report.events, 1600);
    // each file on its own: the first from genesis, later ones from their rotate checkpoint
    for path in &segments {
        let bytes = std::fs::read(path).unwrap();
        verify_log(&bytes, Some(&public)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    // every task's events are there, in its own order
    let found = sink
        .query(&Query::new().correlation_id("task-3"))
        .await
        .unwrap();
    assert_eq!(found.len(), 100);
    let ports: Vec<_> = found
        .iter()
        .map(|f| match &f.event.details {
            Details::PortalAccessGranted { portal } => portal.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    let expected: Vec<_> = (0..100).map(|i| format!("p{}", 3000 + i)).collect();
    assert_eq!(ports, expected);
}

#[tokio::test]
async fn restart_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (key, pem) = SigningKey::generate().unwrap();
    let public = key.verifying_key().clone();
    let sink = Arc::new(FileSink::new(dir.path(), FileSinkOptions::default()));
    let log = AuditLog::builder(sink.clone(), key).start().await.unwrap();
    log.record(granted(1)).await.unwrap();
    log.shutdown().await.unwrap();

    let sink = Arc::new(FileSink::new(dir.path(), FileSinkOptions::default()));
    let key = SigningKey::from_pem(pem.as_bytes()).unwrap();
    let log = AuditLog::builder(sink.clone(), key).start().await.unwrap();
    log.record(granted(2)).await.unwrap();
    log.shutdown().await.unwrap();
    let report = sink.verify(Some(public)).await.unwrap().unwrap();
    assert_eq!((report.events, report.checkpoints), (2, 2));
}

#[tokio::test]
async fn crash_cut_line_is_reported_then_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let (key, pem) = SigningKey::generate().unwrap();
    let public = key.verifying_key().clone();
    let sink = Arc::new(FileSink::new(dir.path(), FileSinkOptions::default()));
    let log = AuditLog::builder(sink.clone(), key).start().await.unwrap();
    for i in 0..5 {
        log.record(granted(i)).await.unwrap();
    }
    log.shutdown().await.unwrap();
    // a crash in the middle of writing the sixth record, before any closing checkpoint
    let path = sink.segments().unwrap()[0].clone();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.pop(); // the close checkpoint was never written
    let mut crashed = lines.join("\n");
    crashed.push('\n');
    let partial = "{\"v\":1,\"seq\":5,\"prev\":\"00";
    crashed.push_str(partial);
    std::fs::write(&path, &crashed).unwrap();

    let err = verify_log(crashed.as_bytes(), Some(&public)).unwrap_err();
    assert_eq!(err.code(), "audit.verify.partial_line");
    assert_eq!(err.line(), 6);

    let sink = Arc::new(FileSink::new(dir.path(), FileSinkOptions::default()));
    let log = AuditLog::builder(sink.clone(), SigningKey::from_pem(pem.as_bytes()).unwrap())
        .start()
        .await
        .unwrap();
    log.shutdown().await.unwrap();
    let report = sink.verify(Some(public)).await.unwrap().unwrap();
    assert_eq!(report.events, 6, "5 events and audit.recovered");
    let recovered = sink
        .query(&Query::new().kind(EventKind::AuditRecovered))
        .await
        .unwrap();
    assert_eq!(recovered.len(), 1);
    assert_eq!(
        recovered[0].event.details,
        Details::AuditRecovered {
            truncated_bytes: partial.len() as u64,
            last_seq: 4
        }
    );
}

#[tokio::test]
async fn fail_closed_refuses_and_hands_events_back() {
    let sink = Arc::new(MemorySink::new());
    let (key, _) = SigningKey::generate().unwrap();
    let log = AuditLog::builder(sink.clone(), key)
        .retry(fast_retry())
        .queue_capacity(4)
        .start()
        .await
        .unwrap();
    sink.set_available(false);
    log.record(granted(1)).await.unwrap();
    // the worker fails the batch and starts refusing
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !matches!(log.health(), Health::Failing { .. }) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never failed: {:?}",
            log.health()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let err = log.record(granted(2)).await.unwrap_err();
    assert_eq!(err.code(), "audit.log.unavailable");
    let event = granted(3);
    let (back, err) = log.try_record(event.clone()).unwrap_err();
    assert_eq!(*back, event, "the event is handed back, not dropped");
    assert_eq!(err.code(), "audit.log.unavailable");
    // the held record is written once the sink is back, and nothing was lost
    sink.set_available(true);
    log.flush().await.unwrap();
    assert_eq!(log.health(), Health::Healthy);
    log.record(granted(4)).await.unwrap();
    log.shutdown().await.unwrap();
    let events: Vec<_> = sink
        .records()
        .iter()
        .filter_map(|r| r.event().cloned())
        .collect();
    assert_eq!(events.len(), 2);
    verify_log(sink.to_jsonl().as_bytes(), None).unwrap();
}

#[tokio::test]
async fn try_record_hands_back_when_the_queue_is_full() {
    let sink = Arc::new(MemorySink::new());
    let (key, _) = SigningKey::generate().unwrap();
    let log = AuditLog::builder(sink.clone(), key)
        .queue_capacity(2)
        .start()
        .await
        .unwrap();
    let mut handed_back = 0;
    for i in 0..1000 {
        match log.try_record(granted(i)) {
            Ok(()) => {}
            Err((event, err)) => {
                assert_eq!(err.code(), "audit.log.full");
                assert_eq!(event.details, granted(i).details);
                handed_back += 1;
                // backpressure: record waits for room instead
                log.record(*event).await.unwrap();
            }
        }
    }
    assert!(handed_back > 0, "a queue of 2 never filled up");
    log.shutdown().await.unwrap();
    assert_eq!(
        sink.records()
            .iter()
            .filter(|r| r.event().is_some())
            .count(),
        1000
    );
}

#[tokio::test]
async fn fail_open_writes_a_signed_gap() {
    let sink = Arc::new(MemorySink::new());
    let (key, _) = SigningKey::generate().unwrap();
    let public = key.verifying_key().clone();
    let log = AuditLog::builder(sink.clone(), key)
        .failure_mode(FailureMode::Open)
        .retry(fast_retry())
        .start()
        .await
        .unwrap();
    log.record(granted(0)).await.unwrap();
    log.flush().await.unwrap();
    sink.set_available(false);
    for i in 1..4 {
        log.record(granted(i)).await.unwrap();
    }
    let err = log.flush().await.unwrap_err();
    assert_eq!(err.code(), "audit.log.unavailable");
    assert!(
        matches!(log.health(), Health::Lossy { from: 1, .. }),
        "{:?}",
        log.health()
    );
    sink.set_available(true);
    log.record(granted(9)).await.unwrap();
    log.shutdown().await.unwrap();
    let report = verify_log(sink.to_jsonl().as_bytes(), Some(&public)).unwrap();
    assert_eq!(report.gaps.len(), 1, "{report:?}");
    let (from, to) = report.gaps[0];
    assert_eq!(from, 1);
    assert!(to >= 3, "{report:?}");
    let gap = sink.query(&Query::new().kind(EventKind::AuditGap));
    assert_eq!(gap.len(), 1);
    assert!(!gap[0].event.outcome.is_success());
}

#[tokio::test]
async fn spool_keeps_events_while_the_sink_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(MemorySink::new());
    let (key, _) = SigningKey::generate().unwrap();
    let public = key.verifying_key().clone();
    let log = AuditLog::builder(sink.clone(), key)
        .spool(dir.path().join("spool.jsonl"))
        .retry(fast_retry())
        .start()
        .await
        .unwrap();
    log.record(granted(0)).await.unwrap();
    log.flush().await.unwrap();
    sink.set_available(false);
    for i in 1..5 {
        log.record(granted(i)).await.unwrap();
    }
    log.flush().await.unwrap();
    assert!(
        matches!(log.health(), Health::Spooling { .. }),
        "{:?}",
        log.health()
    );
    let spooled = std::fs::read_to_string(dir.path().join("spool.jsonl")).unwrap();
    assert_eq!(spooled.lines().count(), 4);
    sink.set_available(true);
    tokio::time::sleep(Duration::from_millis(20)).await; // past the backoff
    log.record(granted(5)).await.unwrap();
    log.flush().await.unwrap();
    assert_eq!(log.health(), Health::Healthy);
    log.shutdown().await.unwrap();
    let report = verify_log(sink.to_jsonl().as_bytes(), Some(&public)).unwrap();
    assert_eq!(report.events, 6);
    assert!(report.gaps.is_empty());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("spool.jsonl")).unwrap(),
        ""
    );
}

#[tokio::test]
async fn privacy_rules_apply_before_writing() {
    let sink = Arc::new(MemorySink::new());
    let (key, _) = SigningKey::generate().unwrap();
    let privacy = Privacy::builder()
        .key(Secret::new("0123456789abcdef0123456789abcdef-test"))
        .rule(PersonalField::SourceIp, FieldRule::Pseudonymise)
        .rule(PersonalField::UserAgent, FieldRule::Drop)
        .build()
        .unwrap();
    let log = AuditLog::builder(sink.clone(), key)
        .privacy(privacy.clone())
        .start()
        .await
        .unwrap();
    let event = AuditEvent::new(
        at(0),
        Details::SigninFailed {
            stage: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln".into(),
        },
    )
    .failed("oidc.nonce.mismatch")
    .with_customer(
        CustomerRef::by_id("acc-1")
            .with_email("Alice@Example.com")
            .with_display_name("Alice A"),
    )
    .with_source(Source::new(
        Some("203.0.113.7".into()),
        Some("curl/8".into()),
    ));
    log.record(event).await.unwrap();
    log.shutdown().await.unwrap();
    let stored = sink.records()[0].event().unwrap().clone();
    let customer = stored.customer.clone().unwrap();
    assert_eq!(customer.id.as_deref(), Some("acc-1"));
    assert_eq!(
        customer.email,
        privacy.protect(PersonalField::Email, "alice@example.com")
    );
    assert!(customer.email.as_deref().unwrap().starts_with("hmac:"));
    assert_eq!(customer.display_name, None);
    let source = stored.source.clone().unwrap();
    assert!(source.ip.as_deref().unwrap().starts_with("hmac:"));
    assert_eq!(source.user_agent, None);
    assert_eq!(
        stored.details,
        Details::SigninFailed {
            stage: "[redacted]".into()
        }
    );
    let line = sink.to_jsonl();
    for secret in ["alice", "Alice", "203.0.113.7", "curl/8", "eyJ"] {
        assert!(!line.contains(secret), "{secret} leaked: {line}");
    }
    // the admin finds the customer by the pseudonym
    let email = privacy
        .protect(PersonalField::Email, "ALICE@example.com")
        .unwrap();
    assert_eq!(sink.query(&Query::new().customer(email)).len(), 1);
}

#[test]
fn privacy_configuration_is_validated() {
    let err = Privacy::builder()
        .rule(PersonalField::Email, FieldRule::Pseudonymise)
        .build()
        .unwrap_err();
    assert_eq!(err.code(), "audit.config.privacy_key_missing");
    let err = Privacy::builder()
        .key(Secret::new("short"))
        .build()
        .unwrap_err();
    assert_eq!(err.code(), "audit.config.privacy_key_short");
    let default = Privacy::default();
    assert_eq!(default.protect(PersonalField::Email, "a@b.c"), None);
    assert_eq!(
        default.protect(PersonalField::CustomerId, "x").as_deref(),
        Some("x")
    );
}

#[tokio::test]
async fn builder_refuses_zero_options() {
    let (key, _) = SigningKey::generate().unwrap();
    let err = AuditLog::builder(Arc::new(MemorySink::new()), key)
        .queue_capacity(0)
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.code(), "audit.config.option");
}

#[tokio::test]
async fn queries_filter_on_the_file_sink() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = SigningKey::generate().unwrap();
    let file = Arc::new(FileSink::new(dir.path(), FileSinkOptions::default()));
    let memory = Arc::new(MemorySink::new());
    let fanout = Arc::new(FanOut::new(vec![
        file.clone() as Arc<dyn AuditSink>,
        memory.clone(),
        Arc::new(TracingSink::new()),
    ]));
    let log = AuditLog::builder(fanout, key).start().await.unwrap();
    for i in 0..20u64 {
        let mut event = granted(i).with_correlation_id(format!("login-{}", i % 4));
        if i % 5 == 0 {
            event = event.failed("jira.customer.conflict");
        }
        log.record(event).await.unwrap();
    }
    log.record(AuditEvent::new(
        at(100),
        Details::SigninStarted { hint_domain: None },
    ))
    .await
    .unwrap();
    log.shutdown().await.unwrap();
    assert_eq!(memory.to_jsonl(), {
        let mut all = String::new();
        for p in file.segments().unwrap() {
            all.push_str(&std::fs::read_to_string(p).unwrap());
        }
        all
    });

    let q = |q: Query| {
        let file = file.clone();
        async move {
            file.query(&q)
                .await
                .unwrap()
                .into_iter()
                .map(|f| f.seq)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(q(Query::new().customer("c3")).await, vec![3, 10, 17]);
    assert_eq!(q(Query::new().success(false)).await, vec![0, 5, 10, 15]);
    assert_eq!(
        q(Query::new().correlation_id("login-1")).await,
        vec![1, 5, 9, 13, 17]
    );
    assert_eq!(q(Query::new().between(at(2), at(5))).await, vec![2, 3, 4]);
    assert_eq!(
        q(Query::new().kind(EventKind::SigninStarted)).await,
        vec![20]
    );
    assert_eq!(
        q(Query::new().customer("c3").success(false)).await,
        vec![10]
    );
    assert_eq!(q(Query::new().limit(2)).await, vec![0, 1]);
}
