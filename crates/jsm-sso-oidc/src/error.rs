//! The crate's [`Error`]: one variant per check, each with a stable code and a hint.

use jsm_sso_core::CodedError;
use jsm_sso_core::store::StoreError;
use jsm_sso_core::transport::HttpError;

use crate::TokenDump;

/// Shows an optional value in a message: the value, or `none`.
fn shown(value: Option<&str>) -> &str {
    value.unwrap_or("none")
}

/// Every error this crate produces. Each variant is one check and has its own code
/// (`oidc.id_token.audience`, `oidc.nonce.mismatch`, ...), listed in docs/errors.md.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- configuration and discovery -------------------------------------------------------
    /// The provider configuration is incomplete or contradictory.
    #[error("oidc provider configuration is invalid: {0}")]
    Config(String),
    /// The discovery document is not valid JSON or lacks a required field.
    #[error("discovery document is malformed: {0}")]
    DiscoveryMalformed(String),
    /// The discovery document names a different issuer than configured (OIDC Discovery 4.3).
    #[error("discovery document issuer is {actual:?}, expected {expected:?}")]
    DiscoveryIssuer {
        /// The configured issuer.
        expected: String,
        /// The issuer in the document.
        actual: String,
    },
    /// An endpoint answered with an unexpected HTTP status.
    #[error("{endpoint} endpoint answered http {status}")]
    HttpStatus {
        /// Which endpoint: `discovery`, `jwks`, `token`, `userinfo` or `graph`.
        endpoint: &'static str,
        /// The status code.
        status: u16,
    },
    /// An outgoing request failed (keeps the core `core.http.*` code).
    #[error(transparent)]
    Http(#[from] HttpError),

    // ---- JWKS ------------------------------------------------------------------------------
    /// The JWKS document is not a JSON object with a `keys` array, or is too large.
    #[error("jwks is malformed: {0}")]
    JwksMalformed(String),
    /// The JWKS could not be fetched a moment ago and no keys are held; the next try waits.
    #[error("the provider's jwks is unavailable (last fetch failed), next try in {retry_in} s")]
    JwksUnavailable {
        /// Seconds until the next fetch is tried.
        retry_in: u64,
    },
    /// No key in the JWKS has the token's `kid` (after the one allowed refetch).
    #[error("no key with kid {kid:?} in the provider's jwks")]
    UnknownKid {
        /// The token's `kid`.
        kid: String,
    },
    /// The token has no `kid` and more than one key could have signed it.
    #[error("token has no kid and {candidates} keys in the jwks fit {alg}")]
    AmbiguousKey {
        /// The token's algorithm.
        alg: String,
        /// How many keys fit.
        candidates: usize,
    },
    /// No key in the JWKS can verify the token's algorithm.
    #[error("no key in the jwks fits alg {alg} (kid {})", shown(.kid.as_deref()))]
    NoKey {
        /// The token's algorithm.
        alg: String,
        /// The token's `kid`, if any.
        kid: Option<String>,
    },
    /// The key the token names has another type, curve, `alg` or `use`.
    #[error("key {kid:?} cannot verify alg {alg}: {reason}")]
    KeyMismatch {
        /// The key's `kid`.
        kid: String,
        /// The token's algorithm.
        alg: String,
        /// What does not fit.
        reason: String,
    },
    /// The key the token names is an RSA key under 2048 bits.
    #[error("key {kid:?} is rsa-{bits}, the minimum is {min} bits")]
    KeyTooSmall {
        /// The key's `kid`.
        kid: String,
        /// Its modulus size.
        bits: usize,
        /// The minimum accepted.
        min: usize,
    },
    /// The key the token names could not be read (bad base64, wrong lengths).
    #[error("key {kid:?} in the jwks is invalid: {reason}")]
    KeyInvalid {
        /// The key's `kid`.
        kid: String,
        /// What is wrong.
        reason: String,
    },

    // ---- the JWT itself --------------------------------------------------------------------
    /// The token is not a compact JWS (three base64url parts, JSON header and claims).
    #[error("jwt is malformed: {0}")]
    JwtMalformed(String),
    /// The token is larger than allowed.
    #[error("jwt is {len} bytes, more than {max}")]
    JwtTooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The token is a JWE (encrypted); only signed ID tokens are accepted.
    #[error("jwt is encrypted (jwe), which is not supported")]
    JwtEncrypted,
    /// The header says `alg: none`: an unsigned token.
    #[error("token is unsigned (alg none)")]
    AlgNone,
    /// The header's algorithm is not in the allow-list.
    #[error("alg {actual} is not allowed, expected one of [{}]", .allowed.join(", "))]
    AlgNotAllowed {
        /// The allowed algorithms.
        allowed: Vec<String>,
        /// The token's algorithm.
        actual: String,
    },
    /// The header lists `crit` extensions this validator does not understand.
    #[error("header marks [{}] as critical, which is not understood", .names.join(", "))]
    CritUnsupported {
        /// The critical header names.
        names: Vec<String>,
    },
    /// The header's `typ` is not a JWT type (an access or logout token offered as ID token).
    #[error("header typ is {actual:?}, expected JWT")]
    TokenType {
        /// The header's `typ`.
        actual: String,
    },
    /// The signature does not verify with the selected key.
    #[error("signature does not verify with key {} ({alg})", shown(.kid.as_deref()))]
    Signature {
        /// The key's `kid`.
        kid: Option<String>,
        /// The algorithm.
        alg: String,
    },

    // ---- ID token claims (OIDC Core 3.1.3.7) -----------------------------------------------
    /// A required claim is absent.
    #[error("id token has no {claim} claim")]
    ClaimMissing {
        /// The claim.
        claim: &'static str,
    },
    /// A claim has the wrong JSON type (for example a string `exp`).
    #[error("id token claim {claim} must be {expected}")]
    ClaimType {
        /// The claim.
        claim: &'static str,
        /// The required type.
        expected: &'static str,
    },
    /// `iss` is not the provider's issuer.
    #[error("id token issuer is {actual:?}, expected {expected:?}")]
    Issuer {
        /// The expected issuer.
        expected: String,
        /// The token's `iss`.
        actual: String,
    },
    /// The `tid` of a multi-tenant provider is not in the tenant allow-list.
    #[error("tenant {} is not allowed, expected one of [{}]", shown(.actual.as_deref()), .allowed.join(", "))]
    TenantNotAllowed {
        /// The allowed tenant ids.
        allowed: Vec<String>,
        /// The token's `tid`.
        actual: Option<String>,
    },
    /// `aud` does not contain the client id.
    #[error("id token audience is [{}], expected it to contain {expected:?}", .actual.join(", "))]
    Audience {
        /// The client id.
        expected: String,
        /// The token's audiences.
        actual: Vec<String>,
    },
    /// `aud` contains audiences that are not trusted.
    #[error("id token is also for untrusted audiences [{}]", .untrusted.join(", "))]
    UntrustedAudience {
        /// The untrusted audiences.
        untrusted: Vec<String>,
    },
    /// `azp` is missing with several audiences, or is not the client id.
    #[error("id token azp is {}, expected {expected:?}", shown(.actual.as_deref()))]
    AuthorizedParty {
        /// The client id.
        expected: String,
        /// The token's `azp`.
        actual: Option<String>,
    },
    /// `exp` (plus leeway) has passed.
    #[error("id token expired at {exp}, now is {now} (leeway {leeway} s)")]
    Expired {
        /// `exp`, seconds since the epoch.
        exp: i64,
        /// Now, seconds since the epoch.
        now: i64,
        /// Allowed clock skew in seconds.
        leeway: u64,
    },
    /// `nbf` (minus leeway) is still ahead.
    #[error("id token is not valid before {nbf}, now is {now} (leeway {leeway} s)")]
    NotYetValid {
        /// `nbf`, seconds since the epoch.
        nbf: i64,
        /// Now, seconds since the epoch.
        now: i64,
        /// Allowed clock skew in seconds.
        leeway: u64,
    },
    /// `iat` is further in the future than the leeway allows.
    #[error("id token issued at {iat}, in the future of now {now} (leeway {leeway} s)")]
    IssuedInFuture {
        /// `iat`, seconds since the epoch.
        iat: i64,
        /// Now, seconds since the epoch.
        now: i64,
        /// Allowed clock skew in seconds.
        leeway: u64,
    },
    /// The token has no `nonce` although one was sent.
    #[error("id token has no nonce, expected {expected:?}")]
    NonceMissing {
        /// The nonce sent in the authorization request.
        expected: String,
    },
    /// The token's `nonce` is not the one sent.
    #[error("id token nonce is {actual:?}, expected {expected:?}")]
    NonceMismatch {
        /// The nonce sent.
        expected: String,
        /// The token's nonce.
        actual: String,
    },
    /// `at_hash` does not match the access token.
    #[error("id token at_hash is {actual:?}, the access token hashes to {expected:?}")]
    AtHash {
        /// The hash of the access token.
        expected: String,
        /// The token's `at_hash`.
        actual: String,
    },
    /// `c_hash` does not match the authorization code.
    #[error("id token c_hash is {actual:?}, the code hashes to {expected:?}")]
    CHash {
        /// The hash of the code.
        expected: String,
        /// The token's `c_hash`.
        actual: String,
    },
    /// `max_age` was requested and the token has no `auth_time`.
    #[error("id token has no auth_time although max_age {max_age} s was requested")]
    AuthTimeMissing {
        /// The requested `max_age` in seconds.
        max_age: u64,
    },
    /// The user authenticated longer ago than `max_age` allows.
    #[error("user authenticated at {auth_time}, more than max_age {max_age} s before now {now}")]
    AuthTimeStale {
        /// `auth_time`, seconds since the epoch.
        auth_time: i64,
        /// The requested `max_age` in seconds.
        max_age: u64,
        /// Now, seconds since the epoch.
        now: i64,
    },

    // ---- authorization response (callback) ---------------------------------------------
    /// The callback is malformed: repeated or overlong parameters, no `code`, no `state`.
    #[error("authorization response is malformed: {0}")]
    CallbackMalformed(String),
    /// The `state` names no pending request (never issued, expired, or already used).
    #[error("authorization response state is unknown, expired or already used")]
    StateUnknown,
    /// The provider answered the authorization request with an error.
    #[error("provider refused the authorization request: {error}{}", .description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Authorization {
        /// The `error` parameter (`access_denied`, `login_required`, ...).
        error: String,
        /// The `error_description` parameter.
        description: Option<String>,
    },
    /// The callback's RFC 9207 `iss` is not the issuer the request was sent to (mix-up).
    #[error("authorization response iss is {}, expected {expected:?}", shown(.actual.as_deref()))]
    CallbackIssuer {
        /// The issuer of the provider the request went to.
        expected: String,
        /// The `iss` parameter.
        actual: Option<String>,
    },
    /// The callback arrived for another provider than the pending request was sent to.
    #[error(
        "authorization response arrived for provider {actual:?}, the request went to {expected:?}"
    )]
    ProviderMismatch {
        /// The provider of the pending request.
        expected: String,
        /// The provider the callback was routed to.
        actual: String,
    },
    /// The pending request in the state store cannot be read.
    #[error("pending authorization request is unreadable: {0}")]
    PendingMalformed(String),
    /// The state store failed (keeps the core `core.store.*` code).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No provider with this id is configured.
    #[error("no provider {0:?} is configured")]
    UnknownProvider(String),

    // ---- token and userinfo endpoints --------------------------------------------------
    /// The token endpoint answered with an OAuth error.
    #[error("token endpoint refused the code: {error}{}", .description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    TokenEndpoint {
        /// The `error` field.
        error: String,
        /// The `error_description` field.
        description: Option<String>,
    },
    /// The token response is not the JSON the spec requires.
    #[error("token response is malformed: {0}")]
    TokenResponseMalformed(String),
    /// The token response has no `id_token` although `openid` was requested.
    #[error("token response has no id_token")]
    IdTokenMissing,
    /// The userinfo response is not a JSON object.
    #[error("userinfo response is malformed: {0}")]
    UserinfoMalformed(String),
    /// The userinfo `sub` is not the ID token's `sub`.
    #[error("userinfo sub is {actual:?}, the id token's is {expected:?}")]
    UserinfoSubject {
        /// The ID token's `sub`.
        expected: String,
        /// The userinfo `sub`.
        actual: String,
    },

    // ---- claims to identity ------------------------------------------------------------
    /// Entra sent a groups-overage reference instead of the groups.
    #[error("the provider sent a groups overage reference instead of the user's groups")]
    GroupsOverage,
    /// Microsoft Graph's `getMemberObjects` answer is not `{"value": [ids]}`.
    #[error("graph group lookup answer is malformed: {0}")]
    GraphMalformed(String),
    /// A configured claim path (plain OAuth 2.0) is not in the userinfo response.
    #[error("userinfo has no {path} (configured claim path)")]
    ClaimPathMissing {
        /// The claim path.
        path: String,
    },
    /// The email claim does not parse as an email address.
    #[error("email claim {value:?} is not an email address")]
    EmailInvalid {
        /// The claim's value.
        value: String,
    },

    // ---- diagnosis -------------------------------------------------------------------------
    /// A sign-in refused after the token response arrived, with what the ID token (and
    /// userinfo) said: message, code and hint are the wrapped error's. Match on
    /// [`Error::inner`] to see which check failed; read the claims with
    /// [`Error::unverified_token`].
    #[error(transparent)]
    TokenRefused(Box<TokenRefusal>),
}

