//! [`ScimService`]: `http::Request<Bytes>` in, `http::Response<Bytes>` out.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, IF_MATCH, IF_NONE_MATCH, LOCATION};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use jsm_sso_audit::AuditLog;
use jsm_sso_core::clock::SystemClock;
use jsm_sso_core::identity::IdpId;
use jsm_sso_core::{Clock, CodedError, Secret};
use serde_json::Value;

use crate::SCIM_CONTENT_TYPE;
use crate::auth::Tokens;
use crate::error::Error;
use crate::filter::FilterLimits;
use crate::hook::{NoHook, ProvisioningHook};
use crate::patch::MAX_OPERATIONS;
use crate::schema::ResourceKind;
use crate::store::{Resource, ResourceStore};

/// Why a [`ScimServiceBuilder`] refused its settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The base URL is not an absolute http(s) URL.
    #[error("base URL {0:?} must be an absolute http or https URL")]
    BaseUrl(String),
    /// No bearer token was configured.
    #[error("no bearer token configured")]
    NoTokens,
    /// A token is too short to be a secret.
    #[error("the token for {idp} is {len} bytes; at least 32 are required")]
    WeakToken {
        /// The IdP.
        idp: String,
        /// Its length.
        len: usize,
    },
}

impl CodedError for ConfigError {
    fn code(&self) -> &'static str {
        match self {
            Self::BaseUrl(_) => "scim.config.base_url",
            Self::NoTokens => "scim.config.no_tokens",
            Self::WeakToken { .. } => "scim.config.weak_token",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::BaseUrl(_) => "give the URL the IdP calls, e.g. https://sso.example.com/scim/v2",
            Self::NoTokens => "add a token per IdP with ScimServiceBuilder::token",
            Self::WeakToken { .. } => "generate a random token of 32 bytes or more",
        }
    }
}

/// Configures a [`ScimService`].
#[derive(Debug)]
pub struct ScimServiceBuilder {
    base_url: String,
    tokens: Tokens,
    weak: Option<ConfigError>,
    store: Arc<dyn ResourceStore>,
    hook: Arc<dyn ProvisioningHook>,
    audit: Option<AuditLog>,
    clock: Arc<dyn Clock>,
    limits: Limits,
}

/// Request limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) max_body: usize,
    pub(crate) max_operations: usize,
    pub(crate) max_results: usize,
    pub(crate) filter: FilterLimits,
}

impl ScimServiceBuilder {
    /// Adds a bearer token for an IdP (several per IdP are allowed, for rotation). Tokens
    /// shorter than 32 bytes are refused by [`build`](Self::build).
    #[must_use]
    pub fn token(mut self, idp: impl Into<IdpId>, token: Secret) -> Self {
        let idp = idp.into();
        let len = token.expose_secret().len();
        if len < 32 && self.weak.is_none() {
            self.weak = Some(ConfigError::WeakToken {
                idp: idp.to_string(),
                len,
            });
        }
        self.tokens.add(idp, &token);
        self
    }

    /// The provisioning hook (default: [`NoHook`]).
    #[must_use]
    pub fn hook(mut self, hook: Arc<dyn ProvisioningHook>) -> Self {
        self.hook = hook;
        self
    }

    /// The audit log every SCIM write is recorded in (default: none). The log fails closed:
    /// when it refuses an event the call answers 503.
    #[must_use]
    pub fn audit(mut self, audit: AuditLog) -> Self {
        self.audit = Some(audit);
        self
    }

    /// The clock for `meta` times (default: the system clock).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Largest request body in bytes (default 4 MiB: a 10,000-member PATCH fits).
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_body = bytes;
        self
    }

    /// Most PATCH operations per request (default 20,000).
    #[must_use]
    pub fn max_operations(mut self, ops: usize) -> Self {
        self.limits.max_operations = ops;
        self
    }

    /// Most resources per list page (default 500); larger `count`s are cut to this.
    #[must_use]
    pub fn max_results(mut self, results: usize) -> Self {
        self.limits.max_results = results;
        self
    }

    /// Filter parsing limits.
    #[must_use]
    pub fn filter_limits(mut self, limits: FilterLimits) -> Self {
        self.limits.filter = limits;
        self
    }

    /// Checks the settings and builds the service.
    ///
    /// # Errors
    ///
    /// [`ConfigError`]: bad base URL, no tokens, a token under 32 bytes.
    pub fn build(self) -> Result<ScimService, ConfigError> {
        let url = self.base_url.trim_end_matches('/').to_owned();
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .filter(|r| !r.is_empty() && !r.starts_with('/'))
            .ok_or_else(|| ConfigError::BaseUrl(self.base_url.clone()))?;
        let base_path = rest
            .find('/')
            .and_then(|i| rest.get(i..))
            .unwrap_or("")
            .to_owned();
        if self.tokens.is_empty() {
            return Err(ConfigError::NoTokens);
        }
        if let Some(weak) = self.weak {
            return Err(weak);
        }
        Ok(ScimService {
            inner: Arc::new(Inner {
                base_url: url,
                base_path,
                tokens: self.tokens,
                store: self.store,
                hook: self.hook,
                audit: self.audit,
                clock: self.clock,
                limits: self.limits,
                write: tokio::sync::Mutex::new(()),
            }),
        })
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) base_url: String,
    pub(crate) base_path: String,
    tokens: Tokens,
    pub(crate) store: Arc<dyn ResourceStore>,
    pub(crate) hook: Arc<dyn ProvisioningHook>,
    pub(crate) audit: Option<AuditLog>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) limits: Limits,
    /// Writes are serialised: read, change, hook, store and audit happen as one step.
    pub(crate) write: tokio::sync::Mutex<()>,
}

