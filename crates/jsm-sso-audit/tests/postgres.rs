//! `PostgresSink` against a real PostgreSQL server (started on 127.0.0.1 by
//! `scripts/peers.d/postgres.sh`, address in `JSM_SSO_POSTGRES_URL`): the chain written through
//! `AuditLog` verifies from the table, a restart continues it, writes are idempotent, the admin
//! queries filter in SQL, and a row changed or deleted in the database is detected.
//!
//! Without `JSM_SSO_POSTGRES_URL` each test prints a skip line and passes, unless
//! `JSM_SSO_REQUIRE_PEERS=1` (set by `scripts/test.sh`), when it fails.
#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "test code: a failed unwrap is a failed test; the skip line goes to stderr"
)]

use std::sync::Arc;

use jsm_sso_audit::sink::{AuditSink, FanOut, FileSink, FileSinkOptions, PostgresSink};
use jsm_sso_audit::{
    AuditEvent, AuditLog, CodedError, CustomerRef, Details, EventKind, Query, SigningKey, Timestamp,
};

/// The server's URL, or `None` after printing why the test skips (or panicking when peers
/// are required).
fn url() -> Option<String> {
    match std::env::var("JSM_SSO_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                !std::env::var("JSM_SSO_REQUIRE_PEERS").is_ok_and(|v| v == "1"),
                "JSM_SSO_POSTGRES_URL is not set and JSM_SSO_REQUIRE_PEERS=1: start scripts/peers.d/postgres.sh"
            );
            eprintln!(
                "skipped: JSM_SSO_POSTGRES_URL not set (scripts/peers.d/postgres.sh starts PostgreSQL)"
            );
            None
        }
    }
}

/// A table of its own for each test, so tests run in parallel on one server.
fn table(name: &str) -> String {
    format!("audit_{name}_{}", std::process::id())
}

fn event(i: i64) -> AuditEvent {
    let mut e = AuditEvent::new(
        Timestamp::from_unix_millis(1_700_000_000_000 + i),
        Details::OrganizationMemberAdded {
            organization: format!("org-{}", i % 3),
        },
    )
    .with_customer(CustomerRef::by_id(format!("cust-{}", i % 5)))
    .with_correlation_id(format!("corr-{}", i % 2));
    if i % 4 == 0 {
        e = e.failed("jira.http.status");
    }
    e
}

async fn client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

