//! The authorization-code flow: [`RelyingParty::begin`] builds the authorization request
//! (state, nonce, PKCE S256) and stores it; [`RelyingParty::finish`] takes it back once,
//! checks the callback, exchanges the code and validates the ID token.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jsm_sso_core::identity::{IdpId, Protocol};
use jsm_sso_core::{Clock, HttpClient, StateStore, VerifiedIdentity};
use ring::signature as rs;
use serde_json::{Map, Value};

use crate::claims::{from_unix, identity, oauth2_identity};
use crate::id_token::unix_seconds;
use crate::jwks_cache::JwksCache;
use crate::jwt::UnverifiedJwt;
use crate::provider::{ClientAuth, ProviderConfig, ResponseMode};
use crate::{Algorithm, Error, Expectations, IdToken, KeySet};

/// How long a pending authorization request stays usable by default.
pub const DEFAULT_PENDING_TTL: Duration = Duration::from_secs(10 * 60);
/// The largest authorization response (query or form body) read, in bytes.
pub const MAX_CALLBACK_BYTES: usize = 16 * 1024;
/// The largest token or userinfo response read, in bytes.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;
const STATE_PREFIX: &str = "oidc:";

fn random_b64(bytes: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; bytes];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut buf)
        .map_err(|_| Error::Config("the system random generator failed".into()))?;
    Ok(crate::b64::encode(&buf))
}

/// The client's private key for `private_key_jwt` client authentication (RFC 7523).
/// `Debug` does not show the key.
#[derive(Clone)]
pub struct ClientKey {
    kid: Option<String>,
    /// `x5t` and `x5t#S256` of the key's certificate, when one is given.
    thumbprints: Option<(String, String)>,
    key: Arc<SigningKey>,
}

enum SigningKey {
    Rsa(rs::RsaKeyPair),
    P256(rs::EcdsaKeyPair),
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg())
            .finish_non_exhaustive()
    }
}

impl ClientKey {
    /// An RSA key (PKCS#8 DER, at least 2048 bits) signing RS256 assertions.
    ///
    /// # Errors
    ///
    /// `oidc.config.invalid` when the key does not parse or is too small.
    pub fn rsa_pkcs8(der: &[u8], kid: Option<String>) -> Result<Self, Error> {
        let pair = rs::RsaKeyPair::from_pkcs8(der)
            .map_err(|e| Error::Config(format!("private_key_jwt rsa key: {e}")))?;
        Ok(Self {
            kid,
            thumbprints: None,
            key: Arc::new(SigningKey::Rsa(pair)),
        })
    }

    /// A P-256 key (PKCS#8 DER) signing ES256 assertions.
    ///
    /// # Errors
    ///
    /// `oidc.config.invalid` when the key does not parse.
    pub fn p256_pkcs8(der: &[u8], kid: Option<String>) -> Result<Self, Error> {
        let rng = ring::rand::SystemRandom::new();
        let pair = rs::EcdsaKeyPair::from_pkcs8(&rs::ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|e| Error::Config(format!("private_key_jwt p-256 key: {e}")))?;
        Ok(Self {
            kid,
            thumbprints: None,
            key: Arc::new(SigningKey::P256(pair)),
        })
    }

    /// Names the key's X.509 certificate (DER) in every assertion's header as `x5t` (SHA-1
    /// thumbprint) and `x5t#S256` (SHA-256 thumbprint). Microsoft Entra ID finds the
    /// registered certificate by `x5t` and refuses an assertion that carries only a `kid`.
    #[must_use]
    pub fn with_certificate(mut self, certificate_der: &[u8]) -> Self {
        let thumbprint =
            |alg| crate::b64::encode(ring::digest::digest(alg, certificate_der).as_ref());
        self.thumbprints = Some((
            thumbprint(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY),
            thumbprint(&ring::digest::SHA256),
        ));
        self
    }

