//! Provider configuration: [`ProviderConfig`] (built and validated by
//! [`ProviderConfigBuilder`]) and [`ProviderMetadata`] (manual or from discovery).

use std::time::Duration;

use jsm_sso_core::identity::IdpId;
use jsm_sso_core::{HttpClient, Secret};

use crate::claims::Profile;
use crate::id_token::{DEFAULT_LEEWAY, IdTokenValidator, IssuerPolicy, MAX_LEEWAY};
use crate::{Algorithm, Error};

/// The largest discovery document read, in bytes.
pub const MAX_DISCOVERY_BYTES: usize = 256 * 1024;

/// A provider's endpoints and capabilities: from `/.well-known/openid-configuration` or
/// written by hand.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// `issuer`.
    pub issuer: String,
    /// `authorization_endpoint`.
    pub authorization_endpoint: String,
    /// `token_endpoint`.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// `userinfo_endpoint`.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    /// `jwks_uri`.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// `id_token_signing_alg_values_supported`.
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// `code_challenge_methods_supported`.
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    /// `response_modes_supported`.
    #[serde(default)]
    pub response_modes_supported: Vec<String>,
    /// RFC 9207: whether every authorization response carries `iss`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// `token_endpoint_auth_methods_supported`.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
}

impl ProviderMetadata {
    /// Hand-written metadata: issuer, authorization, token and JWKS endpoints.
    pub fn manual(
        issuer: impl Into<String>,
        authorization_endpoint: impl Into<String>,
        token_endpoint: impl Into<String>,
        jwks_uri: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            authorization_endpoint: authorization_endpoint.into(),
            token_endpoint: Some(token_endpoint.into()),
            jwks_uri: Some(jwks_uri.into()),
            ..Self::default()
        }
    }

    /// With a userinfo endpoint.
    #[must_use]
    pub fn with_userinfo(mut self, userinfo_endpoint: impl Into<String>) -> Self {
        self.userinfo_endpoint = Some(userinfo_endpoint.into());
        self
    }

    /// With RFC 9207 `iss` on every authorization response (then its absence is refused).
    #[must_use]
    pub fn with_iss_parameter(mut self, supported: bool) -> Self {
        self.authorization_response_iss_parameter_supported = supported;
        self
    }

    /// Parses a discovery document and checks that its `issuer` is `expected_issuer`
    /// exactly (OIDC Discovery 4.3). For a `{tenantid}` template, the document's issuer
    /// must be the template itself (as Entra's common endpoint publishes it).
    ///
    /// # Errors
    ///
    /// `oidc.discovery.malformed`, `oidc.discovery.issuer_mismatch`.
    pub fn from_discovery(json: &[u8], expected_issuer: &str) -> Result<Self, Error> {
        if json.len() > MAX_DISCOVERY_BYTES {
            return Err(Error::DiscoveryMalformed(format!(
                "{} bytes, more than {MAX_DISCOVERY_BYTES}",
                json.len()
            )));
        }
        let doc: Self =
            serde_json::from_slice(json).map_err(|e| Error::DiscoveryMalformed(e.to_string()))?;
        if doc.issuer != expected_issuer {
            return Err(Error::DiscoveryIssuer {
                expected: expected_issuer.to_owned(),
                actual: doc.issuer,
            });
        }
        if doc.authorization_endpoint.is_empty() {
            return Err(Error::DiscoveryMalformed(
                "authorization_endpoint is empty".into(),
            ));
        }
        Ok(doc)
    }

    /// Fetches and checks `{issuer}/.well-known/openid-configuration` through `http`.
    ///
    /// # Errors
    ///
    /// HTTP errors, `oidc.http.status`, and those of [`Self::from_discovery`].
    pub async fn discover(http: &dyn HttpClient, issuer: &str) -> Result<Self, Error> {
        Self::discover_at(http, &discovery_url(issuer), issuer).await
    }

    /// Fetches the discovery document at `url` and checks that its issuer is
    /// `expected_issuer`: for providers whose document lives elsewhere than under the
    /// issuer, such as Entra's multi-tenant
    /// `https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration`,
    /// whose issuer is the template `https://login.microsoftonline.com/{tenantid}/v2.0`.
    ///
    /// # Errors
    ///
    /// HTTP errors, `oidc.http.status`, and those of [`Self::from_discovery`].
    pub async fn discover_at(
        http: &dyn HttpClient,
        url: &str,
        expected_issuer: &str,
    ) -> Result<Self, Error> {
        let issuer = expected_issuer;
        let request = http::Request::get(url)
            .header(http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|e| Error::Config(format!("discovery url {url:?}: {e}")))?;
        let response = http.send(request).await?;
        if response.status() != http::StatusCode::OK {
            return Err(Error::HttpStatus {
                endpoint: "discovery",
                status: response.status().as_u16(),
            });
        }
        Self::from_discovery(response.body(), issuer)
    }
}

