//! [`HttpClient`] over reqwest, with rustls on the `ring` provider.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rustls::pki_types::CertificateDer;

use super::{HttpClient, HttpError};

/// An [`HttpClient`] over `reqwest` (HTTP/1.1, rustls with the `ring` provider, the
/// platform's certificate verifier). Needs the `reqwest` feature and a Tokio runtime.
///
/// Defaults, each changed only by a named builder option:
///
/// | setting | default |
/// | --- | --- |
/// | whole-request timeout (connect to last body byte) | 10 s |
/// | connect timeout | 5 s |
/// | response body limit | 2 MiB |
/// | redirects followed | none |
/// | plain `http://` URLs | refused ([`HttpError::InsecureScheme`]) |
/// | proxies from the environment | not used |
///
/// ```no_run
/// # async fn demo() -> Result<(), jsm_sso_core::transport::HttpError> {
/// use jsm_sso_core::HttpClient;
/// use jsm_sso_core::transport::ReqwestHttpClient;
///
/// let client = ReqwestHttpClient::builder()
///     .timeout(std::time::Duration::from_secs(5))
///     .max_response_bytes(512 * 1024)
///     .build()?;
/// let request = http::Request::get("https://login.example.com/.well-known/openid-configuration")
///     .body(Vec::new())
///     .expect("static request is valid");
/// let response = client.send(request).await?;
/// println!("{}", response.status());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ReqwestHttpClient {
    client: reqwest::Client,
    max_response_bytes: usize,
    allow_plain_http: bool,
}

impl ReqwestHttpClient {
    /// A client with the defaults above.
    ///
    /// # Errors
    ///
    /// [`HttpError::Config`] if the TLS set-up fails (for example no usable platform
    /// certificate verifier).
    pub fn new() -> Result<Self, HttpError> {
        Self::builder().build()
    }

    /// A builder starting from the defaults above.
    pub fn builder() -> ReqwestHttpClientBuilder {
        ReqwestHttpClientBuilder::default()
    }

    /// The response body limit in bytes.
    #[must_use]
    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }
}

/// Configures a [`ReqwestHttpClient`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ReqwestHttpClientBuilder {
    timeout: Duration,
    connect_timeout: Duration,
    max_response_bytes: usize,
    max_redirects: usize,
    allow_plain_http: bool,
    user_agent: String,
    extra_roots: Vec<Vec<u8>>,
}

impl Default for ReqwestHttpClientBuilder {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_response_bytes: 2 * 1024 * 1024,
            max_redirects: 0,
            allow_plain_http: false,
            user_agent: concat!("jsm-sso/", env!("CARGO_PKG_VERSION")).to_owned(),
            extra_roots: Vec::new(),
        }
    }
}

impl ReqwestHttpClientBuilder {
    /// The longest a request may take, from connecting to the last byte of the body.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest connecting (TCP and TLS) may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The largest response body buffered, in bytes; a larger body fails the request
    /// with [`HttpError::BodyTooLarge`] as soon as the limit is passed.
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// Follow up to `max` redirects (default 0: a 3xx is returned as the response).
    /// Redirects to plain `http://` are still refused unless
    /// [`allow_plain_http`](Self::allow_plain_http) is on.
    pub fn follow_redirects(mut self, max: usize) -> Self {
        self.max_redirects = max;
        self
    }

    /// Allow plain `http://` URLs. Off by default: identity metadata, keys and tokens
    /// fetched over plain HTTP can be swapped by anyone on the path. For tests against a
    /// local server only.
    pub fn allow_plain_http(mut self, allow: bool) -> Self {
        self.allow_plain_http = allow;
        self
    }

    /// The `User-Agent` header (default `jsm-sso/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Trust this DER-encoded root certificate as well as the platform's roots (for a
    /// private CA, or a test server).
    pub fn add_root_certificate_der(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.extra_roots.push(der.into());
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`HttpError::Config`] if the TLS configuration or the client cannot be built.
    pub fn build(self) -> Result<ReqwestHttpClient, HttpError> {
        let tls = self.tls_config()?;
        let redirect = if self.max_redirects == 0 {
            reqwest::redirect::Policy::none()
        } else {
            reqwest::redirect::Policy::limited(self.max_redirects)
        };
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .redirect(redirect)
            .https_only(!self.allow_plain_http)
            .no_proxy()
            .user_agent(self.user_agent)
            .build()
            .map_err(|e| HttpError::Config(Box::new(e)))?;
        Ok(ReqwestHttpClient {
            client,
            max_response_bytes: self.max_response_bytes,
            allow_plain_http: self.allow_plain_http,
        })
    }

    /// rustls on `ring` (never the process-wide default provider, never aws-lc-rs), the
    /// platform verifier plus any extra roots, HTTP/1.1 only.
    fn tls_config(&self) -> Result<rustls::ClientConfig, HttpError> {
        let config_err = |e: rustls::Error| HttpError::Config(Box::new(e));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = self
            .extra_roots
            .iter()
            .map(|der| CertificateDer::from(der.clone()));
        let verifier =
            rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider.clone())
                .map_err(config_err)?;
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(config_err)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

fn map_error(e: reqwest::Error) -> HttpError {
    if e.is_timeout() {
        HttpError::Timeout
    } else if e.is_builder() {
        HttpError::InvalidRequest(e.to_string())
    } else if e.is_connect() {
        HttpError::Connect(Box::new(e))
    } else {
        HttpError::Transport(Box::new(e))
    }
}

#[async_trait]
impl HttpClient for ReqwestHttpClient {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        match request.uri().scheme_str() {
            Some("https") => {}
            Some("http") if self.allow_plain_http => {}
            Some("http") => return Err(HttpError::InsecureScheme),
            _ => {
                return Err(HttpError::InvalidRequest(format!(
                    "url {} has no http or https scheme",
                    request.uri()
                )));
            }
        }
        let request = reqwest::Request::try_from(request)
            .map_err(|e| HttpError::InvalidRequest(e.to_string()))?;
        let mut response = self.client.execute(request).await.map_err(map_error)?;

        let limit = self.max_response_bytes;
        let too_large = || HttpError::BodyTooLarge { limit };
        if let Some(declared) = response.content_length()
            && declared > u64::try_from(limit).unwrap_or(u64::MAX)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(map_error)? {
            if chunk.len() > limit.saturating_sub(body.len()) {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }

        let mut out = http::Response::new(body);
        *out.status_mut() = response.status();
        *out.version_mut() = response.version();
        *out.headers_mut() = std::mem::take(response.headers_mut());
        Ok(out)
    }
}
