//! `[audit]`: the hash-chained log in a directory, in a PostgreSQL table, or both
//! (`docs/gateway.md`), and what the admin pages read it from.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use jsm_sso_audit::record::Record;
use jsm_sso_audit::sink::{AuditSink, ChainHead, FileSink, FileSinkOptions, PostgresSink};
use jsm_sso_audit::{AuditLog, FieldRule, PersonalField, Privacy, SigningKey, SinkError};
use jsm_sso_core::Secret;

use super::{Problems, coded, problem, string};
use crate::gateway::{AuditFiles, AuditTable};

/// Where the built log keeps its records, for the admin pages.
pub(super) struct Stored {
    /// The directory's file sink, when `dir` is set.
    pub(super) files: Option<AuditFiles>,
    /// The PostgreSQL table, when `postgres_url_env` is set.
    pub(super) table: Option<AuditTable>,
}

/// The directory and the table together: every batch goes to both (the file first, as the
/// primary whose chain a restart continues). At start the table must hold no record the
/// directory does not: the table skips sequence numbers it already has, so a table ahead
/// of the directory (or of another chain) would silently drop the new records.
#[derive(Debug)]
struct Mirrored {
    file: Arc<FileSink>,
    table: Arc<PostgresSink>,
    name: String,
}

#[async_trait]
impl AuditSink for Mirrored {
    async fn open(&self) -> Result<Option<ChainHead>, SinkError> {
        let table = self.table.open().await?;
        let file = self.file.open().await?;
        match (&file, &table) {
            (_, None) => Ok(file),
            (Some(f), Some(t)) if f.seq == t.seq && f.hash == t.hash => Ok(file),
            (_, Some(t)) => Err(SinkError::Corrupt(format!(
                "the PostgreSQL table {} ends at record {} and the audit directory {}; they hold different chains",
                self.name,
                t.seq,
                file.as_ref()
                    .map_or_else(|| "is empty".to_owned(), |f| format!("at record {}", f.seq))
            ))),
        }
    }

    async fn write(&self, records: &[Record]) -> Result<(), SinkError> {
        self.file.write(records).await?;
        self.table.write(records).await
    }

    async fn close(&self) -> Result<(), SinkError> {
        let file = self.file.close().await;
        self.table.close().await?;
        file
    }

    fn rotation_due(&self) -> bool {
        self.file.rotation_due()
    }
}

/// `postgres_url_env` / `postgres_table`: the table sink, not yet connected.
fn postgres(
    problems: &mut Problems,
    audit: &toml::Table,
) -> Option<Option<(Arc<PostgresSink>, String)>> {
    let Some(var) = string(audit, "postgres_url_env") else {
        if audit.contains_key("postgres_table") {
            problems.0.push(problem(
                "config.key.missing",
                "audit.postgres_url_env",
                "postgres_table is set without postgres_url_env".into(),
                "name the variable holding the postgres:// URL, or remove postgres_table",
            ));
            return None;
        }
        return Some(None);
    };
    let url = problems.env("audit.postgres_url_env", var)?;
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        // The URL may carry a password: not repeated in the message.
        problems.0.push(problem(
            "config.env.invalid",
            "audit.postgres_url_env",
            format!("variable {var} does not hold a postgres:// URL"),
            "write postgres://user[:password]@host:port/database",
        ));
        return None;
    }
    let name = string(audit, "postgres_table").unwrap_or("jsm_sso_audit");
    match PostgresSink::new(url).with_table(name) {
        Ok(sink) => Some(Some((Arc::new(sink), name.to_owned()))),
        Err(e) => {
            problems.0.push(coded("audit.postgres_table", &e));
            None
        }
    }
}

fn audit_privacy(problems: &mut Problems, table: Option<&toml::Value>) -> Option<Privacy> {
    let mut builder = Privacy::builder();
    let Some(table) = table.and_then(toml::Value::as_table) else {
        return builder
            .build()
            .map_err(|e| problems.0.push(coded("audit.privacy", &e)))
            .ok();
    };
    let fields = [
        ("email", PersonalField::Email),
        ("subject", PersonalField::Subject),
        ("display_name", PersonalField::DisplayName),
        ("customer_id", PersonalField::CustomerId),
        ("source_ip", PersonalField::SourceIp),
        ("user_agent", PersonalField::UserAgent),
    ];
    for (key, value) in table {
        if key == "key_env" {
            if let Some(text) = value
                .as_str()
                .and_then(|var| problems.env("audit.privacy.key_env", var))
            {
                builder = builder.key(Secret::new(text));
            }
            continue;
        }
        let Some((_, field)) = fields.iter().find(|(name, _)| name == key) else {
            problems.0.push(problem(
                "config.key.unknown",
                &format!("audit.privacy.{key}"),
                format!("unknown key {key}"),
                "see docs/gateway.md for [audit.privacy]",
            ));
            continue;
        };
        let rule = match value.as_str() {
            Some("keep") => FieldRule::Keep,
            Some("pseudonymise") => FieldRule::Pseudonymise,
            Some("drop") => FieldRule::Drop,
            _ => {
                problems.0.push(problem(
                    "config.value.invalid",
                    &format!("audit.privacy.{key}"),
                    format!("{value} is not keep, pseudonymise or drop"),
                    "write keep, pseudonymise or drop",
                ));
                continue;
            }
        };
        builder = builder.rule(*field, rule);
    }
    builder
        .build()
        .map_err(|e| problems.0.push(coded("audit.privacy", &e)))
        .ok()
}

