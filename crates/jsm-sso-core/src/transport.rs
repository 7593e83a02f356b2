//! The outgoing-HTTP seam: [`HttpClient`], and with the `reqwest` feature
//! `ReqwestHttpClient`.
//!
//! Protocol crates fetch metadata, JWKS, tokens and userinfo through it; `jsm-sso-jira`
//! calls the JSM API through it. Tests swap in a fake.

use async_trait::async_trait;

use crate::CodedError;

#[cfg(feature = "reqwest")]
mod reqwest_client;
#[cfg(feature = "reqwest")]
pub use reqwest_client::{ReqwestHttpClient, ReqwestHttpClientBuilder};

/// Sends one HTTP request and returns the whole response.
///
/// Contract:
///
/// - Any status is a response, not an error: a 404 or a 500 comes back as `Ok`, and the
///   caller judges it. Errors are for requests that got no complete response.
/// - Redirects are **not** followed unless the implementation was configured to; a 3xx
///   comes back as a response.
/// - Implementations bound the time a request may take and the size of the response body
///   they will buffer, and fail with [`HttpError::Timeout`] or
///   [`HttpError::BodyTooLarge`] past those bounds; they never buffer without limit.
/// - Request and response bodies are plain bytes; compression is not negotiated.
///
/// Object-safe: hold it as `Arc<dyn HttpClient>`.
#[async_trait]
pub trait HttpClient: Send + Sync {
    /// Sends `request` and reads the response.
    ///
    /// # Errors
    ///
    /// [`HttpError`] when no complete response within the limits was received.
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError>;
}

#[async_trait]
impl<C: HttpClient + ?Sized> HttpClient for std::sync::Arc<C> {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        (**self).send(request).await
    }
}

/// Why an HTTP request got no usable response. Each variant has its own code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The request cannot be sent as built (bad URL, unsupported version).
    #[error("http request is invalid: {0}")]
    InvalidRequest(String),
    /// The URL is not `https` and the client was not told to allow plain HTTP.
    #[error("http request refused: only https urls are allowed")]
    InsecureScheme,
    /// No connection could be made (DNS, refused, TLS handshake, certificate).
    #[error("http connection failed: {0}")]
    Connect(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The request took longer than allowed.
    #[error("http request timed out")]
    Timeout,
    /// The response body is larger than the client buffers.
    #[error("http response body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The client could not be built from its configuration.
    #[error("http client configuration is invalid: {0}")]
    Config(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The exchange failed after connecting (connection reset, malformed response).
    #[error("http exchange failed: {0}")]
    Transport(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl CodedError for HttpError {
    fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "core.http.request_invalid",
            Self::InsecureScheme => "core.http.insecure_scheme",
            Self::Connect(_) => "core.http.connect",
            Self::Timeout => "core.http.timeout",
            Self::BodyTooLarge { .. } => "core.http.body_too_large",
            Self::Config(_) => "core.http.config",
            Self::Transport(_) => "core.http.transport",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => {
                "check the configured URL (metadata, issuer, JWKS or helpdesk URL)"
            }
            Self::InsecureScheme => "use an https URL for the IdP or helpdesk endpoint",
            Self::Connect(_) => {
                "check DNS, firewall and the server's TLS certificate for the configured URL"
            }
            Self::Timeout => {
                "the remote endpoint is slow or unreachable; check it or raise the timeout"
            }
            Self::BodyTooLarge { .. } => {
                "the endpoint returned more than expected; check the URL or raise the response size limit"
            }
            Self::Config(_) => "check the HTTP client settings (root certificates, TLS)",
            Self::Transport(_) => {
                "the connection broke mid-exchange; retry, then check proxies and the endpoint"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_messages_lower_case() {
        let all = [
            HttpError::InvalidRequest("no host".into()),
            HttpError::InsecureScheme,
            HttpError::Connect("refused".into()),
            HttpError::Timeout,
            HttpError::BodyTooLarge { limit: 10 },
            HttpError::Config("bad root".into()),
            HttpError::Transport("reset".into()),
        ];
        let codes: std::collections::BTreeSet<_> = all.iter().map(CodedError::code).collect();
        assert_eq!(codes.len(), all.len());
        for e in &all {
            assert!(e.code().starts_with("core.http."));
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
}
