//! [`SamlIdp`]: a SAML 2.0 IdP through `jsm-sso-saml`'s service provider.

use std::sync::Arc;

use async_trait::async_trait;
use jsm_sso_core::VerifiedIdentity;
use jsm_sso_core::identity::{IdpId, Protocol};
use jsm_sso_saml::{AuthnRequestOptions, Inbound, NameId, OutboundLogout, ServiceProvider};

use super::{
    BeginOptions, Callback, Challenge, IdentityProvider, LogoutOutcome, LogoutStart, Redirect,
    Seams,
};
use crate::Session;
use crate::error::BoxedError;

/// A SAML IdP: SP-initiated sign-in with an AuthnRequest (HTTP-Redirect or HTTP-POST
/// binding, signed when the SP has a key), the Response validated by `jsm-sso-saml`
/// (signature, audience, `InResponseTo`, time, replay through the [`Seams`] cache).
///
/// Several SAML IdPs may share one [`ServiceProvider`] (one SP entity id and ACS URL).
pub struct SamlIdp {
    sp: Arc<ServiceProvider>,
    idp: jsm_sso_saml::IdentityProvider,
    display_name: String,
    options: AuthnRequestOptions,
    seams: Seams,
}

impl std::fmt::Debug for SamlIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamlIdp")
            .field("id", &self.idp.id)
            .field("entity_id", &self.idp.entity_id)
            .finish_non_exhaustive()
    }
}

impl SamlIdp {
    /// The IdP `idp` behind the service provider `sp`, keeping pending requests and seen
    /// assertion ids in `seams`. Its display name is its id until
    /// [`display_name`](Self::display_name) sets one.
    #[must_use]
    pub fn new(
        sp: Arc<ServiceProvider>,
        idp: jsm_sso_saml::IdentityProvider,
        seams: Seams,
    ) -> Self {
        Self {
            display_name: idp.id.to_string(),
            sp,
            idp,
            options: AuthnRequestOptions::default(),
            seams,
        }
    }

    /// Sets the name shown on the IdP choice page.
    #[must_use]
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = name.into();
        self
    }

    /// Sets the AuthnRequest options (binding, `ForceAuthn`, `IsPassive`, ACS URL).
    #[must_use]
    pub fn request_options(mut self, options: AuthnRequestOptions) -> Self {
        self.options = options;
        self
    }

    /// The SAML IdP configuration.
    #[must_use]
    pub fn config(&self) -> &jsm_sso_saml::IdentityProvider {
        &self.idp
    }
}

#[async_trait]
impl IdentityProvider for SamlIdp {
    fn id(&self) -> &IdpId {
        &self.idp.id
    }

    fn protocol(&self) -> Protocol {
        Protocol::Saml2
    }

    fn display_name(&self) -> &str {
        &self.display_name
    }

    async fn begin(&self, options: &BeginOptions) -> Result<Challenge, BoxedError> {
        let mut request_options = self.options.clone();
        request_options.force_authn |= options.force_authn;
        let now = self.seams.clock.now();
        let request = self
            .sp
            .begin_login(&self.idp, &request_options, self.seams.store.as_ref(), now)
            .await
            .map_err(|e| Box::new(e) as BoxedError)?;
        let state = request.relay_state.clone().unwrap_or_default();
        let redirect = redirect_of(request.redirect_url, request.post_form);
        Ok(Challenge::new(redirect, state))
    }

    async fn finish(&self, callback: &Callback) -> Result<VerifiedIdentity, BoxedError> {
        let response = callback
            .get("SAMLResponse")
            .filter(|r| !r.is_empty())
            .ok_or_else(|| {
                Box::new(crate::Error::CallbackMalformed("no SAMLResponse".into())) as BoxedError
            })?;
        let login = self
            .sp
            .finish_login(
                std::slice::from_ref(&self.idp),
                response,
                callback.get("RelayState"),
                self.seams.store.as_ref(),
                self.seams.replay.as_ref(),
                self.seams.clock.now(),
            )
            .await
            .map_err(|e| Box::new(e) as BoxedError)?;
        Ok(login.identity)
    }

