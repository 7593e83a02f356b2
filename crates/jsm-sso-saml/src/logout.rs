//! Single Logout (SAML profiles §4.4): the SP's LogoutRequest out, the IdP's LogoutResponse
//! in, and an IdP-initiated LogoutRequest in (with the LogoutResponse to answer it).

use std::time::SystemTime;

use jsm_sso_xmldsig::{Document, Element, Limits, Placement, sign_enveloped};

use crate::binding::{MessageKind, PostForm, RedirectMessage, redirect_url};
use crate::config::{IdentityProvider, ServiceProvider, binding};
use crate::error::Error;
use crate::ns::{DS, SAML, SAMLP, STATUS_SUCCESS};
use crate::response::{NameId, decode_base64, tried_keys};
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
    /// RelayState to send back: read from the query for the HTTP-Redirect binding; for
    /// HTTP-POST the caller sets it from the form's `RelayState` field, which
    /// [`Inbound::Post`] does not carry.
    pub relay_state: Option<String>,
}

impl LogoutRequestIn {
    /// Whether this request ends a local session of `name_id` with `session_index` (the
    /// values kept from [`Login`](crate::Login)): the NameID value, format and qualifiers
    /// must be the session's, and when the request lists SessionIndexes, the session's must
    /// be among them (none listed: every session of the subject ends).
    ///
    /// # Errors
    /// `saml.logout.subject_mismatch` naming the session's and the request's subject.
    pub fn check_session(
        &self,
        name_id: &NameId,
        session_index: Option<&str>,
    ) -> Result<(), Error> {
        let mismatch = || Error::LogoutSubjectMismatch {
            expected: describe(name_id, session_index),
            actual: describe(
                &self.name_id,
                (!self.session_indexes.is_empty())
                    .then(|| self.session_indexes.join(", "))
                    .as_deref(),
            ),
        };
        // An absent Format means "unspecified" (core §8.3.1) on either side.
        let unspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
        let format = |n: &NameId| n.format.clone().unwrap_or_else(|| unspecified.to_owned());
        if self.name_id.value != name_id.value
            || format(&self.name_id) != format(name_id)
            || self.name_id.name_qualifier != name_id.name_qualifier
            || self.name_id.sp_name_qualifier != name_id.sp_name_qualifier
        {
            return Err(mismatch());
        }
        if self.session_indexes.is_empty() {
            return Ok(());
        }
        match session_index {
            Some(index) if self.session_indexes.iter().any(|s| s == index) => Ok(()),
            _ => Err(mismatch()),
        }
    }
}

