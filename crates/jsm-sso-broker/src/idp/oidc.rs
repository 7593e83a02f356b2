//! [`OidcIdp`]: an OpenID Connect (or plain OAuth 2.0) provider through `jsm-sso-oidc`.

use std::sync::Arc;

use async_trait::async_trait;
use jsm_sso_core::identity::{IdpId, Protocol};
use jsm_sso_core::{HttpClient, VerifiedIdentity};
use jsm_sso_oidc::{AuthorizationOptions, ProviderConfig, RelyingParty};

use super::{BeginOptions, Callback, Challenge, IdentityProvider, Redirect, Seams};
use crate::error::BoxedError;

/// An OpenID Connect provider: the authorization-code flow with state, nonce and PKCE S256,
/// the callback checked and the ID token validated by `jsm-sso-oidc` (issuer, audience,
/// signature through the JWKS cache, nonce, RFC 9207 `iss`). A provider configured as plain
/// OAuth 2.0 (userinfo claim paths) works the same way and reports [`Protocol::OAuth2`].
pub struct OidcIdp {
    id: IdpId,
    protocol: Protocol,
    display_name: String,
    rp: RelyingParty,
}

impl std::fmt::Debug for OidcIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcIdp")
            .field("id", &self.id)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl OidcIdp {
    /// The provider `config`, fetching JWKS, tokens and userinfo through `http` and keeping
    /// pending requests in `seams`.
    #[must_use]
    pub fn new(config: ProviderConfig, http: Arc<dyn HttpClient>, seams: &Seams) -> Self {
        let id = config.idp().clone();
        let protocol = if config.is_oauth2() {
            Protocol::OAuth2
        } else {
            Protocol::Oidc
        };
        let rp =
            RelyingParty::new(http, seams.store.clone(), seams.clock.clone()).with_provider(config);
        Self {
            display_name: id.to_string(),
            id,
            protocol,
            rp,
        }
    }

    /// Sets the name shown on the IdP choice page.
    #[must_use]
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = name.into();
        self
    }
}

#[async_trait]
impl IdentityProvider for OidcIdp {
    fn id(&self) -> &IdpId {
        &self.id
    }

    fn protocol(&self) -> Protocol {
        self.protocol
    }

    fn display_name(&self) -> &str {
        &self.display_name
    }

    async fn begin(&self, options: &BeginOptions) -> Result<Challenge, BoxedError> {
        let mut authorization = AuthorizationOptions::default();
        if let Some(hint) = &options.login_hint {
            authorization = authorization.login_hint(hint.clone());
        }
        if options.force_authn {
            authorization = authorization.prompt("login");
        }
        let request = self
            .rp
            .begin(&self.id, &authorization)
            .await
            .map_err(|e| Box::new(e) as BoxedError)?;
        Ok(Challenge::new(
            Redirect::Location(request.url),
            request.state,
        ))
    }

    async fn finish(&self, callback: &Callback) -> Result<VerifiedIdentity, BoxedError> {
        let parsed = oidc_callback(callback)?;
        self.rp
            .finish(&parsed, Some(&self.id))
            .await
            .map_err(|e| Box::new(e) as BoxedError)
    }
}

/// The broker's callback as the OIDC crate's (which checks repeats and sizes itself).
fn oidc_callback(callback: &Callback) -> Result<jsm_sso_oidc::Callback, BoxedError> {
    let form = callback.to_form();
    jsm_sso_oidc::Callback::parse(form.as_bytes()).map_err(|e| Box::new(e) as BoxedError)
}
