//! [`JiraClient`]: one request path with auth, concurrency limit, pacing, timeouts,
//! retries and error mapping; the operations in [`crate::ops`] are thin typed wrappers.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::{HeaderValue, Method, StatusCode, header};
use jsm_sso_core::clock::SystemClock;
use jsm_sso_core::transport::HttpError;
use jsm_sso_core::{Clock, HttpClient};
use serde::de::DeserializeOwned;
use tokio::sync::{Mutex, Semaphore};

use crate::auth::{Auth, Site};
use crate::error::{ApiError, Error};
use crate::retry::{Jitter, RetryPolicy, Sleeper, TokioSleeper, rate_limit_reason, server_hint};

/// The header experimental JSM endpoints require.
pub(crate) const EXPERIMENTAL: (&str, &str) = ("x-experimentalapi", "opt-in");

/// The most error messages kept from one answer, and the longest one.
const MAX_MESSAGES: usize = 20;
const MAX_MESSAGE_LEN: usize = 500;

/// An async Jira Service Management client (Cloud, OAuth 2.0 gateway or Data Center).
///
/// Cheap to clone (one `Arc`); clones share the concurrency limit, pacing and statistics.
/// Every request goes through the [`HttpClient`] seam given to the builder.
///
/// | setting | default |
/// | --- | --- |
/// | requests in flight at once | 8 |
/// | timeout per attempt | 30 s |
/// | retries | [`RetryPolicy::default`]: 5, full-jitter backoff from 1 s capped at 60 s |
/// | pacing | none (set [`max_requests_per_second`](JiraClientBuilder::max_requests_per_second) for bulk work) |
#[derive(Clone)]
pub struct JiraClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: Arc<dyn HttpClient>,
    site: Site,
    base: url::Url,
    auth: Auth,
    auth_header: Option<HeaderValue>,
    retry: RetryPolicy,
    sleeper: Arc<dyn Sleeper>,
    clock: Arc<dyn Clock>,
    jitter: Jitter,
    permits: Semaphore,
    max_concurrency: usize,
    timeout: Option<Duration>,
    pacer: Option<Pacer>,
    stats: Counters,
}

impl fmt::Debug for JiraClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JiraClient")
            .field("site", &self.inner.site)
            .field("auth", &self.inner.auth)
            .field("max_concurrency", &self.inner.max_concurrency)
            .field("timeout", &self.inner.timeout)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// Configures a [`JiraClient`]; see its table of defaults.
#[must_use]
pub struct JiraClientBuilder {
    site: Site,
    auth: Auth,
    http: Option<Arc<dyn HttpClient>>,
    retry: RetryPolicy,
    sleeper: Arc<dyn Sleeper>,
    clock: Arc<dyn Clock>,
    jitter_seed: Option<u64>,
    max_concurrency: usize,
    timeout: Option<Duration>,
    rate: Option<f64>,
    adaptive: bool,
}

impl fmt::Debug for JiraClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JiraClientBuilder")
            .field("site", &self.site)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl JiraClient {
    /// A builder for `site`, signing in with `auth`.
    pub fn builder(site: Site, auth: Auth) -> JiraClientBuilder {
        JiraClientBuilder {
            site,
            auth,
            http: None,
            retry: RetryPolicy::default(),
            sleeper: Arc::new(TokioSleeper),
            clock: Arc::new(SystemClock),
            jitter_seed: None,
            max_concurrency: 8,
            timeout: Some(Duration::from_secs(30)),
            rate: None,
            adaptive: false,
        }
    }

    /// The site this client talks to.
    #[must_use]
    pub fn site(&self) -> &Site {
        &self.inner.site
    }

    /// The current pacing rate in requests per second (moves when
    /// [adaptive](JiraClientBuilder::adaptive_pacing)); `None` without pacing.
    pub async fn pace(&self) -> Option<f64> {
        match &self.inner.pacer {
            Some(p) => Some(p.rate().await),
            None => None,
        }
    }

    /// Counters since the client was built.
    #[must_use]
    pub fn stats(&self) -> ClientStats {
        self.inner.stats.snapshot()
    }
}

impl JiraClientBuilder {
    /// The transport (required unless [`build_with_reqwest`](Self::build_with_reqwest)).
    pub fn http(mut self, http: Arc<dyn HttpClient>) -> Self {
        self.http = Some(http);
        self
    }