/// `{issuer}/.well-known/openid-configuration` (the issuer's trailing slash dropped).
#[must_use]
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClientAuth {
    /// A public client: only `client_id` (PKCE protects the code).
    None,
    /// HTTP Basic with the client secret (`client_secret_basic`).
    SecretBasic(Secret),
    /// The client secret in the form body (`client_secret_post`).
    SecretPost(Secret),
    /// A JWT signed with the client's private key (`private_key_jwt`, RFC 7523).
    PrivateKeyJwt(crate::flow::ClientKey),
}

impl ClientAuth {
    fn secret(&self) -> Option<&Secret> {
        match self {
            Self::SecretBasic(s) | Self::SecretPost(s) => Some(s),
            Self::None | Self::PrivateKeyJwt(_) => None,
        }
    }
}

/// How the provider returns the authorization response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseMode {
    /// In the redirect's query string (the default).
    #[default]
    Query,
    /// As an HTML form POSTed to the redirect URI.
    FormPost,
}

/// Plain OAuth 2.0 (no ID token): where the identity comes from in the userinfo response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2Claims {
    /// Dot-separated path of the stable user id (`"id"`, `"data.user.id"`).
    pub subject: String,
    /// Path of the email.
    pub email: Option<String>,
    /// Path of a boolean saying the email is verified; `None` with
    /// `emails_verified: false` means emails are never treated as verified.
    pub email_verified: Option<String>,
    /// Whether the provider only returns verified emails.
    pub emails_verified: bool,
    /// Path of the groups (an array of strings, or one string).
    pub groups: Option<String>,
}

/// One identity provider, validated: a value that exists is usable.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub(crate) idp: IdpId,
    pub(crate) issuer: IssuerPolicy,
    pub(crate) metadata: ProviderMetadata,
    pub(crate) client_id: String,
    pub(crate) client_auth: ClientAuth,
    pub(crate) redirect_uri: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) response_mode: ResponseMode,
    pub(crate) max_age: Option<Duration>,
    pub(crate) profile: Profile,
    pub(crate) oauth2: Option<OAuth2Claims>,
    pub(crate) fetch_userinfo: bool,
    pub(crate) graph_groups: Option<String>,
    pub(crate) validator: IdTokenValidator,
}

impl ProviderConfig {
    /// Starts a configuration for provider `idp`.
    pub fn builder(idp: impl Into<IdpId>) -> ProviderConfigBuilder {
        ProviderConfigBuilder {
            idp: idp.into(),
            issuer: None,
            metadata: None,
            client_id: None,
            client_auth: ClientAuth::None,
            redirect_uri: None,
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            algorithms: None,
            allow_hmac: false,
            trusted_audiences: Vec::new(),
            leeway: DEFAULT_LEEWAY,
            response_mode: ResponseMode::Query,
            max_age: None,
            profile: Profile::Generic,
            tenants: Vec::new(),
            oauth2: None,
            fetch_userinfo: false,
            graph_groups: None,
        }
    }

    /// The provider id.
    #[must_use]
    pub fn idp(&self) -> &IdpId {
        &self.idp
    }

    /// Whether the provider is plain OAuth 2.0 (identity from userinfo claim paths, no ID
    /// token), as set with [`ProviderConfigBuilder::oauth2_claims`].
    #[must_use]
    pub fn is_oauth2(&self) -> bool {
        self.oauth2.is_some()
    }

    /// The provider's metadata.
    #[must_use]
    pub fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    /// The ID token validator.
    #[must_use]
    pub fn validator(&self) -> &IdTokenValidator {
        &self.validator
    }

    /// The issuer the authorization response's `iss` must equal: the configured one, or
    /// for a tenant template, the metadata's issuer.
    pub(crate) fn expected_iss(&self) -> &str {
        match &self.issuer {
            IssuerPolicy::Exact(issuer) => issuer,
            IssuerPolicy::Tenant { .. } => &self.metadata.issuer,
        }
    }
}

