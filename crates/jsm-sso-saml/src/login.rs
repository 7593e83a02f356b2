//! SP-initiated sign-in: the AuthnRequest out, the pending request kept through the
//! [`StateStore`] seam, and the Response in, with replay protection through [`ReplayCache`].

use std::time::SystemTime;

use jsm_sso_core::{ReplayCache, StateStore};
use jsm_sso_xmldsig::{Placement, sign_enveloped};
use ring::rand::{SecureRandom, SystemRandom};

use crate::binding::{MessageKind, PostForm, redirect_url};
use crate::config::{IdentityProvider, ServiceProvider, binding};
use crate::error::Error;
use crate::ns::{SAML, SAMLP};
use crate::response::{Expect, Login, peek_issuer};
use crate::time;
use crate::xml::escape;

/// A fresh message ID: `_` and 32 random hex digits (IDs must not start with a digit).
pub(crate) fn new_id() -> Result<String, Error> {
    Ok(format!("_{}", random_hex()?))
}

fn random_hex() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::config("the system random generator failed"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// How to send the AuthnRequest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RequestBinding {
    /// HTTP-Redirect: a URL with the deflated request in the query (signed in the query when
    /// the SP has a signing key).
    #[default]
    Redirect,
    /// HTTP-POST: an auto-submitting form with the request (signed as XML when the SP has a
    /// signing key).
    Post,
}

/// Knobs of one AuthnRequest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthnRequestOptions {
    /// The binding to send it with.
    pub binding: RequestBinding,
    /// Ask the IdP to authenticate again even with a session (`ForceAuthn`).
    pub force_authn: bool,
    /// Ask the IdP not to interact with the user (`IsPassive`).
    pub is_passive: bool,
    /// Which of the configured ACS URLs to ask for (default the first).
    pub acs_url: Option<String>,
}

/// An AuthnRequest ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnRequest {
    /// Its ID, which the response's `InResponseTo` must repeat.
    pub id: String,
    /// The XML (signed when sent with the POST binding and the SP has a key).
    pub xml: String,
    /// Where to send the browser (Redirect binding), including the query.
    pub redirect_url: Option<String>,
    /// The form to serve (POST binding).
    pub post_form: Option<PostForm>,
    /// The RelayState sent along.
    pub relay_state: Option<String>,
}

/// What a pending sign-in remembers between the request and the response.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pending {
    request_id: String,
    idp_entity_id: String,
}

impl Pending {
    fn encode(&self) -> Vec<u8> {
        format!("saml1\n{}\n{}", self.request_id, self.idp_entity_id).into_bytes()
    }

    fn decode(bytes: &[u8]) -> Option<Pending> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut lines = text.splitn(3, '\n');
        match (lines.next(), lines.next(), lines.next()) {
            (Some("saml1"), Some(request_id), Some(idp)) => Some(Pending {
                request_id: request_id.to_owned(),
                idp_entity_id: idp.to_owned(),
            }),
            _ => None,
        }
    }
}

fn state_key(relay_state: &str) -> String {
    format!("saml:pending:{relay_state}")
}

impl ServiceProvider {
    /// Builds an AuthnRequest for `idp` (no state kept: see [`ServiceProvider::begin_login`]).
    ///
    /// # Errors
    /// `saml.config` when the IdP has no SSO endpoint for the binding, the ACS URL asked for
    /// is not configured, or signing fails; `saml.relay_state.too_long`.
    pub fn authn_request(
        &self,
        idp: &IdentityProvider,
        options: &AuthnRequestOptions,
        relay_state: Option<&str>,
        now: SystemTime,
    ) -> Result<AuthnRequest, Error> {
        let config = &self.config;
        if let Some(relay) = relay_state
            && relay.len() > config.max_relay_state
        {
            return Err(Error::RelayStateTooLong {
                size: relay.len(),
                limit: config.max_relay_state,
            });
        }
        let binding_uri = match options.binding {
            RequestBinding::Redirect => binding::REDIRECT,
            RequestBinding::Post => binding::POST,
        };
        let endpoint = idp.sso_endpoint(binding_uri).ok_or_else(|| {
            Error::config(format!(
                "IdP {:?} has no SSO endpoint for {binding_uri}",
                idp.entity_id
            ))
        })?;
        let acs = match &options.acs_url {
            Some(url) if config.acs_urls.contains(url) => url.as_str(),
            Some(url) => return Err(Error::config(format!("ACS URL {url:?} is not configured"))),
            None => self.acs_url(),
        };
        if idp.want_authn_requests_signed && config.signing_key.is_none() {
            return Err(Error::config(format!(
                "IdP {:?} wants signed AuthnRequests and the SP has no signing key",
                idp.entity_id
            )));
        }
        let id = new_id()?;
        let mut xml = format!(
            "<samlp:AuthnRequest xmlns:samlp=\"{SAMLP}\" xmlns:saml=\"{SAML}\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{}\" AssertionConsumerServiceURL=\"{}\" ProtocolBinding=\"{}\"",
            time::format(now),
            escape(&endpoint.location),
            escape(acs),
            binding::POST,
        );
        if options.force_authn {
            xml.push_str(" ForceAuthn=\"true\"");
        }
        if options.is_passive {
            xml.push_str(" IsPassive=\"true\"");
        }
        xml.push_str(&format!(
            "><saml:Issuer>{}</saml:Issuer>",
            escape(&config.entity_id)
        ));
        match &config.name_id_format {
            Some(format) => xml.push_str(&format!(
                "<samlp:NameIDPolicy Format=\"{}\" AllowCreate=\"true\"/>",
                escape(format)
            )),
            None => xml.push_str("<samlp:NameIDPolicy AllowCreate=\"true\"/>"),
        }
        xml.push_str("</samlp:AuthnRequest>");

        let key = config.signing_key.as_ref();
        let (xml, redirect, post_form) = match options.binding {
            RequestBinding::Redirect => {
                let url = redirect_url(
                    &endpoint.location,
                    MessageKind::Request,
                    &xml,
                    relay_state,
                    key,
                )?;
                (xml, Some(url), None)
            }
            RequestBinding::Post => {
                let xml = match key {
                    Some(key) => {
                        sign_enveloped(xml.as_bytes(), &id, key, &Placement::after_saml_issuer())
                            .map_err(|e| Error::config(format!("signing the AuthnRequest: {e}")))?
                    }
                    None => xml,
                };
                let form =
                    PostForm::new(&endpoint.location, MessageKind::Request, &xml, relay_state);
                (xml, None, Some(form))
            }
        };
        Ok(AuthnRequest {
            id,
            xml,
            redirect_url: redirect,
            post_form,
            relay_state: relay_state.map(str::to_owned),
        })
    }

