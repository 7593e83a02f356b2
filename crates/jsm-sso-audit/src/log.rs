//! [`AuditLog`]: the handle callers record through, and the background worker behind it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jsm_sso_core::clock::SystemClock;
use jsm_sso_core::{Clock, CodedError};
use tokio::sync::{mpsc, oneshot, watch};

use crate::Timestamp;
use crate::error::{AuditError, ConfigError};
use crate::event::{Actor, AuditEvent, Details, Outcome};
use crate::keys::SigningKey;
use crate::privacy::Privacy;
use crate::record::{ChainHash, Checkpoint, CheckpointReason, Entry, Record};
use crate::sink::{AuditSink, ChainHead};
use crate::spool::Spool;

/// What the log does when events cannot be stored (sink down, spool failing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailureMode {
    /// The default: `record` fails with `audit.log.unavailable`, so the caller refuses the
    /// sign-in. Nothing is dropped; the worker keeps retrying the held records.
    #[default]
    Closed,
    /// Sign-ins go on; lost records are replaced by a signed `audit.gap` event naming the
    /// missing sequence range once the sink is back.
    Open,
}

/// How often and how fast the worker retries a failing sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts per batch before spooling or failing (at least 1).
    pub attempts: u32,
    /// First pause; it doubles after each failure.
    pub initial_backoff: Duration,
    /// Longest pause.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// A policy.
    #[must_use]
    pub fn new(attempts: u32, initial_backoff: Duration, max_backoff: Duration) -> Self {
        Self {
            attempts,
            initial_backoff,
            max_backoff,
        }
    }
}

/// The log's state, for a health endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Health {
    /// Records reach the sink.
    Healthy,
    /// The sink is down; records go to the local spool and are replayed later.
    Spooling {
        /// The sink's last error.
        reason: String,
    },
    /// Neither sink nor spool take records (fail-closed: `record` fails).
    Failing {
        /// The last error.
        reason: String,
    },
    /// Fail-open: records were dropped; a gap event will name them.
    Lossy {
        /// The first lost sequence number.
        from: u64,
        /// The last error.
        reason: String,
    },
}

/// Configures and starts an [`AuditLog`].
#[derive(Debug)]
pub struct AuditLogBuilder {
    sink: Arc<dyn AuditSink>,
    key: Arc<SigningKey>,
    privacy: Privacy,
    clock: Arc<dyn Clock>,
    queue_capacity: usize,
    batch_max: usize,
    checkpoint_every: u64,
    failure_mode: FailureMode,
    spool: Option<PathBuf>,
    retry: RetryPolicy,
}

impl AuditLogBuilder {
    /// Events run through this privacy configuration before they are written
    /// (default: [`Privacy::default`]).
    #[must_use]
    pub fn privacy(mut self, privacy: Privacy) -> Self {
        self.privacy = privacy;
        self
    }

