//! The log's and the file sink's own failure codes: a log used after shutdown, a shutdown
//! whose last records cannot be written, a log directory whose last line is not a record,
//! and a log directory that is not a directory.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::sync::Arc;
use std::time::Duration;

use jsm_sso_audit::sink::{FileSink, FileSinkOptions, MemorySink};
use jsm_sso_audit::{
    AuditEvent, AuditLog, CodedError, Details, RetryPolicy, SigningKey, Timestamp,
};

fn event() -> AuditEvent {
    AuditEvent::new(
        Timestamp::from_unix_millis(1_700_000_000_000),
        Details::PortalAccessGranted {
            portal: "2".to_owned(),
        },
    )
}

#[tokio::test]
async fn a_log_used_after_shutdown_is_closed() {
    let sink = Arc::new(MemorySink::new());
    let (key, _) = SigningKey::generate().unwrap();
    let log = AuditLog::builder(sink.clone(), key).start().await.unwrap();
    let other_handle = log.clone();
    log.shutdown().await.unwrap();

    assert_eq!(
        other_handle.record(event()).await.unwrap_err().code(),
        "audit.log.closed"
    );
    let refused = event();
    let (back, err) = other_handle.try_record(refused.clone()).unwrap_err();
    assert_eq!(err.code(), "audit.log.closed");
    assert_eq!(*back, refused, "the refused event is handed back");
    assert_eq!(
        other_handle.flush().await.unwrap_err().code(),
        "audit.log.closed"
    );
    assert_eq!(
        other_handle.shutdown().await.unwrap_err().code(),
        "audit.log.closed"
    );
}

#[tokio::test]
async fn a_shutdown_that_cannot_write_its_records_says_so() {
    let sink = Arc::new(MemorySink::new());
    let (key, _) = SigningKey::generate().unwrap();
    let log = AuditLog::builder(sink.clone(), key)
        .retry(RetryPolicy::new(
            2,
            Duration::from_millis(1),
            Duration::from_millis(2),
        ))
        .start()
        .await
        .unwrap();
    sink.set_available(false);
    let err = log.shutdown().await.unwrap_err();
    assert_eq!(err.code(), "audit.log.unflushed", "{err}");
    assert!(sink.records().is_empty());
}

#[tokio::test]
async fn a_log_directory_whose_last_line_is_not_a_record_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("audit-000001.jsonl"),
        "{\"not\":\"a record\"}\n",
    )
    .unwrap();
    let sink = Arc::new(FileSink::new(dir.path(), FileSinkOptions::default()));
    let (key, _) = SigningKey::generate().unwrap();
    let err = AuditLog::builder(sink, key).start().await.unwrap_err();
    assert_eq!(err.code(), "audit.sink.corrupt", "{err}");
    // Nothing was appended after the line it could not read.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("audit-000001.jsonl")).unwrap(),
        "{\"not\":\"a record\"}\n"
    );
}

#[tokio::test]
async fn a_log_directory_that_is_a_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, "").unwrap();
    let sink = Arc::new(FileSink::new(&file, FileSinkOptions::default()));
    let (key, _) = SigningKey::generate().unwrap();
    let err = AuditLog::builder(sink, key).start().await.unwrap_err();
    assert_eq!(err.code(), "audit.sink.io", "{err}");
}
