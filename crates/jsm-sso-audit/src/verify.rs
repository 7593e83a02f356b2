//! Verification of a log: every line's hash, every link, every sequence number, every
//! signature (with the key), and the closing seal.

use std::collections::HashSet;

use crate::error::VerifyError;
use crate::keys::VerifyingKey;
use crate::record::{ChainHash, ParseError, RECORD_VERSION, Record};

/// What a successful verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Records checked (events and checkpoints; a rotated file's repeated first line once).
    pub count: u64,
    /// Event records among them.
    pub events: u64,
    /// Checkpoints among them.
    pub checkpoints: u64,
    /// First sequence number.
    pub first_seq: u64,
    /// Last sequence number.
    pub last_seq: u64,
    /// The hash of the last record: publish or anchor it, and a later rewrite shows.
    pub head: ChainHash,
    /// Whether signatures were checked (a key was given) — without a key only the chain is
    /// checked, which someone who rewrites the whole file can recompute.
    pub signatures_checked: bool,
    /// Signed gap records accepted (fail-open losses, each naming its range).
    pub gaps: Vec<(u64, u64)>,
}

/// Verifies one or more files of one log, in order (rotated files: oldest first).
///
/// ```
/// # use jsm_sso_audit::verify::Verifier;
/// let err = Verifier::new(None).finish().unwrap_err();
/// assert_eq!(jsm_sso_core::CodedError::code(&err), "audit.verify.empty");
/// ```
#[derive(Debug)]
pub struct Verifier<'k> {
    key: Option<&'k VerifyingKey>,
    state: Option<State>,
    /// Lines read so far over all files, for the line numbers in errors.
    line_base: u64,
}

#[derive(Debug)]
struct State {
    next_seq: u64,
    head: ChainHash,
    last_line: String,
    last_seals: bool,
    last_seal_line: u64,
    report: VerifyReport,
}

impl<'k> Verifier<'k> {
    /// A verifier; with a key it also checks every signature and that the log is signed by
    /// that key.
    #[must_use]
    pub fn new(key: Option<&'k VerifyingKey>) -> Self {
        Self {
            key,
            state: None,
            line_base: 0,
        }
    }

    /// Checks the next file of the log. Line numbers in errors count from the start of this
    /// file.
    ///
    /// # Errors
    ///
    /// The first problem found.
    pub fn feed_file(&mut self, bytes: &[u8]) -> Result<(), VerifyError> {
        self.line_base = 0;
        let (complete, partial) = match bytes.iter().rposition(|b| *b == b'\n') {
            Some(end) => bytes.split_at(end.saturating_add(1)),
            None => (&b""[..], bytes),
        };
        let lines: Vec<&[u8]> = complete
            .split(|b| *b == b'\n')
            .take(complete.iter().filter(|b| **b == b'\n').count())
            .collect();
        // every sequence number present, to tell a reorder from a deletion
        let seqs: HashSet<u64> = lines.iter().filter_map(|l| quick_seq(l)).collect();
        for (index, raw) in lines.iter().enumerate() {
            let line_no = u64::try_from(index).unwrap_or(u64::MAX).saturating_add(1);
            self.line(line_no, raw, &seqs, index == 0)?;
        }
        if !partial.is_empty() {
            return Err(VerifyError::PartialLine {
                line: u64::try_from(lines.len())
                    .unwrap_or(u64::MAX)
                    .saturating_add(1),
                bytes: u64::try_from(partial.len()).unwrap_or(u64::MAX),
            });
        }
        self.line_base = u64::try_from(lines.len()).unwrap_or(u64::MAX);
        Ok(())
    }

