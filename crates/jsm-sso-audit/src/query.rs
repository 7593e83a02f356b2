//! [`Query`]: the admin page's filter, run by the file sink, the memory sink and PostgreSQL.

use crate::Timestamp;
use crate::event::{AuditEvent, EventKind};

/// Which events to return. Every set criterion must hold; an empty query matches all.
///
/// Personal fields are stored as the [`Privacy`](crate::Privacy) configuration left them:
/// to find a customer by email when emails are pseudonymised, pass
/// `privacy.protect(PersonalField::Email, "alice@example.com")` as `customer`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Query {
    /// Events at or after this time.
    pub from: Option<Timestamp>,
    /// Events before this time.
    pub until: Option<Timestamp>,
    /// Events whose customer id, email or subject is this value.
    pub customer: Option<String>,
    /// Events of one of these kinds (empty: any kind).
    pub kinds: Vec<EventKind>,
    /// Only successes (`Some(true)`) or failures (`Some(false)`).
    pub success: Option<bool>,
    /// Events with this correlation id.
    pub correlation_id: Option<String>,
    /// At most this many events (the oldest first); `None` for all.
    pub limit: Option<usize>,
}

impl Query {
    /// A query that matches every event.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the time range `[from, until)`.
    #[must_use]
    pub fn between(mut self, from: Timestamp, until: Timestamp) -> Self {
        self.from = Some(from);
        self.until = Some(until);
        self
    }

    /// Restricts to one customer.
    #[must_use]
    pub fn customer(mut self, value: impl Into<String>) -> Self {
        self.customer = Some(value.into());
        self
    }

    /// Adds a kind.
    #[must_use]
    pub fn kind(mut self, kind: EventKind) -> Self {
        self.kinds.push(kind);
        self
    }

    /// Restricts to successes or failures.
    #[must_use]
    pub fn success(mut self, success: bool) -> Self {
        self.success = Some(success);
        self
    }

    /// Restricts to one correlation id.
    #[must_use]
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    /// Caps the number of results.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Whether `event` matches.
    #[must_use]
    pub fn matches(&self, event: &AuditEvent) -> bool {
        self.from.is_none_or(|from| event.time >= from)
            && self.until.is_none_or(|until| event.time < until)
            && (self.kinds.is_empty() || self.kinds.contains(&event.kind()))
            && self.success.is_none_or(|s| event.outcome.is_success() == s)
            && self
                .correlation_id
                .as_ref()
                .is_none_or(|c| event.correlation_id.as_ref() == Some(c))
            && self.customer.as_ref().is_none_or(|c| {
                event.customer.as_ref().is_some_and(|cust| {
                    [&cust.id, &cust.email, &cust.subject]
                        .into_iter()
                        .any(|v| v.as_ref() == Some(c))
                })
            })
    }
}

/// An event found by a query, with its sequence number in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Found {
    /// The record's sequence number.
    pub seq: u64,
    /// The event.
    pub event: AuditEvent,
}