/// The audit log `[audit]` describes, started (which opens the directory and connects to
/// PostgreSQL, so an unreachable database stops the start with `audit.sink.postgres`).
pub(super) async fn audit_log(
    problems: &mut Problems,
    audit: &toml::Table,
) -> Option<(AuditLog, Stored)> {
    problems.unknown_keys(
        audit,
        "audit",
        &[
            "dir",
            "signing_key_file",
            "signing_key_env",
            "rotate_bytes",
            "spool",
            "failure",
            "privacy",
            "postgres_url_env",
            "postgres_table",
        ],
    );
    let table = postgres(problems, audit);
    let dir = string(audit, "dir");
    if dir.is_none() && matches!(table, Some(None)) {
        problems.required(audit, "audit", "dir");
    }
    if dir.is_none() && audit.contains_key("rotate_bytes") {
        problems.0.push(problem(
            "config.key.conflict",
            "audit.rotate_bytes",
            "rotate_bytes sizes the files of dir, and there is no dir".into(),
            "remove rotate_bytes, or add dir",
        ));
    }
    let pem = match (
        string(audit, "signing_key_file"),
        string(audit, "signing_key_env"),
    ) {
        (Some(_), Some(_)) => {
            problems.0.push(problem(
                "config.key.conflict",
                "audit",
                "signing_key_file and signing_key_env exclude each other".into(),
                "keep one of them",
            ));
            None
        }
        (Some(path), None) => problems.read("audit.signing_key_file", path),
        (None, Some(var)) => problems
            .env("audit.signing_key_env", var)
            .map(String::into_bytes),
        (None, None) => {
            problems.required(audit, "audit", "signing_key_file");
            None
        }
    };
    let key = pem.and_then(|pem| {
        SigningKey::from_pem(&pem)
            .map_err(|e| problems.0.push(coded("audit.signing_key", &e)))
            .ok()
    });
    let privacy = audit_privacy(problems, audit.get("privacy"));
    let mut options = FileSinkOptions::default();
    if let Some(bytes) = audit.get("rotate_bytes").and_then(toml::Value::as_integer) {
        match u64::try_from(bytes) {
            Ok(b) if b >= 4096 => options.rotate_bytes = b,
            _ => problems.0.push(problem(
                "config.value.invalid",
                "audit.rotate_bytes",
                format!("{bytes} is too small"),
                "use at least 4096 bytes",
            )),
        }
    }
    let (table, key, privacy) = (table?, key?, privacy?);
    let file = match dir {
        Some(dir) => {
            if let Err(e) = std::fs::create_dir_all(dir) {
                problems.0.push(problem(
                    "config.file.unreadable",
                    "audit.dir",
                    format!("{dir}: {e}"),
                    "create the directory and let the gateway write to it",
                ));
                return None;
            }
            Some(Arc::new(FileSink::new(Path::new(dir), options)))
        }
        None => None,
    };
    let sink: Arc<dyn AuditSink> = match (&file, &table) {
        (Some(file), Some((pg, name))) => Arc::new(Mirrored {
            file: file.clone(),
            table: pg.clone(),
            name: name.clone(),
        }),
        (Some(file), None) => file.clone(),
        (None, Some((pg, _))) => pg.clone(),
        (None, None) => return None,
    };
    let verifying = key.verifying_key().clone();
    let mut builder = AuditLog::builder(sink, key).privacy(privacy);
    if let Some(spool) = string(audit, "spool") {
        builder = builder.spool(spool);
    }
    match string(audit, "failure") {
        None | Some("closed") => {}
        Some("open") => builder = builder.failure_mode(jsm_sso_audit::FailureMode::Open),
        Some(other) => problems.0.push(problem(
            "config.value.invalid",
            "audit.failure",
            format!("{other:?} is not closed or open"),
            "write closed or open",
        )),
    }
    let log = builder
        .start()
        .await
        .map_err(|e| {
            let at = if jsm_sso_core::CodedError::code(&e) == "audit.sink.postgres" {
                "audit.postgres_url_env"
            } else {
                "audit"
            };
            problems.0.push(coded(at, &e));
        })
        .ok()?;
    Some((
        log,
        Stored {
            files: file.map(|sink| AuditFiles {
                sink,
                key: verifying.clone(),
            }),
            table: table.map(|(sink, _)| AuditTable {
                sink,
                key: verifying,
            }),
        },
    ))
}