    /// The clock for checkpoint times (default: the system clock).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Queue capacity: `record` waits when this many events are waiting (default 4096).
    #[must_use]
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity;
        self
    }

    /// The most records written with one fsync (default 512).
    #[must_use]
    pub fn batch_max(mut self, batch: usize) -> Self {
        self.batch_max = batch;
        self
    }

    /// A signed checkpoint after this many records (default 1000).
    #[must_use]
    pub fn checkpoint_every(mut self, records: u64) -> Self {
        self.checkpoint_every = records;
        self
    }

    /// Fail-closed (default) or fail-open.
    #[must_use]
    pub fn failure_mode(mut self, mode: FailureMode) -> Self {
        self.failure_mode = mode;
        self
    }

    /// A local file for records while the sink is down; replayed into the sink when it is
    /// back, and on the next start.
    #[must_use]
    pub fn spool(mut self, path: impl Into<PathBuf>) -> Self {
        self.spool = Some(path.into());
        self
    }

    /// The retry policy.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Opens the sink (continuing the chain it holds, sealing a crashed tail with an
    /// `audit.recovered` event), replays the spool, and starts the worker. Must be called
    /// inside a Tokio runtime.
    ///
    /// # Errors
    ///
    /// A refused option, or the sink cannot be opened.
    pub async fn start(self) -> Result<AuditLog, AuditError> {
        for (option, value, min) in [
            ("queue_capacity", self.queue_capacity as u64, 1),
            ("batch_max", self.batch_max as u64, 1),
            ("checkpoint_every", self.checkpoint_every, 1),
            ("retry.attempts", u64::from(self.retry.attempts), 1),
        ] {
            if value < min {
                return Err(ConfigError::Option {
                    option,
                    expected: "at least 1",
                    actual: value,
                }
                .into());
            }
        }
        let head = self.sink.open().await?;
        let mut spool = match &self.spool {
            Some(path) => Some(Spool::open(path.clone()).await?),
            None => None,
        };
        let mut head = head;
        if let Some(spool) = spool.as_mut()
            && !spool.is_empty()
        {
            self.sink.write(spool.records()).await?;
            if let Some(last) = spool.records().last()
                && head.as_ref().is_none_or(|h| h.seq < last.seq())
            {
                head = Some(ChainHead::of(last, 0));
            }
            spool.clear().await?;
        }
        let (tx, rx) = mpsc::channel(self.queue_capacity);
        let (failing_tx, failing_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            health: Mutex::new(Health::Healthy),
            shutting_down: AtomicBool::new(false),
            mode: self.failure_mode,
            capacity: self.queue_capacity,
        });
        let mut worker = Worker {
            rx,
            sink: self.sink,
            key: self.key,
            privacy: self.privacy,
            clock: self.clock,
            batch_max: self.batch_max,
            checkpoint_every: self.checkpoint_every,
            retry: self.retry,
            next_seq: head.as_ref().map_or(0, |h| h.seq.saturating_add(1)),
            head: head.as_ref().map_or(ChainHash::GENESIS, |h| h.hash),
            persisted_head: head.as_ref().map_or(ChainHash::GENESIS, |h| h.hash),
            since_checkpoint: 0,
            gap: None,
            spool,
            shared: Arc::clone(&shared),
            failing: failing_tx,
            backoff: self.retry.initial_backoff,
            next_try: tokio::time::Instant::now(),
        };
        if let Some(h) = head.as_ref().filter(|h| !h.sealed) {
            // the last run did not shut down cleanly: say so, and seal what survived
            let now = worker.now();
            let event = AuditEvent::new(
                now,
                Details::AuditRecovered {
                    truncated_bytes: h.truncated_bytes,
                    last_seq: h.seq,
                },
            )
            .with_actor(Actor::System {
                component: "audit".to_owned(),
            });
            let mut records = Vec::new();
            worker.push_event(event, &mut records)?;
            worker.push_checkpoint(CheckpointReason::Recovery, &mut records)?;
            worker
                .persist(records)
                .await
                .map_err(|reason| AuditError::Unavailable { reason })?;
        }
        tokio::spawn(worker.run());
        Ok(AuditLog {
            tx,
            shared,
            failing: failing_rx,
        })
    }
}

#[derive(Debug)]
struct Shared {
    health: Mutex<Health>,
    shutting_down: AtomicBool,
    mode: FailureMode,
    capacity: usize,
}

impl Shared {
    fn set_health(&self, health: Health) {
        *self.health.lock().unwrap_or_else(PoisonError::into_inner) = health;
    }
}

enum Command {
    Event(Box<AuditEvent>),
    Flush(oneshot::Sender<Result<(), String>>),
    Shutdown(oneshot::Sender<Result<Option<ChainHead>, AuditError>>),
}

/// The cloneable handle events are recorded through: a bounded queue in front of one
/// background worker that applies the privacy rules, sequences and chains the records,
/// batches them (one fsync per batch), signs checkpoints, retries with backoff, and spools
/// when the sink is down.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use jsm_sso_audit::{AuditEvent, AuditLog, Details, SigningKey, Timestamp};
/// use jsm_sso_audit::sink::MemorySink;
///
/// let sink = Arc::new(MemorySink::new());
/// let (key, _pem) = SigningKey::generate().unwrap();
/// let log = AuditLog::builder(sink.clone(), key).start().await.unwrap();
/// let now = Timestamp::from_system_time(std::time::SystemTime::now());
/// log.record(AuditEvent::new(now, Details::CustomerCreated {})).await.unwrap();
/// log.shutdown().await.unwrap();
/// assert_eq!(sink.records().len(), 2); // the event and the closing checkpoint
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    failing: watch::Receiver<bool>,
}

impl AuditLog {
    /// A builder writing to `sink`, signing checkpoints with `key`.
    #[must_use]
    pub fn builder(sink: Arc<dyn AuditSink>, key: SigningKey) -> AuditLogBuilder {
        AuditLogBuilder {
            sink,
            key: Arc::new(key),
            privacy: Privacy::default(),
            clock: Arc::new(SystemClock),
            queue_capacity: 4096,
            batch_max: 512,
            checkpoint_every: 1000,
            failure_mode: FailureMode::Closed,
            spool: None,
            retry: RetryPolicy::default(),
        }
    }