    /// The assertion's algorithm.
    #[must_use]
    pub fn alg(&self) -> Algorithm {
        match *self.key {
            SigningKey::Rsa(_) => Algorithm::RS256,
            SigningKey::P256(_) => Algorithm::ES256,
        }
    }

    /// A client assertion: `iss` = `sub` = client id, `aud` = the token endpoint, a
    /// random `jti`, valid for 60 seconds.
    fn assertion(&self, client_id: &str, audience: &str, now: SystemTime) -> Result<String, Error> {
        let mut header = serde_json::json!({"alg": self.alg().as_str(), "typ": "JWT"});
        if let Some(h) = header.as_object_mut() {
            if let Some(kid) = &self.kid {
                h.insert("kid".into(), Value::String(kid.clone()));
            }
            if let Some((sha1, sha256)) = &self.thumbprints {
                h.insert("x5t".into(), Value::String(sha1.clone()));
                h.insert("x5t#S256".into(), Value::String(sha256.clone()));
            }
        }
        let iat = unix_seconds(now);
        let claims = serde_json::json!({
            "iss": client_id, "sub": client_id, "aud": audience,
            "jti": random_b64(16)?, "iat": iat, "exp": iat.saturating_add(60),
        });
        let input = format!(
            "{}.{}",
            crate::b64::encode(header.to_string().as_bytes()),
            crate::b64::encode(claims.to_string().as_bytes())
        );
        let rng = ring::rand::SystemRandom::new();
        let failed = |_| Error::Config("signing the client assertion failed".into());
        let signature = match &*self.key {
            SigningKey::Rsa(pair) => {
                let mut sig = vec![0; pair.public().modulus_len()];
                pair.sign(&rs::RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig)
                    .map_err(failed)?;
                sig
            }
            SigningKey::P256(pair) => pair
                .sign(&rng, input.as_bytes())
                .map_err(failed)?
                .as_ref()
                .to_vec(),
        };
        Ok(format!("{input}.{}", crate::b64::encode(&signature)))
    }
}

/// Extra parameters of one authorization request.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AuthorizationOptions {
    /// `prompt` (`login`, `consent`, `select_account`, `none`).
    pub prompt: Option<String>,
    /// `login_hint`: the email the user typed for home-realm discovery.
    pub login_hint: Option<String>,
    /// `domain_hint` (Entra): skip the account picker for this domain.
    pub domain_hint: Option<String>,
}

impl AuthorizationOptions {
    /// With `prompt`.
    #[must_use]
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }

    /// With `login_hint`.
    #[must_use]
    pub fn login_hint(mut self, hint: impl Into<String>) -> Self {
        self.login_hint = Some(hint.into());
        self
    }

    /// With `domain_hint`.
    #[must_use]
    pub fn domain_hint(mut self, hint: impl Into<String>) -> Self {
        self.domain_hint = Some(hint.into());
        self
    }
}

/// Where to send the browser to start a sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthorizationRequest {
    /// The provider's authorization URL with every parameter.
    pub url: String,
    /// The `state` value (also in the URL); the pending request is stored under it.
    pub state: String,
}

/// What is kept between `begin` and `finish`, in the [`StateStore`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Pending {
    idp: String,
    nonce: String,
    code_verifier: String,
    redirect_uri: String,
    max_age: Option<u64>,
}

/// An authorization response: the query of the redirect, or the form of a `form_post`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Callback {
    /// `code`.
    pub code: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `error`.
    pub error: Option<String>,
    /// `error_description`.
    pub error_description: Option<String>,
    /// RFC 9207 `iss`.
    pub iss: Option<String>,
}

