//! The portal gate: what a session may do, raising requests on the customer's behalf, and
//! the per-customer request rate limit.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use jsm_sso_core::ReplayCache;
use jsm_sso_core::directory::{CustomerId, PortalId};

use crate::error::{BoxedError, Error};
use crate::session::unix;

/// What the front end wants to do on a portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// See the portal and the customer's own requests.
    View,
    /// Raise a new request.
    RaiseRequest,
}

impl Action {
    /// The action's name (`view`, `raise_request`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::RaiseRequest => "raise_request",
        }
    }
}

/// The longest summary accepted, in characters (Jira's own limit).
pub const MAX_SUMMARY_CHARS: usize = 255;
/// The longest description accepted, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 32 * 1024;

/// A request the customer wants to raise.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RequestDraft {
    /// The request type in the portal.
    pub request_type: String,
    /// The summary.
    pub summary: String,
    /// The description.
    pub description: String,
    /// Other field values (field id to the value in the helpdesk's JSON shape).
    pub fields: BTreeMap<String, serde_json::Value>,
}

impl RequestDraft {
    /// A request of a type with a summary and a description.
    pub fn new(
        request_type: impl Into<String>,
        summary: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Self {
            request_type: request_type.into(),
            summary: summary.into(),
            description: description.into(),
            fields: BTreeMap::new(),
        }
    }

    /// Sets another field.
    #[must_use]
    pub fn field(mut self, id: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.fields.insert(id.into(), value.into());
        self
    }

    pub(crate) fn check(&self) -> Result<(), Error> {
        let summary = self.summary.trim();
        if summary.is_empty() {
            return Err(Error::RequestInvalid("the summary is empty".into()));
        }
        if summary.chars().count() > MAX_SUMMARY_CHARS {
            return Err(Error::RequestInvalid(format!(
                "the summary is longer than {MAX_SUMMARY_CHARS} characters"
            )));
        }
        if self.description.len() > MAX_DESCRIPTION_BYTES {
            return Err(Error::RequestInvalid(format!(
                "the description is larger than {MAX_DESCRIPTION_BYTES} bytes"
            )));
        }
        if self.request_type.trim().is_empty() {
            return Err(Error::RequestInvalid("no request type".into()));
        }
        Ok(())
    }
}

/// A raised request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RaisedRequest {
    /// The issue key (`HELP-42`).
    pub key: String,
    /// The issue id.
    pub id: String,
}

impl RaisedRequest {
    /// A raised request (for desk implementations).
    pub fn new(key: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            id: id.into(),
        }
    }
}

/// Where requests are raised: the helpdesk, always on behalf of a known customer, so no
/// anonymous request can exist. With the `jira` feature, `jsm_sso_jira::JiraClient`
/// implements it.
#[async_trait]
pub trait RequestDesk: Send + Sync {
    /// Raises `draft` in `portal` with `customer` as the reporter.
    ///
    /// # Errors
    ///
    /// The helpdesk's error.
    async fn raise(
        &self,
        customer: &CustomerId,
        portal: &PortalId,
        draft: &RequestDraft,
    ) -> Result<RaisedRequest, BoxedError>;
}

/// The per-customer request limit: at most `limit` requests per `window`. Counted in the
/// broker's [`ReplayCache`], so a fleet sharing the cache shares the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window (1 to 1000).
    pub limit: u32,
    /// The window.
    pub window: Duration,
}

impl Default for RateLimit {
    /// Ten requests an hour.
    fn default() -> Self {
        Self {
            limit: 10,
            window: Duration::from_secs(3600),
        }
    }
}

impl RateLimit {
    pub(crate) fn check_config(&self) -> Result<(), Error> {
        if !(1..=1000).contains(&self.limit) || self.window.as_secs() == 0 {
            return Err(Error::Config(format!(
                "rate limit {} per {:?}: the limit must be 1 to 1000 and the window at least a second",
                self.limit, self.window
            )));
        }
        Ok(())
    }

    /// Takes a slot for the customer in the current fixed window: slot keys
    /// `broker:rate:<customer>:<window>:<n>` are inserted once each, so exactly `limit`
    /// requests per window succeed however many brokers share the cache.
    pub(crate) async fn take(
        &self,
        replay: &dyn ReplayCache,
        customer: &CustomerId,
        now: SystemTime,
    ) -> Result<(), Error> {
        let window = self.window.as_secs().max(1);
        let index = unix(now) / window;
        let ends = SystemTime::UNIX_EPOCH + Duration::from_secs((index + 1) * window);
        for slot in 0..self.limit {
            let key = format!("broker:rate:{customer}:{index}:{slot}");
            if replay.insert_if_absent(&key, ends).await? {
                return Ok(());
            }
        }
        Err(Error::RateLimited {
            limit: self.limit,
            window_secs: window,
        })
    }
}
