//! What a protocol crate hands on after it has verified a sign-in.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::Email;

string_id! {
    /// The configured id of an identity provider (`"entra"`, `"okta-staff"`), chosen by the
    /// integrator. It is a name, not a secret, and not validated here.
    IdpId
}

/// The sign-in protocol that produced an identity.
///
/// Exhaustive on purpose: a new protocol is a new outcome callers must handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Protocol {
    /// SAML 2.0 Web Browser SSO (`"saml2"` in JSON).
    Saml2,
    /// OpenID Connect: an ID token was verified (`"oidc"`).
    Oidc,
    /// Plain OAuth 2.0: identity from a userinfo-style API, no ID token (`"oauth2"`).
    OAuth2,
}

impl Protocol {
    /// The lower-case name used in JSON, audit events and logs.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Saml2 => "saml2",
            Self::Oidc => "oidc",
            Self::OAuth2 => "oauth2",
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who the IdP says the user is: a SAML `NameID` with its `Format`, or an OIDC `sub`.
///
/// The value is unique only together with the [`IdpId`], and (for SAML) the format.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Subject {
    /// The `NameID` text or the `sub` claim, as sent.
    pub value: String,
    /// The SAML `NameID` `Format` URI; `None` for OIDC and for a SAML `NameID` without one.
    #[cfg_attr(feature = "serde", serde(default))]
    pub format: Option<String>,
}

impl Subject {
    /// A subject with a value and no format (the OIDC case).
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            format: None,
        }
    }

    /// A subject with a value and a `NameID` format (the SAML case).
    pub fn with_format(value: impl Into<String>, format: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            format: Some(format.into()),
        }
    }
}

/// The IdP's own session behind a sign-in, kept for Single Logout: a SAML logout message
/// must name the subject exactly as the assertion did (qualifiers included) and the
/// `SessionIndex` it ends.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct IdpSession {
    /// SAML `AuthnStatement/@SessionIndex`, or the OIDC `sid` claim.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub index: Option<String>,
    /// SAML `NameID/@NameQualifier`.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub name_qualifier: Option<String>,
    /// SAML `NameID/@SPNameQualifier`.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub sp_name_qualifier: Option<String>,
}

impl IdpSession {
    /// A session with this index and no qualifiers.
    pub fn with_index(index: impl Into<String>) -> Self {
        Self {
            index: Some(index.into()),
            ..Self::default()
        }
    }
}

/// A sign-in a protocol crate has fully verified (signature, audience, time, replay).
///
/// It is the only thing the policy, provisioning and audit layers trust. Build it with
/// [`VerifiedIdentity::new`] and fill in the optional fields; the struct is
/// `#[non_exhaustive]` so fields can be added without breaking callers.
///
/// With the `serde` feature it reads and writes JSON like this (times are RFC 3339; all
/// fields after `authn_instant` may be left out; unknown fields are refused):
///
/// ```json
/// {
///   "idp": "entra",
///   "protocol": "saml2",
///   "subject": { "value": "alice@example.com",
///                "format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" },
///   "email": "alice@example.com",
///   "email_verified": true,
///   "groups": ["customers"],
///   "attributes": { "department": ["Sales"] },
///   "authn_instant": "2025-01-02T03:04:05Z",
///   "session_expiry": "2025-01-02T11:04:05Z",
///   "idp_session": { "index": "_be9967abd904ddcae3c0eb4189adbe3f71e327cf93" }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct VerifiedIdentity {
    /// The identity provider that vouched for this sign-in.
    pub idp: IdpId,
    /// The protocol it used.
    pub protocol: Protocol,
    /// The IdP's identifier for the user.
    pub subject: Subject,
    /// The user's email, if the IdP sent one that parses.
    #[cfg_attr(feature = "serde", serde(default))]
    pub email: Option<Email>,
    /// Whether the IdP asserts the email is verified. SAML IdPs never say so: the protocol
    /// crate sets this from the IdP's configuration (trusted or not).
    #[cfg_attr(feature = "serde", serde(default))]
    pub email_verified: bool,
    /// Group names or ids, as sent by the IdP.
    #[cfg_attr(feature = "serde", serde(default))]
    pub groups: Vec<String>,
    /// All other attributes or claims, multi-valued, keyed by attribute name.
    #[cfg_attr(feature = "serde", serde(default))]
    pub attributes: BTreeMap<String, Vec<String>>,
    /// When the user authenticated at the IdP (`AuthnInstant`, `auth_time`, or `iat`).
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_time::rfc3339"))]
    pub authn_instant: SystemTime,
    /// When the IdP wants the session to end (`SessionNotOnOrAfter`), if it said.
    #[cfg_attr(
        feature = "serde",
        serde(default, with = "crate::serde_time::rfc3339_option")
    )]
    pub session_expiry: Option<SystemTime>,
    /// The IdP's session, for Single Logout, when the protocol names one.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub idp_session: Option<IdpSession>,
}

impl VerifiedIdentity {
    /// An identity with the required fields; no email, no groups, no attributes, no expiry.
    pub fn new(
        idp: impl Into<IdpId>,
        protocol: Protocol,
        subject: Subject,
        authn_instant: SystemTime,
    ) -> Self {
        Self {
            idp: idp.into(),
            protocol,
            subject,
            email: None,
            email_verified: false,
            groups: Vec::new(),
            attributes: BTreeMap::new(),
            authn_instant,
            session_expiry: None,
            idp_session: None,
        }
    }

    /// The email only if the IdP vouches for it ([`email_verified`](Self::email_verified)).
    ///
    /// Use this, never [`email`](Self::email), for anything that grants access by domain:
    /// an unverified email can be typed in by anyone.
    #[must_use]
    pub fn verified_email(&self) -> Option<&Email> {
        self.email.as_ref().filter(|_| self.email_verified)
    }

    /// The values of an attribute; empty when the IdP did not send it.
    #[must_use]
    pub fn attribute(&self, name: &str) -> &[String] {
        self.attributes.get(name).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn identity() -> VerifiedIdentity {
        VerifiedIdentity::new(
            "entra",
            Protocol::Saml2,
            Subject::with_format(
                "alice",
                "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            ),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        )
    }

    #[test]
    fn verified_email_needs_the_flag() {
        let mut id = identity();
        assert_eq!(id.verified_email(), None);
        id.email = Some("alice@example.com".parse().unwrap());
        assert_eq!(id.verified_email(), None);
        id.email_verified = true;
        assert_eq!(
            id.verified_email().map(Email::as_str),
            Some("alice@example.com")
        );
    }

    #[test]
    fn attribute_lookup() {
        let mut id = identity();
        assert!(id.attribute("department").is_empty());
        id.attributes
            .insert("department".into(), vec!["Sales".into(), "EMEA".into()]);
        assert_eq!(id.attribute("department"), ["Sales", "EMEA"]);
    }

    #[test]
    fn protocol_names() {
        assert_eq!(Protocol::Saml2.to_string(), "saml2");
        assert_eq!(Protocol::Oidc.as_str(), "oidc");
        assert_eq!(Protocol::OAuth2.as_str(), "oauth2");
        assert_eq!(IdpId::from("entra").as_str(), "entra");
    }
}
