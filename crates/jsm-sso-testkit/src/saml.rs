//! A test SAML IdP: issues signed Responses for a given AuthnRequest, with a knob for every
//! condition a service provider checks, and generators for the signature-wrapping attacks.
//!
//! ```
//! use std::time::SystemTime;
//! use jsm_sso_testkit::saml::{ResponseSpec, TestIdp};
//!
//! let idp = TestIdp::generate("https://idp.test/metadata")?;
//! let now = SystemTime::now();
//! let spec = ResponseSpec::new("https://sp.test/metadata", "https://sp.test/acs", now)
//!     .in_response_to("_req1")
//!     .name_id("alice@acme.example")
//!     .attribute("groups", ["staff", "portal-users"]);
//! let xml = idp.response(&spec)?;
//! assert!(xml.contains("Signature"));
//! let expired = idp.response(&spec.clone().conditions_not_on_or_after(now - std::time::Duration::from_secs(600)))?;
//! # let _ = expired;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use base64::Engine;
use jsm_sso_xmldsig::{Placement, SigningKey, TrustedKeys, sign_enveloped};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// The emailAddress NameID format.
pub const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
/// `Success`.
pub const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// Errors of the test IdP (key handling and signing).
#[derive(Debug, thiserror::Error)]
#[error("test idp: {0}")]
pub struct TestIdpError(String);

/// Which elements the test IdP signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// The Assertion only (Okta, Entra default).
    Assertion,
    /// The Response only.
    Response,
    /// Both.
    Both,
    /// Neither.
    None,
}

/// Everything a Response says; each field is a knob.
#[derive(Debug, Clone)]
pub struct ResponseSpec {
    /// SP entity ID, put in the AudienceRestriction.
    pub audience: Option<String>,
    /// `Destination` of the Response (None: left out).
    pub destination: Option<String>,
    /// `Recipient` of the bearer SubjectConfirmationData (None: left out).
    pub recipient: Option<String>,
    /// `InResponseTo` on Response and SubjectConfirmationData.
    pub in_response_to: Option<String>,
    /// NameID text.
    pub name_id: String,
    /// NameID Format.
    pub name_id_format: Option<String>,
    /// Attributes: name -> values.
    pub attributes: Vec<(String, Vec<String>)>,
    /// IssueInstant / AuthnInstant.
    pub issue_instant: SystemTime,
    /// Conditions NotBefore.
    pub not_before: Option<SystemTime>,
    /// Conditions NotOnOrAfter.
    pub not_on_or_after: Option<SystemTime>,
    /// SubjectConfirmationData NotOnOrAfter.
    pub confirmation_not_on_or_after: Option<SystemTime>,
    /// SessionNotOnOrAfter.
    pub session_not_on_or_after: Option<SystemTime>,
    /// SubjectConfirmation Method.
    pub confirmation_method: String,
    /// Top-level status code URI.
    pub status: String,
    /// Second-level status code and message.
    pub status_detail: Option<(String, String)>,
    /// Override of the Issuer (default the IdP's entity ID).
    pub issuer: Option<String>,
    /// Include an AuthnStatement.
    pub authn_statement: bool,
    /// Include Conditions at all.
    pub conditions: bool,
    /// What to sign.
    pub signing: Signing,
    /// Assertion ID (default random).
    pub assertion_id: Option<String>,
    /// Response Version (default 2.0).
    pub version: String,
}

fn random_id() -> String {
    let mut bytes = [0u8; 16];
    let _ = SystemRandom::new().fill(&mut bytes);
    let mut id = String::from("_");
    for b in bytes {
        let _ = write!(id, "{b:02x}");
    }
    id
}

