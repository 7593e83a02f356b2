//! The portal session: a signed, expiring token for the front end's cookie.
//!
//! Format: `v1.<payload>.<tag>`, both base64url without padding; the payload is JSON and
//! the tag is HMAC-SHA256 (ring) over `jsm-sso-session.v1.<payload>` with the current key.
//! Verification tries the current key and the previous ones (key rotation) and checks the
//! expiry against the clock. The token is integrity-protected, not encrypted: it carries
//! the customer's email and portal ids, which the customer may read.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsm_sso_core::VerifiedIdentity;
use jsm_sso_core::directory::{CustomerId, PortalId};
use jsm_sso_core::identity::{IdpId, IdpSession, Protocol};
use ring::hmac;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The longest session token accepted, in bytes (a cookie is at most 4 KiB; this leaves
/// room for customers with many portals).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The shortest key accepted, in bytes (HMAC-SHA256's output size).
pub const MIN_KEY_BYTES: usize = 32;

const PREFIX: &str = "v1.";
const CONTEXT: &[u8] = b"jsm-sso-session.v1.";

/// The keys that sign and verify sessions: one current key signs; it and the previous keys
/// verify, so a key can be rotated without signing everyone out. `Debug` prints no key.
#[derive(Clone)]
pub struct SessionKeys {
    current: hmac::Key,
    previous: Vec<hmac::Key>,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys")
            .field("current", &"[redacted]")
            .field("previous", &self.previous.len())
            .finish()
    }
}

impl SessionKeys {
    /// Keys with `current` signing, from at least 32 random bytes the integrator keeps
    /// secret (and the same on every broker instance).
    ///
    /// # Errors
    ///
    /// `broker.config` for a key shorter than [`MIN_KEY_BYTES`].
    pub fn new(current: &[u8]) -> Result<Self, Error> {
        Ok(Self {
            current: key(current)?,
            previous: Vec::new(),
        })
    }

    /// Adds a retired key that still verifies sessions it signed.
    ///
    /// # Errors
    ///
    /// `broker.config` for a key shorter than [`MIN_KEY_BYTES`].
    pub fn with_previous(mut self, previous: &[u8]) -> Result<Self, Error> {
        self.previous.push(key(previous)?);
        Ok(self)
    }

    /// A fresh random current key (sessions do not survive a restart; for tests and
    /// single-process demos).
    ///
    /// # Errors
    ///
    /// `broker.config` when the system random generator fails.
    pub fn generate() -> Result<Self, Error> {
        let rng = ring::rand::SystemRandom::new();
        let current = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .map_err(|_| Error::Config("the system random generator failed".into()))?;
        Ok(Self {
            current,
            previous: Vec::new(),
        })
    }
}

fn key(bytes: &[u8]) -> Result<hmac::Key, Error> {
    if bytes.len() < MIN_KEY_BYTES {
        return Err(Error::Config(format!(
            "session key is {} bytes, at least {MIN_KEY_BYTES} are needed",
            bytes.len()
        )));
    }
    Ok(hmac::Key::new(hmac::HMAC_SHA256, bytes))
}

/// A verified portal session: who, which portals, whether a second factor was checked,
/// and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Session {
    /// A random id for this session (audit correlation).
    pub id: String,
    /// The IdP that vouched for the customer.
    pub idp: IdpId,
    /// The protocol it used.
    pub protocol: Protocol,
    /// The IdP's subject.
    pub subject: String,
    /// The customer's email.
    pub email: String,
    /// The customer in the directory.
    pub customer: CustomerId,
    /// The portals the customer may use.
    pub portals: BTreeSet<PortalId>,
    /// Whether a second factor was checked at sign-in.
    pub mfa: bool,
    /// Issued at, seconds since the Unix epoch.
    pub iat: u64,
    /// Expires at, seconds since the Unix epoch.
    pub exp: u64,
    /// The SAML `NameID` format of [`subject`](Self::subject), for Single Logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_format: Option<String>,
    /// The IdP's session (SAML `SessionIndex` and `NameID` qualifiers), for Single Logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp_session: Option<IdpSession>,
    /// The customer's groups among those [`SessionClaims`] keeps.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub groups: BTreeSet<String>,
    /// The identity attributes [`SessionClaims`] keeps (values clipped, see there).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, Vec<String>>,
}