    /// The retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// How the client waits (tests pass a [`RecordingSleeper`](crate::retry::RecordingSleeper)).
    pub fn sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// The clock `X-RateLimit-Reset` and HTTP-date `Retry-After` are measured against.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Seeds the jitter, for reproducible tests.
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = Some(seed);
        self
    }

    /// Most requests in flight at once (at least 1).
    pub fn max_concurrency(mut self, max: usize) -> Self {
        self.max_concurrency = max.max(1);
        self
    }

    /// Longest one attempt may take; `None` leaves it to the transport.
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Spaces requests evenly so at most `rate` start per second (retries included).
    /// Set it just under the site's known limit for bulk provisioning, so the client runs
    /// at the limit instead of bouncing off it.
    pub fn max_requests_per_second(mut self, rate: f64) -> Self {
        self.rate = Some(rate);
        self
    }

    /// Makes the pacing adaptive: the rate set by
    /// [`max_requests_per_second`](Self::max_requests_per_second) becomes a ceiling, cut to
    /// 85 % on a rate-limited answer (at most once a second) and grown back by about 2 % a
    /// second while answers succeed. For sites whose limit is not known: the client finds
    /// it instead of bouncing off it.
    pub fn adaptive_pacing(mut self, adaptive: bool) -> Self {
        self.adaptive = adaptive;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when no transport was given, the credentials do not suit the site,
    /// or the rate is not a positive number.
    pub fn build(self) -> Result<JiraClient, Error> {
        let http = self
            .http
            .clone()
            .ok_or_else(|| Error::Config("no HttpClient given to the builder".into()))?;
        self.auth.check(&self.site)?;
        let auth_header = self.auth.header()?;
        let pacer = match self.rate {
            None => None,
            Some(rate) if rate.is_finite() && rate > 0.0 => Some(Pacer::new(rate, self.adaptive)),
            Some(rate) => {
                return Err(Error::Config(format!(
                    "requests per second must be a positive number, not {rate}"
                )));
            }
        };
        Ok(JiraClient {
            inner: Arc::new(Inner {
                http,
                base: self.site.base(),
                site: self.site,
                auth: self.auth,
                auth_header,
                retry: self.retry,
                sleeper: self.sleeper,
                clock: self.clock,
                jitter: Jitter::new(self.jitter_seed),
                permits: Semaphore::new(self.max_concurrency),
                max_concurrency: self.max_concurrency,
                timeout: self.timeout,
                pacer,
                stats: Counters::default(),
            }),
        })
    }

    /// Builds the client on core's `ReqwestHttpClient` (rustls, ring), refusing plain
    /// `http://` unless the site URL is plain HTTP on a loopback address (tests).
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build), and [`Error::Http`] if the TLS set-up fails.
    #[cfg(feature = "reqwest")]
    pub fn build_with_reqwest(mut self) -> Result<JiraClient, Error> {
        let base = self.site.base();
        let loopback = base.scheme() == "http"
            && match base.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(d)) => d == "localhost",
                None => false,
            };
        let mut transport = jsm_sso_core::transport::ReqwestHttpClient::builder()
            .allow_plain_http(loopback)
            .max_response_bytes(8 * 1024 * 1024);
        if let Some(timeout) = self.timeout {
            transport = transport.timeout(timeout.saturating_add(Duration::from_secs(1)));
        }
        self.http = Some(Arc::new(transport.build()?));
        self.build()
    }
}

/// What [`JiraClient::stats`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ClientStats {
    /// Attempts sent (first tries and retries).
    pub attempts: u64,
    /// Retries among them.
    pub retries: u64,
    /// Answers that were 429, or 503 with a rate-limit hint.
    pub rate_limited: u64,
    /// Total time spent waiting before retries.
    pub backoff: Duration,
}

#[derive(Debug, Default)]
struct Counters {
    attempts: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    backoff_micros: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> ClientStats {
        ClientStats {
            attempts: self.attempts.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            backoff: Duration::from_micros(self.backoff_micros.load(Ordering::Relaxed)),
        }
    }
}

/// Even spacing of request starts (a GCRA with no burst), optionally adaptive (AIMD on
/// rate-limited answers).
struct Pacer {
    ceiling: f64,
    adaptive: bool,
    state: Mutex<PaceState>,
}

struct PaceState {
    rate: f64,
    next: Option<Instant>,
    last_cut: Option<Instant>,
}