fn fmt_time(at: SystemTime) -> String {
    let at = time::OffsetDateTime::from(at);
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn escape(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl ResponseSpec {
    /// A valid response for this SP, issued at `now`: assertion signed, five minutes valid,
    /// NameID `alice@acme.example` in emailAddress format.
    pub fn new(sp_entity_id: &str, acs_url: &str, now: SystemTime) -> Self {
        ResponseSpec {
            audience: Some(sp_entity_id.to_owned()),
            destination: Some(acs_url.to_owned()),
            recipient: Some(acs_url.to_owned()),
            in_response_to: None,
            name_id: "alice@acme.example".to_owned(),
            name_id_format: Some(EMAIL_FORMAT.to_owned()),
            attributes: Vec::new(),
            issue_instant: now,
            not_before: Some(now.checked_sub(Duration::from_secs(30)).unwrap_or(now)),
            not_on_or_after: Some(now + Duration::from_secs(300)),
            confirmation_not_on_or_after: Some(now + Duration::from_secs(300)),
            session_not_on_or_after: Some(now + Duration::from_secs(8 * 3600)),
            confirmation_method: "urn:oasis:names:tc:SAML:2.0:cm:bearer".to_owned(),
            status: SUCCESS.to_owned(),
            status_detail: None,
            issuer: None,
            authn_statement: true,
            conditions: true,
            signing: Signing::Assertion,
            assertion_id: None,
            version: "2.0".to_owned(),
        }
    }

    /// Answers this AuthnRequest ID.
    #[must_use]
    pub fn in_response_to(mut self, id: &str) -> Self {
        self.in_response_to = Some(id.to_owned());
        self
    }

    /// The NameID text.
    #[must_use]
    pub fn name_id(mut self, value: &str) -> Self {
        self.name_id = value.to_owned();
        self
    }

    /// Adds an attribute.
    #[must_use]
    pub fn attribute<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        name: &str,
        values: I,
    ) -> Self {
        self.attributes.push((
            name.to_owned(),
            values.into_iter().map(Into::into).collect(),
        ));
        self
    }

    /// Sets Conditions NotOnOrAfter.
    #[must_use]
    pub fn conditions_not_on_or_after(mut self, at: SystemTime) -> Self {
        self.not_on_or_after = Some(at);
        self
    }

    /// What to sign.
    #[must_use]
    pub fn signing(mut self, signing: Signing) -> Self {
        self.signing = signing;
        self
    }
}

/// A SAML IdP with its own signing key.
#[derive(Debug)]
pub struct TestIdp {
    entity_id: String,
    key: SigningKey,
    keys: TrustedKeys,
    public_pem: String,
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// DER prefix of a P-256 SubjectPublicKeyInfo, before the 65-byte uncompressed point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

impl TestIdp {
    /// A new IdP with a fresh ECDSA P-256 key (trusted as a bare public key).
    pub fn generate(entity_id: &str) -> Result<Self, TestIdpError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| TestIdpError("key generation failed".into()))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| TestIdpError("key generation failed".into()))?;
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(pair.public_key().as_ref());
        let public_pem = pem("PUBLIC KEY", &spki);
        Self::from_pem(
            entity_id,
            pem("PRIVATE KEY", pkcs8.as_ref()).as_bytes(),
            public_pem.as_bytes(),
        )
    }

    /// An IdP with a given private key (PEM) and its certificate or public key (PEM).
    pub fn from_pem(
        entity_id: &str,
        key_pem: &[u8],
        public_pem: &[u8],
    ) -> Result<Self, TestIdpError> {
        let key = SigningKey::from_pem(key_pem).map_err(|e| TestIdpError(e.to_string()))?;
        let keys = TrustedKeys::from_pem(public_pem).map_err(|e| TestIdpError(e.to_string()))?;
        Ok(TestIdp {
            entity_id: entity_id.to_owned(),
            key,
            keys,
            public_pem: String::from_utf8_lossy(public_pem).into_owned(),
        })
    }

    /// The IdP entity ID.
    pub fn entity_id(&self) -> &str {
        &self.entity_id
    }

    /// The keys an SP must trust for this IdP.
    pub fn trusted_keys(&self) -> TrustedKeys {
        self.keys.clone()
    }

    /// The certificate or public key, PEM.
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }

    /// The assertion XML (unsigned) for `spec`.
    pub fn assertion_xml(&self, spec: &ResponseSpec, assertion_id: &str) -> String {
        let issuer = spec
            .issuer
            .clone()
            .unwrap_or_else(|| self.entity_id.clone());
        let mut a = format!(
            "<saml:Assertion xmlns:saml=\"{SAML}\" ID=\"{assertion_id}\" Version=\"2.0\" IssueInstant=\"{}\"><saml:Issuer>{}</saml:Issuer><saml:Subject><saml:NameID",
            fmt_time(spec.issue_instant),
            escape(&issuer)
        );
        if let Some(format) = &spec.name_id_format {
            let _ = write!(a, " Format=\"{}\"", escape(format));
        }
        let _ = write!(
            a,
            ">{}</saml:NameID><saml:SubjectConfirmation Method=\"{}\"><saml:SubjectConfirmationData",
            escape(&spec.name_id),
            escape(&spec.confirmation_method)
        );
        if let Some(at) = spec.confirmation_not_on_or_after {
            let _ = write!(a, " NotOnOrAfter=\"{}\"", fmt_time(at));
        }
        if let Some(r) = &spec.recipient {
            let _ = write!(a, " Recipient=\"{}\"", escape(r));
        }
        if let Some(irt) = &spec.in_response_to {
            let _ = write!(a, " InResponseTo=\"{}\"", escape(irt));
        }
        a.push_str("/></saml:SubjectConfirmation></saml:Subject>");
        if spec.conditions {
            a.push_str("<saml:Conditions");
            if let Some(at) = spec.not_before {
                let _ = write!(a, " NotBefore=\"{}\"", fmt_time(at));
            }
            if let Some(at) = spec.not_on_or_after {
                let _ = write!(a, " NotOnOrAfter=\"{}\"", fmt_time(at));
            }
            a.push('>');
            if let Some(aud) = &spec.audience {
                let _ = write!(
                    a,
                    "<saml:AudienceRestriction><saml:Audience>{}</saml:Audience></saml:AudienceRestriction>",
                    escape(aud)
                );
            }
            a.push_str("</saml:Conditions>");
        }
        if spec.authn_statement {
            let _ = write!(
                a,
                "<saml:AuthnStatement AuthnInstant=\"{}\" SessionIndex=\"{assertion_id}\"",
                fmt_time(spec.issue_instant)
            );
            if let Some(at) = spec.session_not_on_or_after {
                let _ = write!(a, " SessionNotOnOrAfter=\"{}\"", fmt_time(at));
            }
            a.push_str("><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>");
        }
        if !spec.attributes.is_empty() {
            a.push_str("<saml:AttributeStatement>");
            for (name, values) in &spec.attributes {
                let _ = write!(a, "<saml:Attribute Name=\"{}\">", escape(name));
                for v in values {
                    let _ = write!(
                        a,
                        "<saml:AttributeValue>{}</saml:AttributeValue>",
                        escape(v)
                    );
                }
                a.push_str("</saml:Attribute>");
            }
            a.push_str("</saml:AttributeStatement>");
        }
        a.push_str("</saml:Assertion>");
        a
    }

    /// Wraps an assertion (signed or not, or an EncryptedAssertion) into a Response.
    pub fn wrap_response(&self, spec: &ResponseSpec, response_id: &str, assertion: &str) -> String {
        let issuer = spec
            .issuer
            .clone()
            .unwrap_or_else(|| self.entity_id.clone());
        let mut r = format!(
            "<samlp:Response xmlns:samlp=\"{SAMLP}\" xmlns:saml=\"{SAML}\" ID=\"{response_id}\" Version=\"{}\" IssueInstant=\"{}\"",
            escape(&spec.version),
            fmt_time(spec.issue_instant)
        );
        if let Some(d) = &spec.destination {
            let _ = write!(r, " Destination=\"{}\"", escape(d));
        }
        if let Some(irt) = &spec.in_response_to {
            let _ = write!(r, " InResponseTo=\"{}\"", escape(irt));
        }
        let _ = write!(
            r,
            "><saml:Issuer>{}</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"{}\"",
            escape(&issuer),
            escape(&spec.status)
        );
        match &spec.status_detail {
            Some((second, message)) => {
                let _ = write!(
                    r,
                    "><samlp:StatusCode Value=\"{}\"/></samlp:StatusCode><samlp:StatusMessage>{}</samlp:StatusMessage>",
                    escape(second),
                    escape(message)
                );
            }
            None => r.push_str("/>"),
        }
        r.push_str("</samlp:Status>");
        if spec.status == SUCCESS {
            r.push_str(assertion);
        }
        r.push_str("</samlp:Response>");
        r
    }

    /// Signs the element with `id` in `xml` (enveloped, after its Issuer).
    pub fn sign(&self, xml: &str, id: &str) -> Result<String, TestIdpError> {
        sign_enveloped(
            xml.as_bytes(),
            id,
            &self.key,
            &Placement::after_saml_issuer(),
        )
        .map_err(|e| TestIdpError(e.to_string()))
    }

    /// The Response XML for `spec`, signed as `spec.signing` says.
    pub fn response(&self, spec: &ResponseSpec) -> Result<String, TestIdpError> {
        let assertion_id = spec.assertion_id.clone().unwrap_or_else(random_id);
        let mut assertion = self.assertion_xml(spec, &assertion_id);
        if matches!(spec.signing, Signing::Assertion | Signing::Both) {
            assertion = self.sign(&assertion, &assertion_id)?;
        }
        let response_id = random_id();
        let response = self.wrap_response(spec, &response_id, strip_declaration(&assertion));
        if matches!(spec.signing, Signing::Response | Signing::Both) {
            return self.sign(&response, &response_id);
        }
        Ok(response)
    }

    /// An IdP-initiated LogoutRequest to `destination` (the SP's SLO URL) ending the session
    /// `session_index` of `name_id` (an emailAddress NameID), signed, base64-encoded for the
    /// HTTP-POST binding. Returns the request's id and the form value.
    pub fn logout_request_base64(
        &self,
        destination: &str,
        name_id: &str,
        session_index: Option<&str>,
        now: SystemTime,
    ) -> Result<(String, String), TestIdpError> {
        let id = random_id();
        let index = session_index
            .map(|i| format!("<samlp:SessionIndex>{}</samlp:SessionIndex>", escape(i)))
            .unwrap_or_default();
        let xml = format!(
            "<samlp:LogoutRequest xmlns:samlp=\"{SAMLP}\" xmlns:saml=\"{SAML}\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{}\" NotOnOrAfter=\"{}\"><saml:Issuer>{}</saml:Issuer><saml:NameID Format=\"{EMAIL_FORMAT}\">{}</saml:NameID>{index}</samlp:LogoutRequest>",
            fmt_time(now),
            escape(destination),
            fmt_time(now + Duration::from_secs(300)),
            escape(&self.entity_id),
            escape(name_id),
        );
        let signed = self.sign(&xml, &id)?;
        Ok((id, base64::engine::general_purpose::STANDARD.encode(signed)))
    }

    /// A Success LogoutResponse to `destination` answering the SP's LogoutRequest
    /// `in_response_to`, signed, base64-encoded for the HTTP-POST binding.
    pub fn logout_response_base64(
        &self,
        destination: &str,
        in_response_to: &str,
        now: SystemTime,
    ) -> Result<String, TestIdpError> {
        let id = random_id();
        let xml = format!(
            "<samlp:LogoutResponse xmlns:samlp=\"{SAMLP}\" xmlns:saml=\"{SAML}\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{}\" InResponseTo=\"{}\"><saml:Issuer>{}</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"{SUCCESS}\"/></samlp:Status></samlp:LogoutResponse>",
            fmt_time(now),
            escape(destination),
            escape(in_response_to),
            escape(&self.entity_id),
        );
        let signed = self.sign(&xml, &id)?;
        Ok(base64::engine::general_purpose::STANDARD.encode(signed))
    }

    /// The Response base64-encoded, as the POST binding carries it.
    pub fn response_base64(&self, spec: &ResponseSpec) -> Result<String, TestIdpError> {
        Ok(base64::engine::general_purpose::STANDARD.encode(self.response(spec)?))
    }
}

