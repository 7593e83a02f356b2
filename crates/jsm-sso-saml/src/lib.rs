//! A SAML 2.0 service provider for portal sign-in: AuthnRequests out (HTTP-Redirect and
//! HTTP-POST bindings), Responses in, validated completely (Web Browser SSO profile) into a
//! [`VerifiedIdentity`](jsm_sso_core::VerifiedIdentity) or a precise, coded error.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use jsm_sso_saml::{Expect, IdentityProvider, ServiceProvider, ServiceProviderConfig};
//! use jsm_sso_xmldsig::TrustedKeys;
//!
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/peerbench");
//! let sp = ServiceProvider::new(ServiceProviderConfig::new(
//!     "https://portal.example-jsm.test/saml/metadata",
//!     "https://portal.example-jsm.test/saml/acs",
//! ))?;
//! let idp = IdentityProvider::new(
//!     "okta",
//!     "http://www.okta.com/exk8q2bq1zPEXAMPLE697",
//!     TrustedKeys::from_pem(&std::fs::read(format!("{dir}/idp-rsa.crt"))?)?, // pinned
//!     None,
//! )?;
//! let xml = std::fs::read(format!("{dir}/medium.xml"))?;
//! let now = UNIX_EPOCH + Duration::from_secs(1_748_779_230); // 2025-06-01T12:00:30Z
//! let login = sp.validate_response(&idp, &xml, Expect {
//!     now,
//!     request_id: Some("_a8f3e1c2b9d04f6e8c7b5a4d3e2f1a0b"),
//! })?;
//! assert_eq!(login.identity.subject.value, "jane.customer@example.org");
//! assert_eq!(login.identity.email.map(|e| e.to_string()).as_deref(), Some("jane.customer@example.org"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What is checked, in order (each with its own error code, see docs/errors.md): XML
//! hardening and size; `samlp:Response` version; the Response signature if any; `Destination`
//! against the configured ACS URLs (never the request URL); Issuer; top-level status;
//! `InResponseTo`; exactly one Assertion or EncryptedAssertion (decrypted); the assertion
//! signature; that a trusted signature covers the assertion; assertion Issuer; Subject NameID
//! (full text); a bearer SubjectConfirmation with Recipient, NotOnOrAfter and InResponseTo;
//! Conditions time window with clock skew; AudienceRestriction; no condition the SP does not
//! understand (`OneTimeUse` and `ProxyRestriction` are honoured); AuthnStatement and session
//! expiry; attributes (a repeated attribute name is refused). Replay protection goes through
//! the [`ReplayCache`](jsm_sso_core::ReplayCache) seam in [`ServiceProvider::finish_login`].
//! `SubjectConfirmationData/@Address` is deliberately not compared with the client address:
//! the profile makes that check optional, and behind proxies and NAT the SP does not see the
//! address the IdP saw.
#![forbid(unsafe_code)]

mod attributes;
pub mod binding;
mod config;
pub mod decrypt;
mod error;
mod login;
mod logout;
mod metadata;
pub mod ns;
mod response;
mod time;
mod xml;

pub use attributes::{Attribute, AttributeProfile, Attributes, NAME_ID_EMAIL};
pub use config::{
    DEFAULT_CLOCK_SKEW, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_RELAY_STATE, Endpoint,
    IdentityProvider, MAX_CLOCK_SKEW, ServiceProvider, ServiceProviderConfig, SignaturePolicy,
    binding as bindings,
};
pub use error::Error;
pub use jsm_sso_core::CodedError;
pub use login::{AuthnRequest, AuthnRequestOptions, RequestBinding};
pub use logout::{Inbound, LogoutRequestIn, OutboundLogout};
pub use metadata::{
    DEFAULT_MAX_METADATA_BYTES, MetadataOptions, SpCertificates, certificate_der_from_pem,
    read_idp_metadata,
};
pub use response::{Check, Diagnosis, Expect, Login, NameId, SignatureSummary, peek_issuer};