    /// Queues an event, waiting while the queue is full (backpressure). `Ok` means queued:
    /// call [`flush`](Self::flush) to wait until it is durable.
    ///
    /// # Errors
    ///
    /// `audit.log.unavailable` (fail-closed and the store is failing: refuse the sign-in),
    /// `audit.log.closed` after shutdown.
    pub async fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        self.check_available()?;
        let mut failing = self.failing.clone();
        let closed_mode = self.shared.mode == FailureMode::Closed;
        tokio::select! {
            sent = self.tx.send(Command::Event(Box::new(event))) => sent.map_err(|_| AuditError::Closed),
            // the worker dropping the watch sender means it stopped: closed, not failing
            failed = failing.wait_for(|f| *f), if closed_mode => Err(match failed {
                Ok(_) => self.unavailable(),
                Err(_) => AuditError::Closed,
            }),
        }
    }

    /// Queues an event without waiting; when the queue is full (or the log refuses), the
    /// event comes back with the reason — it is never dropped.
    ///
    /// # Errors
    ///
    /// The event and `audit.log.full`, `audit.log.unavailable` or `audit.log.closed`.
    pub fn try_record(&self, event: AuditEvent) -> Result<(), (Box<AuditEvent>, AuditError)> {
        let event = Box::new(event);
        if let Err(e) = self.check_available() {
            return Err((event, e));
        }
        match self.tx.try_reserve() {
            Ok(permit) => {
                permit.send(Command::Event(event));
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(())) => Err((
                event,
                AuditError::Full {
                    capacity: self.shared.capacity,
                },
            )),
            Err(mpsc::error::TrySendError::Closed(())) => Err((event, AuditError::Closed)),
        }
    }

    /// Waits until every event queued before this call is stored (in the sink or the spool).
    ///
    /// # Errors
    ///
    /// `audit.log.unavailable` when they could not be stored, `audit.log.closed` after
    /// shutdown.
    pub async fn flush(&self) -> Result<(), AuditError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Flush(tx))
            .await
            .map_err(|_| AuditError::Closed)?;
        rx.await
            .map_err(|_| AuditError::Closed)?
            .map_err(|reason| AuditError::Unavailable { reason })
    }

    /// Drains the queue, writes a closing checkpoint, closes the sink and stops the worker.
    /// Returns the final chain head. Later calls on any clone fail with `audit.log.closed`.
    ///
    /// # Errors
    ///
    /// `audit.log.unflushed` when records could not be written.
    pub async fn shutdown(&self) -> Result<Option<ChainHead>, AuditError> {
        self.shared.shutting_down.store(true, Ordering::SeqCst);
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Shutdown(tx))
            .await
            .map_err(|_| AuditError::Closed)?;
        rx.await.map_err(|_| AuditError::Closed)?
    }

    /// The log's state.
    #[must_use]
    pub fn health(&self) -> Health {
        self.shared
            .health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn unavailable(&self) -> AuditError {
        let reason = match self.health() {
            Health::Failing { reason }
            | Health::Spooling { reason }
            | Health::Lossy { reason, .. } => reason,
            Health::Healthy => "the audit store is failing".to_owned(),
        };
        AuditError::Unavailable { reason }
    }

    fn check_available(&self) -> Result<(), AuditError> {
        if self.shared.shutting_down.load(Ordering::SeqCst) {
            return Err(AuditError::Closed);
        }
        if self.shared.mode == FailureMode::Closed && *self.failing.borrow() {
            return Err(self.unavailable());
        }
        Ok(())
    }
}

struct Worker {
    rx: mpsc::Receiver<Command>,
    sink: Arc<dyn AuditSink>,
    key: Arc<SigningKey>,
    privacy: Privacy,
    clock: Arc<dyn Clock>,
    batch_max: usize,
    checkpoint_every: u64,
    retry: RetryPolicy,
    next_seq: u64,
    head: ChainHash,
    /// The head of what is stored (sink or spool); fail-open rewinds to it.
    persisted_head: ChainHash,
    since_checkpoint: u64,
    /// Fail-open: sequence numbers lost and not yet reported.
    gap: Option<(u64, u64, String)>,
    spool: Option<Spool>,
    shared: Arc<Shared>,
    failing: watch::Sender<bool>,
    backoff: Duration,
    next_try: tokio::time::Instant,
}

fn serialize_failure(e: &serde_json::Error) -> AuditError {
    AuditError::Unavailable {
        reason: format!("cannot serialize a record: {e}"),
    }
}