fn strip_declaration(xml: &str) -> &str {
    match xml.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map(|(_, r)| r.trim_start())
            .unwrap_or(xml),
        None => xml,
    }
}

/// Signature-wrapping attack generators over a signed Response (assertion signed). Each
/// returns a document in which a forged assertion naming `victim` sits next to (or around)
/// the signed one; a correct SP refuses every one.
pub mod attacks {
    /// The forged assertion (unsigned) with `id` and the victim's NameID.
    fn forged(signed_assertion: &str, victim: &str, id: &str) -> String {
        let mut forged = signed_assertion.to_owned();
        if let (Some(start), Some(end)) = (
            forged.find("<saml:Signature"),
            forged.find("</ds:Signature>"),
        ) {
            forged.replace_range(start..end + "</ds:Signature>".len(), "");
        } else if let (Some(start), Some(end)) =
            (forged.find("<ds:Signature"), forged.find("</ds:Signature>"))
        {
            forged.replace_range(start..end + "</ds:Signature>".len(), "");
        }
        if let (Some(s), Some(e)) = (forged.find("<saml:NameID"), forged.find("</saml:NameID>"))
            && let Some(gt) = forged.get(s..e).and_then(|x| x.find('>'))
        {
            forged.replace_range(s + gt + 1..e, victim);
        }
        if let Some(p) = forged.find(" ID=\"")
            && let Some(q) = forged.get(p + 5..).and_then(|x| x.find('"'))
        {
            forged.replace_range(p + 5..p + 5 + q, id);
        }
        forged
    }

