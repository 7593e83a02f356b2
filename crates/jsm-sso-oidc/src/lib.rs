#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod alg;
mod b64;
mod claims;
mod crypto;
mod dump;
mod error;
mod flow;
mod id_token;
mod jwks;
mod jwks_cache;
mod jwt;
mod provider;

pub use alg::{Algorithm, UnknownAlgorithm};
pub use claims::Profile;
pub use crypto::install_ring_provider;
pub use dump::{
    MAX_DUMP_DEPTH, MAX_DUMP_ITEMS, MAX_DUMP_STRING_CHARS, MAX_DUMP_TEXT_BYTES, TokenDump,
    UNVERIFIED_BANNER,
};
pub use error::{Error, TokenRefusal};
pub use flow::{
    AuthorizationOptions, AuthorizationRequest, Callback, ClientKey, DEFAULT_PENDING_TTL,
    MAX_CALLBACK_BYTES, MAX_RESPONSE_BYTES, Provider, RelyingParty,
};
pub use id_token::{
    DEFAULT_LEEWAY, Expectations, IdToken, IdTokenValidator, IssuerPolicy, MAX_LEEWAY,
};
pub use jsm_sso_core::CodedError;
pub use jwks::{KeySet, MAX_JWKS_BYTES, MAX_KEYS, MIN_RSA_BITS};
pub use jwks_cache::{DEFAULT_TTL, FAILED_FETCH_BACKOFF, JwksCache, MAX_TTL, MIN_REFETCH_INTERVAL};
pub use jwt::{MAX_TOKEN_BYTES, UnverifiedJwt};
pub use provider::{
    ClientAuth, MAX_DISCOVERY_BYTES, OAuth2Claims, ProviderConfig, ProviderConfigBuilder,
    ProviderMetadata, ResponseMode, discovery_url,
};
