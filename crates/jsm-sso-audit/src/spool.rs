//! The local spool: records the sink could not take, in the log's own line format, fsynced,
//! replayed into the sink when it is back (and on the next start).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use crate::error::SinkError;
use crate::record::Record;
use crate::sink::blocking;

#[derive(Debug)]
pub(crate) struct Spool {
    path: PathBuf,
    /// The spooled records, mirrored in memory so a replay needs no re-read.
    records: Vec<Record>,
}

impl Spool {
    /// Opens (or creates) the spool, reading what a previous run left; a crash-cut last line
    /// is dropped (its record was never acknowledged).
    pub(crate) async fn open(path: PathBuf) -> Result<Self, SinkError> {
        blocking(move || {
            let bytes = match fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            let end = bytes
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |p| p.saturating_add(1));
            let mut records = Vec::new();
            for line in bytes
                .get(..end)
                .unwrap_or_default()
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
            {
                let text = std::str::from_utf8(line).map_err(|_| {
                    SinkError::Corrupt(format!("{}: spool line is not utf-8", path.display()))
                })?;
                let record = Record::parse(text).map_err(|_| {
                    SinkError::Corrupt(format!(
                        "{}: spool line is not a valid record",
                        path.display()
                    ))
                })?;
                records.push(record);
            }
            Ok(Self { path, records })
        })
        .await
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub(crate) fn records(&self) -> &[Record] {
        &self.records
    }

    /// Appends with one write and one fsync.
    pub(crate) async fn append(&mut self, records: &[Record]) -> Result<(), SinkError> {
        let path = self.path.clone();
        let mut buf = Vec::new();
        for r in records {
            buf.extend_from_slice(r.line().as_bytes());
            buf.push(b'\n');
        }
        blocking(move || {
            let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
            let before = file.metadata()?.len();
            if let Err(e) = file.write_all(&buf).and_then(|()| file.sync_data()) {
                let _ignored = file.set_len(before);
                return Err(e.into());
            }
            Ok(())
        })
        .await?;
        self.records.extend_from_slice(records);
        Ok(())
    }

    /// Empties the spool after its records reached the sink.
    pub(crate) async fn clear(&mut self) -> Result<(), SinkError> {
        let path = self.path.clone();
        blocking(move || {
            let file = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(&path)?;
            file.sync_all()?;
            Ok(())
        })
        .await?;
        self.records.clear();
        Ok(())
    }
}
