//! [`SamlIdp`]: a SAML 2.0 IdP through `jsm-sso-saml`'s service provider.

use std::sync::Arc;

use async_trait::async_trait;
use jsm_sso_core::VerifiedIdentity;
use jsm_sso_core::identity::{IdpId, Protocol};
use jsm_sso_saml::{AuthnRequestOptions, ServiceProvider};

use super::{BeginOptions, Callback, Challenge, IdentityProvider, Redirect, Seams};
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
        let redirect = match (request.redirect_url, request.post_form) {
            (Some(url), _) => Redirect::Location(url),
            (None, Some(form)) => Redirect::PostForm {
                html: form.to_html(None),
                action: form.action,
                fields: form.fields,
            },
            (None, None) => Redirect::Location(String::new()),
        };
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
}