/// Adaptive pacing: multiplicative cut on a rate-limited answer, growth per second.
const CUT: f64 = 0.85;
const GROWTH_PER_SECOND: f64 = 0.02;
/// The adaptive rate never drops below this many requests per second.
const FLOOR: f64 = 0.1;

impl Pacer {
    fn new(rate: f64, adaptive: bool) -> Self {
        Self {
            ceiling: rate,
            adaptive,
            state: Mutex::new(PaceState {
                rate,
                next: None,
                last_cut: None,
            }),
        }
    }

    async fn wait(&self, sleeper: &dyn Sleeper) {
        let delay = {
            let mut state = self.state.lock().await;
            let now = Instant::now();
            let slot = state.next.map_or(now, |n| n.max(now));
            state.next = Some(slot + Duration::from_secs_f64(1.0 / state.rate));
            slot.saturating_duration_since(now)
        };
        if !delay.is_zero() {
            sleeper.sleep(delay).await;
        }
    }

    async fn rate_limited(&self) {
        if !self.adaptive {
            return;
        }
        let mut state = self.state.lock().await;
        let now = Instant::now();
        // One burst of 429s is one signal, not many.
        if state
            .last_cut
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        state.last_cut = Some(now);
        state.rate = (state.rate * CUT).max(FLOOR);
    }

    async fn succeeded(&self) {
        if !self.adaptive {
            return;
        }
        let mut state = self.state.lock().await;
        // Each success is 1/rate of a second at the current pace.
        let grown = state.rate * (1.0 + GROWTH_PER_SECOND / state.rate.max(FLOOR));
        state.rate = grown.min(self.ceiling);
    }

    async fn rate(&self) -> f64 {
        self.state.lock().await.rate
    }
}

/// One API call, before it is sent.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) operation: &'static str,
    pub(crate) method: Method,
    pub(crate) segments: Vec<String>,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) idempotent: bool,
    pub(crate) experimental: bool,
}

impl Call {
    /// A call; GET, PUT and DELETE are idempotent, POST is not unless marked.
    pub(crate) fn new(operation: &'static str, method: Method, segments: Vec<String>) -> Self {
        let idempotent = method != Method::POST;
        Self {
            operation,
            method,
            segments,
            query: Vec::new(),
            body: None,
            idempotent,
            experimental: false,
        }
    }

    pub(crate) fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    pub(crate) fn json(mut self, body: &impl serde::Serialize) -> Result<Self, Error> {
        self.body = Some(
            serde_json::to_vec(body).map_err(|e| Error::InvalidArgument {
                what: "request body",
                value: e.to_string(),
            })?,
        );
        Ok(self)
    }

    /// Marks a POST that is safe to repeat (set semantics, or a conflict answer on repeat).
    pub(crate) fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    pub(crate) fn experimental(mut self) -> Self {
        self.experimental = true;
        self
    }
}

/// What one attempt came to.
enum Attempt {
    Done(http::Response<Vec<u8>>),
    /// Retry after the server's hint (or backoff without one), if the call may be retried.
    Retry {
        error: Error,
        hint: Option<Duration>,
        /// Whether the request certainly did not reach the server.
        unsent: bool,
    },
    Fail(Error),
    /// 401 with refreshable credentials: try once more with a fresh token, at once.
    Reauth(Error),
}

