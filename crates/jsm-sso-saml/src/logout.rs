//! Single Logout (SAML profiles §4.4): the SP's LogoutRequest out, the IdP's LogoutResponse
//! in, and an IdP-initiated LogoutRequest in (with the LogoutResponse to answer it).

use std::time::SystemTime;

use jsm_sso_xmldsig::{
    Document, Element, Limits, Placement, Verifier, VerifyOptions, sign_enveloped,
};

use crate::binding::{MessageKind, PostForm, RedirectMessage, redirect_url};
use crate::config::{IdentityProvider, ServiceProvider, binding};
use crate::error::Error;
use crate::ns::{DS, SAML, SAMLP, STATUS_SUCCESS};
use crate::response::{NameId, decode_base64};
use crate::time;
use crate::xml::escape;

/// A logout message as it arrived, by binding.
#[derive(Debug, Clone)]
pub enum Inbound {
    /// HTTP-Redirect: the raw query string as received.
    Redirect(String),
    /// HTTP-POST: the base64 form value (`SAMLRequest` or `SAMLResponse`).
    Post(String),
}

/// A LogoutRequest or LogoutResponse ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundLogout {
    /// The message ID.
    pub id: String,
    /// The XML.
    pub xml: String,
    /// Redirect-binding URL, when sent that way.
    pub redirect_url: Option<String>,
    /// POST-binding form, when sent that way.
    pub post_form: Option<PostForm>,
}

/// A validated IdP-initiated LogoutRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequestIn {
    /// Its ID (the LogoutResponse's `InResponseTo`).
    pub id: String,
    /// Whose sessions end.
    pub name_id: NameId,
    /// Which sessions (empty: all of this subject's).
    pub session_indexes: Vec<String>,
    /// RelayState to send back.
    pub relay_state: Option<String>,
}

fn name_id_xml(name_id: &NameId) -> String {
    let mut xml = String::from("<saml:NameID");
    for (attr, value) in [
        ("Format", &name_id.format),
        ("NameQualifier", &name_id.name_qualifier),
        ("SPNameQualifier", &name_id.sp_name_qualifier),
    ] {
        if let Some(value) = value {
            xml.push_str(&format!(" {attr}=\"{}\"", escape(value)));
        }
    }
    xml.push_str(&format!(">{}</saml:NameID>", escape(&name_id.value)));
    xml
}

impl ServiceProvider {
    fn send(
        &self,
        location: &str,
        binding_uri: &str,
        kind: MessageKind,
        id: String,
        xml: String,
        relay_state: Option<&str>,
    ) -> Result<OutboundLogout, Error> {
        let key = self.config.signing_key.as_ref();
        if binding_uri == binding::REDIRECT {
            let url = redirect_url(location, kind, &xml, relay_state, key)?;
            Ok(OutboundLogout {
                id,
                xml,
                redirect_url: Some(url),
                post_form: None,
            })
        } else {
            let xml = match key {
                Some(key) => {
                    sign_enveloped(xml.as_bytes(), &id, key, &Placement::after_saml_issuer())
                        .map_err(|e| Error::config(format!("signing the logout message: {e}")))?
                }
                None => xml,
            };
            let form = PostForm::new(location, kind, &xml, relay_state);
            Ok(OutboundLogout {
                id,
                xml,
                redirect_url: None,
                post_form: Some(form),
            })
        }
    }

    /// An SP-initiated LogoutRequest for the session of `name_id` (and `session_index`), to the
    /// IdP's SLO endpoint (Redirect binding preferred). Signed when the SP has a key, which
    /// most IdPs require for logout.
    pub fn logout_request(
        &self,
        idp: &IdentityProvider,
        name_id: &NameId,
        session_index: Option<&str>,
        relay_state: Option<&str>,
        now: SystemTime,
    ) -> Result<OutboundLogout, Error> {
        let endpoint = idp
            .slo_endpoint(binding::REDIRECT)
            .or_else(|| idp.slo_endpoint(binding::POST))
            .ok_or_else(|| Error::config(format!("IdP {:?} has no SLO endpoint", idp.entity_id)))?;
        let id = crate::login::new_id()?;
        let mut xml = format!(
            "<samlp:LogoutRequest xmlns:samlp=\"{SAMLP}\" xmlns:saml=\"{SAML}\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{}\" NotOnOrAfter=\"{}\"><saml:Issuer>{}</saml:Issuer>{}",
            time::format(now),
            escape(&endpoint.location),
            time::format(time::plus(now, self.config.request_lifetime)),
            escape(&self.config.entity_id),
            name_id_xml(name_id),
        );
        if let Some(index) = session_index {
            xml.push_str(&format!(
                "<samlp:SessionIndex>{}</samlp:SessionIndex>",
                escape(index)
            ));
        }
        xml.push_str("</samlp:LogoutRequest>");
        let location = endpoint.location.clone();
        let binding_uri = endpoint.binding.clone();
        self.send(
            &location,
            &binding_uri,
            MessageKind::Request,
            id,
            xml,
            relay_state,
        )
    }