/// A refusal with the refused token's decoded, UNVERIFIED contents (see
/// [`Error::TokenRefused`]). Displays as, and has the source of, the wrapped error.
#[derive(Debug)]
pub struct TokenRefusal {
    error: Error,
    token: TokenDump,
}

impl TokenRefusal {
    /// The check that failed.
    #[must_use]
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// What the ID token and userinfo said, unverified and clipped.
    #[must_use]
    pub fn token(&self) -> &TokenDump {
        &self.token
    }
}

impl std::fmt::Display for TokenRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for TokenRefusal {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

impl Error {
    /// `error` with the decoded contents of `id_token` and `userinfo` attached; `error`
    /// unchanged when there is nothing to decode.
    pub(crate) fn with_token(
        self,
        id_token: Option<&str>,
        userinfo: Option<serde_json::Map<String, serde_json::Value>>,
    ) -> Self {
        if matches!(self, Self::TokenRefused(_)) {
            return self;
        }
        match TokenDump::new(id_token, userinfo) {
            Some(token) => Self::TokenRefused(Box::new(TokenRefusal { error: self, token })),
            None => self,
        }
    }

    /// The check that failed: the wrapped error of [`Error::TokenRefused`], otherwise this
    /// error itself. Match on this rather than on the error from `RelyingParty::finish`.
    #[must_use]
    pub fn inner(&self) -> &Error {
        match self {
            Self::TokenRefused(refusal) => &refusal.error,
            other => other,
        }
    }