    fn signed_assertion(response: &str) -> Option<(usize, usize)> {
        let start = response.find("<saml:Assertion")?;
        let end = response.find("</saml:Assertion>")? + "</saml:Assertion>".len();
        Some((start, end))
    }

    /// Every wrapping variant, by name: the forged assertion before, after, around or
    /// inside the signed one; the signed one moved into the forged one's Signature/Object or
    /// an Extensions element; and a forged one with the signed one's ID (duplicate ID).
    pub fn wrapping_variants(response: &str, victim: &str) -> Vec<(&'static str, String)> {
        let Some((start, end)) = signed_assertion(response) else {
            return Vec::new();
        };
        let signed = response.get(start..end).unwrap_or_default();
        let (before, after) = (
            response.get(..start).unwrap_or_default(),
            response.get(end..).unwrap_or_default(),
        );
        let forged = forged(signed, victim, "_forged");
        let same_id = {
            let id = signed
                .split(" ID=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or_default();
            super::attacks_same_id(&forged, id)
        };
        let wrap_in = |inner: &str| {
            let close = forged.rfind("</saml:Assertion>").unwrap_or(forged.len());
            format!(
                "{}{}{}",
                forged.get(..close).unwrap_or_default(),
                inner,
                forged.get(close..).unwrap_or_default()
            )
        };
        vec![
            ("forged_before", format!("{before}{forged}{signed}{after}")),
            ("forged_after", format!("{before}{signed}{forged}{after}")),
            (
                "signed_inside_forged",
                format!("{before}{}{after}", wrap_in(signed)),
            ),
            (
                "signed_in_object",
                format!(
                    "{before}{}{after}",
                    wrap_in(&format!(
                        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:Object>{signed}</ds:Object></ds:Signature>"
                    ))
                ),
            ),
            (
                "signed_in_extensions",
                format!("{before}<samlp:Extensions>{signed}</samlp:Extensions>{forged}{after}"),
            ),
            ("duplicate_id", format!("{before}{same_id}{signed}{after}")),
            (
                "forged_replaces_signed_content",
                format!(
                    "{before}{}{after}",
                    signed.replace(&name_id_of(signed), victim)
                ),
            ),
        ]
    }

    fn name_id_of(assertion: &str) -> String {
        assertion
            .split("<saml:NameID")
            .nth(1)
            .and_then(|r| r.split_once('>'))
            .and_then(|(_, r)| r.split("</saml:NameID>").next())
            .unwrap_or_default()
            .to_owned()
    }
}

fn attacks_same_id(forged: &str, id: &str) -> String {
    forged.replacen("ID=\"_forged\"", &format!("ID=\"{id}\""), 1)
}
