//! [`MemorySink`]: records in memory, for tests and for small tools.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use super::{AuditSink, ChainHead};
use crate::error::SinkError;
use crate::query::{Found, Query};
use crate::record::Record;

/// Keeps every record in memory. It can be switched off ([`set_available`]) to test how a
/// log behaves when its store goes down.
///
/// [`set_available`]: MemorySink::set_available
#[derive(Debug, Default)]
pub struct MemorySink {
    records: Mutex<Vec<Record>>,
    down: AtomicBool,
}

impl MemorySink {
    /// An empty, available sink.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Switches the sink on or off: while off, `open` and `write` fail with
    /// `audit.sink.unavailable`.
    pub fn set_available(&self, available: bool) {
        self.down.store(!available, Ordering::SeqCst);
    }

    /// A copy of every record, in order.
    #[must_use]
    pub fn records(&self) -> Vec<Record> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The log as JSON lines, as the file sink would write it.
    #[must_use]
    pub fn to_jsonl(&self) -> String {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .fold(String::new(), |mut out, r| {
                out.push_str(r.line());
                out.push('\n');
                out
            })
    }

    /// Events matching `query`, oldest first.
    #[must_use]
    pub fn query(&self, query: &Query) -> Vec<Found> {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        records
            .iter()
            .filter_map(|r| {
                r.event().filter(|e| query.matches(e)).map(|e| Found {
                    seq: r.seq(),
                    event: e.clone(),
                })
            })
            .take(query.limit.unwrap_or(usize::MAX))
            .collect()
    }

    fn check_up(&self) -> Result<(), SinkError> {
        if self.down.load(Ordering::SeqCst) {
            Err(SinkError::Unavailable(
                "memory sink switched off".to_owned(),
            ))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl AuditSink for MemorySink {
    async fn open(&self) -> Result<Option<ChainHead>, SinkError> {
        self.check_up()?;
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(records.last().map(|r| ChainHead::of(r, 0)))
    }

    async fn write(&self, batch: &[Record]) -> Result<(), SinkError> {
        self.check_up()?;
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let last = records.last().map(Record::seq);
        records.extend(
            batch
                .iter()
                .filter(|r| last.is_none_or(|l| r.seq() > l))
                .cloned(),
        );
        Ok(())
    }
}
