//! [`Error`]: everything the JSM client can fail with, each with a stable code.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use jsm_sso_core::CodedError;
use jsm_sso_core::transport::HttpError;

/// What Jira answered to a request that failed: status, the request line (path only; query
/// strings can hold emails) and Atlassian's own error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP method.
    pub method: String,
    /// The request path, without the query string.
    pub path: String,
    /// The HTTP status.
    pub status: u16,
    /// Atlassian's messages: `errorMessage` (servicedeskapi), `errorMessages` (platform).
    pub messages: Vec<String>,
    /// Per-field messages (`errors` of the platform API).
    pub field_errors: BTreeMap<String, String>,
    /// The `RateLimit-Reason` header, when Jira sent one.
    pub rate_limit_reason: Option<String>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} answered {}", self.method, self.path, self.status)?;
        let mut first = true;
        for m in &self.messages {
            f.write_str(if first { ": " } else { "; " })?;
            f.write_str(m)?;
            first = false;
        }
        for (field, m) in &self.field_errors {
            f.write_str(if first { ": " } else { "; " })?;
            write!(f, "{field}: {m}")?;
            first = false;
        }
        if let Some(reason) = &self.rate_limit_reason {
            write!(f, " (rate limit reason {reason})")?;
        }
        Ok(())
    }
}

/// Every error `jsm-sso-jira` produces. [`CodedError::code`] gives its stable code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client configuration is not usable (bad site URL, missing credentials).
    #[error("jira client configuration is invalid: {0}")]
    Config(String),
    /// An argument cannot be sent as the API defines it (a non-numeric organization id, an
    /// empty property key).
    #[error("invalid {what}: {value:?}")]
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// The value given.
        value: String,
    },
    /// The transport failed without an answer; keeps the transport's `core.http.*` code.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// No answer within the client's per-request timeout.
    #[error("jira did not answer within {after:?}")]
    Timeout {
        /// The timeout.
        after: Duration,
    },
    /// Jira answered 429 (or 503 with rate-limit headers) and the request was not retried
    /// further: it is not idempotent, retries ran out, or the wait asked for is too long.
    #[error("jira rate limit reached{}: {api}", retry_after.map(|d| format!(", retry after {d:?}")).unwrap_or_default())]
    RateLimited {
        /// How long Jira asked to wait, if it said.
        retry_after: Option<Duration>,
        /// The answer.
        api: Box<ApiError>,
    },
    /// Jira answered 5xx.
    #[error("jira is unavailable: {0}")]
    Unavailable(Box<ApiError>),
    /// 401: the credentials were refused.
    #[error("jira refused the credentials: {0}")]
    Unauthorized(Box<ApiError>),
    /// 403: the account lacks a permission.
    #[error("jira refused the operation: {0}")]
    Forbidden(Box<ApiError>),
    /// 404: no such resource (or not visible to the account).
    #[error("not found in jira: {0}")]
    NotFound(Box<ApiError>),
    /// 409: the resource exists already.
    #[error("conflict in jira: {0}")]
    Conflict(Box<ApiError>),
    /// 400 or 422: Jira refused the request's content.
    #[error("jira refused the request: {0}")]
    BadRequest(Box<ApiError>),
    /// 412 on an experimental endpoint: the request lacked `X-ExperimentalApi: opt-in`. A
    /// bug in this crate, never retried.
    #[error("experimental api not opted in (a bug in jsm-sso-jira): {0}")]
    ExperimentalOptIn(Box<ApiError>),
    /// Any other status.
    #[error("jira answered unexpectedly: {0}")]
    UnexpectedStatus(Box<ApiError>),
    /// A success answer whose body does not have the shape the spec defines.
    #[error("jira answer to {operation} does not parse: {detail}")]
    Decode {
        /// The operation.
        operation: &'static str,
        /// What did not parse.
        detail: String,
    },
}

impl Error {
    /// Jira's answer, for errors that have one.
    #[must_use]
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::RateLimited { api, .. }
            | Self::Unavailable(api)
            | Self::Unauthorized(api)
            | Self::Forbidden(api)
            | Self::NotFound(api)
            | Self::Conflict(api)
            | Self::BadRequest(api)
            | Self::ExperimentalOptIn(api)
            | Self::UnexpectedStatus(api) => Some(api),
            _ => None,
        }
    }

    /// The HTTP status Jira answered, for errors that have one.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        self.api().map(|a| a.status)
    }

    /// Whether the same call may succeed later (rate limits, 5xx, timeouts, broken
    /// connections).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Unavailable(_) | Self::Timeout { .. } => true,
            Self::Http(e) => matches!(
                e,
                HttpError::Connect(_) | HttpError::Timeout | HttpError::Transport(_)
            ),
            _ => false,
        }
    }
}

