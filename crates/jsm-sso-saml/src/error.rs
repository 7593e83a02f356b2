//! One error per check, each with a stable code, the expected and actual values, and a hint
//! naming the IdP or SP setting to change. docs/errors.md lists them all.

use jsm_sso_core::CodedError;

use crate::decrypt::DecryptError;

/// Every error the SAML service provider produces.
///
/// The end customer never sees these; the broker shows an opaque message and sends the code,
/// message and hint to the audit log and the administrator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The SP or IdP configuration is unusable.
    #[error("invalid configuration: {detail}")]
    Config {
        /// Which setting and why.
        detail: String,
    },
    /// The form value or query parameter is not valid base64.
    #[error("{what} is not valid base64")]
    Base64 {
        /// `SAMLResponse`, `SAMLRequest` or `Signature`.
        what: &'static str,
    },
    /// A message is larger than the configured limit (before or after inflating).
    #[error("{what} is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// What was measured.
        what: &'static str,
        /// Its size (or at least this many bytes).
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The message is not well-formed or violates the parser's hardening rules.
    #[error("message is not acceptable xml: {0}")]
    Xml(#[from] jsm_sso_xmldsig::XmlError),
    /// The message is XML but not the SAML element expected, or lacks a required part.
    #[error("malformed {element}: {detail}")]
    Malformed {
        /// The element concerned (`Response`, `Assertion`, ...).
        element: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// `Version` is not `2.0`.
    #[error("{element} has Version {actual:?}, expected \"2.0\"")]
    Version {
        /// The element concerned.
        element: &'static str,
        /// The version sent.
        actual: String,
    },
    /// A timestamp is not an `xs:dateTime` in UTC.
    #[error("{field} {value:?} is not an xs:dateTime with a time zone")]
    Time {
        /// Which attribute.
        field: &'static str,
        /// The text as sent.
        value: String,
    },
    /// A signed Response without `Destination`.
    #[error("signed response has no Destination (expected {expected:?})")]
    DestinationMissing {
        /// The ACS URLs configured.
        expected: Vec<String>,
    },
    /// `Destination` is not one of the configured ACS URLs.
    #[error("Destination {actual:?} is not a configured ACS URL (expected one of {expected:?})")]
    DestinationMismatch {
        /// The configured ACS URLs (or SLO URL for logout messages).
        expected: Vec<String>,
        /// The `Destination` sent.
        actual: String,
    },
    /// The top-level status is not Success.
    #[error("IdP answered with status {status}{}{}", second.as_deref().map(|s| format!(" / {s}")).unwrap_or_default(), message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Status {
        /// The top-level status code URI.
        status: String,
        /// The second-level status code URI, if any.
        second: Option<String>,
        /// The `StatusMessage`, if any.
        message: Option<String>,
    },
    /// No `Issuer`, where the profile requires one.
    #[error("{element} has no Issuer (expected {expected:?})")]
    IssuerMissing {
        /// The element without an issuer.
        element: &'static str,
        /// The IdP entity ID expected.
        expected: String,
    },
    /// `Issuer` is not the IdP's entity ID.
    #[error("{element} Issuer is {actual:?}, expected {expected:?}")]
    IssuerMismatch {
        /// The element whose issuer was compared.
        element: &'static str,
        /// The configured IdP entity ID.
        expected: String,
        /// The issuer sent.
        actual: String,
    },
    /// The Issuer names no configured IdP.
    #[error("no identity provider is configured with entity ID {actual:?}")]
    UnknownIdp {
        /// The issuer sent.
        actual: String,
    },
    /// The Response carries no assertion.
    #[error("response carries no Assertion or EncryptedAssertion")]
    AssertionMissing,
    /// The Response carries more than one assertion.
    #[error("response carries {count} assertions; exactly one is accepted")]
    AssertionMultiple {
        /// How many.
        count: usize,
    },
    /// No trusted signature covers the assertion.
    #[error("{detail}")]
    SignatureMissing {
        /// Which elements were looked at.
        detail: String,
    },
    /// A signature is present and failed; the detail says which element, which keys were
    /// tried, and whether the digest or the signature value failed.
    #[error("signature on {element} failed ({tried}): {source}")]
    Signature {
        /// `Response`, `Assertion`, `metadata`, `LogoutRequest`, ...
        element: &'static str,
        /// The trusted keys tried, as fingerprints.
        tried: String,
        /// What the XML-DSig layer found.
        source: jsm_sso_xmldsig::Error,
    },
    /// A Redirect-binding message that must be signed is not.
    #[error("{what} carries no Signature/SigAlg query parameters")]
    QuerySignatureMissing {
        /// The message.
        what: &'static str,
    },
    /// The encrypted assertion could not be decrypted.
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
    /// An encrypted assertion arrived and no decryption key is configured.
    #[error("response carries an EncryptedAssertion but the SP has no decryption key")]
    DecryptionKeyMissing,
    /// No `Subject`, or no `NameID` in it.
    #[error("assertion has no {what}")]
    SubjectMissing {
        /// `Subject` or `NameID`.
        what: &'static str,
    },
    /// The NameID is encrypted (`EncryptedID`), which this SP does not accept.
    #[error("assertion subject uses an EncryptedID")]
    NameIdEncrypted,
    /// No bearer `SubjectConfirmation` passed; the detail says why each failed.
    #[error("no bearer SubjectConfirmation is acceptable: {detail}")]
    SubjectConfirmationMissing {
        /// What was found instead.
        detail: String,
    },
    /// The bearer confirmation's `Recipient` is not the ACS URL.
    #[error(
        "SubjectConfirmationData Recipient {actual:?} is not a configured ACS URL (expected one of {expected:?})"
    )]
    RecipientMismatch {
        /// The configured ACS URLs.
        expected: Vec<String>,
        /// The `Recipient` sent (empty when absent).
        actual: String,
    },
    /// The bearer confirmation has expired (or carries no `NotOnOrAfter`).
    #[error(
        "SubjectConfirmationData NotOnOrAfter {not_on_or_after} is not after now ({now}, clock skew {skew_secs} s)"
    )]
    SubjectConfirmationExpired {
        /// The `NotOnOrAfter` sent (`missing` when absent).
        not_on_or_after: String,
        /// The time of validation.
        now: String,
        /// The allowed skew.
        skew_secs: u64,
    },
    /// The bearer confirmation is not valid yet.
    #[error(
        "SubjectConfirmationData NotBefore {not_before} is after now ({now}, clock skew {skew_secs} s)"
    )]
    SubjectConfirmationNotYetValid {
        /// The `NotBefore` sent.
        not_before: String,
        /// The time of validation.
        now: String,
        /// The allowed skew.
        skew_secs: u64,
    },
    /// `InResponseTo` is not the pending request's ID.
    #[error("{element} InResponseTo {actual:?} does not match the request {expected:?}")]
    InResponseToMismatch {
        /// `Response` or `SubjectConfirmationData`.
        element: &'static str,
        /// The pending request's ID.
        expected: String,
        /// The value sent.
        actual: String,
    },
    /// The response answers no request of ours, and IdP-initiated sign-in is off.
    #[error(
        "unsolicited response (InResponseTo {in_response_to:?}) and IdP-initiated sign-in is not allowed"
    )]
    Unsolicited {
        /// The InResponseTo sent, if any (it names a request we have no record of).
        in_response_to: Option<String>,
    },
    /// The pending request could not be found (unknown, used or expired RelayState/state).
    #[error("no pending sign-in request {key:?}: unknown, already used or expired")]
    RequestUnknown {
        /// The key looked up.
        key: String,
    },
    /// `Conditions NotBefore` is in the future.
    #[error(
        "assertion Conditions NotBefore {not_before} is after now ({now}, clock skew {skew_secs} s)"
    )]
    NotYetValid {
        /// The `NotBefore` sent.
        not_before: String,
        /// The time of validation.
        now: String,
        /// The allowed skew.
        skew_secs: u64,
    },
    /// `Conditions NotOnOrAfter` has passed.
    #[error(
        "assertion Conditions NotOnOrAfter {not_on_or_after} is not after now ({now}, clock skew {skew_secs} s)"
    )]
    Expired {
        /// The `NotOnOrAfter` sent.
        not_on_or_after: String,
        /// The time of validation.
        now: String,
        /// The allowed skew.
        skew_secs: u64,
    },
    /// `Conditions` holds a condition this SP does not understand; SAML core §2.5.1.5 makes
    /// the assertion invalid (Indeterminate) then.
    #[error(
        "assertion Conditions contain {condition}, which this SP does not understand (only AudienceRestriction, OneTimeUse and ProxyRestriction are)"
    )]
    ConditionUnsupported {
        /// The condition element (`{namespace}name`, with its `xsi:type` when generic).
        condition: String,
    },
    /// No `AudienceRestriction`.
    #[error("assertion has no AudienceRestriction (expected {expected:?})")]
    AudienceMissing {
        /// The SP entity ID.
        expected: String,
    },
    /// An `AudienceRestriction` that does not name this SP.
    #[error("AudienceRestriction {actual:?} does not contain the SP entity ID {expected:?}")]
    AudienceMismatch {
        /// The SP entity ID.
        expected: String,
        /// The audiences of the failing restriction.
        actual: Vec<String>,
    },
    /// No `AuthnStatement`.
    #[error("assertion has no AuthnStatement")]
    AuthnStatementMissing,
    /// `SessionNotOnOrAfter` has passed.
    #[error(
        "AuthnStatement SessionNotOnOrAfter {session_not_on_or_after} is not after now ({now})"
    )]
    SessionExpired {
        /// The `SessionNotOnOrAfter` sent.
        session_not_on_or_after: String,
        /// The time of validation.
        now: String,
    },
    /// The assertion ID was seen before.
    #[error("assertion {assertion_id:?} was already used")]
    Replayed {
        /// The assertion ID.
        assertion_id: String,
    },
    /// The same attribute `Name` appears twice (attribute pollution).
    #[error("attribute {name:?} appears more than once in the assertion")]
    DuplicateAttribute {
        /// The attribute name.
        name: String,
    },
    /// `RelayState` longer than allowed.
    #[error("RelayState is {size} bytes, over the limit of {limit}")]
    RelayStateTooLong {
        /// Its length.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A query string lacks a parameter or repeats one.
    #[error("query parameter {name}: {detail}")]
    QueryParameter {
        /// The parameter.
        name: &'static str,
        /// Missing, repeated or badly encoded.
        detail: &'static str,
    },
    /// The DEFLATE data of a Redirect-binding message is corrupt.
    #[error("{what} is not valid DEFLATE data")]
    Inflate {
        /// The parameter.
        what: &'static str,
    },
    /// IdP metadata is unusable.
    #[error("metadata: {detail}")]
    Metadata {
        /// What is wrong.
        detail: String,
    },
    /// IdP metadata is past its `validUntil`.
    #[error("metadata for {entity_id:?} expired at {valid_until}")]
    MetadataExpired {
        /// The entity.
        entity_id: String,
        /// Its `validUntil`.
        valid_until: String,
    },
    /// The metadata does not describe the entity asked for.
    #[error("metadata has no IdP with entity ID {entity_id:?}")]
    MetadataEntityNotFound {
        /// The entity ID asked for.
        entity_id: String,
    },
    /// A logout message names another subject or session than ours.
    #[error("logout request for {actual:?} does not match the session's NameID {expected:?}")]
    LogoutSubjectMismatch {
        /// The session's NameID.
        expected: String,
        /// The NameID in the request.
        actual: String,
    },
    /// A state store or replay cache failed.
    #[error("state store failed: {0}")]
    Store(#[from] jsm_sso_core::store::StoreError),
}

impl Error {
    pub(crate) fn malformed(element: &'static str, detail: impl Into<String>) -> Error {
        Error::Malformed {
            element,
            detail: detail.into(),
        }
    }

    pub(crate) fn config(detail: impl Into<String>) -> Error {
        Error::Config {
            detail: detail.into(),
        }
    }

    /// For [`Error::Signature`]: the code of the XML-DSig failure underneath
    /// (`xmldsig.digest.mismatch`, `xmldsig.key.untrusted`, ...), for the finer detail.
    pub fn signature_detail_code(&self) -> Option<&'static str> {
        match self {
            Error::Signature { source, .. } => Some(source.code()),
            _ => None,
        }
    }
}

