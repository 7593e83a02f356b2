//! [`MemoryJsm`]: a JSM site held in memory that answers the REST API as JSM does, for
//! tests and the demo.
//!
//! It is not a mock of the client: it speaks HTTP requests and responses (`http` types),
//! with JSM's behaviour — 409 on a duplicate customer with `strictConflictStatusCode`
//! (400 without), 412 when an experimental endpoint lacks `X-ExperimentalApi: opt-in`,
//! `start`/`limit` pages capped at 50, the user search's 1,000-result window, 401 without
//! credentials, Atlassian's error bodies. On top, faults can be injected (429 with
//! `Retry-After`, 503, slow answers, dropped connections) and a token-bucket rate limit
//! set.
//!
//! Two ways in: [`MemoryJsm::client`] / [`MemoryJsm::directory`] use an in-process
//! [`HttpClient`] (no sockets), and [`MemoryJsm::serve`] answers a raw request, for a real
//! HTTP server in tests. Either way the same [`JiraClient`] and [`JsmDirectory`] code
//! runs, so the in-memory directory *is* the HTTP directory on a fake site.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use http::Method;
use jsm_sso_core::transport::HttpError;
use jsm_sso_core::{HttpClient, Secret};

use crate::auth::{Auth, Site};
use crate::client::{JiraClient, JiraClientBuilder};
use crate::directory::JsmDirectory;
use crate::retry::RetryPolicy;

mod routes;

/// What an injected fault does to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status, headers and body instead of handling the request.
    Status {
        /// The status.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// The body.
        body: String,
    },
    /// Handle the request, then hold the answer this long (a slow server: a client that
    /// times out has had its request applied).
    Delay(Duration),
    /// Close the connection without answering; the request is not applied.
    Drop,
}

impl Fault {
    /// 429 with `Retry-After: seconds` and `RateLimit-Reason: jira-burst-based`.
    #[must_use]
    pub fn rate_limited(retry_after_seconds: u64) -> Self {
        Self::Status {
            status: 429,
            headers: vec![
                ("Retry-After".into(), retry_after_seconds.to_string()),
                ("RateLimit-Reason".into(), "jira-burst-based".into()),
            ],
            body: r#"{"errorMessage":"Rate limit exceeded."}"#.into(),
        }
    }

    /// 429 without any hint (the client falls back to exponential backoff).
    #[must_use]
    pub fn rate_limited_without_hint() -> Self {
        Self::Status {
            status: 429,
            headers: vec![("RateLimit-Reason".into(), "jira-quota-tenant-based".into())],
            body: r#"{"errorMessage":"Rate limit exceeded."}"#.into(),
        }
    }

    /// 503 Service Unavailable without hints.
    #[must_use]
    pub fn unavailable() -> Self {
        Self::Status {
            status: 503,
            headers: Vec::new(),
            body: r#"{"errorMessage":"Service unavailable."}"#.into(),
        }
    }
}

/// An injected fault for the next `times` requests that match.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FaultRule {
    /// Only requests with this method (any if `None`).
    pub method: Option<Method>,
    /// Only requests whose path contains this (any if `None`).
    pub path_contains: Option<String>,
    /// How many matching requests it hits.
    pub times: usize,
    /// What it does.
    pub fault: Fault,
    /// Hits only every `every`-th matching request (1: each one).
    pub every: usize,
    seen: usize,
}

impl FaultRule {
    /// `fault` for the next `times` requests of any kind.
    #[must_use]
    pub fn new(fault: Fault, times: usize) -> Self {
        Self {
            method: None,
            path_contains: None,
            times,
            fault,
            every: 1,
            seen: 0,
        }
    }

    /// Hits only every `n`-th matching request (a failure rate rather than a burst).
    #[must_use]
    pub fn every(mut self, n: usize) -> Self {
        self.every = n.max(1);
        self
    }

    /// Only requests with `method`.
    #[must_use]
    pub fn method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }

    /// Only requests whose path contains `part`.
    #[must_use]
    pub fn path(mut self, part: impl Into<String>) -> Self {
        self.path_contains = Some(part.into());
        self
    }
}

/// What [`MemoryJsm::serve`] decided for a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum Served {
    /// Answer now.
    Respond(http::Response<Vec<u8>>),
    /// Answer after the delay.
    Delayed(Duration, http::Response<Vec<u8>>),
    /// Drop the connection.
    Drop,
}

#[derive(Debug, Clone)]
pub(crate) struct UserRec {
    pub(crate) account_id: String,
    pub(crate) email: String,
    pub(crate) display_name: String,
    pub(crate) account_type: &'static str,
    pub(crate) properties: BTreeMap<String, serde_json::Value>,
    pub(crate) portal_only_revoked: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct OrgRec {
    pub(crate) name: String,
    pub(crate) members: BTreeSet<String>,
    pub(crate) properties: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone)]