impl Session {
    /// When the session ends.
    #[must_use]
    pub fn expires_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.exp)
    }

    /// Whether the session grants the portal.
    #[must_use]
    pub fn grants(&self, portal: &PortalId) -> bool {
        self.portals.contains(portal)
    }

    /// The values of a kept attribute; empty when it was not kept or not sent.
    #[must_use]
    pub fn attribute(&self, name: &str) -> &[String] {
        self.attributes.get(name).map_or(&[], Vec::as_slice)
    }
}

/// The most values a session keeps per attribute.
pub const MAX_KEPT_VALUES: usize = 8;

/// The longest attribute value a session keeps, in bytes; longer ones are cut at a
/// character boundary.
pub const MAX_KEPT_VALUE_BYTES: usize = 256;

/// Which of the identity's groups and attributes a [`Session`] carries to the front end (for
/// field templates such as `{attr.department}` and admin checks by group). Nothing is kept
/// unless named: the session lives in a cookie, which browsers cap at 4 KiB, and Entra ID
/// alone may send 150 group ids.
///
/// ```
/// use jsm_sso_broker::SessionClaims;
/// let claims = SessionClaims::new().attribute("department").group("support-admins");
/// assert!(!claims.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionClaims {
    attributes: BTreeSet<String>,
    groups: BTreeSet<String>,
}

impl SessionClaims {
    /// Keeps nothing.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the attribute `name` (at most [`MAX_KEPT_VALUES`] values of at most
    /// [`MAX_KEPT_VALUE_BYTES`] each).
    #[must_use]
    pub fn attribute(mut self, name: impl Into<String>) -> Self {
        self.attributes.insert(name.into());
        self
    }

    /// Keeps the membership of the group `name` (compared exactly, as the IdP sends it).
    #[must_use]
    pub fn group(mut self, name: impl Into<String>) -> Self {
        self.groups.insert(name.into());
        self
    }

    /// Whether nothing is kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.groups.is_empty()
    }

    pub(crate) fn groups_of(&self, identity: &VerifiedIdentity) -> BTreeSet<String> {
        identity
            .groups
            .iter()
            .filter(|g| self.groups.contains(*g))
            .cloned()
            .collect()
    }

    pub(crate) fn attributes_of(
        &self,
        identity: &VerifiedIdentity,
    ) -> BTreeMap<String, Vec<String>> {
        self.attributes
            .iter()
            .filter_map(|name| {
                let values: Vec<String> = identity
                    .attribute(name)
                    .iter()
                    .take(MAX_KEPT_VALUES)
                    .map(|v| clip_value(v))
                    .collect();
                (!values.is_empty()).then(|| (name.clone(), values))
            })
            .collect()
    }
}

fn clip_value(value: &str) -> String {
    let mut end = value.len().min(MAX_KEPT_VALUE_BYTES);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value.get(..end).unwrap_or_default().to_owned()
}

pub(crate) fn unix(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl SessionKeys {
    /// Signs a session into a token.
    ///
    /// # Errors
    ///
    /// `broker.session.malformed` if the session cannot be serialised (it always can).
    pub fn seal(&self, session: &Session) -> Result<String, Error> {
        let json = serde_json::to_vec(session)
            .map_err(|_| Error::SessionMalformed("session could not be serialised"))?;
        let payload = URL_SAFE_NO_PAD.encode(json);
        let tag = hmac::sign(&self.current, &signed_bytes(&payload));
        Ok(format!(
            "{PREFIX}{payload}.{}",
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        ))
    }

    /// Verifies a token and returns its session if it has not expired at `now`.
    ///
    /// # Errors
    ///
    /// `broker.session.malformed` (shape, size, encoding, JSON),
    /// `broker.session.signature` (no key verifies it), `broker.session.expired`.
    pub fn open(&self, token: &str, now: SystemTime) -> Result<Session, Error> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Error::SessionMalformed("token too large"));
        }
        let rest = token
            .strip_prefix(PREFIX)
            .ok_or(Error::SessionMalformed("not a v1 session token"))?;
        let (payload, tag) = rest
            .split_once('.')
            .ok_or(Error::SessionMalformed("no signature part"))?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| Error::SessionMalformed("signature is not base64url"))?;
        let message = signed_bytes(payload);
        let verified = std::iter::once(&self.current)
            .chain(&self.previous)
            .any(|key| hmac::verify(key, &message, &tag).is_ok());
        if !verified {
            return Err(Error::SessionSignature);
        }
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| Error::SessionMalformed("payload is not base64url"))?;
        let session: Session = serde_json::from_slice(&json)
            .map_err(|_| Error::SessionMalformed("payload is not a session"))?;
        if unix(now) >= session.exp {
            return Err(Error::SessionExpired {
                expired_at: session.expires_at(),
            });
        }
        Ok(session)
    }
}

