//! The crate's errors, each with a stable code ([`CodedError`]).

use jsm_sso_core::CodedError;

/// A configuration value was refused (builders validate, so a config that exists is valid).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A field is to be pseudonymised but no HMAC key was given.
    #[error("{field} is to be pseudonymised but no privacy key is configured")]
    PrivacyKeyMissing {
        /// The field's JSON path.
        field: &'static str,
    },
    /// The HMAC key is too short.
    #[error("privacy key has {actual} bytes; at least {minimum} are required")]
    PrivacyKeyShort {
        /// Bytes given.
        actual: usize,
        /// Bytes required.
        minimum: usize,
    },
    /// A signing or verifying key could not be read.
    #[error("invalid key: {reason}")]
    Key {
        /// What is wrong with it.
        reason: String,
    },
    /// A numeric option is out of range.
    #[error("{option} must be {expected}, got {actual}")]
    Option {
        /// The option's name.
        option: &'static str,
        /// The allowed range.
        expected: &'static str,
        /// The value given.
        actual: u64,
    },
}

impl CodedError for ConfigError {
    fn code(&self) -> &'static str {
        match self {
            Self::PrivacyKeyMissing { .. } => "audit.config.privacy_key_missing",
            Self::PrivacyKeyShort { .. } => "audit.config.privacy_key_short",
            Self::Key { .. } => "audit.config.key",
            Self::Option { .. } => "audit.config.option",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::PrivacyKeyMissing { .. } => {
                "configure a privacy key (32+ random bytes) or keep/drop the field instead"
            }
            Self::PrivacyKeyShort { .. } => "use a privacy key of at least 32 random bytes",
            Self::Key { .. } => {
                "give an Ed25519 key as PEM (PRIVATE KEY / PUBLIC KEY), e.g. from `openssl genpkey -algorithm ed25519`"
            }
            Self::Option { .. } => "set the option within the range the message names",
        }
    }
}

/// A log file (or a set of rotated files) failed verification. `line` is 1-based and names
/// the first line found altered, missing, out of order or cut.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The log has no records.
    #[error("the log is empty")]
    Empty,
    /// A line is not a record (not JSON, wrong shape, too long).
    #[error("line {line} is not an audit record: {reason}")]
    Malformed {
        /// The line.
        line: u64,
        /// Why.
        reason: String,
    },
    /// A record of an unknown format version.
    #[error("line {line} has record version {actual}; this verifier reads version {expected}")]
    Version {
        /// The line.
        line: u64,
        /// The version this crate reads.
        expected: u32,
        /// The version found.
        actual: u64,
    },
    /// A line's content does not match its hash, or the next line does not link to it.
    #[error("line {line} was altered: {detail}")]
    Altered {
        /// The line.
        line: u64,
        /// Expected and actual hashes.
        detail: String,
    },
    /// Records are missing before this line.
    #[error("records {from}..={to} are missing before line {line}")]
    Removed {
        /// The line where the next record should have been.
        line: u64,
        /// First missing sequence number.
        from: u64,
        /// Last missing sequence number.
        to: u64,
    },
    /// A record is out of order.
    #[error("line {line} is out of order: expected record {expected}, found record {actual}")]
    Reordered {
        /// The line.
        line: u64,
        /// The sequence number expected here.
        expected: u64,
        /// The sequence number found.
        actual: u64,
    },
    /// A checkpoint or gap signature does not verify.
    #[error("line {line}: the signature does not verify with key {key_id}")]
    Signature {
        /// The line.
        line: u64,
        /// The key id used.
        key_id: String,
    },
    /// A checkpoint names a key other than the one given.
    #[error("line {line} is signed by key {actual}, not by the given key {expected}")]
    KeyMismatch {
        /// The line.
        line: u64,
        /// The given key's id.
        expected: String,
        /// The key id in the record.
        actual: String,
    },
    /// The log stops without a closing checkpoint: its tail was removed, or the writer
    /// crashed and recovery has not run yet.
    #[error(
        "the log is truncated: it ends at line {last_line} without a closing checkpoint (last seal at line {last_seal})"
    )]
    Truncated {
        /// The first missing line (one past the last).
        line: u64,
        /// The last line present.
        last_line: u64,
        /// The line of the last checkpoint (0: none).
        last_seal: u64,
    },
    /// The last line has no newline: a write was cut short (crash or truncation mid-line).
    #[error("line {line} is cut short ({bytes} bytes without a newline)")]
    PartialLine {
        /// The line.
        line: u64,
        /// Its length.
        bytes: u64,
    },
}

impl VerifyError {
    /// The 1-based line the error is about (0 for an empty log).
    #[must_use]
    pub fn line(&self) -> u64 {
        match self {
            Self::Empty => 0,
            Self::Malformed { line, .. }
            | Self::Version { line, .. }
            | Self::Altered { line, .. }
            | Self::Removed { line, .. }
            | Self::Reordered { line, .. }
            | Self::Signature { line, .. }
            | Self::KeyMismatch { line, .. }
            | Self::Truncated { line, .. }
            | Self::PartialLine { line, .. } => *line,
        }
    }
}