/// Builds a [`ProviderConfig`]; [`build`](Self::build) checks it.
///
/// ```
/// use jsm_sso_oidc::{ProviderConfig, ProviderMetadata};
/// use jsm_sso_core::Secret;
///
/// let metadata = ProviderMetadata::manual(
///     "https://op.example", "https://op.example/authorize",
///     "https://op.example/token", "https://op.example/jwks");
/// let config = ProviderConfig::builder("okta")
///     .metadata(metadata)
///     .client_id("portal")
///     .client_secret_basic(Secret::new("s3cret"))
///     .redirect_uri("https://portal.example/oidc/callback")
///     .build()?;
/// assert_eq!(config.idp().as_str(), "okta");
/// # Ok::<(), jsm_sso_oidc::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ProviderConfigBuilder {
    idp: IdpId,
    issuer: Option<String>,
    metadata: Option<ProviderMetadata>,
    client_id: Option<String>,
    client_auth: ClientAuth,
    redirect_uri: Option<String>,
    scopes: Vec<String>,
    algorithms: Option<Vec<Algorithm>>,
    allow_hmac: bool,
    trusted_audiences: Vec<String>,
    leeway: Duration,
    response_mode: ResponseMode,
    max_age: Option<Duration>,
    profile: Profile,
    tenants: Vec<String>,
    oauth2: Option<OAuth2Claims>,
    fetch_userinfo: bool,
    graph_groups: Option<String>,
}

impl ProviderConfigBuilder {
    /// The provider's metadata (from [`ProviderMetadata::discover`] or manual). Its issuer
    /// is the expected `iss` unless [`Self::issuer`] sets one.
    pub fn metadata(mut self, metadata: ProviderMetadata) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// The expected issuer; may contain `{tenantid}` (with [`Self::tenants`]).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The client id registered at the provider.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// `client_secret_basic` authentication.
    pub fn client_secret_basic(mut self, secret: Secret) -> Self {
        self.client_auth = ClientAuth::SecretBasic(secret);
        self
    }

    /// `client_secret_post` authentication.
    pub fn client_secret_post(mut self, secret: Secret) -> Self {
        self.client_auth = ClientAuth::SecretPost(secret);
        self
    }

    /// `private_key_jwt` authentication with this key.
    pub fn private_key_jwt(mut self, key: crate::flow::ClientKey) -> Self {
        self.client_auth = ClientAuth::PrivateKeyJwt(key);
        self
    }

    /// The redirect URI registered at the provider (the callback).
    pub fn redirect_uri(mut self, redirect_uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(redirect_uri.into());
        self
    }

    /// The scopes (default `openid email profile`). Without `openid` the provider is
    /// treated as plain OAuth 2.0 and needs [`Self::oauth2_claims`].
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The allowed ID token algorithms (default: what the provider's keys allow).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// Allows HS256/384/512 ID tokens keyed with the client secret. Needs a client secret
    /// and the HMAC algorithms in [`Self::algorithms`].
    pub fn allow_hmac(mut self, allow: bool) -> Self {
        self.allow_hmac = allow;
        self
    }

    /// Audiences besides the client id that may appear in `aud`.
    pub fn trusted_audiences<S: Into<String>>(
        mut self,
        audiences: impl IntoIterator<Item = S>,
    ) -> Self {
        self.trusted_audiences = audiences.into_iter().map(Into::into).collect();
        self
    }

    /// The allowed clock skew (default 60 s, at most 300 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The response mode (default query).
    pub fn response_mode(mut self, mode: ResponseMode) -> Self {
        self.response_mode = mode;
        self
    }

    /// Sends `max_age` and requires `auth_time` no older than it.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// How claims become an identity (email trust, groups).
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// The allowed tenants of a `{tenantid}` issuer.
    pub fn tenants<S: Into<String>>(mut self, tenants: impl IntoIterator<Item = S>) -> Self {
        self.tenants = tenants.into_iter().map(Into::into).collect();
        self
    }

    /// Plain OAuth 2.0: the identity comes from the userinfo endpoint at these paths.
    pub fn oauth2_claims(mut self, claims: OAuth2Claims) -> Self {
        self.oauth2 = Some(claims);
        self
    }

    /// Also calls the userinfo endpoint after the ID token and merges its claims.
    pub fn fetch_userinfo(mut self, fetch: bool) -> Self {
        self.fetch_userinfo = fetch;
        self
    }

    /// Entra groups overage: when a token says the user is in more groups than it carries
    /// (`_claim_names.groups` / `hasgroups`), ask Microsoft Graph for them instead of
    /// failing with `oidc.claims.groups_overage`: `POST {endpoint}` with the access token
    /// and `{"securityEnabledOnly": false}`, reading the group ids from `value`. The
    /// endpoint is normally `https://graph.microsoft.com/v1.0/me/getMemberObjects`, and the
    /// access token must be for Graph (request `GroupMember.Read.All` in the scopes).
    pub fn graph_groups_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.graph_groups = Some(endpoint.into());
        self
    }