    /// Reads an inbound logout message: the XML and, for the Redirect binding, the checked
    /// query signature; for POST, the XML signature. Returns the parsed document and whether
    /// a trusted signature covered it.
    fn inbound(
        &self,
        idp: &IdentityProvider,
        message: &Inbound,
        kind: MessageKind,
    ) -> Result<(Document, Option<String>), Error> {
        let limit = self.config.max_message_bytes;
        let limits = Limits::default().with_max_bytes(limit);
        match message {
            Inbound::Redirect(query) => {
                let redirect = RedirectMessage::from_query(query, limit)?;
                if redirect.kind != kind {
                    return Err(Error::QueryParameter {
                        name: "SAMLRequest",
                        detail: "the wrong kind of message for this endpoint",
                    });
                }
                if idp.require_signed_redirect || redirect.is_signed() {
                    redirect.verify(&idp.keys, idp.allow_sha1)?;
                }
                let doc = Document::parse(&redirect.xml, &limits)?;
                Ok((doc, redirect.relay_state))
            }
            Inbound::Post(value) => {
                let xml = decode_base64(value, kind.parameter(), limit)?;
                let doc = Document::parse(&xml, &limits)?;
                Ok((doc, None))
            }
        }
    }

    /// The element to read: for POST the verified signed root (a signature is required), for
    /// Redirect the root (the query signature was checked).
    fn logout_root<'d>(
        &self,
        idp: &IdentityProvider,
        doc: &'d Document,
        message: &Inbound,
        what: &'static str,
    ) -> Result<Element<'d>, Error> {
        let root = doc.root();
        match message {
            Inbound::Redirect(_) => Ok(root),
            Inbound::Post(_) => {
                if root.child(DS, "Signature").is_none() {
                    return Err(Error::SignatureMissing {
                        detail: format!("{what} sent with the POST binding is not signed"),
                    });
                }
                Verifier::new(
                    idp.keys.clone(),
                    VerifyOptions::default().allow_sha1(idp.allow_sha1),
                )
                .verify_enveloped(root)
                .map(|v| v.element())
                .map_err(|source| Error::Signature {
                    element: what,
                    tried: format!("{} trusted keys", idp.keys.len()),
                    source,
                })
            }
        }
    }

    fn check_logout_envelope(
        &self,
        idp: &IdentityProvider,
        root: Element<'_>,
        what: &'static str,
    ) -> Result<(), Error> {
        if !root.is(SAMLP, what) {
            return Err(Error::malformed(
                what,
                format!("root element is {:?}", root.local_name()),
            ));
        }
        if root.attribute("Version") != Some("2.0") {
            return Err(Error::Version {
                element: what,
                actual: root.attribute("Version").unwrap_or_default().to_owned(),
            });
        }
        if let Some(dest) = root.attribute("Destination") {
            let ours = self
                .config
                .slo_url
                .iter()
                .chain(self.config.acs_urls.iter());
            if !ours.clone().any(|u| u == dest) {
                return Err(Error::DestinationMismatch {
                    expected: ours.cloned().collect(),
                    actual: dest.to_owned(),
                });
            }
        }
        let issuer = root
            .child(SAML, "Issuer")
            .map(|i| i.text().trim().to_owned());
        match issuer {
            Some(i) if i == idp.entity_id => Ok(()),
            Some(i) => Err(Error::IssuerMismatch {
                element: what,
                expected: idp.entity_id.clone(),
                actual: i,
            }),
            None => Err(Error::IssuerMissing {
                element: what,
                expected: idp.entity_id.clone(),
            }),
        }
    }

    /// Validates the IdP's LogoutResponse to our LogoutRequest `request_id`: signature (query
    /// or XML), issuer, destination, `InResponseTo` and a Success status.
    pub fn validate_logout_response(
        &self,
        idp: &IdentityProvider,
        message: &Inbound,
        request_id: &str,
    ) -> Result<(), Error> {
        let (doc, _) = self.inbound(idp, message, MessageKind::Response)?;
        let root = self.logout_root(idp, &doc, message, "LogoutResponse")?;
        self.check_logout_envelope(idp, root, "LogoutResponse")?;
        let actual = root.attribute("InResponseTo").unwrap_or_default();
        if actual != request_id {
            return Err(Error::InResponseToMismatch {
                element: "LogoutResponse",
                expected: request_id.to_owned(),
                actual: actual.to_owned(),
            });
        }
        let code = root
            .child(SAMLP, "Status")
            .and_then(|s| s.child(SAMLP, "StatusCode"))
            .ok_or_else(|| Error::malformed("LogoutResponse", "no Status"))?;
        match code.attribute("Value") {
            Some(STATUS_SUCCESS) => Ok(()),
            other => Err(Error::Status {
                status: other.unwrap_or_default().to_owned(),
                second: code
                    .child(SAMLP, "StatusCode")
                    .and_then(|c| c.attribute("Value"))
                    .map(str::to_owned),
                message: root
                    .child(SAMLP, "Status")
                    .and_then(|s| s.child(SAMLP, "StatusMessage"))
                    .map(|m| m.text().into_owned()),
            }),
        }
    }

    /// Validates an IdP-initiated LogoutRequest: signature, issuer, destination, expiry
    /// (`NotOnOrAfter` with the clock skew), and a plain NameID.
    pub fn validate_logout_request(
        &self,
        idp: &IdentityProvider,
        message: &Inbound,
        now: SystemTime,
    ) -> Result<LogoutRequestIn, Error> {
        let (doc, relay_state) = self.inbound(idp, message, MessageKind::Request)?;
        let root = self.logout_root(idp, &doc, message, "LogoutRequest")?;
        self.check_logout_envelope(idp, root, "LogoutRequest")?;
        let id = root
            .attribute("ID")
            .ok_or_else(|| Error::malformed("LogoutRequest", "no ID"))?
            .to_owned();
        if let Some(v) = root.attribute("NotOnOrAfter") {
            let at = time::parse("NotOnOrAfter", v)?;
            if now >= time::plus(at, self.config.clock_skew) {
                return Err(Error::Expired {
                    not_on_or_after: time::format(at),
                    now: time::format(now),
                    skew_secs: self.config.clock_skew.as_secs(),
                });
            }
        }
        if root.child(SAML, "EncryptedID").is_some() {
            return Err(Error::NameIdEncrypted);
        }
        let name = root
            .child(SAML, "NameID")
            .ok_or(Error::SubjectMissing { what: "NameID" })?;
        let name_id = NameId {
            value: name.text().trim().to_owned(),
            format: name.attribute("Format").map(str::to_owned),
            name_qualifier: name.attribute("NameQualifier").map(str::to_owned),
            sp_name_qualifier: name.attribute("SPNameQualifier").map(str::to_owned),
        };
        let session_indexes = root
            .children_named(SAMLP, "SessionIndex")
            .map(|s| s.text().trim().to_owned())
            .collect();
        Ok(LogoutRequestIn {
            id,
            name_id,
            session_indexes,
            relay_state,
        })
    }

    /// The LogoutResponse (Success) answering an IdP-initiated LogoutRequest.
    pub fn logout_response(
        &self,
        idp: &IdentityProvider,
        request: &LogoutRequestIn,
        now: SystemTime,
    ) -> Result<OutboundLogout, Error> {
        let endpoint = idp
            .slo_endpoint(binding::REDIRECT)
            .or_else(|| idp.slo_endpoint(binding::POST))
            .ok_or_else(|| Error::config(format!("IdP {:?} has no SLO endpoint", idp.entity_id)))?;
        let location = endpoint
            .response_location
            .clone()
            .unwrap_or_else(|| endpoint.location.clone());
        let id = crate::login::new_id()?;
        let xml = format!(
            "<samlp:LogoutResponse xmlns:samlp=\"{SAMLP}\" xmlns:saml=\"{SAML}\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{}\" InResponseTo=\"{}\"><saml:Issuer>{}</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"{STATUS_SUCCESS}\"/></samlp:Status></samlp:LogoutResponse>",
            time::format(now),
            escape(&location),
            escape(&request.id),
            escape(&self.config.entity_id),
        );
        let binding_uri = endpoint.binding.clone();
        self.send(
            &location,
            &binding_uri,
            MessageKind::Response,
            id,
            xml,
            request.relay_state.as_deref(),
        )
    }
}
