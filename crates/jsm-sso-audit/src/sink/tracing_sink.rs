//! [`TracingSink`]: events as `tracing` events, for logs shipped by the usual collectors.

use async_trait::async_trait;

use super::{AuditSink, ChainHead};
use crate::error::SinkError;
use crate::record::Record;

/// Emits each event record as an `INFO` `tracing` event on target `jsm_sso_audit` with the
/// event's fields, and checkpoints at `DEBUG`. It stores nothing, so it has no chain to
/// resume (`open` returns `None`); use it next to a durable sink in a [`FanOut`](super::FanOut).
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingSink;

impl TracingSink {
    /// The sink.
    #[must_use]
    pub const fn new() -> Self {
        Self
    }
}

#[async_trait]
impl AuditSink for TracingSink {
    async fn open(&self) -> Result<Option<ChainHead>, SinkError> {
        Ok(None)
    }

    async fn write(&self, records: &[Record]) -> Result<(), SinkError> {
        for record in records {
            match record.event() {
                Some(event) => tracing::info!(
                    target: "jsm_sso_audit",
                    seq = record.seq(),
                    id = %event.id,
                    kind = event.kind().as_str(),
                    success = event.outcome.is_success(),
                    code = event.outcome.code().unwrap_or(""),
                    customer = event.customer.as_ref().and_then(|c| c.id.as_deref()).unwrap_or(""),
                    correlation_id = event.correlation_id.as_deref().unwrap_or(""),
                    hash = %record.hash(),
                    "{}",
                    event.kind()
                ),
                None => tracing::debug!(
                    target: "jsm_sso_audit",
                    seq = record.seq(),
                    hash = %record.hash(),
                    "audit checkpoint"
                ),
            }
        }
        Ok(())
    }
}
