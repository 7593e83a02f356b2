//! The chained record: one line of the tamper-evident log.
//!
//! ```text
//! {"v":1,"seq":7,"prev":"<64 hex>","type":"event","event":{...}[,"sig":"<base64>"],"hash":"<64 hex>"}
//! ```
//!
//! `hash` is SHA-256 over the line's bytes up to (not including) `,"hash":"`; `sig`, present on
//! checkpoints and gap events, is Ed25519 over the bytes up to `,"sig":"`. Both cover exact
//! bytes, so nothing is re-serialized to verify and any edit, even of white space, shows.
//! `prev` is the previous record's `hash` (64 zeros before the first record).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::error::VerifyError;
use crate::event::{AuditEvent, Details};
use crate::keys::{SigningKey, VerifyingKey, hex};

/// The record format version this crate writes and reads.
pub const RECORD_VERSION: u32 = 1;

/// The longest line accepted when reading (1 MiB): events are a few hundred bytes.
pub const MAX_LINE_BYTES: usize = 1 << 20;

const HASH_FIELD: &str = ",\"hash\":\"";
const SIG_FIELD: &str = ",\"sig\":\"";

/// A SHA-256 chain hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ChainHash([u8; 32]);

impl ChainHash {
    /// The `prev` of the very first record: 32 zero bytes.
    pub const GENESIS: Self = Self([0; 32]);

    /// Parses 64 lower-case hex digits.
    #[must_use]
    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 64
            || !text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
            *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
        }
        Some(Self(out))
    }

    /// The raw bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn of(bytes: &[u8]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        Self(out)
    }
}

impl std::fmt::Display for ChainHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

/// Why a checkpoint was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointReason {
    /// Every N records.
    Interval,
    /// The log was shut down: the end of the log as written.
    Close,
    /// The file is full; the next file begins with this same line.
    Rotate,
    /// After a crash, sealing what survived.
    Recovery,
}

impl CheckpointReason {
    /// `true` for a checkpoint that may end a file (close or rotate).
    #[must_use]
    pub const fn seals(self) -> bool {
        matches!(self, Self::Close | Self::Rotate)
    }
}

/// A signed statement that the chain up to `prev` is as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Why it was written.
    pub reason: CheckpointReason,
    /// When.
    pub time: Timestamp,
    /// The signing key's id ([`VerifyingKey::key_id`]).
    pub key_id: String,
}

/// What a record carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// An audit event.
    Event(Box<AuditEvent>),
    /// A signed checkpoint.
    Checkpoint(Checkpoint),
}

/// The JSON shape of a record line, for reading (and for the record JSON Schema).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRecord {
    /// Record format version.
    v: u64,
    /// Sequence number, from 0, one more per record.
    seq: u64,
    /// The previous record's hash.
    prev: String,
    /// `event` or `checkpoint`.
    #[serde(rename = "type")]
    kind: RecordType,
    /// The event, for `type: event`.
    #[serde(default)]
    event: Option<AuditEvent>,
    /// The checkpoint, for `type: checkpoint`.
    #[serde(default)]
    checkpoint: Option<Checkpoint>,
    /// Ed25519 signature (base64) over the line up to `,"sig":"`.
    #[serde(default)]
    sig: Option<String>,
    /// SHA-256 (hex) over the line up to `,"hash":"`.
    hash: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum RecordType {
    Event,
    Checkpoint,
}

/// One record of the chain, with its exact line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    seq: u64,
    prev: ChainHash,
    entry: Entry,
    signature: Option<String>,
    hash: ChainHash,
    line: String,
    sig_body_len: usize,
}

/// Why a line is not a valid record (the verifier adds the line number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseError {
    Malformed(String),
    Version(u64),
    HashMismatch { recorded: String, computed: String },
}