impl Callback {
    /// Parses `application/x-www-form-urlencoded` parameters (a query string without `?`,
    /// or a form body). Unknown parameters are ignored; a repeated known one is refused.
    ///
    /// # Errors
    ///
    /// `oidc.callback.malformed`.
    pub fn parse(params: &[u8]) -> Result<Self, Error> {
        if params.len() > MAX_CALLBACK_BYTES {
            return Err(Error::CallbackMalformed(format!(
                "{} bytes, more than {MAX_CALLBACK_BYTES}",
                params.len()
            )));
        }
        let mut callback = Callback::default();
        for (name, value) in url::form_urlencoded::parse(params) {
            let slot = match name.as_ref() {
                "code" => &mut callback.code,
                "state" => &mut callback.state,
                "error" => &mut callback.error,
                "error_description" => &mut callback.error_description,
                "iss" => &mut callback.iss,
                _ => continue,
            };
            if slot.is_some() {
                return Err(Error::CallbackMalformed(format!("{name} is repeated")));
            }
            *slot = Some(value.into_owned());
        }
        Ok(callback)
    }

    /// Parses the query of a full redirect URL.
    ///
    /// # Errors
    ///
    /// `oidc.callback.malformed`.
    pub fn from_url(url: &str) -> Result<Self, Error> {
        let parsed = url::Url::parse(url)
            .map_err(|e| Error::CallbackMalformed(format!("not a URL: {e}")))?;
        Self::parse(parsed.query().unwrap_or("").as_bytes())
    }
}

/// The tokens of a successful code exchange.
#[derive(Debug, Clone)]
struct TokenResponse {
    access_token: String,
    id_token: Option<String>,
}

/// A configured provider at run time: its configuration and its JWKS cache.
pub struct Provider {
    config: ProviderConfig,
    jwks: Option<JwksCache>,
    http: Arc<dyn HttpClient>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("config", &self.config)
            .field("jwks", &self.jwks)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// A provider from its configuration, fetching through `http`, reading time from
    /// `clock`.
    pub fn new(config: ProviderConfig, http: Arc<dyn HttpClient>, clock: Arc<dyn Clock>) -> Self {
        let jwks = config
            .metadata
            .jwks_uri
            .as_ref()
            .map(|uri| JwksCache::new(uri.clone(), http.clone(), clock.clone()));
        Self {
            config,
            jwks,
            http,
            clock,
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// Validates an ID token of this provider: keys from the cached JWKS, refetched once
    /// (at most once a minute) when the token names an unknown `kid`.
    ///
    /// # Errors
    ///
    /// The first failed check's [`Error`].
    pub async fn validate_id_token(
        &self,
        token: &str,
        expect: &Expectations<'_>,
    ) -> Result<IdToken, Error> {
        let jwt = UnverifiedJwt::parse(token)?;
        let validator = &self.config.validator;
        let keys = match (&self.jwks, jwt.alg.is_hmac(), jwt.kid()) {
            (Some(cache), false, Some(kid)) => cache.keys_with_kid(kid).await?,
            (Some(cache), false, None) => cache.keys().await?,
            _ => Arc::new(KeySet::default()),
        };
        validator.check_alg(&jwt, &keys)?;
        validator.validate_parsed(&jwt, &keys, expect)
    }

    fn authorization_url(
        &self,
        state: &str,
        pending: &Pending,
        options: &AuthorizationOptions,
    ) -> Result<String, Error> {
        let config = &self.config;
        let mut url = url::Url::parse(&config.metadata.authorization_endpoint)
            .map_err(|e| Error::Config(format!("authorization_endpoint: {e}")))?;
        let challenge = crate::b64::encode(
            ring::digest::digest(&ring::digest::SHA256, pending.code_verifier.as_bytes()).as_ref(),
        );
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &config.client_id)
                .append_pair("redirect_uri", &config.redirect_uri)
                .append_pair("scope", &config.scopes.join(" "))
                .append_pair("state", state)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            if config.oauth2.is_none() {
                q.append_pair("nonce", &pending.nonce);
            }
            if config.response_mode == ResponseMode::FormPost {
                q.append_pair("response_mode", "form_post");
            }
            if let Some(max_age) = pending.max_age {
                q.append_pair("max_age", &max_age.to_string());
            }
            for (name, value) in [
                ("prompt", &options.prompt),
                ("login_hint", &options.login_hint),
                ("domain_hint", &options.domain_hint),
            ] {
                if let Some(value) = value {
                    q.append_pair(name, value);
                }
            }
        }
        Ok(url.into())
    }

