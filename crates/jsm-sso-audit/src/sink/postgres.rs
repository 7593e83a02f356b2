//! [`PostgresSink`]: the chained records in a PostgreSQL table, for fleets of brokers that
//! share one audit store (feature `postgres`).

use async_trait::async_trait;
use tokio::sync::Mutex;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls};

use super::{AuditSink, ChainHead};
use crate::error::{SinkError, VerifyError};
use crate::keys::VerifyingKey;
use crate::query::{Found, Query};
use crate::record::Record;
use crate::verify::{Verifier, VerifyReport};

/// Stores each record as a row keyed by its sequence number, with the exact line (so the
/// chain and signatures verify as in a file) and indexed columns for the admin queries.
/// Inserts are idempotent (`ON CONFLICT (seq) DO NOTHING`), one statement per batch. A lost
/// connection is re-opened on the next call. TLS is not built in: connect over a local socket
/// or 127.0.0.1, or put a TLS proxy in front.
#[derive(Debug)]
pub struct PostgresSink {
    url: String,
    table: String,
    client: Mutex<Option<Client>>,
}

impl PostgresSink {
    /// A sink for the database at `url` (`postgres://user@127.0.0.1:5432/db`), table
    /// `jsm_sso_audit`.
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            table: "jsm_sso_audit".to_owned(),
            client: Mutex::new(None),
        }
    }

    /// Uses another table name (letters, digits and `_`, starting with a letter).
    ///
    /// # Errors
    ///
    /// [`SinkError::Postgres`] for a name that is not a plain identifier.
    pub fn with_table(mut self, table: &str) -> Result<Self, SinkError> {
        let plain = table.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && table.len() <= 63
            && table
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !plain {
            return Err(SinkError::Postgres(format!(
                "table name {table:?} is not a plain lower-case identifier"
            )));
        }
        table.clone_into(&mut self.table);
        Ok(self)
    }

    async fn client(&self) -> Result<tokio::sync::MutexGuard<'_, Option<Client>>, SinkError> {
        let mut guard = self.client.lock().await;
        if guard.as_ref().is_none_or(Client::is_closed) {
            let (client, connection) = tokio_postgres::connect(&self.url, NoTls)
                .await
                .map_err(pg)?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(target: "jsm_sso_audit", error = %e, "postgresql connection ended");
                }
            });
            *guard = Some(client);
        }
        Ok(guard)
    }

    /// Events matching `query`, oldest first.
    ///
    /// # Errors
    ///
    /// The query fails, or a stored line is not a valid record.
    pub async fn query(&self, query: &Query) -> Result<Vec<Found>, SinkError> {
        let mut sql = format!(
            "SELECT line FROM {} WHERE record_type = 'event'",
            self.table
        );
        let kinds: Vec<String> = query.kinds.iter().map(|k| k.as_str().to_owned()).collect();
        let from = query.from.map(crate::Timestamp::unix_millis);
        let until = query.until.map(crate::Timestamp::unix_millis);
        let limit = query.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        // the borrowed values live until the statement runs
        if let Some(v) = from.as_ref() {
            add(&mut sql, &mut params, " AND time_ms >= $", v);
        }
        if let Some(v) = until.as_ref() {
            add(&mut sql, &mut params, " AND time_ms < $", v);
        }
        if let Some(v) = query.customer.as_ref() {
            add(
                &mut sql,
                &mut params,
                " AND $ IN (customer_id, customer_email, customer_subject)",
                v,
            );
        }
        if !kinds.is_empty() {
            add(&mut sql, &mut params, " AND kind = ANY($)", &kinds);
        }
        if let Some(v) = query.success.as_ref() {
            add(&mut sql, &mut params, " AND success = $", v);
        }
        if let Some(v) = query.correlation_id.as_ref() {
            add(&mut sql, &mut params, " AND correlation_id = $", v);
        }
        sql.push_str(" ORDER BY seq");
        if let Some(v) = limit.as_ref() {
            add(&mut sql, &mut params, " LIMIT $", v);
        }
        let guard = self.client().await?;
        let client = guard
            .as_ref()
            .ok_or_else(|| SinkError::Postgres("not connected".to_owned()))?;
        let rows = client.query(&sql, &params).await.map_err(pg)?;
        rows.iter()
            .map(|row| {
                let line: String = row.try_get(0).map_err(pg)?;
                let record = Record::parse(&line).map_err(|_| {
                    SinkError::Corrupt(format!("a row of {} is not a valid record", self.table))
                })?;
                let event = record
                    .event()
                    .cloned()
                    .ok_or_else(|| SinkError::Corrupt("event row without an event".to_owned()))?;
                Ok(Found {
                    seq: record.seq(),
                    event,
                })
            })
            .collect()
    }

    /// Verifies the stored chain like a file (see [`Verifier`]).
    ///
    /// # Errors
    ///
    /// `Ok(Err(..))` names the first bad record by its position (1-based, by `seq`); `Err`
    /// is a database failure.
    pub async fn verify(
        &self,
        key: Option<&VerifyingKey>,
    ) -> Result<Result<VerifyReport, VerifyError>, SinkError> {
        let guard = self.client().await?;
        let client = guard
            .as_ref()
            .ok_or_else(|| SinkError::Postgres("not connected".to_owned()))?;
        let rows = client
            .query(
                &format!("SELECT line FROM {} ORDER BY seq", self.table),
                &[],
            )
            .await
            .map_err(pg)?;
        let mut bytes = Vec::new();
        for row in rows {
            let line: String = row.try_get(0).map_err(pg)?;
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
        }
        let mut verifier = Verifier::new(key);
        Ok(verifier.feed_file(&bytes).and_then(|()| verifier.finish()))
    }
}

