//! JSON Schemas generated from the types: the event (`docs/audit-event.schema.json`) and the
//! record line (`docs/audit-record.schema.json`). A test keeps the committed files current.

use crate::event::{AuditEvent, SCHEMA_VERSION};
use crate::record::RawRecord;

/// The JSON Schema of [`AuditEvent`], pretty-printed with a trailing newline.
#[must_use]
pub fn event_schema() -> String {
    let mut schema = schemars::schema_for!(AuditEvent);
    schema.insert(
        "$id".into(),
        format!("https://jsm-sso.github.io/schemas/audit-event-v{SCHEMA_VERSION}.json").into(),
    );
    schema.insert("title".into(), "jsm-sso audit event".into());
    pretty(&schema)
}

/// The JSON Schema of one line of the hash-chained log.
#[must_use]
pub fn record_schema() -> String {
    let mut schema = schemars::schema_for!(RawRecord);
    schema.insert(
        "$id".into(),
        format!(
            "https://jsm-sso.github.io/schemas/audit-record-v{}.json",
            crate::record::RECORD_VERSION
        )
        .into(),
    );
    schema.insert(
        "title".into(),
        "jsm-sso audit log record (one JSON line)".into(),
    );
    pretty(&schema)
}

fn pretty(schema: &schemars::Schema) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}
