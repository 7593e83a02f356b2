//! [`FileSink`]: the tamper-evident JSON-lines log on disk, in rotated segment files.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use super::blocking;
use super::{AuditSink, ChainHead};
use crate::error::{SinkError, VerifyError};
use crate::keys::VerifyingKey;
use crate::query::{Found, Query};
use crate::record::{CheckpointReason, Record};
use crate::verify::{Verifier, VerifyReport};

/// Options of a [`FileSink`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileSinkOptions {
    /// Ask for rotation once the current file reaches this size (default 16 MiB). The log
    /// then writes a rotate checkpoint, which ends this file and begins the next.
    pub rotate_bytes: u64,
    /// File name prefix: segments are `PREFIX-000001.jsonl`, `PREFIX-000002.jsonl`, ...
    pub prefix: String,
}

impl Default for FileSinkOptions {
    fn default() -> Self {
        Self {
            rotate_bytes: 16 * 1024 * 1024,
            prefix: "audit".to_owned(),
        }
    }
}

impl FileSinkOptions {
    /// Sets the rotation size.
    #[must_use]
    pub fn rotate_bytes(mut self, bytes: u64) -> Self {
        self.rotate_bytes = bytes;
        self
    }

    /// Sets the file name prefix.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

/// The hash-chained JSON-lines log in a directory: one record per line, each batch written
/// with one `write` and one `fsync` (group commit), files rotated on a rotate checkpoint
/// that ends one file and is repeated as the first line of the next, so the chain runs on
/// across files. On open, a crash-cut last line is removed (the log then records
/// `audit.recovered`).
#[derive(Debug, Clone)]
pub struct FileSink {
    dir: PathBuf,
    options: FileSinkOptions,
    state: Arc<Mutex<FileState>>,
    size: Arc<AtomicU64>,
}

#[derive(Debug, Default)]
struct FileState {
    file: Option<File>,
    segment: u32,
    last_seq: Option<u64>,
}

impl FileSink {
    /// A sink writing into `dir` (created on open).
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>, options: FileSinkOptions) -> Self {
        Self {
            dir: dir.into(),
            options,
            state: Arc::new(Mutex::new(FileState::default())),
            size: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The segment files, oldest first.
    ///
    /// # Errors
    ///
    /// The directory cannot be read.
    pub fn segments(&self) -> Result<Vec<PathBuf>, SinkError> {
        segments(&self.dir, &self.options.prefix)
    }

    /// Verifies every segment in order (see [`Verifier`]).
    ///
    /// # Errors
    ///
    /// `Ok(Err(..))` names the first bad line (with its file); `Err` is an I/O failure.
    pub async fn verify(
        &self,
        key: Option<VerifyingKey>,
    ) -> Result<Result<VerifyReport, (PathBuf, VerifyError)>, SinkError> {
        let files = self.segments()?;
        blocking(move || {
            let mut verifier = Verifier::new(key.as_ref());
            let mut last = PathBuf::new();
            for path in files {
                let bytes = fs::read(&path)?;
                if let Err(e) = verifier.feed_file(&bytes) {
                    return Ok(Err((path, e)));
                }
                last = path;
            }
            Ok(verifier.finish().map_err(|e| (last, e)))
        })
        .await
    }

    /// Events matching `query`, oldest first, from every segment.
    ///
    /// # Errors
    ///
    /// A segment cannot be read, or a line is not a record.
    pub async fn query(&self, query: &Query) -> Result<Vec<Found>, SinkError> {
        let files = self.segments()?;
        let query = query.clone();
        blocking(move || {
            let mut found = Vec::new();
            let mut last_seq = None;
            let limit = query.limit.unwrap_or(usize::MAX);
            for path in files {
                let bytes = fs::read(&path)?;
                for line in complete_lines(&bytes) {
                    let text = std::str::from_utf8(line)
                        .map_err(|_| corrupt(&path, "a line is not utf-8"))?;
                    let record = Record::parse(text)
                        .map_err(|_| corrupt(&path, "a line is not a valid record"))?;
                    if last_seq.is_some_and(|l| record.seq() <= l) {
                        continue; // the repeated rotate checkpoint
                    }
                    last_seq = Some(record.seq());
                    if let Some(event) = record.event().filter(|e| query.matches(e)) {
                        found.push(Found {
                            seq: record.seq(),
                            event: event.clone(),
                        });
                        if found.len() >= limit {
                            return Ok(found);
                        }
                    }
                }
            }
            Ok(found)
        })
        .await
    }

    fn segment_path(&self, n: u32) -> PathBuf {
        segment_path(&self.dir, &self.options.prefix, n)
    }
}

fn corrupt(path: &Path, what: &str) -> SinkError {
    SinkError::Corrupt(format!("{}: {what}", path.display()))
}

fn segment_path(dir: &Path, prefix: &str, n: u32) -> PathBuf {
    dir.join(format!("{prefix}-{n:06}.jsonl"))
}

fn segments(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>, SinkError> {
    let mut numbered = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        let number = name
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('-'))
            .and_then(|r| r.strip_suffix(".jsonl"))
            .filter(|n| n.len() == 6)
            .and_then(|n| n.parse::<u32>().ok());
        if let Some(n) = number {
            numbered.push(n);
        }
    }
    numbered.sort_unstable();
    Ok(numbered
        .into_iter()
        .map(|n| segment_path(dir, prefix, n))
        .collect())
}

/// The newline-terminated lines of `bytes` (a partial last line is left out).
fn complete_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let end = bytes
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |p| p.saturating_add(1));
    let complete = bytes.get(..end).unwrap_or_default();
    complete.split(|b| *b == b'\n').filter(|l| !l.is_empty())
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    // makes a new file's directory entry durable; not every platform can open a directory
    match File::open(dir) {
        Ok(d) => d.sync_all().or(Ok(())),
        Err(_) => Ok(()),
    }
}