    /// Starts a sign-in at `idp`: builds the AuthnRequest, records it in `store` under a fresh
    /// random RelayState (single use, for [`ServiceProvider::request_lifetime`]), and returns
    /// what to send the browser.
    ///
    /// [`ServiceProvider::request_lifetime`]: crate::ServiceProviderConfig::request_lifetime
    pub async fn begin_login(
        &self,
        idp: &IdentityProvider,
        options: &AuthnRequestOptions,
        store: &dyn StateStore,
        now: SystemTime,
    ) -> Result<AuthnRequest, Error> {
        let relay_state = random_hex()?;
        let request = self.authn_request(idp, options, Some(&relay_state), now)?;
        let pending = Pending {
            request_id: request.id.clone(),
            idp_entity_id: idp.entity_id.clone(),
        };
        store
            .put(
                &state_key(&relay_state),
                pending.encode(),
                time::plus(now, self.config.request_lifetime),
            )
            .await?;
        Ok(request)
    }

    /// Finishes a sign-in: finds the pending request by RelayState (single use), validates the
    /// base64 `SAMLResponse` against the IdP the request went to, and records the assertion
    /// ID in `replay` so the same assertion is refused the next time.
    ///
    /// Without a pending request the response is IdP-initiated: accepted only when the SP
    /// allows it, from the configured IdP its Issuer names, and only without `InResponseTo`.
    pub async fn finish_login(
        &self,
        idps: &[IdentityProvider],
        saml_response: &str,
        relay_state: Option<&str>,
        store: &dyn StateStore,
        replay: &dyn ReplayCache,
        now: SystemTime,
    ) -> Result<Login, Error> {
        let config = &self.config;
        let xml = crate::response::decode_base64(
            saml_response,
            "SAMLResponse",
            config.max_message_bytes,
        )?;
        let pending = match relay_state {
            Some(relay) if relay.len() <= config.max_relay_state => store
                .take(&state_key(relay))
                .await?
                .and_then(|v| Pending::decode(&v)),
            Some(relay) => {
                return Err(Error::RelayStateTooLong {
                    size: relay.len(),
                    limit: config.max_relay_state,
                });
            }
            None => None,
        };
        let (idp, request_id) = match &pending {
            Some(p) => {
                // Bound to the IdP the request was sent to, whatever the Issuer says.
                let idp = idps
                    .iter()
                    .find(|i| i.entity_id == p.idp_entity_id)
                    .ok_or_else(|| Error::UnknownIdp {
                        actual: p.idp_entity_id.clone(),
                    })?;
                (idp, Some(p.request_id.as_str()))
            }
            None if config.allow_unsolicited => {
                let issuer = peek_issuer(&xml, config.max_message_bytes)?;
                let idp = idps
                    .iter()
                    .find(|i| i.entity_id == issuer)
                    .ok_or(Error::UnknownIdp { actual: issuer })?;
                (idp, None)
            }
            None => {
                return Err(match relay_state {
                    Some(relay) => Error::RequestUnknown {
                        key: relay.to_owned(),
                    },
                    None => Error::Unsolicited {
                        in_response_to: None,
                    },
                });
            }
        };
        let login = self.validate_response(idp, &xml, Expect { now, request_id })?;
        let key = format!("saml:assertion:{}:{}", login.issuer, login.assertion_id);
        if !replay
            .insert_if_absent(
                &key,
                login
                    .not_on_or_after
                    .max(time::plus(now, config.clock_skew)),
            )
            .await?
        {
            return Err(Error::Replayed {
                assertion_id: login.assertion_id,
            });
        }
        Ok(login)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_round_trips_and_refuses_garbage() {
        let p = Pending {
            request_id: "_abc".into(),
            idp_entity_id: "https://idp/x\ny".into(),
        };
        assert_eq!(Pending::decode(&p.encode()), Some(p));
        assert_eq!(Pending::decode(b"other\n_a\nidp"), None);
        assert_eq!(Pending::decode(&[0xff, 0xfe]), None);
    }

    #[test]
    fn ids_are_ncnames_and_unique() {
        let a = new_id().unwrap();
        let b = new_id().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with('_') && a.len() == 33);
    }
}