fn describe(name_id: &NameId, session_index: Option<&str>) -> String {
    match session_index {
        Some(index) => format!("{} (session {index})", name_id.value),
        None => name_id.value.clone(),
    }
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
    ) -> Result<(Document, Option<String>, bool), Error> {
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
                let signed = idp.require_signed_redirect || redirect.is_signed();
                if signed {
                    redirect.verify(&idp.keys, idp.allow_sha1)?;
                }
                let doc = Document::parse(&redirect.xml, &limits)?;
                Ok((doc, redirect.relay_state, signed))
            }
            Inbound::Post(value) => {
                let xml = decode_base64(value, kind.parameter(), limit)?;
                let doc = Document::parse(&xml, &limits)?;
                Ok((doc, None, true))
            }
        }
    }

    /// The element to read: for POST the verified signed root (a signature is required), for
    /// Redirect the root (the query signature was checked, or the IdP is allowed to send
    /// unsigned Redirect messages).
    fn logout_root<'d>(
        &self,
        idp: &IdentityProvider,
        doc: &'d Document,
        message: &Inbound,
        what: &'static str,
        now: SystemTime,
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
                idp.verifier(now)
                    .verify_enveloped(root)
                    .map(|v| v.element())
                    .map_err(|source| Error::Signature {
                        element: what,
                        tried: tried_keys(idp),
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
        signed: bool,
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
        // Bindings §3.4.5.2 / §3.5.5.2: a signed message must name where it was sent. Logout
        // messages reaching here are signed unless the IdP may send unsigned Redirect ones.
        let ours = self
            .config
            .slo_url
            .iter()
            .chain(self.config.acs_urls.iter());
        match root.attribute("Destination") {
            Some(dest) if ours.clone().any(|u| u == dest) => {}
            Some(dest) => {
                return Err(Error::DestinationMismatch {
                    expected: ours.cloned().collect(),
                    actual: dest.to_owned(),
                });
            }
            None if signed => {
                return Err(Error::DestinationMissing {
                    expected: ours.cloned().collect(),
                });
            }
            None => {}
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

    /// The unverified `Issuer` of an inbound logout message, to pick which configured IdP
    /// validates it (several IdPs share one SLO URL). Nothing else may be read before
    /// verification.
    ///
    /// # Errors
    /// `saml.redirect.*`, `saml.message.*`, `saml.xml.*` for a message that cannot be read;
    /// `saml.message.malformed` when it names no Issuer.
    pub fn logout_issuer(&self, message: &Inbound) -> Result<String, Error> {
        let limit = self.config.max_message_bytes;
        let xml = match message {
            Inbound::Redirect(query) => RedirectMessage::from_query(query, limit)?.xml,
            Inbound::Post(value) => decode_base64(value, "SAMLRequest", limit)?,
        };
        crate::response::peek_issuer(&xml, limit)
    }

    /// Validates the IdP's LogoutResponse to our LogoutRequest `request_id`: signature (query
    /// or XML), issuer, destination (required when signed), `InResponseTo` and a Success
    /// status (a partial logout, `Success` with a `PartialLogout` second-level code, is a
    /// success).
    ///
    /// # Errors
    /// `saml.signature.*` (unsigned, untrusted key, altered), `saml.destination.*`,
    /// `saml.issuer.*`, `saml.in_response_to.mismatch`, `saml.status.*` (with the IdP's
    /// status codes and message), `saml.redirect.*`, `saml.message.*`.
    pub fn validate_logout_response(
        &self,
        idp: &IdentityProvider,
        message: &Inbound,
        request_id: &str,
        now: SystemTime,
    ) -> Result<(), Error> {
        let (doc, _, signed) = self.inbound(idp, message, MessageKind::Response)?;
        let root = self.logout_root(idp, &doc, message, "LogoutResponse", now)?;
        self.check_logout_envelope(idp, root, "LogoutResponse", signed)?;
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
                    .map(|m| m.text().trim().chars().take(512).collect()),
            }),
        }
    }

    /// Validates an IdP-initiated LogoutRequest: signature, issuer, destination (required when
    /// signed), expiry (`NotOnOrAfter` with the clock skew), and a plain NameID. Which local
    /// sessions it ends is then decided with [`LogoutRequestIn::check_session`].
    ///
    /// # Errors
    /// `saml.signature.*`, `saml.destination.*`, `saml.issuer.*`, `saml.conditions.expired`,
    /// `saml.subject.missing`, `saml.subject.encrypted_id`, `saml.redirect.*`,
    /// `saml.message.*`.
    pub fn validate_logout_request(
        &self,
        idp: &IdentityProvider,
        message: &Inbound,
        now: SystemTime,
    ) -> Result<LogoutRequestIn, Error> {
        let (doc, relay_state, signed) = self.inbound(idp, message, MessageKind::Request)?;
        let root = self.logout_root(idp, &doc, message, "LogoutRequest", now)?;
        self.check_logout_envelope(idp, root, "LogoutRequest", signed)?;
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
        let value = name.text().trim().to_owned();
        if value.is_empty() {
            return Err(Error::SubjectMissing {
                what: "NameID value",
            });
        }
        let name_id = NameId {
            value,
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