    async fn exchange(&self, code: &str, pending: &Pending) -> Result<TokenResponse, Error> {
        let config = &self.config;
        let endpoint = config
            .metadata
            .token_endpoint
            .as_deref()
            .ok_or_else(|| Error::Config("token_endpoint is required".into()))?;
        // The form serializer is not `Send`: it lives in this block only, so the future
        // stays `Send` for multi-threaded servers.
        let request = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "authorization_code")
                .append_pair("code", code)
                .append_pair("redirect_uri", &pending.redirect_uri)
                .append_pair("code_verifier", &pending.code_verifier);
            let mut request = http::Request::post(endpoint)
                .header(
                    http::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .header(http::header::ACCEPT, "application/json");
            match &config.client_auth {
                ClientAuth::None => {
                    form.append_pair("client_id", &config.client_id);
                }
                ClientAuth::SecretBasic(secret) => {
                    // RFC 6749 2.3.1: both parts form-encoded before base64.
                    let enc = |s: &str| {
                        url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                    };
                    let basic =
                        format!("{}:{}", enc(&config.client_id), enc(secret.expose_secret()));
                    request = request.header(
                        http::header::AUTHORIZATION,
                        format!("Basic {}", base64_std(basic.as_bytes())),
                    );
                }
                ClientAuth::SecretPost(secret) => {
                    form.append_pair("client_id", &config.client_id)
                        .append_pair("client_secret", secret.expose_secret());
                }
                ClientAuth::PrivateKeyJwt(key) => {
                    let assertion = key.assertion(&config.client_id, endpoint, self.clock.now())?;
                    form.append_pair("client_id", &config.client_id)
                        .append_pair(
                            "client_assertion_type",
                            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                        )
                        .append_pair("client_assertion", &assertion);
                }
            }
            request
                .body(form.finish().into_bytes())
                .map_err(|e| Error::Config(format!("token_endpoint: {e}")))?
        };
        let response = self.http.send(request).await?;
        let status = response.status();
        let body = response.body();
        if body.len() > MAX_RESPONSE_BYTES {
            return Err(Error::TokenResponseMalformed(format!(
                "{} bytes",
                body.len()
            )));
        }
        let json: Map<String, Value> = match serde_json::from_slice(body) {
            Ok(json) => json,
            Err(_) if !status.is_success() => {
                return Err(Error::HttpStatus {
                    endpoint: "token",
                    status: status.as_u16(),
                });
            }
            Err(e) => {
                return Err(Error::TokenResponseMalformed(format!(
                    "not a JSON object: {e}"
                )));
            }
        };
        if let Some(error) = json.get("error").and_then(Value::as_str) {
            return Err(Error::TokenEndpoint {
                error: error.to_owned(),
                description: json
                    .get("error_description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            });
        }
        if !status.is_success() {
            return Err(Error::HttpStatus {
                endpoint: "token",
                status: status.as_u16(),
            });
        }
        let access_token = json
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::TokenResponseMalformed("no access_token".into()))?;
        let token_type = json.get("token_type").and_then(Value::as_str).unwrap_or("");
        if !token_type.eq_ignore_ascii_case("bearer") {
            return Err(Error::TokenResponseMalformed(format!(
                "token_type is {token_type:?}, expected Bearer"
            )));
        }
        let id_token = match json.get("id_token") {
            None => None,
            Some(Value::String(t)) => Some(t.clone()),
            Some(_) => {
                return Err(Error::TokenResponseMalformed(
                    "id_token is not a string".into(),
                ));
            }
        };
        Ok(TokenResponse {
            access_token: access_token.to_owned(),
            id_token,
        })
    }

    /// Asks Microsoft Graph (`getMemberObjects`) for the user's group ids.
    async fn graph_groups(&self, endpoint: &str, access_token: &str) -> Result<Vec<String>, Error> {
        let request = http::Request::post(endpoint)
            .header(
                http::header::AUTHORIZATION,
                format!("Bearer {access_token}"),
            )
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json")
            .body(br#"{"securityEnabledOnly":false}"#.to_vec())
            .map_err(|e| Error::Config(format!("graph_groups_endpoint: {e}")))?;
        let response = self.http.send(request).await?;
        if response.status() != http::StatusCode::OK {
            return Err(Error::HttpStatus {
                endpoint: "graph",
                status: response.status().as_u16(),
            });
        }
        #[derive(serde::Deserialize)]
        struct Objects {
            value: Vec<String>,
        }
        let objects: Objects = serde_json::from_slice(response.body())
            .map_err(|e| Error::GraphMalformed(e.to_string()))?;
        Ok(objects.value)
    }

    /// Calls the userinfo endpoint with the access token.
    ///
    /// # Errors
    ///
    /// HTTP errors, `oidc.http.status`, `oidc.userinfo.malformed`.
    pub async fn userinfo(&self, access_token: &str) -> Result<Map<String, Value>, Error> {
        let endpoint = self
            .config
            .metadata
            .userinfo_endpoint
            .as_deref()
            .ok_or_else(|| Error::Config("no userinfo_endpoint".into()))?;
        let request = http::Request::get(endpoint)
            .header(
                http::header::AUTHORIZATION,
                format!("Bearer {access_token}"),
            )
            .header(http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|e| Error::Config(format!("userinfo_endpoint: {e}")))?;
        let response = self.http.send(request).await?;
        if response.status() != http::StatusCode::OK {
            return Err(Error::HttpStatus {
                endpoint: "userinfo",
                status: response.status().as_u16(),
            });
        }
        let jwt = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("application/jwt"));
        if jwt {
            return Err(Error::UserinfoMalformed(
                "signed or encrypted userinfo (application/jwt) is not supported".into(),
            ));
        }
        if response.body().len() > MAX_RESPONSE_BYTES {
            return Err(Error::UserinfoMalformed(format!(
                "{} bytes",
                response.body().len()
            )));
        }
        serde_json::from_slice(response.body())
            .map_err(|e| Error::UserinfoMalformed(format!("not a JSON object: {e}")))
    }
}

/// Several providers, a state store and the flow between them.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use jsm_sso_core::clock::SystemClock;
/// use jsm_sso_core::memory::MemoryStateStore;
/// use jsm_sso_oidc::{AuthorizationOptions, ProviderConfig, ProviderMetadata, RelyingParty};
/// # struct NoHttp;
/// # #[async_trait::async_trait]
/// # impl jsm_sso_core::HttpClient for NoHttp {
/// #     async fn send(&self, _: http::Request<Vec<u8>>)
/// #         -> Result<http::Response<Vec<u8>>, jsm_sso_core::transport::HttpError> {
/// #         Err(jsm_sso_core::transport::HttpError::Timeout)
/// #     }
/// # }
///
/// let clock = Arc::new(SystemClock);
/// let store = Arc::new(MemoryStateStore::new(clock.clone(), 10_000));
/// let config = ProviderConfig::builder("okta")
///     .metadata(ProviderMetadata::manual("https://op.example", "https://op.example/authorize",
///         "https://op.example/token", "https://op.example/jwks"))
///     .client_id("portal")
///     .redirect_uri("https://portal.example/callback")
///     .build()?;
/// let rp = RelyingParty::new(Arc::new(NoHttp), store, clock).with_provider(config);
/// let request = rp.begin(&"okta".into(), &AuthorizationOptions::default()).await?;
/// assert!(request.url.starts_with("https://op.example/authorize?response_type=code"));
/// assert!(request.url.contains("code_challenge_method=S256"));
/// # Ok::<(), jsm_sso_oidc::Error>(()) }).unwrap();
/// ```
pub struct RelyingParty {
    providers: BTreeMap<IdpId, Provider>,
    store: Arc<dyn StateStore>,
    http: Arc<dyn HttpClient>,
    clock: Arc<dyn Clock>,
    pending_ttl: Duration,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .field("pending_ttl", &self.pending_ttl)
            .finish_non_exhaustive()
    }
}