/// Opens the last segment, removing a crash-cut tail; returns the file, the last complete
/// line (if any) and the bytes removed.
fn recover(path: &Path) -> Result<(File, Option<String>, u64), SinkError> {
    let mut file = OpenOptions::new().read(true).append(true).open(path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let keep = bytes
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |p| p.saturating_add(1));
    let cut = u64::try_from(bytes.len().saturating_sub(keep)).unwrap_or(u64::MAX);
    if cut > 0 {
        file.set_len(u64::try_from(keep).unwrap_or(u64::MAX))?;
        file.sync_all()?;
        file.seek(SeekFrom::End(0))?;
    }
    let last = complete_lines(bytes.get(..keep).unwrap_or_default())
        .last()
        .map(|l| String::from_utf8_lossy(l).into_owned());
    Ok((file, last, cut))
}

#[async_trait]
impl AuditSink for FileSink {
    async fn open(&self) -> Result<Option<ChainHead>, SinkError> {
        let dir = self.dir.clone();
        let files = {
            fs::create_dir_all(&dir)?;
            self.segments()?
        };
        let state = Arc::clone(&self.state);
        let size = Arc::clone(&self.size);
        let first = self.segment_path(1);
        blocking(move || {
            let mut st = state.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(last_path) = files.last() else {
                let file = OpenOptions::new().create(true).append(true).open(&first)?;
                sync_dir(&dir)?;
                *st = FileState { file: Some(file), segment: 1, last_seq: None };
                size.store(0, Ordering::SeqCst);
                return Ok(None);
            };
            let (file, mut last_line, cut) = recover(last_path)?;
            size.store(file.metadata()?.len(), Ordering::SeqCst);
            if last_line.is_none() {
                // a fresh segment that crashed before its first line: the previous one ends the chain
                if let Some(prev) = files.iter().rev().nth(1) {
                    let bytes = fs::read(prev)?;
                    last_line = complete_lines(&bytes).last().map(|l| String::from_utf8_lossy(l).into_owned());
                }
            }
            let segment = last_path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.rsplit('-').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            let head = match last_line {
                Some(line) => {
                    let record = Record::parse(&line).map_err(|_| {
                        corrupt(last_path, "the last line is not a valid record; verify the log before writing to it")
                    })?;
                    Some(ChainHead::of(&record, cut))
                }
                None => None,
            };
            *st = FileState { file: Some(file), segment, last_seq: head.as_ref().map(|h| h.seq) };
            Ok(head)
        })
        .await
    }

    async fn write(&self, records: &[Record]) -> Result<(), SinkError> {
        let lines: Vec<(u64, String, bool)> = records
            .iter()
            .map(|r| {
                let rotate = r
                    .checkpoint()
                    .is_some_and(|cp| cp.reason == CheckpointReason::Rotate);
                (r.seq(), r.line().to_owned(), rotate)
            })
            .collect();
        let state = Arc::clone(&self.state);
        let size = Arc::clone(&self.size);
        let dir = self.dir.clone();
        let prefix = self.options.prefix.clone();
        blocking(move || {
            let mut st = state.lock().unwrap_or_else(PoisonError::into_inner);
            let mut buf = Vec::with_capacity(lines.iter().map(|(_, l, _)| l.len() + 1).sum());
            let mut last = st.last_seq;
            for (seq, line, rotate) in lines {
                if last.is_some_and(|l| seq <= l) {
                    continue;
                }
                buf.extend_from_slice(line.as_bytes());
                buf.push(b'\n');
                last = Some(seq);
                if rotate {
                    commit(&mut st, &mut buf, &size)?;
                    st.last_seq = last;
                    let next = st.segment.saturating_add(1);
                    let path = segment_path(&dir, &prefix, next);
                    let file = OpenOptions::new()
                        .create_new(true)
                        .append(true)
                        .open(&path)?;
                    sync_dir(&dir)?;
                    st.file = Some(file);
                    st.segment = next;
                    size.store(0, Ordering::SeqCst);
                    buf.extend_from_slice(line.as_bytes());
                    buf.push(b'\n');
                    commit(&mut st, &mut buf, &size)?;
                }
            }
            commit(&mut st, &mut buf, &size)?;
            st.last_seq = last;
            Ok(())
        })
        .await
    }

    async fn close(&self) -> Result<(), SinkError> {
        let state = Arc::clone(&self.state);
        blocking(move || {
            let mut st = state.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(file) = st.file.take() {
                file.sync_all()?;
            }
            Ok(())
        })
        .await
    }

    fn rotation_due(&self) -> bool {
        self.size.load(Ordering::SeqCst) >= self.options.rotate_bytes
    }
}

/// Writes the buffer with one write and one fsync. On failure the file is cut back to where
/// it was, so a retry never appends after half a line.
fn commit(st: &mut FileState, buf: &mut Vec<u8>, size: &AtomicU64) -> Result<(), SinkError> {
    if buf.is_empty() {
        return Ok(());
    }
    let file = st
        .file
        .as_mut()
        .ok_or_else(|| SinkError::Unavailable("file sink is not open".to_owned()))?;
    let before = file.metadata()?.len();
    if let Err(e) = file.write_all(buf).and_then(|()| file.sync_data()) {
        let _ignored = file.set_len(before);
        return Err(e.into());
    }
    size.fetch_add(
        u64::try_from(buf.len()).unwrap_or(u64::MAX),
        Ordering::SeqCst,
    );
    buf.clear();
    Ok(())
}
