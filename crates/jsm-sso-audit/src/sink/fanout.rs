//! [`FanOut`]: one log, several sinks.

use std::sync::Arc;

use async_trait::async_trait;

use super::{AuditSink, ChainHead};
use crate::error::SinkError;
use crate::record::Record;

/// Writes every batch to each of its sinks in turn; a batch is written only when all of them
/// took it (the log retries the others, and sinks skip what they already hold). The first
/// sink is the primary: its chain head is the one a restarted log continues.
#[derive(Debug, Clone)]
pub struct FanOut {
    sinks: Vec<Arc<dyn AuditSink>>,
}

impl FanOut {
    /// A fan-out over `sinks`, the primary first.
    #[must_use]
    pub fn new(sinks: Vec<Arc<dyn AuditSink>>) -> Self {
        Self { sinks }
    }
}

#[async_trait]
impl AuditSink for FanOut {
    async fn open(&self) -> Result<Option<ChainHead>, SinkError> {
        let mut primary = None;
        for (i, sink) in self.sinks.iter().enumerate() {
            let head = sink.open().await?;
            if i == 0 {
                primary = head;
            }
        }
        Ok(primary)
    }

    async fn write(&self, records: &[Record]) -> Result<(), SinkError> {
        for sink in &self.sinks {
            sink.write(records).await?;
        }
        Ok(())
    }

    async fn close(&self) -> Result<(), SinkError> {
        let mut first_error = None;
        for sink in &self.sinks {
            if let Err(e) = sink.close().await {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn rotation_due(&self) -> bool {
        self.sinks.iter().any(|s| s.rotation_due())
    }
}