impl JiraClient {
    /// Path segments under `/rest/servicedeskapi/`.
    pub(crate) fn sd<I, S>(parts: I) -> Vec<String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ["rest", "servicedeskapi"]
            .into_iter()
            .map(String::from)
            .chain(parts.into_iter().map(Into::into))
            .collect()
    }

    /// Path segments under the platform API (`/rest/api/3`, or `/rest/api/2` on Data
    /// Center).
    pub(crate) fn platform<I, S>(&self, parts: I) -> Vec<String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let version = if self.is_data_center() { "2" } else { "3" };
        ["rest", "api", version]
            .into_iter()
            .map(String::from)
            .chain(parts.into_iter().map(Into::into))
            .collect()
    }

    pub(crate) fn is_data_center(&self) -> bool {
        self.inner.site.is_data_center()
    }

    /// Sends a call with retries; a 2xx answer comes back, anything else as an [`Error`].
    pub(crate) async fn execute(&self, call: &Call) -> Result<http::Response<Vec<u8>>, Error> {
        let inner = &*self.inner;
        let mut retry = 0u32;
        let mut reauthed = false;
        loop {
            if let Some(pacer) = &inner.pacer {
                pacer.wait(&*inner.sleeper).await;
            }
            let outcome = self.attempt(call).await;
            if let Some(pacer) = &inner.pacer {
                match &outcome {
                    Attempt::Retry {
                        error: Error::RateLimited { .. },
                        ..
                    } => pacer.rate_limited().await,
                    Attempt::Done(_) => pacer.succeeded().await,
                    _ => {}
                }
            }
            let (error, hint, unsent) = match outcome {
                Attempt::Done(response) => return Ok(response),
                Attempt::Fail(error) => return Err(error),
                // A refused token changed nothing on the server: any call may go again.
                Attempt::Reauth(error) if reauthed => return Err(error),
                Attempt::Reauth(_) => {
                    reauthed = true;
                    continue;
                }
                Attempt::Retry {
                    error,
                    hint,
                    unsent,
                } => (error, hint, unsent),
            };
            if !(call.idempotent || unsent) || retry >= inner.retry.max_retries {
                return Err(error);
            }
            let wait = match hint {
                Some(h) if h > inner.retry.max_hint => return Err(error),
                Some(h) => h.saturating_add(inner.jitter.up_to(inner.retry.hint_jitter)),
                None => inner.jitter.up_to(inner.retry.ceiling(retry)),
            };
            retry += 1;
            inner.stats.retries.fetch_add(1, Ordering::Relaxed);
            inner.stats.backoff_micros.fetch_add(
                u64::try_from(wait.as_micros()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
            inner.sleeper.sleep(wait).await;
        }
    }

    async fn attempt(&self, call: &Call) -> Attempt {
        let inner = &*self.inner;
        let request = match self.authorization().await {
            Ok(authorization) => match self.request(call, authorization) {
                Ok(r) => r,
                Err(e) => return Attempt::Fail(e),
            },
            Err(e) => return Attempt::Fail(e),
        };
        let sent = {
            let Ok(_permit) = inner.permits.acquire().await else {
                return Attempt::Fail(Error::Config("client is shut down".into()));
            };
            inner.stats.attempts.fetch_add(1, Ordering::Relaxed);
            match inner.timeout {
                Some(after) => tokio::time::timeout(after, inner.http.send(request))
                    .await
                    .unwrap_or(Err(HttpError::Timeout))
                    .map_err(|e| match e {
                        HttpError::Timeout => Error::Timeout { after },
                        other => Error::Http(other),
                    }),
                None => inner.http.send(request).await.map_err(Error::Http),
            }
        };
        let response = match sent {
            Ok(r) => r,
            Err(error) => {
                let unsent = matches!(error, Error::Http(HttpError::Connect(_)));
                return if error.is_transient() {
                    Attempt::Retry {
                        error,
                        hint: None,
                        unsent,
                    }
                } else {
                    Attempt::Fail(error)
                };
            }
        };
        let status = response.status();
        if status.is_success() {
            return Attempt::Done(response);
        }
        let hint = server_hint(response.headers(), inner.clock.now());
        let api = Box::new(api_error(call, &response));
        if status == StatusCode::UNAUTHORIZED
            && let Auth::OAuth(source) = &inner.auth
        {
            source.invalidate();
            return Attempt::Reauth(Error::Unauthorized(api));
        }
        match status {
            StatusCode::TOO_MANY_REQUESTS => {
                inner.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                Attempt::Retry {
                    error: Error::RateLimited {
                        retry_after: hint,
                        api,
                    },
                    hint,
                    unsent: false,
                }
            }
            StatusCode::SERVICE_UNAVAILABLE if hint.is_some() => {
                inner.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                Attempt::Retry {
                    error: Error::RateLimited {
                        retry_after: hint,
                        api,
                    },
                    hint,
                    unsent: false,
                }
            }
            StatusCode::INTERNAL_SERVER_ERROR
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => Attempt::Retry {
                error: Error::Unavailable(api),
                hint: None,
                unsent: false,
            },
            _ => Attempt::Fail(status_error(status, call.experimental, api)),
        }
    }

    /// The `Authorization` value for the next attempt.
    async fn authorization(&self) -> Result<HeaderValue, Error> {
        if let Some(fixed) = &self.inner.auth_header {
            return Ok(fixed.clone());
        }
        match &self.inner.auth {
            Auth::OAuth(source) => {
                let token = source.access_token().await?;
                crate::auth::bearer_or_basic(&format!("Bearer {}", token.expose_secret()))
            }
            _ => Err(Error::Config("no credentials".into())),
        }
    }

    fn request(
        &self,
        call: &Call,
        authorization: HeaderValue,
    ) -> Result<http::Request<Vec<u8>>, Error> {
        let mut url = self.inner.base.clone();
        {
            let mut segments = url.path_segments_mut().map_err(|()| {
                Error::Config("site url cannot take a path (cannot-be-a-base)".into())
            })?;
            segments.pop_if_empty();
            segments.extend(&call.segments);
        }
        if !call.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(call.query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let mut builder = http::Request::builder()
            .method(call.method.clone())
            .uri(url.as_str())
            .header(header::AUTHORIZATION, authorization)
            .header(header::ACCEPT, "application/json");
        if call.experimental {
            builder = builder.header(EXPERIMENTAL.0, EXPERIMENTAL.1);
        }
        if call.body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        builder
            .body(call.body.clone().unwrap_or_default())
            .map_err(|e| Error::InvalidArgument {
                what: "request",
                value: e.to_string(),
            })
    }

    /// Sends a call and parses the JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(&self, call: &Call) -> Result<T, Error> {
        let response = self.execute(call).await?;
        decode(call.operation, response.body())
    }

    /// Sends a call whose answer body does not matter (204, or 200/201 echoes).
    pub(crate) async fn unit(&self, call: &Call) -> Result<(), Error> {
        self.execute(call).await.map(drop)
    }
}

pub(crate) fn decode<T: DeserializeOwned>(
    operation: &'static str,
    body: &[u8],
) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Error::Decode {
        operation,
        detail: e.to_string(),
    })
}

