//! The protocol seam: [`IdentityProvider`], one sign-in protocol at one IdP.
//!
//! The broker knows nothing about SAML or OIDC: it asks an `IdentityProvider` for a
//! [`Challenge`] (where to send the browser) and later hands it the [`Callback`] the browser
//! brought back, getting a [`VerifiedIdentity`]. [`SamlIdp`] and [`OidcIdp`] implement it on
//! the protocol crates; a test IdP or a new protocol implements it without touching the
//! broker.

use std::sync::Arc;

use async_trait::async_trait;
use jsm_sso_core::identity::{IdpId, Protocol};
use jsm_sso_core::{Clock, ReplayCache, StateStore, VerifiedIdentity};

use crate::error::{BoxedError, Error, clip};
use crate::session::Session;

mod oidc;
mod saml;

pub use oidc::OidcIdp;
pub use saml::SamlIdp;

/// The largest callback (query string or form body) the broker reads, in bytes. A SAML
/// Response of a few hundred kilobytes fits; the protocol crates apply their own, tighter
/// limits to the message itself.
pub const MAX_CALLBACK_BYTES: usize = 1024 * 1024;

/// The most parameters a callback may carry.
const MAX_CALLBACK_PARAMS: usize = 64;

/// The shared seams every protocol uses: the pending-request store, the replay cache and
/// the clock. Build IdPs and the [`Broker`](crate::Broker) from the same `Seams`, so that a
/// fleet of brokers sharing the stores (for example on Redis) can finish each other's
/// sign-ins.
#[derive(Clone)]
pub struct Seams {
    /// Pending sign-ins and second-factor challenges (single use, TTL).
    pub store: Arc<dyn StateStore>,
    /// Seen-once ids: SAML assertion ids, request-rate slots.
    pub replay: Arc<dyn ReplayCache>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Seams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seams")
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl Seams {
    /// Seams from a store, a replay cache and a clock.
    pub fn new(
        store: Arc<dyn StateStore>,
        replay: Arc<dyn ReplayCache>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            replay,
            clock,
        }
    }
}

/// What the front end sends the browser to start a sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Redirect {
    /// Redirect (HTTP 302/303) to this URL.
    Location(String),
    /// Serve an auto-submitting form that POSTs these fields to `action` (SAML HTTP-POST
    /// binding).
    PostForm {
        /// Where the form posts.
        action: String,
        /// The form fields, in order.
        fields: Vec<(String, String)>,
        /// The form as a complete HTML page (no inline script needed to read it; it submits
        /// itself where scripts run).
        html: String,
    },
}

/// A started sign-in: where to send the browser, and the correlation value the callback
/// will carry back (SAML `RelayState`, OIDC `state`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Challenge {
    /// Where to send the browser.
    pub redirect: Redirect,
    /// The random value the callback repeats; the broker keys its pending sign-in on it.
    pub state: String,
}

impl Challenge {
    /// A challenge (for protocol implementations).
    #[must_use]
    pub fn new(redirect: Redirect, state: String) -> Self {
        Self { redirect, state }
    }
}

/// What the browser brought back to the broker: the query string of a redirect (without
/// `?`) or the `application/x-www-form-urlencoded` body of a POST, unchanged, plus the IdP
/// the callback URL belongs to when the front end routes each IdP to its own URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    params: Vec<(String, String)>,
    raw: String,
    posted: bool,
    arrived_for: Option<IdpId>,
}

impl Callback {
    /// Reads the parameters (a query string without `?`, or a form body).
    ///
    /// # Errors
    ///
    /// `broker.callback.malformed` when the text is larger than [`MAX_CALLBACK_BYTES`],
    /// has more than 64 parameters, or repeats a parameter.
    pub fn parse(params: &[u8]) -> Result<Self, Error> {
        if params.len() > MAX_CALLBACK_BYTES {
            return Err(Error::CallbackMalformed(format!(
                "{} bytes, more than {MAX_CALLBACK_BYTES}",
                params.len()
            )));
        }
        let mut out: Vec<(String, String)> = Vec::new();
        for (name, value) in url::form_urlencoded::parse(params) {
            if out.len() == MAX_CALLBACK_PARAMS {
                return Err(Error::CallbackMalformed(format!(
                    "more than {MAX_CALLBACK_PARAMS} parameters"
                )));
            }
            if out.iter().any(|(n, _)| *n == name) {
                return Err(Error::CallbackMalformed(format!(
                    "parameter {} is repeated",
                    clip(&name)
                )));
            }
            out.push((name.into_owned(), value.into_owned()));
        }
        Ok(Self {
            params: out,
            // Kept as received: a SAML HTTP-Redirect signature covers the raw query, and IdPs
            // differ in how they percent-encode it.
            raw: String::from_utf8_lossy(params).into_owned(),
            posted: false,
            arrived_for: None,
        })
    }