impl RelyingParty {
    /// A relying party with no providers yet.
    pub fn new(
        http: Arc<dyn HttpClient>,
        store: Arc<dyn StateStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            providers: BTreeMap::new(),
            store,
            http,
            clock,
            pending_ttl: DEFAULT_PENDING_TTL,
        }
    }

    /// Adds a provider (replacing one with the same id).
    #[must_use]
    pub fn with_provider(mut self, config: ProviderConfig) -> Self {
        let provider = Provider::new(config, self.http.clone(), self.clock.clone());
        self.providers.insert(provider.config.idp.clone(), provider);
        self
    }

    /// How long a started sign-in may take (default 10 minutes).
    #[must_use]
    pub fn pending_ttl(mut self, ttl: Duration) -> Self {
        self.pending_ttl = ttl;
        self
    }

    /// The provider with this id.
    #[must_use]
    pub fn provider(&self, idp: &IdpId) -> Option<&Provider> {
        self.providers.get(idp)
    }

    /// Starts a sign-in at `idp`: fresh state, nonce and PKCE verifier, stored (single use)
    /// until the callback; returns the URL to redirect the browser to.
    ///
    /// # Errors
    ///
    /// `oidc.config.unknown_provider`, store errors.
    pub async fn begin(
        &self,
        idp: &IdpId,
        options: &AuthorizationOptions,
    ) -> Result<AuthorizationRequest, Error> {
        let provider = self
            .providers
            .get(idp)
            .ok_or_else(|| Error::UnknownProvider(idp.to_string()))?;
        let state = random_b64(32)?;
        let pending = Pending {
            idp: idp.to_string(),
            nonce: random_b64(32)?,
            code_verifier: random_b64(32)?,
            redirect_uri: provider.config.redirect_uri.clone(),
            max_age: provider.config.max_age.map(|d| d.as_secs()),
        };
        let url = provider.authorization_url(&state, &pending, options)?;
        let value =
            serde_json::to_vec(&pending).map_err(|e| Error::PendingMalformed(e.to_string()))?;
        let expires = self
            .clock
            .now()
            .checked_add(self.pending_ttl)
            .ok_or_else(|| Error::Config("pending_ttl is too large".into()))?;
        self.store
            .put(&format!("{STATE_PREFIX}{state}"), value, expires)
            .await?;
        Ok(AuthorizationRequest { url, state })
    }

    /// Finishes a sign-in from the authorization response.
    ///
    /// `arrived_for` is the provider the callback was routed to when each provider has its
    /// own redirect URI; the pending request's provider must be the same (mix-up defence).
    /// Then the RFC 9207 `iss` (required when the provider advertises it), the `error`
    /// response, the code exchange with the PKCE verifier, the ID token (nonce,
    /// `at_hash`, `max_age`), userinfo (its `sub` must match) and the claims mapping.
    ///
    /// # Errors
    ///
    /// The first failed check's [`Error`].
    pub async fn finish(
        &self,
        callback: &Callback,
        arrived_for: Option<&IdpId>,
    ) -> Result<VerifiedIdentity, Error> {
        let Some(state) = callback.state.as_deref().filter(|s| !s.is_empty()) else {
            if let Some(error) = &callback.error {
                return Err(Error::Authorization {
                    error: error.clone(),
                    description: callback.error_description.clone(),
                });
            }
            return Err(Error::CallbackMalformed("no state".into()));
        };
        let key = format!("{STATE_PREFIX}{state}");
        if key.len() > 512 {
            return Err(Error::StateUnknown);
        }
        let raw = self.store.take(&key).await?.ok_or(Error::StateUnknown)?;
        let pending: Pending =
            serde_json::from_slice(&raw).map_err(|e| Error::PendingMalformed(e.to_string()))?;
        let pending_idp = IdpId::from(pending.idp.as_str());
        if let Some(arrived) = arrived_for
            && *arrived != pending_idp
        {
            return Err(Error::ProviderMismatch {
                expected: pending.idp.clone(),
                actual: arrived.to_string(),
            });
        }
        let provider = self
            .providers
            .get(&pending_idp)
            .ok_or_else(|| Error::UnknownProvider(pending.idp.clone()))?;
        let config = &provider.config;
        let expected_iss = config.expected_iss();
        match &callback.iss {
            Some(iss) if iss != expected_iss => {
                return Err(Error::CallbackIssuer {
                    expected: expected_iss.to_owned(),
                    actual: Some(iss.clone()),
                });
            }
            None if config
                .metadata
                .authorization_response_iss_parameter_supported =>
            {
                return Err(Error::CallbackIssuer {
                    expected: expected_iss.to_owned(),
                    actual: None,
                });
            }
            _ => {}
        }
        if let Some(error) = &callback.error {
            return Err(Error::Authorization {
                error: error.clone(),
                description: callback.error_description.clone(),
            });
        }
        let code = callback
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Error::CallbackMalformed("no code".into()))?;
        let tokens = provider.exchange(code, &pending).await?;
        // From here the provider has answered: a refusal carries what its tokens said
        // (decoded only on failure, so a successful sign-in pays nothing for it).
        let mut userinfo = None;
        self.identity_from_tokens(provider, &pending, &tokens, &mut userinfo)
            .await
            .map_err(|e| {
                // A plain OAuth 2.0 provider's ID token (if any) is not used, so not shown.
                let id_token = tokens
                    .id_token
                    .as_deref()
                    .filter(|_| config.oauth2.is_none());
                e.with_token(id_token, userinfo)
            })
    }

    /// The ID token validated (nonce, `at_hash`, `max_age`), userinfo merged, the claims
    /// mapped to the identity. A fetched userinfo response is left in `userinfo` for the
    /// error's diagnosis.
    async fn identity_from_tokens(
        &self,
        provider: &Provider,
        pending: &Pending,
        tokens: &TokenResponse,
        userinfo: &mut Option<Map<String, Value>>,
    ) -> Result<VerifiedIdentity, Error> {
        let config = &provider.config;
        let now = self.clock.now();
        if let Some(paths) = &config.oauth2 {
            let info = userinfo.insert(provider.userinfo(&tokens.access_token).await?);
            return oauth2_identity(&config.idp, paths, info, now);
        }
        let id_token = tokens.id_token.as_deref().ok_or(Error::IdTokenMissing)?;
        let expect = Expectations {
            now,
            nonce: Some(&pending.nonce),
            access_token: Some(&tokens.access_token),
            code: None,
            max_age: pending.max_age.map(Duration::from_secs),
        };
        let token = provider.validate_id_token(id_token, &expect).await?;
        let mut claims = token.claims.clone();
        if config.fetch_userinfo {
            let info = userinfo.insert(provider.userinfo(&tokens.access_token).await?);
            merge_userinfo(&mut claims, &token.subject, info)?;
        }
        let authn = from_unix(token.auth_time.unwrap_or(token.issued_at));
        let build = |claims: &Map<String, Value>| {
            identity(
                &config.idp,
                Protocol::Oidc,
                &config.profile,
                token.subject.clone(),
                claims,
                authn,
            )
        };
        let mut identity = match (build(&claims), &config.graph_groups) {
            (Err(Error::GroupsOverage), Some(endpoint)) => {
                let groups = provider
                    .graph_groups(endpoint, &tokens.access_token)
                    .await?;
                for name in ["_claim_names", "_claim_sources", "hasgroups"] {
                    claims.remove(name);
                }
                claims.insert("groups".into(), Value::from(groups));
                build(&claims)?
            }
            (built, _) => built?,
        };
        identity.session_expiry = None;
        Ok(identity)
    }
}

