//! Where records go: the [`AuditSink`] trait and its implementations.
//!
//! The [`AuditLog`](crate::AuditLog) worker sequences, chains and signs; sinks store the
//! finished [`Record`]s. Every sink is idempotent by sequence number (a record it already has
//! is skipped), so a retry after a partial failure never duplicates.

use async_trait::async_trait;

use crate::error::SinkError;
use crate::record::{ChainHash, Record};

mod fanout;
mod file;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod tracing_sink;

pub use fanout::FanOut;
pub use file::{FileSink, FileSinkOptions};
pub use memory::MemorySink;
#[cfg(feature = "postgres")]
pub use postgres::PostgresSink;
pub use tracing_sink::TracingSink;

/// The end of the chain a sink already holds, so a restarted log continues it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChainHead {
    /// The last record's sequence number.
    pub seq: u64,
    /// The last record's hash.
    pub hash: ChainHash,
    /// Whether the last record is a closing checkpoint (a clean shutdown).
    pub sealed: bool,
    /// Bytes of a crash-cut last line the sink removed when opening (0: none).
    pub truncated_bytes: u64,
}

impl ChainHead {
    /// A head (for sink implementations).
    #[must_use]
    pub fn new(seq: u64, hash: ChainHash, sealed: bool, truncated_bytes: u64) -> Self {
        Self {
            seq,
            hash,
            sealed,
            truncated_bytes,
        }
    }

    pub(crate) fn of(record: &Record, truncated_bytes: u64) -> Self {
        Self::new(record.seq(), record.hash(), record.seals(), truncated_bytes)
    }
}

/// A place records are stored. Implementations must work as `dyn AuditSink`.
#[async_trait]
pub trait AuditSink: Send + Sync + std::fmt::Debug {
    /// Prepares the sink (creates files or tables, recovers a crash-cut line) and returns the
    /// chain it already holds; `None` when it is empty.
    async fn open(&self) -> Result<Option<ChainHead>, SinkError>;

    /// Stores records durably, in order. Records with a sequence number the sink already
    /// holds are skipped. When this returns `Ok`, the records survive a crash.
    async fn write(&self, records: &[Record]) -> Result<(), SinkError>;

    /// Flushes and releases resources; called once by `AuditLog::shutdown`.
    async fn close(&self) -> Result<(), SinkError> {
        Ok(())
    }

    /// Whether the sink would like the log to rotate (write a rotate checkpoint) now.
    fn rotation_due(&self) -> bool {
        false
    }
}

/// Runs file I/O on tokio's blocking pool (the file sink and the spool); a panicked or
/// cancelled task is an I/O error.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SinkError> + Send + 'static,
) -> Result<T, SinkError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SinkError::Io(std::io::Error::other(e.to_string())))?
}