/// The SCIM 2.0 service provider. Cheap to clone; share one per process.
///
/// Mount it under the path of its base URL in any HTTP front end: buffer the body (up to
/// [`max_body_bytes`](Self::max_body_bytes)), call [`handle`](Self::handle), send the
/// response.
#[derive(Debug, Clone)]
pub struct ScimService {
    inner: Arc<Inner>,
}

/// One authenticated call.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) idp: IdpId,
    pub(crate) correlation_id: String,
    pub(crate) if_match: Option<String>,
    pub(crate) if_none_match: Option<String>,
    pub(crate) query: Vec<(String, String)>,
}

impl Call {
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Option<Value>,
    pub(crate) etag: Option<String>,
    pub(crate) location: Option<String>,
}

impl Reply {
    pub(crate) fn ok(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body: Some(body),
            etag: None,
            location: None,
        }
    }

    pub(crate) fn resource(status: StatusCode, body: Value, r: &Resource, location: bool) -> Self {
        let loc = body
            .get("meta")
            .and_then(|m| m.get("location"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Self {
            status,
            body: Some(body),
            etag: Some(r.etag()),
            location: if location { loc } else { None },
        }
    }

    pub(crate) fn empty(status: StatusCode) -> Self {
        Self {
            status,
            body: None,
            etag: None,
            location: None,
        }
    }
}

impl ScimService {
    /// A builder for a service answering at `base_url` (the SCIM base the IdP is given,
    /// e.g. `https://sso.example.com/scim/v2`), storing resources in `store`.
    pub fn builder(
        base_url: impl Into<String>,
        store: Arc<dyn ResourceStore>,
    ) -> ScimServiceBuilder {
        ScimServiceBuilder {
            base_url: base_url.into(),
            tokens: Tokens::default(),
            weak: None,
            store,
            hook: Arc::new(NoHook),
            audit: None,
            clock: Arc::new(SystemClock),
            limits: Limits {
                max_body: 4 * 1024 * 1024,
                max_operations: MAX_OPERATIONS,
                max_results: 500,
                filter: FilterLimits::default(),
            },
        }
    }

    /// The body size limit: a front end should stop reading a request body beyond it.
    #[must_use]
    pub fn max_body_bytes(&self) -> usize {
        self.inner.limits.max_body
    }

    /// The path prefix requests must start with (the base URL's path, `/scim/v2`).
    #[must_use]
    pub fn base_path(&self) -> &str {
        &self.inner.base_path
    }

    /// Answers one SCIM request. Errors become SCIM error responses; this never fails.
    pub async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        let inner = &self.inner;
        let (parts, body) = request.into_parts();
        let result = match inner
            .tokens
            .authenticate(parts.headers.get(AUTHORIZATION).map(HeaderValue::as_bytes))
        {
            Err(e) => Err(e),
            Ok(idp) => {
                let call = Call {
                    idp,
                    correlation_id: correlation_id(&parts.headers),
                    if_match: header(&parts.headers, &IF_MATCH),
                    if_none_match: header(&parts.headers, &IF_NONE_MATCH),
                    query: parts.uri.query().map(parse_query).unwrap_or_default(),
                };
                self.route(&parts.method, parts.uri.path(), &parts.headers, body, &call)
                    .await
            }
        };
        match result {
            Ok(reply) => respond(reply),
            Err(e) => error_response(&e),
        }
    }

    async fn route(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        body: Bytes,
        call: &Call,
    ) -> Result<Reply, Error> {
        let inner = &self.inner;
        let rest = path
            .strip_prefix(inner.base_path.as_str())
            .filter(|r| r.is_empty() || r.starts_with('/'))
            .ok_or_else(|| Error::UnknownEndpoint {
                path: path.to_owned(),
            })?;
        let rest = rest.trim_end_matches('/');
        let mut segments = rest.split('/').skip(1);
        let first = segments.next().unwrap_or("");
        let second = segments.next();
        if segments.next().is_some() {
            return Err(Error::UnknownEndpoint {
                path: path.to_owned(),
            });
        }
        let not_allowed = || Error::MethodNotAllowed {
            method: method.to_string(),
            path: path.to_owned(),
        };
        let kind = match first {
            "Users" => ResourceKind::User,
            "Groups" => ResourceKind::Group,
            "ServiceProviderConfig" | "ResourceTypes" | "Schemas" => {
                if method != Method::GET {
                    return Err(not_allowed());
                }
                return crate::discovery::answer(inner, first, second, path);
            }
            ".search" if second.is_none() => {
                if method != Method::POST {
                    return Err(not_allowed());
                }
                let h = crate::handlers::Handlers { inner, call };
                let search = parse_body(headers, &body, inner.limits.max_body)?;
                return h
                    .list(&[ResourceKind::User, ResourceKind::Group], Some(&search))
                    .await;
            }
            "Bulk" => return Err(Error::NotImplemented { feature: "/Bulk" }),
            "Me" => return Err(Error::NotImplemented { feature: "/Me" }),
            _ => {
                return Err(Error::UnknownEndpoint {
                    path: path.to_owned(),
                });
            }
        };
        let max = inner.limits.max_body;
        let json = || parse_body(headers, &body, max);
        let h = crate::handlers::Handlers { inner, call };
        match (method, second) {
            (&Method::GET, None) => h.list(&[kind], None).await,
            (&Method::POST, Some(".search")) => h.list(&[kind], Some(&json()?)).await,
            (&Method::POST, None) => {
                h.audited(kind, method, None, async { h.create(kind, &json()?).await })
                    .await
            }
            (&Method::GET, Some(id)) => h.get(kind, id).await,
            (&Method::PUT, Some(id)) => {
                h.audited(kind, method, Some(id), async {
                    h.replace(kind, id, &json()?).await
                })
                .await
            }
            (&Method::PATCH, Some(id)) => {
                h.audited(kind, method, Some(id), async {
                    h.patch(kind, id, &json()?).await
                })
                .await
            }
            (&Method::DELETE, Some(id)) => {
                h.audited(kind, method, Some(id), h.delete(kind, id)).await
            }
            _ => Err(not_allowed()),
        }
    }
}