/// Adds userinfo claims the ID token lacks, after checking `sub` (OIDC Core 5.3.2).
pub(crate) fn merge_userinfo(
    claims: &mut Map<String, Value>,
    subject: &str,
    info: &Map<String, Value>,
) -> Result<(), Error> {
    let actual = info.get("sub").and_then(Value::as_str).unwrap_or_default();
    if actual != subject {
        return Err(Error::UserinfoSubject {
            expected: subject.to_owned(),
            actual: actual.to_owned(),
        });
    }
    for (name, value) in info {
        if !claims.contains_key(name) {
            claims.insert(name.clone(), value.clone());
        }
    }
    Ok(())
}

fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsm_sso_core::CodedError;

    #[test]
    fn callback_parsing() {
        let cb =
            Callback::parse(b"code=abc&state=xyz&iss=https%3A%2F%2Fop.example&extra=1").unwrap();
        assert_eq!(cb.code.as_deref(), Some("abc"));
        assert_eq!(cb.state.as_deref(), Some("xyz"));
        assert_eq!(cb.iss.as_deref(), Some("https://op.example"));
        assert_eq!(
            Callback::parse(b"code=a&code=b").unwrap_err().code(),
            "oidc.callback.malformed"
        );
        let big = vec![b'a'; MAX_CALLBACK_BYTES + 1];
        assert_eq!(
            Callback::parse(&big).unwrap_err().code(),
            "oidc.callback.malformed"
        );
        let cb = Callback::from_url("https://rp.example/cb?error=access_denied&state=s").unwrap();
        assert_eq!(cb.error.as_deref(), Some("access_denied"));
    }

    fn header_of(assertion: &str) -> Value {
        let header = assertion.split('.').next().unwrap();
        serde_json::from_slice(&crate::b64::decode(header.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn client_assertion_names_the_certificate_when_given() {
        let der = jsm_sso_testkit::oidc::TestKey::rs256().pkcs8_der();
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let plain = ClientKey::rsa_pkcs8(der, Some("k1".into())).unwrap();
        let header = header_of(&plain.assertion("c", "https://op/token", now).unwrap());
        assert_eq!(header["kid"], "k1");
        assert!(header.get("x5t").is_none() && header.get("x5t#S256").is_none());

        // Any bytes stand for the certificate: the header carries their thumbprints.
        let certificate = b"certificate DER bytes";
        let with_cert = plain.with_certificate(certificate);
        let header = header_of(&with_cert.assertion("c", "https://op/token", now).unwrap());
        assert_eq!(header["kid"], "k1");
        assert_eq!(
            header["x5t"],
            crate::b64::encode(
                ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, certificate).as_ref()
            )
        );
        assert_eq!(
            header["x5t#S256"],
            crate::b64::encode(ring::digest::digest(&ring::digest::SHA256, certificate).as_ref())
        );
        assert_eq!(
            header["x5t"].as_str().unwrap().len(),
            27,
            "20 bytes, unpadded"
        );
    }

    #[test]
    fn userinfo_merge_checks_sub() {
        let mut claims = Map::new();
        claims.insert("sub".into(), "u1".into());
        claims.insert("email".into(), "a@example.com".into());
        let mut info = Map::new();
        info.insert("sub".into(), "u1".into());
        info.insert("email".into(), "other@example.com".into());
        info.insert("groups".into(), serde_json::json!(["g"]));
        merge_userinfo(&mut claims, "u1", &info).unwrap();
        assert_eq!(claims["email"], "a@example.com");
        assert_eq!(claims["groups"], serde_json::json!(["g"]));
        info.insert("sub".into(), "u2".into());
        assert_eq!(
            merge_userinfo(&mut claims, "u1", &info).unwrap_err().code(),
            "oidc.userinfo.sub_mismatch"
        );
    }
}