pub(crate) struct RequestTypeRec {
    pub(crate) id: String,
    pub(crate) name: String,
    /// Field id, name, required.
    pub(crate) fields: Vec<(String, String, bool)>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct DeskRec {
    pub(crate) project_key: String,
    pub(crate) name: String,
    pub(crate) customers: BTreeSet<String>,
    pub(crate) organizations: BTreeSet<u32>,
    pub(crate) request_types: Vec<RequestTypeRec>,
}

/// A raised request, as [`MemoryJsm::requests`] reports it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RaisedRequest {
    /// The issue key.
    pub issue_key: String,
    /// The service desk.
    pub service_desk_id: String,
    /// The request type.
    pub request_type_id: String,
    /// The reporter's account id.
    pub reporter: String,
    /// The field values sent.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug)]
struct Bucket {
    per_second: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) next_account: u64,
    pub(crate) next_org: u32,
    pub(crate) next_desk: u32,
    pub(crate) next_request_type: u32,
    pub(crate) next_issue: u32,
    pub(crate) users: BTreeMap<String, UserRec>,
    pub(crate) by_email: BTreeMap<String, String>,
    /// Lower-case display name and account id, for the user search's prefix match.
    pub(crate) by_name: BTreeSet<(String, String)>,
    pub(crate) organizations: BTreeMap<u32, OrgRec>,
    pub(crate) desks: BTreeMap<String, DeskRec>,
    pub(crate) requests: Vec<RaisedRequest>,
    faults: VecDeque<FaultRule>,
    bucket: Option<Bucket>,
    pub(crate) log: Vec<String>,
    pub(crate) rate_limited: u64,
    faults_fired: u64,
}

impl State {
    pub(crate) fn new_account(
        &mut self,
        email: &str,
        display_name: &str,
        kind: &'static str,
    ) -> String {
        self.next_account += 1;
        let id = format!("qm:5b10ac8d82e05b22cc7d{:08x}", self.next_account);
        self.by_email.insert(email.to_ascii_lowercase(), id.clone());
        self.by_name
            .insert((display_name.to_ascii_lowercase(), id.clone()));
        self.users.insert(
            id.clone(),
            UserRec {
                account_id: id.clone(),
                email: email.to_owned(),
                display_name: display_name.to_owned(),
                account_type: kind,
                properties: BTreeMap::new(),
                portal_only_revoked: false,
            },
        );
        id
    }
}

/// A JSM site in memory; see the [module docs](self). Clones share the site.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use jsm_sso_jira::CodedError;
/// use jsm_sso_jira::memory::MemoryJsm;
///
/// let jsm = MemoryJsm::new();
/// let client = jsm.client();
/// client.create_customer("bob@example.com", "Bob").await?;
/// let again = client.create_customer("BOB@example.com", "Bob").await.unwrap_err();
/// assert_eq!(again.code(), "jira.conflict"); // 409, as JSM answers
/// let (bob, created) = client.ensure_customer("bob@example.com", "Bob").await?;
/// assert!(!created);
/// assert_eq!(bob.email_address.as_deref(), Some("bob@example.com"));
/// # Ok::<(), jsm_sso_jira::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryJsm {
    state: Arc<Mutex<State>>,
}

impl MemoryJsm {
    /// An empty site.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds an organization; returns its id.
    pub fn add_organization(&self, name: &str) -> String {
        let mut s = self.lock();
        s.next_org += 1;
        let id = s.next_org;
        s.organizations.insert(
            id,
            OrgRec {
                name: name.to_owned(),
                ..OrgRec::default()
            },
        );
        id.to_string()
    }

    /// Adds a service desk with one request type, "Get help" (fields `summary` required,
    /// `description`); returns the desk id.
    pub fn add_service_desk(&self, project_key: &str, name: &str) -> String {
        let mut s = self.lock();
        s.next_desk += 1;
        let id = s.next_desk.to_string();
        s.desks.insert(
            id.clone(),
            DeskRec {
                project_key: project_key.to_owned(),
                name: name.to_owned(),
                ..DeskRec::default()
            },
        );
        drop(s);
        self.add_request_type(
            &id,
            "Get help",
            &[
                ("summary", "Summary", true),
                ("description", "Description", false),
            ],
        );
        id
    }