impl Worker {
    fn now(&self) -> Timestamp {
        Timestamp::from_system_time(self.clock.now())
    }

    async fn run(mut self) {
        let mut open = true;
        while open {
            let Some(first) = self.rx.recv().await else {
                // every handle dropped without shutdown: seal anyway
                let _ = self.close().await;
                return;
            };
            let mut commands = vec![first];
            while commands.len() < self.batch_max {
                match self.rx.try_recv() {
                    Ok(c) => commands.push(c),
                    Err(_) => break,
                }
            }
            let mut records = Vec::with_capacity(commands.len() + 2);
            let mut flushes = Vec::new();
            let mut shutdown = None;
            let mut error = None;
            for command in commands {
                match command {
                    Command::Event(event) => {
                        if let Err(e) = self.push_event(*event, &mut records) {
                            error = Some(e.to_string());
                        }
                    }
                    Command::Flush(reply) => flushes.push(reply),
                    Command::Shutdown(reply) => shutdown = Some(reply),
                }
            }
            if self.sink.rotation_due()
                && !records.is_empty()
                && let Err(e) = self.push_checkpoint(CheckpointReason::Rotate, &mut records)
            {
                error = Some(e.to_string());
            }
            let result = match (self.persist(records).await, error) {
                (Err(e), _) | (Ok(()), Some(e)) => Err(e),
                (Ok(()), None) => Ok(()),
            };
            for reply in flushes {
                let _ = reply.send(result.clone());
            }
            if let Some(reply) = shutdown {
                let _ = reply.send(self.close().await);
                open = false;
            }
        }
    }

    /// Drains what is left, writes the closing checkpoint and closes the sink.
    async fn close(&mut self) -> Result<Option<ChainHead>, AuditError> {
        self.rx.close();
        let mut records = Vec::new();
        while let Ok(command) = self.rx.try_recv() {
            match command {
                Command::Event(event) => self.push_event(*event, &mut records)?,
                Command::Flush(reply) => {
                    let _ = reply.send(Ok(()));
                }
                Command::Shutdown(reply) => {
                    let _ = reply.send(Err(AuditError::Closed));
                }
            }
        }
        self.push_checkpoint(CheckpointReason::Close, &mut records)?;
        let last = records.last().map(|r| ChainHead::of(r, 0));
        let unwritten = records.len() as u64;
        self.persist(records)
            .await
            .map_err(|reason| AuditError::Unflushed { unwritten, reason })?;
        if let Some(gap) = &self.gap {
            return Err(AuditError::Unflushed {
                unwritten: gap.1.saturating_sub(gap.0).saturating_add(1),
                reason: gap.2.clone(),
            });
        }
        self.sink.close().await?;
        Ok(last)
    }

    fn push_event(
        &mut self,
        mut event: AuditEvent,
        records: &mut Vec<Record>,
    ) -> Result<(), AuditError> {
        if let Some((from, to, reason)) = self.gap.take() {
            let gap = AuditEvent::new(self.now(), Details::AuditGap { from, to })
                .with_actor(Actor::System {
                    component: "audit".to_owned(),
                })
                .with_outcome(Outcome::Failure { code: reason });
            self.push(Entry::Event(Box::new(gap)), true, records)?;
        }
        self.privacy.apply(&mut event);
        self.push(Entry::Event(Box::new(event)), false, records)?;
        self.since_checkpoint = self.since_checkpoint.saturating_add(1);
        if self.since_checkpoint >= self.checkpoint_every {
            self.push_checkpoint(CheckpointReason::Interval, records)?;
        }
        Ok(())
    }

    fn push_checkpoint(
        &mut self,
        reason: CheckpointReason,
        records: &mut Vec<Record>,
    ) -> Result<(), AuditError> {
        let cp = Checkpoint {
            reason,
            time: self.now(),
            key_id: self.key.verifying_key().key_id().to_owned(),
        };
        self.since_checkpoint = 0;
        self.push(Entry::Checkpoint(cp), true, records)
    }

    fn push(
        &mut self,
        entry: Entry,
        signed: bool,
        records: &mut Vec<Record>,
    ) -> Result<(), AuditError> {
        let signer = signed.then_some(&*self.key);
        let record = Record::build(self.next_seq, self.head, entry, signer)
            .map_err(|e| serialize_failure(&e))?;
        self.next_seq = self.next_seq.saturating_add(1);
        self.head = record.hash();
        records.push(record);
        Ok(())
    }

