//! Who we are (the service provider) and whom we trust (identity providers).

use std::fmt;
use std::time::{Duration, SystemTime};

use jsm_sso_core::identity::IdpId;
use jsm_sso_xmldsig::{SigningKey, TrustedKeys};

use crate::attributes::AttributeProfile;
use crate::decrypt::DecryptionKey;
use crate::error::Error;

/// The default allowance for clock differences between IdP and SP.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(60);
/// The largest clock skew the SP accepts as configuration.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);
/// Default cap on an incoming message, after base64 decoding and inflating.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 512 * 1024;
/// RelayState cap: the bindings spec says 80 bytes; we allow a little more for real IdPs.
pub const DEFAULT_MAX_RELAY_STATE: usize = 256;

/// SAML binding URIs.
pub mod binding {
    /// HTTP-Redirect binding.
    pub const REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
    /// HTTP-POST binding.
    pub const POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
}

/// Which signatures must cover an assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignaturePolicy {
    /// A trusted signature on the assertion itself or on the enclosing Response (the default;
    /// what the Web Browser SSO profile requires).
    #[default]
    AssertionOrResponse,
    /// The assertion itself must carry a trusted signature (a signed Response alone is not
    /// enough).
    Assertion,
}

/// The service provider's settings. Build with [`ServiceProviderConfig::new`] and adjust the
/// fields; [`ServiceProvider::new`] validates them.
pub struct ServiceProviderConfig {
    /// The SP entity ID, which IdPs put in the `AudienceRestriction`.
    pub entity_id: String,
    /// The Assertion Consumer Service URLs, exactly as IdPs post to them. `Destination` and
    /// `Recipient` are compared against this list, never against the incoming request's URL
    /// (which proxies rewrite). The first is the default in AuthnRequests.
    pub acs_urls: Vec<String>,
    /// The Single Logout endpoint, if the SP offers one.
    pub slo_url: Option<String>,
    /// Allowance for clock differences (default 60 s, at most 300 s).
    pub clock_skew: Duration,
    /// Which signature must cover the assertion.
    pub signature_policy: SignaturePolicy,
    /// Whether IdP-initiated (unsolicited) responses are accepted (default no).
    pub allow_unsolicited: bool,
    /// Key to sign AuthnRequests, LogoutRequests and metadata.
    pub signing_key: Option<SigningKey>,
    /// Keys to decrypt `EncryptedAssertion`s (several during rollover).
    pub decryption_keys: Vec<DecryptionKey>,
    /// Cap on incoming messages, after decoding and inflating.
    pub max_message_bytes: usize,
    /// Cap on RelayState.
    pub max_relay_state: usize,
    /// How long a pending AuthnRequest may wait for its response.
    pub request_lifetime: Duration,
    /// The NameID format requested in AuthnRequests (none: let the IdP choose).
    pub name_id_format: Option<String>,
}

impl fmt::Debug for ServiceProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceProviderConfig")
            .field("entity_id", &self.entity_id)
            .field("acs_urls", &self.acs_urls)
            .field("slo_url", &self.slo_url)
            .field("clock_skew", &self.clock_skew)
            .field("signature_policy", &self.signature_policy)
            .field("allow_unsolicited", &self.allow_unsolicited)
            .field("signing_key", &self.signing_key.is_some())
            .field("decryption_keys", &self.decryption_keys.len())
            .finish_non_exhaustive()
    }
}

impl ServiceProviderConfig {
    /// Settings with secure defaults for this entity ID and ACS URL.
    pub fn new(entity_id: impl Into<String>, acs_url: impl Into<String>) -> Self {
        ServiceProviderConfig {
            entity_id: entity_id.into(),
            acs_urls: vec![acs_url.into()],
            slo_url: None,
            clock_skew: DEFAULT_CLOCK_SKEW,
            signature_policy: SignaturePolicy::default(),
            allow_unsolicited: false,
            signing_key: None,
            decryption_keys: Vec::new(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_relay_state: DEFAULT_MAX_RELAY_STATE,
            request_lifetime: Duration::from_secs(600),
            name_id_format: None,
        }
    }
}

/// A validated service-provider configuration: the entry point for building requests and
/// validating responses.
#[derive(Debug)]
pub struct ServiceProvider {
    pub(crate) config: ServiceProviderConfig,
}

fn check_url(what: &str, value: &str) -> Result<(), Error> {
    let url =
        url::Url::parse(value).map_err(|e| Error::config(format!("{what} {value:?}: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(Error::config(format!(
            "{what} {value:?} is not an http(s) URL"
        )));
    }
    Ok(())
}

