#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! | module | what |
//! | --- | --- |
//! | [`event`] | [`AuditEvent`], the closed vocabulary [`EventKind`] / [`Details`], [`Outcome`], [`Actor`] |
//! | [`privacy`] | [`Privacy`]: keep / pseudonymise / drop per personal field; the secret scrubber |
//! | [`log`] | [`AuditLog`]: bounded queue, background worker, fail-closed or fail-open |
//! | [`sink`] | [`AuditSink`](sink::AuditSink) and the file, memory, tracing, fan-out and PostgreSQL sinks |
//! | [`record`] | the chained record line, [`ChainHash`](record::ChainHash), checkpoints |
//! | [`verify`] | [`verify_log`](verify::verify_log) and [`Verifier`](verify::Verifier) |
//! | [`ocsf`] | OCSF 1.8.0 mapping and the CloudEvents 1.0 envelope |
//! | [`query`] | [`Query`] for the admin page |
//! | [`schema`] | the JSON Schemas, generated from the types |
//! | [`error`] | the errors and their codes |
//!
//! # Features
//!
//! - `postgres`: `sink::PostgresSink` on tokio-postgres.
#![forbid(unsafe_code)]

pub mod error;
pub mod event;
mod id;
mod keys;
pub mod log;
pub mod ocsf;
pub mod privacy;
pub mod query;
pub mod record;
pub mod schema;
pub mod sink;
mod spool;
mod timestamp;
pub mod verify;

pub use error::{AuditError, ConfigError, Error, SinkError, VerifyError};
pub use event::{
    Actor, AuditEvent, CustomerRef, Details, EventKind, MfaMethod, Outcome, SCHEMA_VERSION, Source,
};
pub use id::EventId;
pub use jsm_sso_core::CodedError;
pub use keys::{SigningKey, VerifyingKey};
pub use log::{AuditLog, AuditLogBuilder, FailureMode, Health, RetryPolicy};
pub use privacy::{FieldRule, PersonalField, Privacy};
pub use query::{Found, Query};
pub use timestamp::Timestamp;
