//! Every way of tampering with a written log is detected, and named by its first line:
//! one line altered (with and without a recomputed hash, and the whole tail rewritten),
//! a line deleted (first, middle, last), two lines swapped, a line duplicated, the tail
//! removed (after the last checkpoint, and back to an interval checkpoint), a cut last line,
//! the wrong key, an unsigned checkpoint.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::sync::Arc;

use jsm_sso_audit::sink::MemorySink;
use jsm_sso_audit::verify::{Verifier, verify_log};
use jsm_sso_audit::{
    AuditEvent, AuditLog, CodedError, CustomerRef, Details, SigningKey, Timestamp, VerifyError,
    VerifyingKey,
};

/// A sealed log of 10 events with a checkpoint after every 4 records:
/// lines 1-4 events, 5 checkpoint, 6-9 events, 10 checkpoint, 11-12 events, 13 close.
async fn sealed_log() -> (Vec<String>, VerifyingKey) {
    let sink = Arc::new(MemorySink::new());
    let (key, _) = SigningKey::generate().unwrap();
    let public = key.verifying_key().clone();
    let log = AuditLog::builder(sink.clone(), key)
        .checkpoint_every(4)
        .start()
        .await
        .unwrap();
    for i in 0..10 {
        let event = AuditEvent::new(
            Timestamp::from_unix_millis(1_700_000_000_000 + i),
            Details::PortalAccessGranted {
                portal: format!("portal-{i}"),
            },
        )
        .with_customer(CustomerRef::by_id(format!("customer-{i}")));
        log.record(event).await.unwrap();
    }
    log.shutdown().await.unwrap();
    let lines = sink
        .to_jsonl()
        .lines()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    assert_eq!(lines.len(), 13);
    (lines, public)
}

fn join(lines: &[String]) -> Vec<u8> {
    let mut out = lines.join("\n").into_bytes();
    out.push(b'\n');
    out
}