impl Record {
    /// Builds and serializes a record; signs it when `signer` is given.
    ///
    /// # Errors
    ///
    /// The event does not serialize (it always does for this crate's types).
    pub(crate) fn build(
        seq: u64,
        prev: ChainHash,
        entry: Entry,
        signer: Option<&SigningKey>,
    ) -> Result<Self, serde_json::Error> {
        let (kind, body) = match &entry {
            Entry::Event(event) => ("event", serde_json::to_string(event)?),
            Entry::Checkpoint(cp) => ("checkpoint", serde_json::to_string(cp)?),
        };
        let mut line = String::with_capacity(body.len() + 200);
        line.push_str(&format!(
            "{{\"v\":{RECORD_VERSION},\"seq\":{seq},\"prev\":\"{prev}\",\"type\":\"{kind}\",\"{kind}\":"
        ));
        line.push_str(&body);
        let sig_body_len = line.len();
        let signature = signer.map(|key| {
            let sig = key.sign(line.as_bytes());
            line.push_str(SIG_FIELD);
            line.push_str(&sig);
            line.push('"');
            sig
        });
        let hash = ChainHash::of(line.as_bytes());
        line.push_str(HASH_FIELD);
        line.push_str(&hash.to_string());
        line.push_str("\"}");
        Ok(Self {
            seq,
            prev,
            entry,
            signature,
            hash,
            line,
            sig_body_len,
        })
    }

    /// Parses a line (without its newline) and checks its own hash. Chain links and
    /// signatures are the verifier's job.
    pub(crate) fn parse(line: &str) -> Result<Self, ParseError> {
        let malformed = |m: &str| ParseError::Malformed(m.to_owned());
        if line.len() > MAX_LINE_BYTES {
            return Err(ParseError::Malformed(format!(
                "the line is longer than {MAX_LINE_BYTES} bytes"
            )));
        }
        let raw: RawRecord = serde_json::from_str(line)
            .map_err(|e| ParseError::Malformed(lower_first(&e.to_string())))?;
        if raw.v != u64::from(RECORD_VERSION) {
            return Err(ParseError::Version(raw.v));
        }
        let recorded = ChainHash::from_hex(&raw.hash)
            .ok_or_else(|| malformed("hash is not 64 lower-case hex digits"))?;
        let prev = ChainHash::from_hex(&raw.prev)
            .ok_or_else(|| malformed("prev is not 64 lower-case hex digits"))?;
        // the exact bytes: the hash field must be the last thing on the line
        let hash_at = line
            .rfind(HASH_FIELD)
            .ok_or_else(|| malformed("no hash field"))?;
        let (hashed, tail) = line.split_at(hash_at);
        if tail.get(HASH_FIELD.len()..) != Some(&format!("{}\"}}", raw.hash)) {
            return Err(malformed("the hash field is not the last field"));
        }
        let computed = ChainHash::of(hashed.as_bytes());
        if computed != recorded {
            return Err(ParseError::HashMismatch {
                recorded: recorded.to_string(),
                computed: computed.to_string(),
            });
        }
        let sig_body_len = match &raw.sig {
            Some(sig) => {
                let field = format!("{SIG_FIELD}{sig}\"");
                if !hashed.ends_with(&field) {
                    return Err(malformed("the sig field is not just before the hash"));
                }
                hashed.len().saturating_sub(field.len())
            }
            None => hashed.len(),
        };
        let entry = match (raw.kind, raw.event, raw.checkpoint) {
            (RecordType::Event, Some(event), None) => Entry::Event(Box::new(event)),
            (RecordType::Checkpoint, None, Some(cp)) => {
                if raw.sig.is_none() {
                    return Err(malformed("a checkpoint without a signature"));
                }
                Entry::Checkpoint(cp)
            }
            _ => return Err(malformed("type does not match the payload field")),
        };
        Ok(Self {
            seq: raw.seq,
            prev,
            entry,
            signature: raw.sig,
            hash: recorded,
            line: line.to_owned(),
            sig_body_len,
        })
    }

    /// Parses one line of a log (without its newline) and checks its own hash; links and
    /// signatures are checked by the [`Verifier`](crate::verify::Verifier).
    ///
    /// # Errors
    ///
    /// The line is not a record, or its content does not match its hash.
    pub fn from_line(line: &str) -> Result<Self, VerifyError> {
        Self::parse(line).map_err(|e| match e {
            ParseError::Malformed(reason) => VerifyError::Malformed { line: 1, reason },
            ParseError::Version(actual) => VerifyError::Version {
                line: 1,
                expected: RECORD_VERSION,
                actual,
            },
            ParseError::HashMismatch { recorded, computed } => VerifyError::Altered {
                line: 1,
                detail: format!("its content hashes to {computed}, the line records {recorded}"),
            },
        })
    }