fn status_code(status: &str) -> &'static str {
    match status.rsplit(':').next().unwrap_or_default() {
        "Requester" => "saml.status.requester",
        "Responder" => "saml.status.responder",
        "VersionMismatch" => "saml.status.version_mismatch",
        _ => "saml.status.unknown",
    }
}

fn signature_code(source: &jsm_sso_xmldsig::Error) -> &'static str {
    use jsm_sso_xmldsig::{Error as D, KeyError as K, SignatureError as S};
    match source {
        D::Key(K::Untrusted | K::NoMatchingKey { .. }) => "saml.signature.untrusted_key",
        D::Key(K::Expired) => "saml.signature.certificate_expired",
        D::Key(_) => "saml.signature.key",
        D::Signature(S::DigestMismatch) => "saml.signature.digest_mismatch",
        D::Signature(S::Invalid) => "saml.signature.invalid",
        D::Signature(S::Sha1Refused { .. }) => "saml.signature.sha1",
        D::Signature(
            S::UnsupportedSignatureMethod { .. }
            | S::UnsupportedDigestMethod { .. }
            | S::UnsupportedTransform { .. },
        ) => "saml.signature.algorithm",
        D::Signature(
            S::ReferenceUri { .. }
            | S::ReferenceNotFound { .. }
            | S::DuplicateId { .. }
            | S::ReferenceNotParent { .. },
        ) => "saml.signature.reference",
        D::Signature(S::Missing) => "saml.signature.missing",
        _ => "saml.signature.malformed",
    }
}