#[tokio::test]
async fn chain_round_trip_restart_and_queries() {
    let Some(url) = url() else { return };
    let t = table("roundtrip");
    let (key, pem) = SigningKey::generate().unwrap();
    let public = key.verifying_key().clone();
    let sink = Arc::new(PostgresSink::new(&url).with_table(&t).unwrap());
    let log = AuditLog::builder(sink.clone(), key)
        .checkpoint_every(5)
        .start()
        .await
        .unwrap();
    for i in 0..12 {
        log.record(event(i)).await.unwrap();
    }
    log.shutdown().await.unwrap();

    // a second run continues the chain the table holds
    let sink = Arc::new(PostgresSink::new(&url).with_table(&t).unwrap());
    let log = AuditLog::builder(sink.clone(), SigningKey::from_pem(pem.as_bytes()).unwrap())
        .start()
        .await
        .unwrap();
    log.record(event(12)).await.unwrap();
    log.shutdown().await.unwrap();

    let report = sink.verify(Some(&public)).await.unwrap().unwrap();
    assert_eq!(report.events, 13);
    assert_eq!(report.checkpoints, 4, "two interval, two close");

    let seqs = |q: Query| {
        let sink = sink.clone();
        async move {
            sink.query(&q)
                .await
                .unwrap()
                .into_iter()
                .map(|f| f.seq)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(seqs(Query::new().customer("cust-1")).await, vec![1, 7, 13]);
    assert_eq!(seqs(Query::new().success(false)).await, vec![0, 4, 9, 15]);
    assert_eq!(
        seqs(Query::new().correlation_id("corr-1").limit(3)).await,
        vec![1, 3, 6]
    );
    let from = Timestamp::from_unix_millis(1_700_000_000_002);
    let until = Timestamp::from_unix_millis(1_700_000_000_004);
    assert_eq!(seqs(Query::new().between(from, until)).await, vec![2, 3]);
    assert_eq!(
        seqs(
            Query::new()
                .kind(EventKind::OrganizationMemberAdded)
                .customer("cust-0")
                .success(false)
        )
        .await,
        vec![0]
    );
    assert!(
        seqs(Query::new().kind(EventKind::SigninFailed))
            .await
            .is_empty()
    );
    let found = sink
        .query(&Query::new().customer("cust-2").limit(1))
        .await
        .unwrap();
    assert_eq!(found[0].event, {
        let mut e = event(2);
        e.id = found[0].event.id;
        e
    });
}

#[tokio::test]
async fn writes_are_idempotent_and_fan_out_matches_the_file() {
    let Some(url) = url() else { return };
    let t = table("fanout");
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = SigningKey::generate().unwrap();
    let file = Arc::new(FileSink::new(dir.path(), FileSinkOptions::default()));
    let pg = Arc::new(PostgresSink::new(&url).with_table(&t).unwrap());
    let fan = Arc::new(FanOut::new(vec![
        file.clone() as Arc<dyn AuditSink>,
        pg.clone(),
    ]));
    let log = AuditLog::builder(fan, key).start().await.unwrap();
    for i in 0..7 {
        log.record(event(i)).await.unwrap();
    }
    log.shutdown().await.unwrap();

    let file_text = std::fs::read_to_string(&file.segments().unwrap()[0]).unwrap();
    let db = client(&url).await;
    let rows = db
        .query(&format!("SELECT line FROM {t} ORDER BY seq"), &[])
        .await
        .unwrap();
    let db_text: String = rows
        .iter()
        .map(|r| format!("{}\n", r.get::<_, String>(0)))
        .collect();
    assert_eq!(db_text, file_text, "the same records, byte for byte");

    // writing the same records again changes nothing
    let records: Vec<_> = file_text
        .lines()
        .map(|l| jsm_sso_audit::record::Record::from_line(l).unwrap())
        .collect();
    pg.write(&records).await.unwrap();
    let count: i64 = db
        .query_one(&format!("SELECT count(*) FROM {t}"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 8);
}

#[tokio::test]
async fn tampering_in_the_database_is_detected() {
    let Some(url) = url() else { return };
    let t = table("tamper");
    let (key, _) = SigningKey::generate().unwrap();
    let public = key.verifying_key().clone();
    let sink = Arc::new(PostgresSink::new(&url).with_table(&t).unwrap());
    let log = AuditLog::builder(sink.clone(), key).start().await.unwrap();
    for i in 0..6 {
        log.record(event(i)).await.unwrap();
    }
    log.shutdown().await.unwrap();
    assert!(sink.verify(Some(&public)).await.unwrap().is_ok());

    let db = client(&url).await;
    db.execute(
        &format!("UPDATE {t} SET line = replace(line, 'org-2', 'org-9') WHERE seq = 2"),
        &[],
    )
    .await
    .unwrap();
    let err = sink.verify(Some(&public)).await.unwrap().unwrap_err();
    assert_eq!(err.code(), "audit.verify.altered");
    assert_eq!(err.line(), 3);

    db.execute(&format!("DELETE FROM {t} WHERE seq = 2"), &[])
        .await
        .unwrap();
    let err = sink.verify(Some(&public)).await.unwrap().unwrap_err();
    assert_eq!(err.code(), "audit.verify.removed");

    db.execute(&format!("DELETE FROM {t} WHERE seq >= 5"), &[])
        .await
        .unwrap();
    db.execute(&format!("DELETE FROM {t} WHERE seq <= 2"), &[])
        .await
        .unwrap();
    let err = sink.verify(Some(&public)).await.unwrap().unwrap_err();
    assert_eq!(err.code(), "audit.verify.removed", "{err}");
}

#[tokio::test]
async fn unreachable_server_and_bad_table_names() {
    let Some(_) = url() else { return };
    // a port nothing listens on (bound, then released)
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sink = PostgresSink::new(format!("postgres://jsm_sso@127.0.0.1:{port}/postgres"));
    let err = sink.open().await.unwrap_err();
    assert_eq!(err.code(), "audit.sink.postgres");
    for bad in ["Audit", "a;drop table x", "", "1abc"] {
        let err = PostgresSink::new("postgres://x")
            .with_table(bad)
            .unwrap_err();
        assert_eq!(err.code(), "audit.sink.postgres", "{bad}");
    }
}