    /// Reads the query of a full callback URL.
    ///
    /// # Errors
    ///
    /// `broker.callback.malformed`, as [`Callback::parse`], or when `url` is not a URL.
    pub fn from_url(url: &str) -> Result<Self, Error> {
        let parsed = url::Url::parse(url)
            .map_err(|e| Error::CallbackMalformed(format!("not a URL: {e}")))?;
        Self::parse(parsed.query().unwrap_or_default().as_bytes())
    }

    /// Says which IdP's callback URL this arrived at; the broker then refuses a callback
    /// for a sign-in that went to another IdP (the OIDC mix-up defence).
    #[must_use]
    pub fn arrived_for(mut self, idp: impl Into<IdpId>) -> Self {
        self.arrived_for = Some(idp.into());
        self
    }

    /// Says the parameters came as a POST body (SAML HTTP-POST binding) rather than a
    /// query string (HTTP-Redirect binding); the bindings are verified differently.
    #[must_use]
    pub fn via_post(mut self) -> Self {
        self.posted = true;
        self
    }

    /// Whether the front end said the parameters came as a POST body.
    #[must_use]
    pub fn is_post(&self) -> bool {
        self.posted
    }

    /// The IdP this callback arrived for, if the front end said.
    #[must_use]
    pub fn idp(&self) -> Option<&IdpId> {
        self.arrived_for.as_ref()
    }

    /// The value of a parameter.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The query string or form body exactly as it arrived.
    #[must_use]
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The parameters re-encoded as `application/x-www-form-urlencoded`.
    #[must_use]
    pub fn to_form(&self) -> String {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in &self.params {
            form.append_pair(name, value);
        }
        form.finish()
    }

    /// The correlation value: SAML `RelayState` or OIDC `state`.
    pub(crate) fn state(&self) -> Option<&str> {
        self.get("RelayState")
            .or_else(|| self.get("state"))
            .filter(|s| !s.is_empty())
    }
}

/// What a sign-in may ask of the IdP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BeginOptions {
    /// The email the customer typed, for the IdP's login form (`login_hint`).
    pub login_hint: Option<String>,
    /// Ask the IdP to authenticate again even with a session.
    pub force_authn: bool,
}

/// A Single Logout started at the IdP by [`IdentityProvider::begin_logout`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogoutStart {
    /// Where to send the browser (the IdP's logout endpoint).
    pub redirect: Redirect,
    /// The logout request's id, which the IdP's answer must name.
    pub request_id: String,
}

impl LogoutStart {
    /// A started logout (for protocol implementations).
    #[must_use]
    pub fn new(redirect: Redirect, request_id: String) -> Self {
        Self {
            redirect,
            request_id,
        }
    }
}

/// What a logout message from the IdP came to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogoutOutcome {
    /// The IdP confirmed the logout this broker started: the customer is signed out there
    /// too.
    Completed,
    /// The IdP asks to end the customer's session (IdP-initiated Single Logout): end the
    /// local session when `ends_session` (the browser's session is the one named), then
    /// send the browser to `response`, the answer the IdP waits for.
    Requested {
        /// Whether the message names the session the front end passed.
        ends_session: bool,
        /// The logout response to deliver to the IdP.
        response: Redirect,
    },
}