    /// Checks and builds the configuration.
    ///
    /// # Errors
    ///
    /// `oidc.config.invalid` naming what is missing or contradictory.
    pub fn build(self) -> Result<ProviderConfig, Error> {
        let bad = |m: &str| Err(Error::Config(m.to_owned()));
        let Some(metadata) = self.metadata else {
            return bad("metadata (discovery or manual endpoints) is required");
        };
        let Some(client_id) = self.client_id.filter(|c| !c.is_empty()) else {
            return bad("client_id is required");
        };
        let Some(redirect_uri) = self.redirect_uri else {
            return bad("redirect_uri is required");
        };
        for (name, url) in [
            ("redirect_uri", Some(redirect_uri.as_str())),
            (
                "authorization_endpoint",
                Some(metadata.authorization_endpoint.as_str()),
            ),
            ("token_endpoint", metadata.token_endpoint.as_deref()),
            ("userinfo_endpoint", metadata.userinfo_endpoint.as_deref()),
            ("jwks_uri", metadata.jwks_uri.as_deref()),
            ("graph_groups_endpoint", self.graph_groups.as_deref()),
        ] {
            if let Some(url) = url
                && url::Url::parse(url).is_err()
            {
                return Err(Error::Config(format!(
                    "{name} {url:?} is not an absolute URL"
                )));
            }
        }
        if metadata.token_endpoint.is_none() {
            return bad("token_endpoint is required");
        }
        let openid = self.scopes.iter().any(|s| s == "openid");
        if openid && metadata.jwks_uri.is_none() {
            return bad("jwks_uri is required for OpenID Connect");
        }
        if !openid && (self.oauth2.is_none() || metadata.userinfo_endpoint.is_none()) {
            return bad(
                "a provider without the openid scope needs oauth2_claims and a userinfo_endpoint",
            );
        }
        if self.fetch_userinfo && metadata.userinfo_endpoint.is_none() {
            return bad("fetch_userinfo needs a userinfo_endpoint");
        }
        if self.leeway > MAX_LEEWAY {
            return Err(Error::Config(format!(
                "leeway {} s is more than the maximum {} s",
                self.leeway.as_secs(),
                MAX_LEEWAY.as_secs()
            )));
        }
        if let Some(algs) = &self.algorithms {
            if algs.is_empty() {
                return bad("the algorithm allow-list is empty");
            }
            if algs.iter().any(|a| a.is_hmac()) && !self.allow_hmac {
                return bad("HMAC algorithms are listed but allow_hmac is off");
            }
        }
        if self.allow_hmac && self.client_auth.secret().is_none() {
            return bad("allow_hmac needs a client secret");
        }
        let issuer_text = self.issuer.unwrap_or_else(|| metadata.issuer.clone());
        let issuer = if issuer_text.contains("{tenantid}") {
            if self.tenants.is_empty() {
                return bad("an issuer with {tenantid} needs a tenant allow-list");
            }
            IssuerPolicy::Tenant {
                template: issuer_text,
                tenants: self.tenants,
            }
        } else {
            if issuer_text != metadata.issuer {
                return Err(Error::DiscoveryIssuer {
                    expected: issuer_text,
                    actual: metadata.issuer,
                });
            }
            IssuerPolicy::Exact(issuer_text)
        };
        let mut validator = IdTokenValidator::with_issuer_policy(issuer.clone(), client_id.clone())
            .leeway(self.leeway)
            .trusted_audiences(self.trusted_audiences);
        if let Some(algs) = self.algorithms {
            validator = validator.algorithms(algs);
        }
        if self.allow_hmac
            && let Some(secret) = self.client_auth.secret()
        {
            validator = validator.hmac_secret(secret.clone());
        }
        Ok(ProviderConfig {
            idp: self.idp,
            issuer,
            metadata,
            client_id,
            client_auth: self.client_auth,
            redirect_uri,
            scopes: self.scopes,
            response_mode: self.response_mode,
            max_age: self.max_age,
            profile: self.profile,
            oauth2: self.oauth2,
            fetch_userinfo: self.fetch_userinfo,
            graph_groups: self.graph_groups,
            validator,
        })
    }
}