impl ServiceProvider {
    /// Validates the settings.
    ///
    /// # Errors
    /// `saml.config` for an empty entity ID, no or malformed ACS URLs, a clock skew over
    /// [`MAX_CLOCK_SKEW`], or zero limits.
    pub fn new(config: ServiceProviderConfig) -> Result<Self, Error> {
        if config.entity_id.trim().is_empty() {
            return Err(Error::config("SP entity ID is empty"));
        }
        if config.acs_urls.is_empty() {
            return Err(Error::config("no ACS URL configured"));
        }
        for acs in &config.acs_urls {
            check_url("ACS URL", acs)?;
        }
        if let Some(slo) = &config.slo_url {
            check_url("SLO URL", slo)?;
        }
        if config.clock_skew > MAX_CLOCK_SKEW {
            return Err(Error::config(format!(
                "clock skew {} s is over the maximum of {} s",
                config.clock_skew.as_secs(),
                MAX_CLOCK_SKEW.as_secs()
            )));
        }
        if config.max_message_bytes == 0 || config.max_relay_state == 0 {
            return Err(Error::config(
                "message and RelayState limits must be above zero",
            ));
        }
        Ok(ServiceProvider { config })
    }

    /// The settings.
    pub fn config(&self) -> &ServiceProviderConfig {
        &self.config
    }

    /// The SP entity ID.
    pub fn entity_id(&self) -> &str {
        &self.config.entity_id
    }

    /// The default ACS URL (the first configured).
    pub fn acs_url(&self) -> &str {
        self.config
            .acs_urls
            .first()
            .map(String::as_str)
            .unwrap_or_default()
    }
}

/// An endpoint of an IdP: where to send a message with which binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The binding URI ([`binding::REDIRECT`], [`binding::POST`]).
    pub binding: String,
    /// The URL.
    pub location: String,
    /// Where responses to this endpoint go, if different (SLO).
    pub response_location: Option<String>,
}

/// A trusted identity provider.
#[derive(Debug, Clone)]
pub struct IdentityProvider {
    /// The broker's name for it (in identities, policies and audit events).
    pub id: IdpId,
    /// Its SAML entity ID (the `Issuer` of its messages).
    pub entity_id: String,
    /// Its signing keys; several during rollover. Only these are ever trusted.
    pub keys: TrustedKeys,
    /// Single sign-on endpoints.
    pub sso: Vec<Endpoint>,
    /// Single logout endpoints.
    pub slo: Vec<Endpoint>,
    /// Accept RSA-SHA1 signatures and SHA-1 digests from this IdP (legacy ADFS; off).
    pub allow_sha1: bool,
    /// Refuse signatures by a pinned certificate past its `notAfter` (off: a pinned key is
    /// trusted for as long as it is configured, which is what IdPs that sign with long-expired
    /// self-signed certificates, ADFS and Shibboleth among them, need).
    pub check_certificate_expiry: bool,
    /// Where email and groups are found in its assertions.
    pub profile: AttributeProfile,
    /// Whether its Redirect-binding messages (logout) must be signed (default yes).
    pub require_signed_redirect: bool,
    /// Whether it wants signed AuthnRequests (`WantAuthnRequestsSigned` in its metadata).
    pub want_authn_requests_signed: bool,
    /// Metadata `validUntil`, if the configuration came from metadata.
    pub valid_until: Option<SystemTime>,
    /// Metadata `cacheDuration`, if stated.
    pub cache_duration: Option<Duration>,
}

impl IdentityProvider {
    /// Manual configuration: entity ID, pinned keys and the SSO URL (Redirect binding).
    pub fn new(
        id: impl Into<String>,
        entity_id: impl Into<String>,
        keys: TrustedKeys,
        sso_url: Option<String>,
    ) -> Result<Self, Error> {
        let entity_id = entity_id.into();
        if entity_id.trim().is_empty() {
            return Err(Error::config("IdP entity ID is empty"));
        }
        if keys.is_empty() {
            return Err(Error::config(format!(
                "IdP {entity_id:?} has no signing key"
            )));
        }
        let sso = match sso_url {
            Some(location) => {
                check_url("IdP SSO URL", &location)?;
                vec![Endpoint {
                    binding: binding::REDIRECT.to_owned(),
                    location,
                    response_location: None,
                }]
            }
            None => Vec::new(),
        };
        Ok(IdentityProvider {
            id: IdpId::new(id.into()),
            entity_id,
            keys,
            sso,
            slo: Vec::new(),
            allow_sha1: false,
            check_certificate_expiry: false,
            profile: AttributeProfile::generic(),
            require_signed_redirect: true,
            want_authn_requests_signed: false,
            valid_until: None,
            cache_duration: None,
        })
    }

    /// The first SSO endpoint with this binding.
    pub fn sso_endpoint(&self, binding: &str) -> Option<&Endpoint> {
        self.sso.iter().find(|e| e.binding == binding)
    }

    /// The first SLO endpoint with this binding.
    pub fn slo_endpoint(&self, binding: &str) -> Option<&Endpoint> {
        self.slo.iter().find(|e| e.binding == binding)
    }

    /// The XML-DSig verifier for this IdP's messages at `now`: its pinned keys, SHA-1 only
    /// with the opt-in, certificate expiry only when asked for.
    pub(crate) fn verifier(&self, now: SystemTime) -> jsm_sso_xmldsig::Verifier {
        let mut options = jsm_sso_xmldsig::VerifyOptions::default().allow_sha1(self.allow_sha1);
        if self.check_certificate_expiry {
            options = options.check_certificate_expiry(now);
        }
        jsm_sso_xmldsig::Verifier::new(self.keys.clone(), options)
    }
}