impl CodedError for Error {
    fn code(&self) -> &'static str {
        match self {
            Self::Config(_) => "jira.config.invalid",
            Self::InvalidArgument { .. } => "jira.argument.invalid",
            Self::Http(e) => e.code(),
            Self::Timeout { .. } => "jira.timeout",
            Self::RateLimited { .. } => "jira.rate_limited",
            Self::Unavailable(_) => "jira.unavailable",
            Self::Unauthorized(_) => "jira.unauthorized",
            Self::Forbidden(_) => "jira.forbidden",
            Self::NotFound(_) => "jira.not_found",
            Self::Conflict(_) => "jira.conflict",
            Self::BadRequest(_) => "jira.bad_request",
            Self::ExperimentalOptIn(_) => "jira.experimental_opt_in",
            Self::UnexpectedStatus(_) => "jira.status.unexpected",
            Self::Decode { .. } => "jira.response.invalid",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Config(_) => {
                "check the site URL (https://<site>.atlassian.net) and the credentials"
            }
            Self::InvalidArgument { .. } => {
                "check the id in the policy or configuration: JSM organization ids are numbers"
            }
            Self::Http(e) => e.hint(),
            Self::Timeout { .. } => {
                "Jira is slow or unreachable; check the site, or raise the client's request timeout"
            }
            Self::RateLimited { .. } => {
                "Jira is rate limiting the account; lower the client's concurrency or request rate"
            }
            Self::Unavailable(_) => "Jira failed for a passing reason; retry later",
            Self::Unauthorized(_) => {
                "check the email and API token, OAuth access token or personal access token"
            }
            Self::Forbidden(_) => {
                "the account needs JSM agent/administrator permissions for this operation"
            }
            Self::NotFound(_) => "the id names nothing this account can see in Jira",
            Self::Conflict(_) => "the resource exists already in Jira",
            Self::BadRequest(_) => "Jira refused a value; see its error messages",
            Self::ExperimentalOptIn(_) => {
                "report this bug: the client must send X-ExperimentalApi: opt-in on this endpoint"
            }
            Self::UnexpectedStatus(_) => "Jira answered with a status the API does not document",
            Self::Decode { .. } => {
                "the site answered with a body that is not the JSM API's; check the site URL"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> Box<ApiError> {
        Box::new(ApiError {
            method: "GET".into(),
            path: "/rest/servicedeskapi/organization/7".into(),
            status,
            messages: vec!["Organization does not exist".into()],
            field_errors: BTreeMap::from([("name".into(), "too long".into())]),
            rate_limit_reason: None,
        })
    }

    #[test]
    fn codes_are_distinct_lower_case_with_hints() {
        let all = [
            Error::Config("x".into()),
            Error::InvalidArgument {
                what: "organization id",
                value: "abc".into(),
            },
            Error::Http(HttpError::Timeout),
            Error::Timeout {
                after: Duration::from_secs(1),
            },
            Error::RateLimited {
                retry_after: None,
                api: api(429),
            },
            Error::Unavailable(api(503)),
            Error::Unauthorized(api(401)),
            Error::Forbidden(api(403)),
            Error::NotFound(api(404)),
            Error::Conflict(api(409)),
            Error::BadRequest(api(400)),
            Error::ExperimentalOptIn(api(412)),
            Error::UnexpectedStatus(api(418)),
            Error::Decode {
                operation: "x",
                detail: "y".into(),
            },
        ];
        let codes: std::collections::BTreeSet<_> = all.iter().map(CodedError::code).collect();
        assert_eq!(codes.len(), all.len());
        for e in &all {
            assert!(!e.hint().is_empty());
            let msg = e.to_string();
            assert!(!msg.ends_with('.'), "{msg}");
            assert_eq!(
                msg.chars().next().map(char::is_lowercase),
                Some(true),
                "{msg}"
            );
        }
    }

    #[test]
    fn atlassian_messages_are_kept_in_the_message() {
        let e = Error::NotFound(api(404));
        assert_eq!(
            e.to_string(),
            "not found in jira: GET /rest/servicedeskapi/organization/7 answered 404: \
             Organization does not exist; name: too long"
        );
        assert_eq!(e.status(), Some(404));
        assert!(!e.is_transient());
        assert!(Error::Unavailable(api(503)).is_transient());
    }
}