    /// Stores records: the spool's backlog first, then these; retries, spools, and applies
    /// the failure mode. `Err` carries the reason the records are not stored.
    async fn persist(&mut self, records: Vec<Record>) -> Result<(), String> {
        if self.spool.as_ref().is_some_and(|s| !s.is_empty()) {
            self.drain_spool().await;
        }
        if records.is_empty() {
            return Ok(());
        }
        let spooling = self.spool.as_ref().is_some_and(|s| !s.is_empty());
        let result = if spooling {
            // keep the order: while a backlog waits, new records queue behind it
            Err("the sink is down; records are spooled".to_owned())
        } else {
            self.write_with_retry(&records).await
        };
        let reason = match result {
            Ok(()) => return self.stored(&records),
            Err(reason) => reason,
        };
        if let Some(spool) = self.spool.as_mut() {
            match spool.append(&records).await {
                Ok(()) => {
                    self.shared.set_health(Health::Spooling { reason });
                    return self.stored(&records);
                }
                Err(e) => {
                    tracing::warn!(target: "jsm_sso_audit", error = %e, "audit spool write failed")
                }
            }
        }
        match self.shared.mode {
            FailureMode::Open => {
                let (first, last) = match (records.first(), records.last()) {
                    (Some(f), Some(l)) => (f.seq(), l.seq()),
                    _ => return Ok(()),
                };
                let from = self.gap.as_ref().map_or(first, |g| g.0);
                self.gap = Some((from, last, "audit.sink.unavailable".to_owned()));
                self.head = self.persisted_head;
                self.shared.set_health(Health::Lossy {
                    from,
                    reason: reason.clone(),
                });
                tracing::error!(target: "jsm_sso_audit", from, to = last, %reason, "audit records dropped (fail-open)");
                Err(reason)
            }
            FailureMode::Closed => self.hold_until_stored(records, reason).await,
        }
    }

    /// Fail-closed: refuse new events and retry until the records are stored or shutdown
    /// gives up.
    async fn hold_until_stored(
        &mut self,
        records: Vec<Record>,
        mut reason: String,
    ) -> Result<(), String> {
        self.shared.set_health(Health::Failing {
            reason: reason.clone(),
        });
        let _ = self.failing.send(true);
        tracing::error!(target: "jsm_sso_audit", %reason, "audit store failing; refusing new events (fail-closed)");
        loop {
            if self.shared.shutting_down.load(Ordering::SeqCst) {
                return Err(reason);
            }
            tokio::time::sleep(self.backoff).await;
            self.backoff = (self.backoff * 2).min(self.retry.max_backoff);
            match self.sink.write(&records).await {
                Ok(()) => break,
                Err(e) => {
                    reason = e.to_string();
                    if let Some(spool) = self.spool.as_mut()
                        && spool.append(&records).await.is_ok()
                    {
                        break;
                    }
                }
            }
        }
        let _ = self.failing.send(false);
        self.backoff = self.retry.initial_backoff;
        self.stored(&records)
    }

    fn stored(&mut self, records: &[Record]) -> Result<(), String> {
        if let Some(last) = records.last() {
            self.persisted_head = last.hash();
        }
        if self.spool.as_ref().is_none_or(Spool::is_empty) {
            self.shared.set_health(Health::Healthy);
        }
        Ok(())
    }

    async fn write_with_retry(&mut self, records: &[Record]) -> Result<(), String> {
        let mut backoff = self.retry.initial_backoff;
        let mut last = String::new();
        for attempt in 0..self.retry.attempts {
            if attempt > 0 {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(self.retry.max_backoff);
            }
            match self.sink.write(records).await {
                Ok(()) => return Ok(()),
                Err(e) => last = format!("{} ({})", e, e.code()),
            }
        }
        Err(last)
    }

    /// Replays the spool into the sink, at most once per backoff period.
    async fn drain_spool(&mut self) {
        let now = tokio::time::Instant::now();
        if now < self.next_try {
            return;
        }
        let Some(spool) = self.spool.as_mut() else {
            return;
        };
        match self.sink.write(spool.records()).await {
            Ok(()) => {
                if let Err(e) = spool.clear().await {
                    tracing::warn!(target: "jsm_sso_audit", error = %e, "cannot clear the audit spool");
                }
                self.backoff = self.retry.initial_backoff;
                self.shared.set_health(Health::Healthy);
            }
            Err(e) => {
                self.next_try = now + self.backoff;
                self.backoff = (self.backoff * 2).min(self.retry.max_backoff);
                self.shared.set_health(Health::Spooling {
                    reason: e.to_string(),
                });
            }
        }
    }
}