/// Appends a clause whose `$` becomes the next parameter number.
fn add<'a>(
    sql: &mut String,
    params: &mut Vec<&'a (dyn ToSql + Sync)>,
    clause: &str,
    value: &'a (dyn ToSql + Sync),
) {
    params.push(value);
    sql.push_str(&clause.replace('$', &format!("${}", params.len())));
}

fn pg(e: tokio_postgres::Error) -> SinkError {
    SinkError::Postgres(e.to_string())
}

#[async_trait]
impl AuditSink for PostgresSink {
    async fn open(&self) -> Result<Option<ChainHead>, SinkError> {
        let guard = self.client().await?;
        let client = guard
            .as_ref()
            .ok_or_else(|| SinkError::Postgres("not connected".to_owned()))?;
        let t = &self.table;
        client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {t} (
                    seq BIGINT PRIMARY KEY,
                    prev TEXT NOT NULL,
                    hash TEXT NOT NULL,
                    record_type TEXT NOT NULL,
                    event_id TEXT,
                    time_ms BIGINT,
                    kind TEXT,
                    success BOOLEAN,
                    customer_id TEXT,
                    customer_email TEXT,
                    customer_subject TEXT,
                    correlation_id TEXT,
                    line TEXT NOT NULL
                );
                CREATE INDEX IF NOT EXISTS {t}_time ON {t} (time_ms);
                CREATE INDEX IF NOT EXISTS {t}_customer ON {t} (customer_id);
                CREATE INDEX IF NOT EXISTS {t}_kind ON {t} (kind);
                CREATE INDEX IF NOT EXISTS {t}_correlation ON {t} (correlation_id);"
            ))
            .await
            .map_err(pg)?;
        let row = client
            .query_opt(
                &format!("SELECT line FROM {t} ORDER BY seq DESC LIMIT 1"),
                &[],
            )
            .await
            .map_err(pg)?;
        match row {
            None => Ok(None),
            Some(row) => {
                let line: String = row.try_get(0).map_err(pg)?;
                let record = Record::parse(&line).map_err(|_| {
                    SinkError::Corrupt(format!("the last row of {t} is not a valid record"))
                })?;
                Ok(Some(ChainHead::of(&record, 0)))
            }
        }
    }

    async fn write(&self, records: &[Record]) -> Result<(), SinkError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut cols = Columns::default();
        for r in records {
            cols.push(r);
        }
        let mut guard = self.client().await?;
        let client = guard
            .as_ref()
            .ok_or_else(|| SinkError::Postgres("not connected".to_owned()))?;
        let sql = format!(
            "INSERT INTO {} (seq, prev, hash, record_type, event_id, time_ms, kind, success,
                customer_id, customer_email, customer_subject, correlation_id, line)
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                $6::bigint[], $7::text[], $8::bool[], $9::text[], $10::text[], $11::text[],
                $12::text[], $13::text[])
             ON CONFLICT (seq) DO NOTHING",
            self.table
        );
        let result = client
            .execute(
                &sql,
                &[
                    &cols.seq,
                    &cols.prev,
                    &cols.hash,
                    &cols.record_type,
                    &cols.event_id,
                    &cols.time_ms,
                    &cols.kind,
                    &cols.success,
                    &cols.customer_id,
                    &cols.customer_email,
                    &cols.customer_subject,
                    &cols.correlation_id,
                    &cols.line,
                ],
            )
            .await;
        if let Err(e) = result {
            // a broken connection is replaced on the next call
            if client.is_closed() {
                *guard = None;
            }
            return Err(pg(e));
        }
        Ok(())
    }
}

#[derive(Default)]
struct Columns {
    seq: Vec<i64>,
    prev: Vec<String>,
    hash: Vec<String>,
    record_type: Vec<&'static str>,
    event_id: Vec<Option<String>>,
    time_ms: Vec<Option<i64>>,
    kind: Vec<Option<&'static str>>,
    success: Vec<Option<bool>>,
    customer_id: Vec<Option<String>>,
    customer_email: Vec<Option<String>>,
    customer_subject: Vec<Option<String>>,
    correlation_id: Vec<Option<String>>,
    line: Vec<String>,
}

impl Columns {
    fn push(&mut self, r: &Record) {
        let e = r.event();
        let c = e.and_then(|e| e.customer.as_ref());
        self.seq.push(i64::try_from(r.seq()).unwrap_or(i64::MAX));
        self.prev.push(r.prev().to_string());
        self.hash.push(r.hash().to_string());
        self.record_type
            .push(if e.is_some() { "event" } else { "checkpoint" });
        self.event_id.push(e.map(|e| e.id.to_string()));
        self.time_ms.push(e.map(|e| e.time.unix_millis()));
        self.kind.push(e.map(|e| e.kind().as_str()));
        self.success.push(e.map(|e| e.outcome.is_success()));
        self.customer_id.push(c.and_then(|c| c.id.clone()));
        self.customer_email.push(c.and_then(|c| c.email.clone()));
        self.customer_subject
            .push(c.and_then(|c| c.subject.clone()));
        self.correlation_id
            .push(e.and_then(|e| e.correlation_id.clone()));
        self.line.push(r.line().to_owned());
    }
}