impl CodedError for VerifyError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "audit.verify.empty",
            Self::Malformed { .. } => "audit.verify.malformed",
            Self::Version { .. } => "audit.verify.version",
            Self::Altered { .. } => "audit.verify.altered",
            Self::Removed { .. } => "audit.verify.removed",
            Self::Reordered { .. } => "audit.verify.reordered",
            Self::Signature { .. } => "audit.verify.signature",
            Self::KeyMismatch { .. } => "audit.verify.key_mismatch",
            Self::Truncated { .. } => "audit.verify.truncated",
            Self::PartialLine { .. } => "audit.verify.partial_line",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Empty => "check that the right file is named",
            Self::Malformed { .. }
            | Self::Altered { .. }
            | Self::Removed { .. }
            | Self::Reordered { .. } => {
                "the log was changed after it was written; compare with a backup or the PostgreSQL copy"
            }
            Self::Version { .. } => "verify with the jsm-sso version that wrote the log",
            Self::Signature { .. } => {
                "the log was rewritten after it was signed, or the wrong public key is given"
            }
            Self::KeyMismatch { .. } => {
                "give the public key of the audit signing key that wrote this log"
            }
            Self::Truncated { .. } => {
                "records were removed from the end, or the writer crashed: restart it to run recovery, then verify again"
            }
            Self::PartialLine { .. } => {
                "the writer stopped mid-line (crash); restarting the audit log removes the partial line and seals the rest"
            }
        }
    }
}

/// A sink could not store or read records.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// File or network I/O failed.
    #[error("audit sink i/o failed: {0}")]
    Io(#[from] std::io::Error),
    /// The stored log is damaged where the sink must read it (not a crash-cut last line).
    #[error("audit store is damaged: {0}")]
    Corrupt(String),
    /// The sink is not reachable (down, or switched off).
    #[error("audit sink is unavailable: {0}")]
    Unavailable(String),
    /// PostgreSQL refused a statement or the connection failed.
    #[error("postgresql: {0}")]
    Postgres(String),
}

impl CodedError for SinkError {
    fn code(&self) -> &'static str {
        match self {
            Self::Io(_) => "audit.sink.io",
            Self::Corrupt(_) => "audit.sink.corrupt",
            Self::Unavailable(_) => "audit.sink.unavailable",
            Self::Postgres(_) => "audit.sink.postgres",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Io(_) => "check the audit directory: free space, permissions, mount",
            Self::Corrupt(_) => "run `jsm-sso audit verify` on the log and restore it from a copy",
            Self::Unavailable(_) => {
                "bring the audit store back; events wait in the queue and the spool"
            }
            Self::Postgres(_) => "check the PostgreSQL URL, credentials and that the server is up",
        }
    }
}

/// Recording an event failed: the caller must not go on as if it was recorded (refuse the
/// sign-in).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// Fail-closed: the sink and the spool are both failing, so events cannot be recorded.
    #[error("audit log is unavailable: {reason}")]
    Unavailable {
        /// The last sink error.
        reason: String,
    },
    /// The log was shut down.
    #[error("audit log is shut down")]
    Closed,
    /// `try_record`: the queue is full (the event is handed back).
    #[error("audit queue is full ({capacity} events)")]
    Full {
        /// The queue's capacity.
        capacity: usize,
    },
    /// Shutdown could not write everything.
    #[error("audit log shut down with {unwritten} records unwritten: {reason}")]
    Unflushed {
        /// Records not written.
        unwritten: u64,
        /// The last sink error.
        reason: String,
    },
    /// A sink failed where no retry applies (opening the log).
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The configuration was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl CodedError for AuditError {
    fn code(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } => "audit.log.unavailable",
            Self::Closed => "audit.log.closed",
            Self::Full { .. } => "audit.log.full",
            Self::Unflushed { .. } => "audit.log.unflushed",
            Self::Sink(e) => e.code(),
            Self::Config(e) => e.code(),
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } => {
                "the audit store is down and the spool cannot be written; sign-ins are refused until it is back (fail-closed)"
            }
            Self::Closed => "record events before calling shutdown",
            Self::Full { .. } => "wait with `record` (backpressure), or raise the queue capacity",
            Self::Unflushed { .. } => {
                "bring the audit store back; the unwritten records are lost unless spooled"
            }
            Self::Sink(e) => e.hint(),
            Self::Config(e) => e.hint(),
        }
    }
}

/// Every error of this crate, for callers that want one type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Verification.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// A sink.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The audit log.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

impl CodedError for Error {
    fn code(&self) -> &'static str {
        match self {
            Self::Config(e) => e.code(),
            Self::Verify(e) => e.code(),
            Self::Sink(e) => e.code(),
            Self::Audit(e) => e.code(),
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Config(e) => e.hint(),
            Self::Verify(e) => e.hint(),
            Self::Sink(e) => e.hint(),
            Self::Audit(e) => e.hint(),
        }
    }
}