    /// Adds a request type to a desk with fields `(id, name, required)`; returns its id,
    /// or `None` for an unknown desk.
    pub fn add_request_type(
        &self,
        desk: &str,
        name: &str,
        fields: &[(&str, &str, bool)],
    ) -> Option<String> {
        let mut s = self.lock();
        s.next_request_type += 1;
        let id = (s.next_request_type + 10).to_string();
        let desk = s.desks.get_mut(desk)?;
        desk.request_types.push(RequestTypeRec {
            id: id.clone(),
            name: name.to_owned(),
            fields: fields
                .iter()
                .map(|(f, n, r)| ((*f).to_owned(), (*n).to_owned(), *r))
                .collect(),
        });
        Some(id)
    }

    /// Adds a customer account directly (as if created earlier); returns its account id.
    pub fn add_customer(&self, email: &str, display_name: &str) -> String {
        self.lock().new_account(email, display_name, "customer")
    }

    /// Adds an agent (licensed Atlassian) account; returns its account id.
    pub fn add_agent(&self, email: &str, display_name: &str) -> String {
        self.lock().new_account(email, display_name, "atlassian")
    }

    /// Queues a fault.
    pub fn inject(&self, rule: FaultRule) {
        self.lock().faults.push_back(rule);
    }

    /// Limits the site to `per_second` requests a second with bursts of `burst`; past it,
    /// 429 with `Retry-After`, `X-RateLimit-Reset` and `RateLimit-Reason`.
    pub fn set_rate_limit(&self, per_second: f64, burst: f64) {
        self.lock().bucket = Some(Bucket {
            per_second,
            burst,
            tokens: burst,
            at: Instant::now(),
        });
    }

    /// Every request served so far, as `"METHOD /path"`.
    #[must_use]
    pub fn request_log(&self) -> Vec<String> {
        self.lock().log.clone()
    }

    /// How many requests the rate limit refused.
    #[must_use]
    pub fn rate_limited_count(&self) -> u64 {
        self.lock().rate_limited
    }

    /// How many injected faults have fired.
    #[must_use]
    pub fn faults_fired(&self) -> u64 {
        self.lock().faults_fired
    }

    /// Every customer account as `(account id, email)`, in id order.
    #[must_use]
    pub fn customers(&self) -> Vec<(String, String)> {
        self.lock()
            .users
            .values()
            .filter(|u| u.account_type == "customer")
            .map(|u| (u.account_id.clone(), u.email.clone()))
            .collect()
    }