impl CodedError for Error {
    fn code(&self) -> &'static str {
        match self {
            Error::Config { .. } => "saml.config",
            Error::Base64 { .. } => "saml.encoding.base64",
            Error::TooLarge { .. } => "saml.message.too_large",
            Error::Xml(e) => e.code(),
            Error::Malformed { .. } => "saml.message.malformed",
            Error::Version { .. } => "saml.message.version",
            Error::Time { .. } => "saml.message.time",
            Error::DestinationMissing { .. } => "saml.destination.missing",
            Error::DestinationMismatch { .. } => "saml.destination.mismatch",
            Error::Status { status, .. } => status_code(status),
            Error::IssuerMissing { .. } => "saml.issuer.missing",
            Error::IssuerMismatch { .. } => "saml.issuer.mismatch",
            Error::UnknownIdp { .. } => "saml.issuer.unknown",
            Error::AssertionMissing => "saml.assertion.missing",
            Error::AssertionMultiple { .. } => "saml.assertion.multiple",
            Error::SignatureMissing { .. } => "saml.signature.missing",
            Error::Signature { source, .. } => signature_code(source),
            Error::QuerySignatureMissing { .. } => "saml.signature.missing",
            Error::Decrypt(e) => e.code(),
            Error::DecryptionKeyMissing => "saml.decrypt.no_key",
            Error::SubjectMissing { .. } => "saml.subject.missing",
            Error::NameIdEncrypted => "saml.subject.encrypted_id",
            Error::SubjectConfirmationMissing { .. } => "saml.subject_confirmation.missing",
            Error::RecipientMismatch { .. } => "saml.subject_confirmation.recipient",
            Error::SubjectConfirmationExpired { .. } => "saml.subject_confirmation.expired",
            Error::SubjectConfirmationNotYetValid { .. } => {
                "saml.subject_confirmation.not_yet_valid"
            }
            Error::InResponseToMismatch { .. } => "saml.in_response_to.mismatch",
            Error::Unsolicited { .. } => "saml.in_response_to.unsolicited",
            Error::RequestUnknown { .. } => "saml.request.unknown",
            Error::NotYetValid { .. } => "saml.conditions.not_yet_valid",
            Error::Expired { .. } => "saml.conditions.expired",
            Error::ConditionUnsupported { .. } => "saml.conditions.unsupported",
            Error::AudienceMissing { .. } => "saml.audience.missing",
            Error::AudienceMismatch { .. } => "saml.audience.mismatch",
            Error::AuthnStatementMissing => "saml.authn_statement.missing",
            Error::SessionExpired { .. } => "saml.authn_statement.session_expired",
            Error::Replayed { .. } => "saml.assertion.replayed",
            Error::DuplicateAttribute { .. } => "saml.attribute.duplicate",
            Error::RelayStateTooLong { .. } => "saml.relay_state.too_long",
            Error::QueryParameter { .. } => "saml.redirect.parameter",
            Error::Inflate { .. } => "saml.redirect.inflate",
            Error::Metadata { .. } => "saml.metadata.invalid",
            Error::MetadataExpired { .. } => "saml.metadata.expired",
            Error::MetadataEntityNotFound { .. } => "saml.metadata.entity_not_found",
            Error::LogoutSubjectMismatch { .. } => "saml.logout.subject_mismatch",
            Error::Store(e) => e.code(),
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Error::Config { .. } => "fix the SAML SP or IdP settings named in the message",
            Error::Base64 { .. } | Error::Inflate { .. } | Error::QueryParameter { .. } => {
                "the message was damaged in transit or not produced by a SAML IdP; check any proxy between IdP and SP"
            }
            Error::TooLarge { .. } => {
                "the IdP sends very large messages (many groups?); trim its attribute release or raise the SP limit"
            }
            Error::Xml(e) => e.hint(),
            Error::Malformed { .. } | Error::Version { .. } | Error::Time { .. } => {
                "the IdP did not send a SAML 2.0 message of the expected shape; check it is configured for SAML 2.0"
            }
            Error::DestinationMissing { .. } | Error::DestinationMismatch { .. } => {
                "set the ACS (reply) URL in the IdP to exactly the SP's ACS URL, scheme, host, port and path included"
            }
            Error::Status { .. } => {
                "the IdP refused the sign-in; its status and message say why (user not assigned to the app, MFA failed, ...)"
            }
            Error::IssuerMissing { .. }
            | Error::IssuerMismatch { .. }
            | Error::UnknownIdp { .. } => {
                "configure the IdP entity ID (issuer) exactly as the IdP's metadata states it"
            }
            Error::AssertionMissing | Error::AssertionMultiple { .. } => {
                "the IdP must send exactly one assertion per response"
            }
            Error::SignatureMissing { .. } => {
                "turn on signing of the assertion or the response in the IdP (sign assertion is the safest choice)"
            }
            Error::Signature { source, .. } => match source {
                jsm_sso_xmldsig::Error::Key(_) => {
                    "the IdP signs with a certificate the SP does not trust; download the IdP's current signing certificate (rollover?) and add it"
                }
                jsm_sso_xmldsig::Error::Signature(
                    jsm_sso_xmldsig::SignatureError::DigestMismatch,
                ) => {
                    "the signed content was changed after signing (a proxy rewriting XML, or tampering)"
                }
                jsm_sso_xmldsig::Error::Signature(jsm_sso_xmldsig::SignatureError::Invalid) => {
                    "the signature does not match any trusted certificate; check the IdP certificate configured in the SP"
                }
                jsm_sso_xmldsig::Error::Signature(
                    jsm_sso_xmldsig::SignatureError::Sha1Refused { .. },
                ) => "switch the IdP to RSA-SHA256 signatures and SHA-256 digests",
                _ => source.hint(),
            },
            Error::QuerySignatureMissing { .. } => {
                "turn on signing of Redirect-binding messages in the IdP, or send them with the POST binding"
            }
            Error::Decrypt(e) => e.hint(),
            Error::DecryptionKeyMissing => {
                "configure the SP decryption key, or turn off assertion encryption in the IdP"
            }
            Error::SubjectMissing { .. } | Error::NameIdEncrypted => {
                "configure the IdP to send a plain NameID (persistent or emailAddress format)"
            }
            Error::SubjectConfirmationMissing { .. } | Error::RecipientMismatch { .. } => {
                "the IdP's bearer SubjectConfirmation must name the SP's ACS URL as Recipient; check the ACS URL in the IdP"
            }
            Error::SubjectConfirmationExpired { .. }
            | Error::SubjectConfirmationNotYetValid { .. }
            | Error::NotYetValid { .. }
            | Error::Expired { .. }
            | Error::SessionExpired { .. } => {
                "check the clocks of IdP and SP (NTP), or the response was held too long; the SP's clock skew allowance can be raised up to 300 s"
            }
            Error::InResponseToMismatch { .. } | Error::RequestUnknown { .. } => {
                "the response does not answer the sign-in this browser started; start the sign-in again from the portal"
            }
            Error::Unsolicited { .. } => {
                "start sign-in from the portal (SP-initiated), or allow IdP-initiated sign-in for this IdP"
            }
            Error::ConditionUnsupported { .. } => {
                "the IdP adds a custom condition to the assertion; remove it in the IdP's application settings (SAML forbids accepting assertions with conditions the SP does not understand)"
            }
            Error::AudienceMissing { .. } | Error::AudienceMismatch { .. } => {
                "set the audience / SP entity ID (Identifier) in the IdP to exactly the SP's entity ID"
            }
            Error::AuthnStatementMissing => {
                "the IdP must include an AuthnStatement (Web Browser SSO profile)"
            }
            Error::Replayed { .. } => {
                "an assertion can be used once; a second use is a replay (or a double form submission)"
            }
            Error::DuplicateAttribute { .. } => {
                "the IdP sends the same attribute twice; fix the attribute mappings so each name is released once"
            }
            Error::RelayStateTooLong { .. } => {
                "keep RelayState short (80 bytes per the SAML bindings)"
            }
            Error::Metadata { .. } | Error::MetadataEntityNotFound { .. } => {
                "download the IdP's SAML metadata again and check the entity ID"
            }
            Error::MetadataExpired { .. } => {
                "refresh the IdP metadata; the copy configured has expired"
            }
            Error::LogoutSubjectMismatch { .. } => {
                "the logout request names another user than this session; ignore it or check the IdP's NameID settings"
            }
            Error::Store(e) => e.hint(),
        }
    }
}