    /// The sequence number.
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The previous record's hash.
    #[must_use]
    pub fn prev(&self) -> ChainHash {
        self.prev
    }

    /// This record's hash.
    #[must_use]
    pub fn hash(&self) -> ChainHash {
        self.hash
    }

    /// The payload.
    #[must_use]
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The event, for an event record.
    #[must_use]
    pub fn event(&self) -> Option<&AuditEvent> {
        match &self.entry {
            Entry::Event(e) => Some(e),
            Entry::Checkpoint(_) => None,
        }
    }

    /// The checkpoint, for a checkpoint record.
    #[must_use]
    pub fn checkpoint(&self) -> Option<&Checkpoint> {
        match &self.entry {
            Entry::Checkpoint(cp) => Some(cp),
            Entry::Event(_) => None,
        }
    }

    /// The gap range, for a signed `audit.gap` event.
    #[must_use]
    pub fn gap(&self) -> Option<(u64, u64)> {
        match self.event().map(|e| &e.details) {
            Some(Details::AuditGap { from, to }) if self.signature.is_some() => Some((*from, *to)),
            _ => None,
        }
    }

    /// `true` when the record is signed (checkpoints, gap events).
    #[must_use]
    pub fn is_signed(&self) -> bool {
        self.signature.is_some()
    }

    /// `true` for a checkpoint that may end a file (close or rotate).
    #[must_use]
    pub fn seals(&self) -> bool {
        self.checkpoint().is_some_and(|cp| cp.reason.seals())
    }

    /// The exact line, without a newline.
    #[must_use]
    pub fn line(&self) -> &str {
        &self.line
    }

    /// Checks the signature with `key`: `Ok(true)` verified, `Ok(false)` unsigned record,
    /// `Err` bad signature.
    pub(crate) fn check_signature(&self, key: &VerifyingKey) -> Result<bool, ()> {
        let Some(sig) = &self.signature else {
            return Ok(false);
        };
        let body = self.line.as_bytes().get(..self.sig_body_len).ok_or(())?;
        if key.verify(body, sig) {
            Ok(true)
        } else {
            Err(())
        }
    }
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Details;

    fn event() -> AuditEvent {
        AuditEvent::new(
            Timestamp::from_unix_millis(1_700_000_000_000),
            Details::CustomerCreated {},
        )
    }

    #[test]
    fn build_then_parse_is_identity() {
        let (key, _) = SigningKey::generate().unwrap();
        let rec =
            Record::build(0, ChainHash::GENESIS, Entry::Event(Box::new(event())), None).unwrap();
        let parsed = Record::parse(rec.line()).unwrap();
        assert_eq!(parsed, rec);
        let cp = Checkpoint {
            reason: CheckpointReason::Close,
            time: Timestamp::from_unix_millis(5),
            key_id: key.verifying_key().key_id().to_owned(),
        };
        let signed = Record::build(1, rec.hash(), Entry::Checkpoint(cp), Some(&key)).unwrap();
        let parsed = Record::parse(signed.line()).unwrap();
        assert_eq!(parsed, signed);
        assert_eq!(parsed.check_signature(key.verifying_key()), Ok(true));
        let (other, _) = SigningKey::generate().unwrap();
        assert_eq!(parsed.check_signature(other.verifying_key()), Err(()));
    }

    #[test]
    fn any_byte_change_breaks_the_hash() {
        let rec =
            Record::build(3, ChainHash::GENESIS, Entry::Event(Box::new(event())), None).unwrap();
        let edited = rec
            .line()
            .replacen("customer.created", "customer.updated", 1);
        assert!(matches!(
            Record::parse(&edited),
            Err(ParseError::HashMismatch { .. }) | Err(ParseError::Malformed(_))
        ));
        let spaced = rec.line().replacen("\"seq\":3", "\"seq\": 3", 1);
        assert!(matches!(
            Record::parse(&spaced),
            Err(ParseError::HashMismatch { .. })
        ));
    }
}