    /// The account ids in an organization (empty for an unknown one).
    #[must_use]
    pub fn organization_members(&self, organization: &str) -> Vec<String> {
        let s = self.lock();
        organization
            .parse::<u32>()
            .ok()
            .and_then(|id| s.organizations.get(&id))
            .map(|o| o.members.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// An organization property.
    #[must_use]
    pub fn organization_property(
        &self,
        organization: &str,
        key: &str,
    ) -> Option<serde_json::Value> {
        let s = self.lock();
        let id = organization.parse::<u32>().ok()?;
        s.organizations.get(&id)?.properties.get(key).cloned()
    }

    /// The account ids that are customers of a desk.
    #[must_use]
    pub fn desk_customers(&self, desk: &str) -> Vec<String> {
        self.lock()
            .desks
            .get(desk)
            .map(|d| d.customers.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The organizations attached to a desk.
    #[must_use]
    pub fn desk_organizations(&self, desk: &str) -> Vec<String> {
        self.lock()
            .desks
            .get(desk)
            .map(|d| d.organizations.iter().map(u32::to_string).collect())
            .unwrap_or_default()
    }

    /// A user property.
    #[must_use]
    pub fn user_property(&self, account: &str, key: &str) -> Option<serde_json::Value> {
        self.lock().users.get(account)?.properties.get(key).cloned()
    }

    /// Whether an account's portal-only access was revoked.
    #[must_use]
    pub fn portal_only_access_revoked(&self, account: &str) -> bool {
        self.lock()
            .users
            .get(account)
            .is_some_and(|u| u.portal_only_revoked)
    }

    /// Requests raised so far.
    #[must_use]
    pub fn requests(&self) -> Vec<RaisedRequest> {
        self.lock().requests.clone()
    }

    /// Decides the answer to one request: faults and the rate limit first, then JSM's
    /// behaviour.
    pub fn serve(&self, request: &http::Request<Vec<u8>>) -> Served {
        let mut s = self.lock();
        let path = request.uri().path().to_owned();
        s.log.push(format!("{} {path}", request.method()));
        let mut delay = None;
        let mut hit = None;
        for (i, r) in s.faults.iter_mut().enumerate() {
            let matches = r.times > 0
                && r.method.as_ref().is_none_or(|m| m == request.method())
                && r.path_contains
                    .as_ref()
                    .is_none_or(|p| path.contains(p.as_str()));
            if matches {
                r.seen += 1;
                if r.seen % r.every == 0 {
                    hit = Some(i);
                    break;
                }
            }
        }
        if let Some(i) = hit
            && let Some(rule) = s.faults.get_mut(i)
        {
            rule.times -= 1;
            let fault = rule.fault.clone();
            if rule.times == 0 {
                s.faults.remove(i);
            }
            s.faults_fired += 1;
            match fault {
                Fault::Drop => return Served::Drop,
                Fault::Delay(d) => delay = Some(d),
                Fault::Status {
                    status,
                    headers,
                    body,
                } => {
                    let mut response = routes::respond(status, body.into_bytes());
                    for (k, v) in headers {
                        if let (Ok(k), Ok(v)) = (
                            http::HeaderName::try_from(k.as_str()),
                            http::HeaderValue::try_from(v.as_str()),
                        ) {
                            response.headers_mut().insert(k, v);
                        }
                    }
                    return Served::Respond(response);
                }
            }
        }
        if let Some(limited) = take_token(&mut s) {
            s.rate_limited += 1;
            return Served::Respond(limited);
        }
        let response = routes::handle(&mut s, request);
        match delay {
            Some(d) => Served::Delayed(d, response),
            None => Served::Respond(response),
        }
    }

    /// An in-process [`HttpClient`] serving this site (no sockets).
    #[must_use]
    pub fn transport(&self) -> Arc<dyn HttpClient> {
        Arc::new(MemoryTransport { jsm: self.clone() })
    }

    /// A client builder for this site over the in-process transport: basic auth, and
    /// retries with short backoff (10 ms base, 100 ms cap) so tests run fast.
    pub fn client_builder(&self) -> JiraClientBuilder {
        JiraClient::builder(
            memory_site(),
            Auth::basic("broker@memory.invalid", Secret::new("memory-token")),
        )
        .http(self.transport())
        .retry(
            RetryPolicy::default()
                .with_backoff(Duration::from_millis(10), Duration::from_millis(100)),
        )
    }

    /// A client for this site over the in-process transport.
    #[must_use]
    pub fn client(&self) -> JiraClient {
        match self.client_builder().build() {
            Ok(c) => c,
            Err(_) => unreachable_client(),
        }
    }

    /// A [`JsmDirectory`] on this site over the in-process transport.
    #[must_use]
    pub fn directory(&self) -> JsmDirectory {
        JsmDirectory::new(self.client())
    }
}

#[expect(clippy::expect_used, reason = "a literal URL that always parses")]
fn memory_site() -> Site {
    Site::cloud("https://memory.atlassian.invalid").expect("static url parses")
}

#[expect(
    clippy::panic,
    reason = "the builder is given a transport and matching credentials, so it cannot fail"
)]
fn unreachable_client() -> JiraClient {
    panic!("memory client configuration is invalid")
}

/// Refills the bucket and takes a token; `Some(429)` when none is left.
fn take_token(s: &mut State) -> Option<http::Response<Vec<u8>>> {
    let b = s.bucket.as_mut()?;
    let now = Instant::now();
    let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
    b.at = now;
    b.tokens = (b.tokens + elapsed * b.per_second).min(b.burst);
    if b.tokens >= 1.0 {
        b.tokens -= 1.0;
        return None;
    }
    let wait = (1.0 - b.tokens) / b.per_second;
    let reset = std::time::SystemTime::now() + Duration::from_secs_f64(wait);
    let reset = time::OffsetDateTime::from(reset)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut response = routes::respond(429, br#"{"errorMessage":"Rate limit exceeded."}"#.to_vec());
    let headers = response.headers_mut();
    // Whole seconds as Jira sends them, rounded up; the reset instant is exact.
    let seconds = wait.ceil().max(0.0);
    for (k, v) in [
        ("retry-after", format!("{seconds:.0}")),
        ("x-ratelimit-reset", reset),
        ("ratelimit-reason", "jira-burst-based".to_owned()),
    ] {
        if let Ok(v) = http::HeaderValue::try_from(v) {
            headers.insert(k, v);
        }
    }
    Some(response)
}

/// The in-process transport: hands requests to [`MemoryJsm::serve`].
#[derive(Debug)]
struct MemoryTransport {
    jsm: MemoryJsm,
}

#[async_trait]
impl HttpClient for MemoryTransport {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        match self.jsm.serve(&request) {
            Served::Respond(r) => Ok(r),
            Served::Delayed(d, r) => {
                tokio::time::sleep(d).await;
                Ok(r)
            }
            Served::Drop => Err(HttpError::Transport(
                "connection closed before an answer".into(),
            )),
        }
    }
}
