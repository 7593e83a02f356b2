//! The per-input logic of the `audit_verify` fuzz target (`fuzz/fuzz_targets/audit_verify.rs`),
//! shared with the stable `fuzz_replay` test so the seed corpus runs through the same code.
//!
//! Included by path from the fuzz crate, so it depends on nothing but `jsm_sso_audit` and
//! `std`. The only failure a fuzzer reports is a panic (or a hang / out-of-memory); the
//! assertions below are invariants the verifier promises on any input.

use jsm_sso_audit::VerifyingKey;
use jsm_sso_audit::record::Record;
use jsm_sso_audit::verify::{Verifier, verify_log};

/// The public key of the seed log (`crates/jsm-sso-audit/tests/vectors`).
const PUBLIC_PEM: &str = include_str!("../vectors/audit-signing.pub.pem");

/// Verifies arbitrary bytes as a log: without a key, with the seed log's key, split in two
/// files at the middle newline, and each line on its own.
pub(crate) fn audit_verify(data: &[u8]) {
    let Ok(key) = VerifyingKey::from_pem(PUBLIC_PEM.as_bytes()) else {
        return;
    };
    let unkeyed = verify_log(data, None);
    let keyed = verify_log(data, Some(&key));
    if let Ok(report) = &keyed {
        // what verifies with the key verifies without it, with the same head
        assert_eq!(unkeyed.as_ref().map(|r| r.head).ok(), Some(report.head));
        assert!(report.count >= 1 && report.last_seq >= report.first_seq);
    }
    if let Err(e) = &unkeyed {
        // an error names a line inside the input (or one past its end)
        let lines = data.iter().filter(|b| **b == b'\n').count() as u64;
        assert!(
            e.line() <= lines.saturating_add(1),
            "{e:?} with {lines} lines"
        );
    }
    // the same bytes split over two files at a newline verify the same way
    if let Some(mid) = data
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i)
        .nth(data.len() % 7)
    {
        let (a, b) = data.split_at(mid.saturating_add(1));
        let mut verifier = Verifier::new(Some(&key));
        let split = verifier
            .feed_file(a)
            .and_then(|()| verifier.feed_file(b))
            .and_then(|()| verifier.finish());
        assert_eq!(split.is_ok(), keyed.is_ok());
    }
    for line in data.split(|b| *b == b'\n').take(64) {
        if let Ok(text) = std::str::from_utf8(line)
            && let Ok(record) = Record::from_line(text)
        {
            assert_eq!(record.line(), text);
        }
    }
}