    /// The refused ID token's header and claims (and the userinfo response, if fetched),
    /// decoded but NOT verified, for an administrator diagnosing a failed sign-in. Present
    /// when `RelyingParty::finish` failed after the token response arrived and the token
    /// decodes; never the access token, refresh token or signature.
    #[must_use]
    pub fn unverified_token(&self) -> Option<&TokenDump> {
        match self {
            Self::TokenRefused(refusal) => Some(&refusal.token),
            _ => None,
        }
    }
}

/// The standard OAuth 2.0 / OIDC authorization error codes and their error codes here.
const AUTHORIZATION_ERRORS: &[(&str, &str)] = &[
    ("access_denied", "oidc.authorization.access_denied"),
    ("invalid_request", "oidc.authorization.invalid_request"),
    (
        "unauthorized_client",
        "oidc.authorization.unauthorized_client",
    ),
    (
        "unsupported_response_type",
        "oidc.authorization.unsupported_response_type",
    ),
    ("invalid_scope", "oidc.authorization.invalid_scope"),
    ("server_error", "oidc.authorization.server_error"),
    (
        "temporarily_unavailable",
        "oidc.authorization.temporarily_unavailable",
    ),
    (
        "interaction_required",
        "oidc.authorization.interaction_required",
    ),
    ("login_required", "oidc.authorization.login_required"),
    (
        "account_selection_required",
        "oidc.authorization.account_selection_required",
    ),
    ("consent_required", "oidc.authorization.consent_required"),
];

impl CodedError for Error {
    fn code(&self) -> &'static str {
        match self {
            Self::Config(_) => "oidc.config.invalid",
            Self::DiscoveryMalformed(_) => "oidc.discovery.malformed",
            Self::DiscoveryIssuer { .. } => "oidc.discovery.issuer_mismatch",
            Self::HttpStatus { .. } => "oidc.http.status",
            Self::Http(e) => e.code(),
            Self::JwksMalformed(_) => "oidc.jwks.malformed",
            Self::UnknownKid { .. } => "oidc.jwks.unknown_kid",
            Self::JwksUnavailable { .. } => "oidc.jwks.unavailable",
            Self::AmbiguousKey { .. } => "oidc.jwks.ambiguous_key",
            Self::NoKey { .. } => "oidc.jwks.no_key",
            Self::KeyMismatch { .. } => "oidc.jwks.key_mismatch",
            Self::KeyTooSmall { .. } => "oidc.jwks.key_too_small",
            Self::KeyInvalid { .. } => "oidc.jwks.key_invalid",
            Self::JwtMalformed(_) => "oidc.jwt.malformed",
            Self::JwtTooLarge { .. } => "oidc.jwt.too_large",
            Self::JwtEncrypted => "oidc.jwt.encrypted",
            Self::AlgNone => "oidc.id_token.alg_none",
            Self::AlgNotAllowed { .. } => "oidc.id_token.alg_not_allowed",
            Self::CritUnsupported { .. } => "oidc.id_token.crit_unsupported",
            Self::TokenType { .. } => "oidc.id_token.typ",
            Self::Signature { .. } => "oidc.id_token.signature",
            Self::ClaimMissing { .. } => "oidc.id_token.claim_missing",
            Self::ClaimType { .. } => "oidc.id_token.claim_type",
            Self::Issuer { .. } => "oidc.id_token.issuer",
            Self::TenantNotAllowed { .. } => "oidc.id_token.tenant_not_allowed",
            Self::Audience { .. } => "oidc.id_token.audience",
            Self::UntrustedAudience { .. } => "oidc.id_token.untrusted_audience",
            Self::AuthorizedParty { .. } => "oidc.id_token.azp",
            Self::Expired { .. } => "oidc.id_token.expired",
            Self::NotYetValid { .. } => "oidc.id_token.not_yet_valid",
            Self::IssuedInFuture { .. } => "oidc.id_token.issued_in_future",
            Self::NonceMissing { .. } => "oidc.nonce.missing",
            Self::NonceMismatch { .. } => "oidc.nonce.mismatch",
            Self::AtHash { .. } => "oidc.id_token.at_hash",
            Self::CHash { .. } => "oidc.id_token.c_hash",
            Self::AuthTimeMissing { .. } => "oidc.id_token.auth_time_missing",
            Self::AuthTimeStale { .. } => "oidc.id_token.auth_time_stale",
            Self::CallbackMalformed(_) => "oidc.callback.malformed",
            Self::StateUnknown => "oidc.state.unknown",
            Self::Authorization { error, .. } => AUTHORIZATION_ERRORS
                .iter()
                .find(|(name, _)| name == error)
                .map_or("oidc.authorization.error", |(_, code)| code),
            Self::CallbackIssuer { .. } => "oidc.callback.issuer",
            Self::ProviderMismatch { .. } => "oidc.callback.provider_mismatch",
            Self::PendingMalformed(_) => "oidc.state.malformed",
            Self::Store(e) => e.code(),
            Self::UnknownProvider(_) => "oidc.config.unknown_provider",
            Self::TokenEndpoint { .. } => "oidc.token.error",
            Self::TokenResponseMalformed(_) => "oidc.token.malformed",
            Self::IdTokenMissing => "oidc.token.id_token_missing",
            Self::UserinfoMalformed(_) => "oidc.userinfo.malformed",
            Self::UserinfoSubject { .. } => "oidc.userinfo.sub_mismatch",
            Self::GroupsOverage => "oidc.claims.groups_overage",
            Self::GraphMalformed(_) => "oidc.claims.graph_malformed",
            Self::ClaimPathMissing { .. } => "oidc.claims.path_missing",
            Self::EmailInvalid { .. } => "oidc.claims.email_invalid",
            Self::TokenRefused(refusal) => refusal.error.code(),
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Config(_) => "fix the provider configuration named in the message",
            Self::DiscoveryMalformed(_) => {
                "check the issuer URL: /.well-known/openid-configuration must be the provider's discovery document"
            }
            Self::DiscoveryIssuer { .. } => {
                "configure the issuer exactly as the provider's discovery document spells it (scheme, host, path, trailing slash)"
            }
            Self::HttpStatus { .. } => "check the endpoint URL and that the provider is up",
            Self::Http(e) => e.hint(),
            Self::JwksMalformed(_) => "check the jwks_uri: it must serve a JSON Web Key Set",
            Self::JwksUnavailable { .. } => {
                "the provider's jwks_uri failed; check that it is reachable (the error before this one says how it failed)"
            }
            Self::UnknownKid { .. } => {
                "the provider signed with a key it does not publish (yet); if it just rotated keys, retry after a minute"
            }
            Self::AmbiguousKey { .. } => {
                "the provider must put a kid in the token header when it publishes several keys"
            }
            Self::NoKey { .. } => {
                "the provider's jwks has no signing key for this algorithm; check the allowed algorithms"
            }
            Self::KeyMismatch { .. } => {
                "the key named by kid is of another type, curve, alg or use; check the provider's signing configuration"
            }
            Self::KeyTooSmall { .. } => {
                "make the provider sign with an RSA key of at least 2048 bits"
            }
            Self::KeyInvalid { .. } => "the provider publishes a broken key; check its jwks",
            Self::JwtMalformed(_) => {
                "the token is not a compact JWS; check what is passed as the ID token"
            }
            Self::JwtTooLarge { .. } => {
                "the token is unusually large; check what is passed, or reduce the claims (groups) the provider sends"
            }
            Self::JwtEncrypted => "turn off ID token encryption for this client at the provider",
            Self::AlgNone => {
                "unsigned tokens are never accepted; configure the provider to sign ID tokens"
            }
            Self::AlgNotAllowed { .. } => {
                "configure the provider's ID token signing algorithm, or the allowed algorithms here"
            }
            Self::CritUnsupported { .. } => {
                "the provider uses a JWS extension marked critical; turn it off for this client"
            }
            Self::TokenType { .. } => "pass the ID token, not an access or logout token",
            Self::Signature { .. } => {
                "the token was altered or signed by another key; check the issuer and its jwks"
            }
            Self::ClaimMissing { .. } | Self::ClaimType { .. } => {
                "the provider's ID token does not follow OpenID Connect Core; check its configuration"
            }
            Self::Issuer { .. } => {
                "configure the issuer exactly as the provider's tokens spell it, or check the token's origin"
            }
            Self::TenantNotAllowed { .. } => {
                "add the tenant id to the provider's tenant allow-list"
            }
            Self::Audience { .. } => "check the client id: the token was issued to another client",
            Self::UntrustedAudience { .. } => {
                "add the extra audiences to the trusted audiences, or stop the provider adding them"
            }
            Self::AuthorizedParty { .. } => {
                "the token was obtained by another client; check the client id"
            }
            Self::Expired { .. } => "the token is too old; check the server clock or sign in again",
            Self::NotYetValid { .. } | Self::IssuedInFuture { .. } => {
                "check the clocks of this server and of the provider, or raise the leeway (max 300 s)"
            }
            Self::NonceMissing { .. } | Self::NonceMismatch { .. } => {
                "the token does not belong to this sign-in (replay or mix-up); start the sign-in again"
            }
            Self::AtHash { .. } => {
                "the access token does not belong to this ID token; check the token response"
            }
            Self::CHash { .. } => "the code does not belong to this ID token",
            Self::AuthTimeMissing { .. } => {
                "the provider ignores max_age; require auth_time at the provider or drop max_age"
            }
            Self::AuthTimeStale { .. } => {
                "the user must sign in again at the provider (prompt=login)"
            }
            Self::CallbackMalformed(_) => {
                "the redirect to the callback was not a provider's authorization response"
            }
            Self::StateUnknown => {
                "the sign-in was not started here, took too long, or the callback was replayed; start again"
            }
            Self::Authorization { .. } => {
                "the provider refused the sign-in; its error code and description say why"
            }
            Self::CallbackIssuer { .. } => {
                "the response came from another provider than the request went to (mix-up attack or misrouted callback)"
            }
            Self::ProviderMismatch { .. } => {
                "the response came for another provider than the request went to (mix-up attack or misrouted callback)"
            }
            Self::PendingMalformed(_) => {
                "the state store holds an entry this version cannot read; start again"
            }
            Self::Store(e) => e.hint(),
            Self::UnknownProvider(_) => "configure the provider, or fix the provider id",
            Self::TokenEndpoint { .. } => {
                "check the client id, client authentication, redirect URI and PKCE settings at the provider"
            }
            Self::TokenResponseMalformed(_) => "check the token endpoint URL",
            Self::IdTokenMissing => {
                "request the openid scope, or configure this provider as plain OAuth 2.0"
            }
            Self::UserinfoMalformed(_) => "check the userinfo endpoint URL",
            Self::UserinfoSubject { .. } => {
                "the userinfo response belongs to another user; check the access token and endpoint"
            }
            Self::GroupsOverage => {
                "the user is in too many groups for the token; configure group filtering (groups assigned to the application) at the provider, or a graph groups endpoint here"
            }
            Self::GraphMalformed(_) => {
                "check the graph groups endpoint (normally https://graph.microsoft.com/v1.0/me/getMemberObjects)"
            }
            Self::ClaimPathMissing { .. } => {
                "fix the claim path, or grant the scope that returns it"
            }
            Self::EmailInvalid { .. } => "check which claim the provider sends as email",
            Self::TokenRefused(refusal) => refusal.error.hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_errors_keep_their_code() {
        let e = Error::Authorization {
            error: "login_required".into(),
            description: Some("no session".into()),
        };
        assert_eq!(e.code(), "oidc.authorization.login_required");
        assert_eq!(
            e.to_string(),
            "provider refused the authorization request: login_required (no session)"
        );
        let other = Error::Authorization {
            error: "custom_thing".into(),
            description: None,
        };
        assert_eq!(other.code(), "oidc.authorization.error");
    }

    #[test]
    fn messages_are_lower_case_without_period() {
        let samples = [
            Error::AlgNone,
            Error::StateUnknown,
            Error::UnknownKid { kid: "k".into() },
            Error::Expired {
                exp: 1,
                now: 2,
                leeway: 0,
            },
        ];
        for e in &samples {
            let msg = e.to_string();
            assert!(!msg.ends_with('.'));
            assert_eq!(msg.chars().next().map(char::is_lowercase), Some(true));
            assert!(e.code().starts_with("oidc."));
        }
    }
}