/// One identity provider, speaking one protocol.
///
/// Contract: [`begin`](Self::begin) stores whatever the protocol needs between the
/// requests (in the [`Seams`] store, single use) and returns a [`Challenge`] whose `state`
/// comes back in the callback as `RelayState` or `state`; [`finish`](Self::finish) validates
/// the callback completely (signatures, audience, time, replay) and returns an identity
/// whose [`idp`](VerifiedIdentity::idp) is [`id`](Self::id). Errors carry the protocol's
/// own codes.
#[async_trait]
pub trait IdentityProvider: Send + Sync {
    /// The IdP's configured id.
    fn id(&self) -> &IdpId;

    /// The protocol it speaks.
    fn protocol(&self) -> Protocol;

    /// The name to show on a "choose your sign-in" page.
    fn display_name(&self) -> &str;

    /// Starts a sign-in.
    ///
    /// # Errors
    ///
    /// The protocol's error (configuration, store).
    async fn begin(&self, options: &BeginOptions) -> Result<Challenge, BoxedError>;

    /// Finishes a sign-in from the callback.
    ///
    /// # Errors
    ///
    /// The protocol's error for the first failed check.
    async fn finish(&self, callback: &Callback) -> Result<VerifiedIdentity, BoxedError>;

    /// Starts Single Logout at the IdP for `session`, carrying `relay_state` (random; the
    /// IdP's answer repeats it). `Ok(None)`, the default, when the protocol or this IdP has
    /// no logout endpoint: only the local session ends.
    ///
    /// # Errors
    ///
    /// The protocol's error (configuration, signing).
    async fn begin_logout(
        &self,
        session: &Session,
        relay_state: &str,
    ) -> Result<Option<LogoutStart>, BoxedError> {
        let _ = (session, relay_state);
        Ok(None)
    }

    /// Whether a logout message without a pending logout of ours (an IdP-initiated one)
    /// claims to come from this IdP. Unverified: it only picks which IdP verifies it.
    fn sends_logout(&self, message: &Callback) -> bool {
        let _ = message;
        false
    }

    /// Validates a logout message from the IdP: the answer to our request `request_id`, or
    /// (with `request_id` `None`) the IdP's own request, checked against `session` when the
    /// browser brought one.
    ///
    /// # Errors
    ///
    /// The protocol's error for the first failed check; `broker.logout.unsupported` by
    /// default.
    async fn finish_logout(
        &self,
        message: &Callback,
        request_id: Option<&str>,
        session: Option<&Session>,
    ) -> Result<LogoutOutcome, BoxedError> {
        let _ = (message, request_id, session);
        Err(Box::new(Error::LogoutUnsupported(self.id().clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsm_sso_core::CodedError;

    fn code<T: std::fmt::Debug>(r: Result<T, Error>) -> &'static str {
        r.map_or_else(|e| e.code(), |_| "ok")
    }

    #[test]
    fn callback_parsing_refuses_repeats_and_floods() {
        let c = Callback::parse(b"SAMLResponse=abc&RelayState=r1").unwrap();
        assert_eq!(c.state(), Some("r1"));
        assert_eq!(c.get("SAMLResponse"), Some("abc"));
        let c = Callback::parse(b"code=c&state=s1&iss=https%3A%2F%2Fop").unwrap();
        assert_eq!(c.state(), Some("s1"));
        assert_eq!(c.get("iss"), Some("https://op"));
        assert_eq!(
            code(Callback::parse(b"state=a&state=b")),
            "broker.callback.malformed"
        );
        let flood: String = (0..65).map(|i| format!("p{i}=1&")).collect();
        assert_eq!(
            code(Callback::parse(flood.as_bytes())),
            "broker.callback.malformed"
        );
        let big = vec![b'a'; MAX_CALLBACK_BYTES + 1];
        assert_eq!(code(Callback::parse(&big)), "broker.callback.malformed");
        assert_eq!(
            code(Callback::from_url("not a url")),
            "broker.callback.malformed"
        );
        assert_eq!(Callback::parse(b"state=").unwrap().state(), None);
    }

    #[test]
    fn callback_round_trips_as_form() {
        let c = Callback::from_url("https://p/cb?code=a%20b&state=s").unwrap();
        assert_eq!(c.to_form(), "code=a+b&state=s");
        let c = c.arrived_for("okta");
        assert_eq!(c.idp().map(IdpId::as_str), Some("okta"));
    }
}