fn status_error(status: StatusCode, experimental: bool, api: Box<ApiError>) -> Error {
    match status.as_u16() {
        400 | 422 => Error::BadRequest(api),
        401 => Error::Unauthorized(api),
        403 => Error::Forbidden(api),
        404 => Error::NotFound(api),
        409 => Error::Conflict(api),
        412 if experimental => Error::ExperimentalOptIn(api),
        500..=599 => Error::Unavailable(api),
        _ => Error::UnexpectedStatus(api),
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ErrorBody {
    error_message: Option<String>,
    error_messages: Vec<String>,
    errors: BTreeMap<String, serde_json::Value>,
}

fn clip(s: &str) -> String {
    s.chars().take(MAX_MESSAGE_LEN).collect()
}

fn api_error(call: &Call, response: &http::Response<Vec<u8>>) -> ApiError {
    let body: ErrorBody = serde_json::from_slice(response.body()).unwrap_or_default();
    let messages = body
        .error_message
        .iter()
        .chain(&body.error_messages)
        .take(MAX_MESSAGES)
        .map(|m| clip(m))
        .collect();
    let field_errors = body
        .errors
        .iter()
        .take(MAX_MESSAGES)
        .map(|(k, v)| {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            (clip(k), clip(&text))
        })
        .collect();
    let mut path = String::new();
    for segment in &call.segments {
        path.push('/');
        path.push_str(segment);
    }
    ApiError {
        method: call.method.to_string(),
        path,
        status: response.status().as_u16(),
        messages,
        field_errors,
        rate_limit_reason: rate_limit_reason(response.headers()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn adaptive_pacing_cuts_once_per_burst_and_grows_back_to_the_ceiling() {
        let pacer = Pacer::new(100.0, true);
        pacer.rate_limited().await;
        pacer.rate_limited().await; // same burst: ignored
        assert!((pacer.rate().await - 85.0).abs() < 1e-9);
        for _ in 0..85 {
            pacer.succeeded().await; // about one second at 85/s
        }
        let after = pacer.rate().await;
        assert!(after > 86.6 && after < 86.8, "{after}");
        for _ in 0..100_000 {
            pacer.succeeded().await;
        }
        assert!(
            (pacer.rate().await - 100.0).abs() < 1e-9,
            "capped at the ceiling"
        );

        let fixed = Pacer::new(100.0, false);
        fixed.rate_limited().await;
        assert!((fixed.rate().await - 100.0).abs() < 1e-9);
    }
}