fn header(headers: &HeaderMap, name: &http::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
}

/// The IdP's request id (Entra: `client-request-id`), else a fresh random one.
fn correlation_id(headers: &HeaderMap) -> String {
    ["client-request-id", "x-request-id"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map_or_else(crate::id::random_id, |v| format!("scim-{v}"))
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn parse_body(headers: &HeaderMap, body: &Bytes, max: usize) -> Result<Value, Error> {
    if body.len() > max {
        return Err(Error::TooLarge {
            limit: max,
            actual: body.len(),
        });
    }
    if let Some(ct) = headers.get(CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        let media = ct.split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case(SCIM_CONTENT_TYPE)
            && !media.eq_ignore_ascii_case("application/json")
        {
            return Err(Error::UnsupportedMediaType {
                actual: ct.chars().take(100).collect(),
            });
        }
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| Error::MalformedBody {
        detail: format!("not JSON: {e}"),
    })?;
    if !value.is_object() {
        return Err(Error::MalformedBody {
            detail: "the body must be a JSON object".into(),
        });
    }
    Ok(value)
}

fn respond(reply: Reply) -> Response<Bytes> {
    let mut builder = Response::builder().status(reply.status);
    if let Some(etag) = reply.etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        builder = builder.header(ETAG, etag);
    }
    if let Some(loc) = reply.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        builder = builder.header(LOCATION, loc);
    }
    let body = match reply.body {
        Some(b) => {
            builder = builder.header(CONTENT_TYPE, SCIM_CONTENT_TYPE);
            Bytes::from(serde_json::to_vec(&b).unwrap_or_default())
        }
        None => Bytes::new(),
    };
    builder
        .body(body)
        .unwrap_or_else(|_| Response::new(Bytes::new()))
}

/// The SCIM error response for `e`.
#[must_use]
pub fn error_response(e: &Error) -> Response<Bytes> {
    let mut builder = Response::builder()
        .status(e.status())
        .header(CONTENT_TYPE, SCIM_CONTENT_TYPE);
    if e.status() == StatusCode::UNAUTHORIZED {
        builder = builder.header(http::header::WWW_AUTHENTICATE, "Bearer realm=\"scim\"");
    }
    let body = serde_json::to_vec(&e.to_json()).unwrap_or_default();
    builder
        .body(Bytes::from(body))
        .unwrap_or_else(|_| Response::new(Bytes::new()))
}