    fn line(
        &mut self,
        line_no: u64,
        raw: &[u8],
        seqs: &HashSet<u64>,
        first_in_file: bool,
    ) -> Result<(), VerifyError> {
        let text = std::str::from_utf8(raw).map_err(|_| VerifyError::Malformed {
            line: line_no,
            reason: "not utf-8".to_owned(),
        })?;
        // a rotated file starts with the previous file's last line, repeated
        if first_in_file
            && let Some(state) = &self.state
            && state.last_line == text
            && state.last_seals
        {
            return Ok(());
        }
        let record = Record::parse(text).map_err(|e| match e {
            ParseError::Malformed(reason) => VerifyError::Malformed {
                line: line_no,
                reason,
            },
            ParseError::Version(actual) => VerifyError::Version {
                line: line_no,
                expected: RECORD_VERSION,
                actual,
            },
            ParseError::HashMismatch { recorded, computed } => VerifyError::Altered {
                line: line_no,
                detail: format!("its content hashes to {computed}, the line records {recorded}"),
            },
        })?;
        self.check_signature(line_no, &record)?;
        let Some(state) = self.state.as_mut() else {
            // the very first record: the genesis, or the rotate checkpoint a later file starts with
            let genesis = record.prev() == ChainHash::GENESIS
                && (record.seq() == 0
                    || record.gap().is_some_and(|(from, to)| {
                        from == 0 && to.checked_add(1) == Some(record.seq())
                    }));
            let continuation = record
                .checkpoint()
                .is_some_and(|cp| cp.reason == crate::record::CheckpointReason::Rotate);
            if !genesis && !continuation {
                return Err(if record.seq() == 0 {
                    VerifyError::Altered {
                        line: line_no,
                        detail: format!(
                            "record 0 must link to the genesis hash, not {}",
                            record.prev()
                        ),
                    }
                } else {
                    VerifyError::Removed {
                        line: line_no,
                        from: 0,
                        to: record.seq().saturating_sub(1),
                    }
                });
            }
            self.state = Some(State {
                next_seq: record.seq().saturating_add(1),
                head: record.hash(),
                last_line: text.to_owned(),
                last_seals: record.seals(),
                last_seal_line: if record.checkpoint().is_some() {
                    line_no
                } else {
                    0
                },
                report: VerifyReport {
                    count: 1,
                    events: u64::from(record.event().is_some()),
                    checkpoints: u64::from(record.checkpoint().is_some()),
                    first_seq: record.seq(),
                    last_seq: record.seq(),
                    head: record.hash(),
                    signatures_checked: self.key.is_some(),
                    gaps: record.gap().into_iter().collect(),
                },
            });
            return Ok(());
        };
        let expected = state.next_seq;
        if record.seq() != expected {
            let gap_ok = record.gap().is_some_and(|(from, to)| {
                from == expected && to.checked_add(1) == Some(record.seq())
            });
            if !gap_ok {
                return Err(if record.seq() < expected || seqs.contains(&expected) {
                    VerifyError::Reordered {
                        line: line_no,
                        expected,
                        actual: record.seq(),
                    }
                } else {
                    VerifyError::Removed {
                        line: line_no,
                        from: expected,
                        to: record.seq().saturating_sub(1),
                    }
                });
            }
            if let Some(range) = record.gap() {
                state.report.gaps.push(range);
            }
        }
        if record.prev() != state.head {
            return Err(VerifyError::Altered {
                line: line_no.saturating_sub(1).max(1),
                detail: format!(
                    "line {line_no} links to {}, but the record before it hashes to {}",
                    record.prev(),
                    state.head
                ),
            });
        }
        state.next_seq = record.seq().saturating_add(1);
        state.head = record.hash();
        state.last_line = text.to_owned();
        state.last_seals = record.seals();
        if record.checkpoint().is_some() {
            state.last_seal_line = line_no;
            state.report.checkpoints = state.report.checkpoints.saturating_add(1);
        } else {
            state.report.events = state.report.events.saturating_add(1);
        }
        state.report.count = state.report.count.saturating_add(1);
        state.report.last_seq = record.seq();
        state.report.head = record.hash();
        Ok(())
    }

    fn check_signature(&self, line: u64, record: &Record) -> Result<(), VerifyError> {
        let Some(key) = self.key else {
            return Ok(());
        };
        if let Some(cp) = record.checkpoint()
            && cp.key_id != key.key_id()
        {
            return Err(VerifyError::KeyMismatch {
                line,
                expected: key.key_id().to_owned(),
                actual: cp.key_id.clone(),
            });
        }
        record
            .check_signature(key)
            .map(|_| ())
            .map_err(|()| VerifyError::Signature {
                line,
                key_id: key.key_id().to_owned(),
            })
    }

    /// Ends verification: the log must have a record and end with a closing (or rotating)
    /// checkpoint.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Empty`] or [`VerifyError::Truncated`].
    pub fn finish(self) -> Result<VerifyReport, VerifyError> {
        let state = self.state.ok_or(VerifyError::Empty)?;
        if !state.last_seals {
            return Err(VerifyError::Truncated {
                line: self.line_base.saturating_add(1),
                last_line: self.line_base,
                last_seal: state.last_seal_line,
            });
        }
        Ok(state.report)
    }
}

/// Verifies one file.
///
/// # Errors
///
/// The first problem found, naming its line.
pub fn verify_log(bytes: &[u8], key: Option<&VerifyingKey>) -> Result<VerifyReport, VerifyError> {
    let mut verifier = Verifier::new(key);
    verifier.feed_file(bytes)?;
    verifier.finish()
}

/// The `seq` of a line without a full parse (for telling reorders from deletions).
fn quick_seq(line: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(line).ok()?;
    let start = text.find("\"seq\":")?.saturating_add(6);
    let digits: String = text
        .get(start..)?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}