    async fn begin_logout(
        &self,
        session: &Session,
        relay_state: &str,
    ) -> Result<Option<LogoutStart>, BoxedError> {
        if self.idp.slo.is_empty() {
            return Ok(None);
        }
        let name_id = session_name_id(session);
        let index = session
            .idp_session
            .as_ref()
            .and_then(|s| s.index.as_deref());
        let request = self
            .sp
            .logout_request(
                &self.idp,
                &name_id,
                index,
                Some(relay_state),
                self.seams.clock.now(),
            )
            .map_err(|e| Box::new(e) as BoxedError)?;
        let id = request.id.clone();
        Ok(Some(LogoutStart::new(outbound_redirect(request), id)))
    }

    fn sends_logout(&self, message: &Callback) -> bool {
        inbound(message).is_some_and(|m| {
            self.sp
                .logout_issuer(&m)
                .is_ok_and(|issuer| issuer == self.idp.entity_id)
        })
    }

    async fn finish_logout(
        &self,
        message: &Callback,
        request_id: Option<&str>,
        session: Option<&Session>,
    ) -> Result<LogoutOutcome, BoxedError> {
        let inbound = inbound(message).ok_or_else(|| {
            Box::new(crate::Error::CallbackMalformed(
                "no SAMLRequest or SAMLResponse".into(),
            )) as BoxedError
        })?;
        let now = self.seams.clock.now();
        let boxed = |e: jsm_sso_saml::Error| Box::new(e) as BoxedError;
        if let Some(request_id) = request_id {
            self.sp
                .validate_logout_response(&self.idp, &inbound, request_id, now)
                .map_err(boxed)?;
            return Ok(LogoutOutcome::Completed);
        }
        let mut request = self
            .sp
            .validate_logout_request(&self.idp, &inbound, now)
            .map_err(boxed)?;
        if message.is_post() {
            request.relay_state = message
                .get("RelayState")
                .filter(|r| r.len() <= jsm_sso_saml::DEFAULT_MAX_RELAY_STATE)
                .map(str::to_owned);
        }
        let ends_session = session.is_some_and(|s| {
            let index = s.idp_session.as_ref().and_then(|i| i.index.as_deref());
            request.check_session(&session_name_id(s), index).is_ok()
        });
        let response = self
            .sp
            .logout_response(&self.idp, &request, now)
            .map_err(boxed)?;
        Ok(LogoutOutcome::Requested {
            ends_session,
            response: outbound_redirect(response),
        })
    }
}

fn redirect_of(url: Option<String>, form: Option<jsm_sso_saml::binding::PostForm>) -> Redirect {
    match (url, form) {
        (Some(url), _) => Redirect::Location(url),
        (None, Some(form)) => Redirect::PostForm {
            html: form.to_html(None),
            action: form.action,
            fields: form.fields,
        },
        (None, None) => Redirect::Location(String::new()),
    }
}

fn outbound_redirect(message: OutboundLogout) -> Redirect {
    redirect_of(message.redirect_url, message.post_form)
}

/// The logout message in a callback: the raw query for the Redirect binding, the form value
/// for POST.
fn inbound(message: &Callback) -> Option<Inbound> {
    let value = message
        .get("SAMLRequest")
        .or_else(|| message.get("SAMLResponse"))?;
    Some(if message.is_post() {
        Inbound::Post(value.to_owned())
    } else {
        Inbound::Redirect(message.raw().to_owned())
    })
}

/// The `NameID` exactly as the assertion named the subject.
fn session_name_id(session: &Session) -> NameId {
    let idp_session = session.idp_session.clone().unwrap_or_default();
    NameId {
        value: session.subject.clone(),
        format: session.subject_format.clone(),
        name_qualifier: idp_session.name_qualifier,
        sp_name_qualifier: idp_session.sp_name_qualifier,
    }
}