fn signed_bytes(payload: &str) -> Vec<u8> {
    let mut message = Vec::with_capacity(CONTEXT.len() + payload.len());
    message.extend_from_slice(CONTEXT);
    message.extend_from_slice(payload.as_bytes());
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsm_sso_core::CodedError;

    fn session(exp: u64) -> Session {
        Session {
            id: "s1".into(),
            idp: "okta".into(),
            protocol: Protocol::Oidc,
            subject: "alice".into(),
            email: "alice@acme.example".into(),
            customer: "c-1".into(),
            portals: [PortalId::from("2")].into(),
            mfa: true,
            iat: 1_000,
            exp,
            subject_format: None,
            idp_session: None,
            groups: BTreeSet::new(),
            attributes: BTreeMap::new(),
        }
    }

    fn code(r: Result<Session, Error>) -> &'static str {
        r.map_or_else(|e| e.code(), |_| "ok")
    }

    #[test]
    fn seal_and_open() {
        let keys = SessionKeys::new(&[7; 32]).unwrap();
        let token = keys.seal(&session(2_000)).unwrap();
        let at = UNIX_EPOCH + Duration::from_secs(1_500);
        assert_eq!(keys.open(&token, at).unwrap(), session(2_000));
        let late = UNIX_EPOCH + Duration::from_secs(2_000);
        assert_eq!(code(keys.open(&token, late)), "broker.session.expired");
    }

    #[test]
    fn tampering_and_foreign_keys_are_refused() {
        let keys = SessionKeys::new(&[7; 32]).unwrap();
        let at = UNIX_EPOCH + Duration::from_secs(1_500);
        let token = keys.seal(&session(2_000)).unwrap();
        // A payload granting another portal, keeping the old tag.
        let mut forged = session(2_000);
        forged.portals.insert("9".into());
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let tag = token.rsplit('.').next().unwrap();
        let forged_token = format!("v1.{forged_payload}.{tag}");
        assert_eq!(
            code(keys.open(&forged_token, at)),
            "broker.session.signature"
        );
        // Another key.
        let other = SessionKeys::new(&[8; 32]).unwrap();
        assert_eq!(code(other.open(&token, at)), "broker.session.signature");
        // Shape.
        assert_eq!(code(keys.open("v2.a.b", at)), "broker.session.malformed");
        assert_eq!(code(keys.open("v1.abc", at)), "broker.session.malformed");
        assert_eq!(code(keys.open("v1.abc.!!", at)), "broker.session.malformed");
        let huge = format!("v1.{}.x", "a".repeat(MAX_TOKEN_BYTES));
        assert_eq!(code(keys.open(&huge, at)), "broker.session.malformed");
        // A correctly signed payload that is not a session.
        let junk = URL_SAFE_NO_PAD.encode(b"{\"id\":1}");
        let tag = hmac::sign(&keys.current, &signed_bytes(&junk));
        let junk_token = format!("v1.{junk}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
        assert_eq!(code(keys.open(&junk_token, at)), "broker.session.malformed");
    }

    #[test]
    fn rotation_keeps_old_sessions_valid() {
        let old = SessionKeys::new(&[1; 32]).unwrap();
        let token = old.seal(&session(2_000)).unwrap();
        let rotated = SessionKeys::new(&[2; 32])
            .unwrap()
            .with_previous(&[1; 32])
            .unwrap();
        let at = UNIX_EPOCH + Duration::from_secs(1_500);
        assert!(rotated.open(&token, at).is_ok());
        assert_eq!(
            SessionKeys::new(&[1; 31]).map(|_| ()).unwrap_err().code(),
            "broker.config"
        );
        assert!(!format!("{rotated:?}").contains("[1"));
    }
}