fn verify(
    lines: &[String],
    key: &VerifyingKey,
) -> Result<jsm_sso_audit::verify::VerifyReport, VerifyError> {
    verify_log(&join(lines), Some(key))
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What an attacker without the key can do: recompute a line's hash after editing it.
fn rehash(line: &str) -> (String, String) {
    let at = line.rfind(",\"hash\":\"").unwrap();
    let hash = sha256_hex(&line.as_bytes()[..at]);
    (format!("{},\"hash\":\"{hash}\"}}", &line[..at]), hash)
}

fn hash_of(line: &str) -> String {
    let at = line.rfind(",\"hash\":\"").unwrap();
    line[at + 9..at + 9 + 64].to_owned()
}

#[tokio::test]
async fn intact_log_verifies_with_count_and_head() {
    let (lines, key) = sealed_log().await;
    let report = verify(&lines, &key).unwrap();
    assert_eq!(report.count, 13);
    assert_eq!(report.events, 10);
    assert_eq!(report.checkpoints, 3);
    assert_eq!((report.first_seq, report.last_seq), (0, 12));
    assert_eq!(report.head.to_string(), hash_of(&lines[12]));
    assert!(report.signatures_checked);
    // without the key the chain is still checked
    assert!(!verify_log(&join(&lines), None).unwrap().signatures_checked);
}

#[tokio::test]
async fn one_altered_line_is_named() {
    let (mut lines, key) = sealed_log().await;
    lines[6] = lines[6].replace("portal-5", "portal-X");
    let err = verify(&lines, &key).unwrap_err();
    assert_eq!(err.code(), "audit.verify.altered");
    assert_eq!(err.line(), 7);
}

#[tokio::test]
async fn altered_line_with_recomputed_hash_breaks_the_next_link() {
    let (mut lines, key) = sealed_log().await;
    let edited = lines[2].replace("customer-2", "customer-9");
    lines[2] = rehash(&edited).0;
    let err = verify(&lines, &key).unwrap_err();
    assert_eq!(err.code(), "audit.verify.altered");
    assert_eq!(err.line(), 3, "{err}");
}

#[tokio::test]
async fn rewritten_tail_fails_the_next_signed_checkpoint() {
    let (mut lines, key) = sealed_log().await;
    // the attacker edits line 2 and re-chains everything after it, as far as they can
    let edited = lines[1].replace("portal-1", "portal-evil");
    let (mut line, mut hash) = rehash(&edited);
    lines[1] = line;
    for l in lines.iter_mut().skip(2) {
        let prev_at = l.find("\"prev\":\"").unwrap() + 8;
        let relinked = format!("{}{}{}", &l[..prev_at], hash, &l[prev_at + 64..]);
        (line, hash) = rehash(&relinked);
        *l = line;
    }
    // the chain alone looks fine: only the signature tells
    assert!(verify_log(&join(&lines), None).is_ok());
    let err = verify(&lines, &key).unwrap_err();
    assert_eq!(err.code(), "audit.verify.signature");
    assert_eq!(err.line(), 5, "the first checkpoint after the edit: {err}");
}

#[tokio::test]
async fn deletions_are_detected() {
    let (lines, key) = sealed_log().await;
    let mut middle = lines.clone();
    middle.remove(6);
    let err = verify(&middle, &key).unwrap_err();
    assert_eq!(err.code(), "audit.verify.removed");
    assert_eq!(err.line(), 7);
    assert!(
        matches!(err, VerifyError::Removed { from: 6, to: 6, .. }),
        "{err:?}"
    );

    let mut first = lines.clone();
    first.remove(0);
    let err = verify(&first, &key).unwrap_err();
    assert_eq!(err.code(), "audit.verify.removed");
    assert_eq!(err.line(), 1);
}

#[tokio::test]
async fn swapped_lines_are_reordered() {
    let (mut lines, key) = sealed_log().await;
    lines.swap(6, 7);
    let err = verify(&lines, &key).unwrap_err();
    assert_eq!(err.code(), "audit.verify.reordered");
    assert_eq!(err.line(), 7);
    assert!(
        matches!(
            err,
            VerifyError::Reordered {
                expected: 6,
                actual: 7,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn duplicated_line_is_reordered() {
    let (mut lines, key) = sealed_log().await;
    let copy = lines[3].clone();
    lines.insert(4, copy);
    let err = verify(&lines, &key).unwrap_err();
    assert_eq!(err.code(), "audit.verify.reordered");
    assert_eq!(err.line(), 5);
}

#[tokio::test]
async fn truncations_are_detected() {
    let (lines, key) = sealed_log().await;
    // the closing checkpoint removed
    let err = verify(&lines[..12], &key).unwrap_err();
    assert_eq!(err.code(), "audit.verify.truncated");
    assert_eq!(err.line(), 13);
    // the tail after the last interval checkpoint removed (events and close)
    let err = verify(&lines[..10], &key).unwrap_err();
    assert_eq!(err.code(), "audit.verify.truncated");
    assert!(
        matches!(
            err,
            VerifyError::Truncated {
                line: 11,
                last_line: 10,
                last_seal: 10
            }
        ),
        "{err:?}"
    );
    // cut back to a few events
    let err = verify(&lines[..3], &key).unwrap_err();
    assert_eq!(err.code(), "audit.verify.truncated");
}

#[tokio::test]
async fn cut_last_line_is_a_partial_line() {
    let (lines, key) = sealed_log().await;
    let mut bytes = join(&lines);
    bytes.truncate(bytes.len() - 20);
    let err = verify_log(&bytes, Some(&key)).unwrap_err();
    assert_eq!(err.code(), "audit.verify.partial_line");
    assert_eq!(err.line(), 13);
}

#[tokio::test]
async fn wrong_key_and_missing_signature() {
    let (lines, _) = sealed_log().await;
    let (other, _) = SigningKey::generate().unwrap();
    let err = verify(&lines, other.verifying_key()).unwrap_err();
    assert_eq!(err.code(), "audit.verify.key_mismatch");
    assert_eq!(err.line(), 5);

    let mut unsigned = lines.clone();
    let at = unsigned[4].find(",\"sig\":\"").unwrap();
    let hash_at = unsigned[4].rfind(",\"hash\":\"").unwrap();
    let stripped = format!("{}{}", &unsigned[4][..at], &unsigned[4][hash_at..]);
    unsigned[4] = rehash(&stripped).0;
    let err = verify_log(&join(&unsigned), None).unwrap_err();
    assert_eq!(err.code(), "audit.verify.malformed");
    assert_eq!(err.line(), 5);
}

#[tokio::test]
async fn garbage_and_empty() {
    assert_eq!(
        verify_log(b"", None).unwrap_err().code(),
        "audit.verify.empty"
    );
    assert_eq!(
        verify_log(b"{}\n", None).unwrap_err().code(),
        "audit.verify.malformed"
    );
    assert_eq!(
        verify_log(b"\xff\xfe\n", None).unwrap_err().code(),
        "audit.verify.malformed"
    );
    let (lines, key) = sealed_log().await;
    let future = rehash(&lines[0].replacen("{\"v\":1,", "{\"v\":2,", 1)).0;
    let err = verify_log(format!("{future}\n").as_bytes(), Some(&key)).unwrap_err();
    assert_eq!(err.code(), "audit.verify.version");
    let err = verify(&[lines[0].clone(), String::new(), lines[1].clone()], &key).unwrap_err();
    assert_eq!(err.code(), "audit.verify.malformed");
    assert_eq!(err.line(), 2);
}

#[tokio::test]
async fn verifier_reads_files_in_order() {
    let (lines, key) = sealed_log().await;
    // one log split over two files verifies when they are given in order
    let mut verifier = Verifier::new(Some(&key));
    verifier.feed_file(&join(&lines[..5])).unwrap();
    verifier.feed_file(&join(&lines[5..])).unwrap();
    assert_eq!(verifier.finish().unwrap().count, 13);
    // and not in the wrong order; the second file alone starts mid-chain (head removed)
    let mut verifier = Verifier::new(Some(&key));
    let err = verifier.feed_file(&join(&lines[5..])).unwrap_err();
    assert_eq!(err.code(), "audit.verify.removed");
    assert_eq!(err.line(), 1);
}
