//! Response validation, SAML 2.0 Web Browser SSO profile (profiles §4.1.4.3, core §2-3).
//!
//! Every check is its own function with its own error, and [`ServiceProvider::diagnose`]
//! runs the same functions in the same order, recording each result instead of stopping at
//! the first failure. Content of the assertion is only ever read through the element that
//! XML-DSig verification handed back (or a subtree of a verified Response), so the checker
//! and the reader cannot look at different nodes.

use std::time::{Duration, SystemTime};

use base64::Engine;
use jsm_sso_core::CodedError;
use jsm_sso_core::email::Email;
use jsm_sso_core::identity::{IdpSession, Protocol, Subject, VerifiedIdentity};
use jsm_sso_xmldsig::{Document, Element, Limits};

use crate::attributes::{Attributes, NAME_ID_EMAIL};
use crate::config::{IdentityProvider, ServiceProvider, SignaturePolicy};
use crate::error::Error;
use crate::ns::{BEARER, DS, SAML, SAMLP, STATUS_SUCCESS};
use crate::time;

/// What the response is expected to answer.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// The time of validation.
    pub now: SystemTime,
    /// The ID of the AuthnRequest this response must answer; `None` for IdP-initiated
    /// sign-in (accepted only when the SP allows it).
    pub request_id: Option<&'a str>,
}

/// A SAML `NameID` with its qualifiers (needed again for Single Logout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameId {
    /// The full text of the NameID.
    pub value: String,
    /// Its `Format`, if given.
    pub format: Option<String>,
    /// Its `NameQualifier`, if given.
    pub name_qualifier: Option<String>,
    /// Its `SPNameQualifier`, if given.
    pub sp_name_qualifier: Option<String>,
}

/// Facts about one trusted signature that covered the assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureSummary {
    /// `Response` or `Assertion`.
    pub element: &'static str,
    /// The signature algorithm's short name (`rsa-sha256`).
    pub algorithm: &'static str,
    /// Fingerprint of the trusted key that verified it.
    pub key_fingerprint: String,
}

/// A successfully validated sign-in.
#[derive(Debug, Clone)]
pub struct Login {
    /// The identity for policy, provisioning and audit.
    pub identity: VerifiedIdentity,
    /// The IdP entity ID that issued it.
    pub issuer: String,
    /// The subject as the IdP named it.
    pub name_id: NameId,
    /// The assertion's ID (recorded in the replay cache).
    pub assertion_id: String,
    /// The Response's ID.
    pub response_id: String,
    /// The request this answered (`None` for IdP-initiated).
    pub in_response_to: Option<String>,
    /// `AuthnStatement/@SessionIndex`, for Single Logout.
    pub session_index: Option<String>,
    /// Until when the assertion could be presented: the replay-cache entry must live this
    /// long (the earliest `NotOnOrAfter`, plus the clock skew).
    pub not_on_or_after: SystemTime,
    /// All attributes by name.
    pub attributes: Attributes,
    /// The signatures that covered the assertion.
    pub signatures: Vec<SignatureSummary>,
    /// Whether the assertion arrived encrypted.
    pub was_encrypted: bool,
}

/// One check of [`ServiceProvider::diagnose`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked (`destination`, `signature`, `audience`, ...).
    pub name: &'static str,
    /// Whether it passed.
    pub passed: bool,
    /// On failure: the error code.
    pub code: Option<&'static str>,
    /// What was found (on failure, the error message).
    pub detail: String,
    /// On failure: what to change.
    pub hint: Option<&'static str>,
}

/// The result of [`ServiceProvider::diagnose`]: every check, in order.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    /// Each check with its outcome.
    pub checks: Vec<Check>,
    /// The sign-in, when every check passed.
    pub login: Option<Login>,
}

impl Diagnosis {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

/// Strict mode stops at the first failure; diagnose mode records and goes on where it can.
struct Checks {
    report: Option<Vec<Check>>,
}

impl Checks {
    fn diagnosing(&self) -> bool {
        self.report.is_some()
    }

    fn pass(&mut self, name: &'static str, detail: impl FnOnce() -> String) {
        if let Some(list) = &mut self.report {
            list.push(Check {
                name,
                passed: true,
                code: None,
                detail: detail(),
                hint: None,
            });
        }
    }

    fn fail(&mut self, name: &'static str, error: &Error) {
        if let Some(list) = &mut self.report {
            list.push(Check {
                name,
                passed: false,
                code: Some(error.code()),
                detail: error.to_string(),
                hint: Some(error.hint()),
            });
        }
    }

    /// A check later checks do not depend on: in diagnose mode a failure is recorded and
    /// validation goes on.
    fn soft(&mut self, name: &'static str, result: Result<String, Error>) -> Result<(), Error> {
        match result {
            Ok(detail) => {
                self.pass(name, || detail);
                Ok(())
            }
            Err(error) if self.diagnosing() => {
                self.fail(name, &error);
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    /// A check whose value later checks use, but for which a stand-in will do: in diagnose
    /// mode a failure is recorded and `fallback` is used so validation goes on.
    fn recoverable<T>(
        &mut self,
        name: &'static str,
        result: Result<T, Error>,
        detail: impl FnOnce(&T) -> String,
        fallback: T,
    ) -> Result<T, Error> {
        match self.hard(name, result, detail) {
            Err(_) if self.diagnosing() => Ok(fallback),
            other => other,
        }
    }

    /// A check that later checks need: a failure ends validation in both modes.
    fn hard<T>(
        &mut self,
        name: &'static str,
        result: Result<T, Error>,
        detail: impl FnOnce(&T) -> String,
    ) -> Result<T, Error> {
        match result {
            Ok(value) => {
                self.pass(name, || detail(&value));
                Ok(value)
            }
            Err(error) => {
                self.fail(name, &error);
                Err(error)
            }
        }
    }
}

/// Decodes the `SAMLResponse` form value: base64, line breaks and spaces allowed.
pub(crate) fn decode_base64(
    value: &str,
    what: &'static str,
    limit: usize,
) -> Result<Vec<u8>, Error> {
    // Line breaks are common (IdPs wrap at 76 columns); copy only when there are some.
    let bytes = value.as_bytes();
    let compact: std::borrow::Cow<'_, [u8]> = if bytes.iter().any(u8::is_ascii_whitespace) {
        bytes
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect::<Vec<u8>>()
            .into()
    } else {
        bytes.into()
    };
    // 4 base64 characters carry 3 bytes: refuse before decoding what cannot fit.
    if compact.len() / 4 * 3 > limit {
        return Err(Error::TooLarge {
            what,
            size: compact.len() / 4 * 3,
            limit,
        });
    }
    base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .map_err(|_| Error::Base64 { what })
}

/// The unverified `Issuer` of a Response, to pick which configured IdP validates it. Nothing
/// else may be read before verification.
pub fn peek_issuer(xml: &[u8], limit: usize) -> Result<String, Error> {
    let doc = Document::parse(xml, &Limits::default().with_max_bytes(limit))?;
    let root = doc.root();
    let issuer = root
        .child(SAML, "Issuer")
        .or_else(|| {
            root.child(SAML, "Assertion")
                .and_then(|a| a.child(SAML, "Issuer"))
        })
        .map(|i| i.text().trim().to_owned());
    issuer.ok_or_else(|| Error::malformed("Response", "no Issuer to tell which IdP sent it"))
}

fn required_attr<'d>(
    element: Element<'d>,
    name: &'static str,
    what: &'static str,
) -> Result<&'d str, Error> {
    element
        .attribute(name)
        .ok_or_else(|| Error::malformed(what, format!("{what} has no {name} attribute")))
}

fn check_version(element: Element<'_>, what: &'static str) -> Result<(), Error> {
    match element.attribute("Version") {
        Some("2.0") => Ok(()),
        other => Err(Error::Version {
            element: what,
            actual: other.unwrap_or_default().to_owned(),
        }),
    }
}

/// Verifies the enveloped signature of `element` (`what`: `Response` or `Assertion`) against
/// the IdP's keys and records the check. `Some(verified view)` on success; on failure the
/// error in strict mode, `None` in diagnose mode (later checks then read the unverified
/// element, and the report says the signature failed).
fn verify_signature<'d>(
    checks: &mut Checks,
    idp: &IdentityProvider,
    element: Element<'d>,
    what: &'static str,
    signatures: &mut Vec<SignatureSummary>,
    now: SystemTime,
) -> Result<Option<Element<'d>>, Error> {
    let check = if what == "Response" {
        "response_signature"
    } else {
        "assertion_signature"
    };
    match idp.verifier(now).verify_enveloped(element) {
        Ok(verified) => {
            let info = verified.info();
            signatures.push(SignatureSummary {
                element: what,
                algorithm: info.signature_method.name(),
                key_fingerprint: info.key_fingerprint.clone(),
            });
            checks.pass(check, || {
                format!(
                    "{} by key sha256:{}",
                    info.signature_method.name(),
                    info.key_fingerprint
                )
            });
            Ok(Some(verified.element()))
        }
        Err(source) => {
            let error = Error::Signature {
                element: what,
                tried: tried_keys(idp),
                source,
            };
            checks.fail(check, &error);
            if checks.diagnosing() {
                Ok(None)
            } else {
                Err(error)
            }
        }
    }
}

pub(crate) fn tried_keys(idp: &IdentityProvider) -> String {
    let prints: Vec<String> = idp
        .keys
        .iter()
        .map(|k| {
            let f = k.fingerprint();
            format!("sha256:{}", f.get(..16).unwrap_or(&f))
        })
        .collect();
    format!("trusted keys tried: {}", prints.join(", "))
}

fn skew_secs(skew: Duration) -> u64 {
    skew.as_secs()
}

/// `Status`: Success, or the codes and message as an error.
fn check_status(response: Element<'_>) -> Result<String, Error> {
    let status = response
        .child(SAMLP, "Status")
        .ok_or_else(|| Error::malformed("Response", "no Status"))?;
    let code = status
        .child(SAMLP, "StatusCode")
        .ok_or_else(|| Error::malformed("Response", "Status has no StatusCode"))?;
    let value = code.attribute("Value").unwrap_or_default();
    if value == STATUS_SUCCESS {
        return Ok(value.to_owned());
    }
    Err(Error::Status {
        status: value.to_owned(),
        second: code
            .child(SAMLP, "StatusCode")
            .and_then(|c| c.attribute("Value"))
            .map(str::to_owned),
        message: status
            .child(SAMLP, "StatusMessage")
            .map(|m| m.text().trim().chars().take(512).collect()),
    })
}

fn check_issuer(
    element: Element<'_>,
    what: &'static str,
    idp: &IdentityProvider,
    required: bool,
) -> Result<String, Error> {
    match element.child(SAML, "Issuer") {
        None if required => Err(Error::IssuerMissing {
            element: what,
            expected: idp.entity_id.clone(),
        }),
        None => Ok("absent (optional on the Response)".to_owned()),
        Some(issuer) => {
            let actual = issuer.text();
            let actual = actual.trim();
            if actual == idp.entity_id {
                Ok(actual.to_owned())
            } else {
                Err(Error::IssuerMismatch {
                    element: what,
                    expected: idp.entity_id.clone(),
                    actual: actual.to_owned(),
                })
            }
        }
    }
}

fn check_in_response_to(
    element: &'static str,
    actual: Option<&str>,
    expected: Option<&str>,
    allow_unsolicited: bool,
) -> Result<String, Error> {
    match (expected, actual) {
        (Some(expected), Some(actual)) if actual == expected => Ok(actual.to_owned()),
        (Some(expected), actual) => Err(Error::InResponseToMismatch {
            element,
            expected: expected.to_owned(),
            actual: actual.unwrap_or_default().to_owned(),
        }),
        // It answers a request we have no record of: not unsolicited, and not ours.
        (None, Some(actual)) => Err(Error::Unsolicited {
            in_response_to: Some(actual.to_owned()),
        }),
        (None, None) if allow_unsolicited => Ok("none (IdP-initiated, allowed)".to_owned()),
        (None, None) => Err(Error::Unsolicited {
            in_response_to: None,
        }),
    }
}

/// The assertion after decryption (if any): either an element of the response document, or
/// the root of a document of its own.
enum AssertionSource<'d> {
    InResponse(Element<'d>),
    Decrypted(Document),
}

impl ServiceProvider {
    /// Validates a Response (raw XML) from `idp` completely and returns the sign-in.
    ///
    /// Replay protection needs the [`ReplayCache`](jsm_sso_core::ReplayCache) seam and is
    /// done by [`ServiceProvider::finish_login`]; callers of this method directly must record
    /// [`Login::assertion_id`] until [`Login::not_on_or_after`] themselves.
    ///
    /// # Errors
    /// One [`Error`] per failed check; [`CodedError::code`] names it.
    pub fn validate_response(
        &self,
        idp: &IdentityProvider,
        xml: &[u8],
        expect: Expect<'_>,
    ) -> Result<Login, Error> {
        let mut checks = Checks { report: None };
        self.run_checks(idp, xml, expect, &mut checks)
    }

    /// Decodes the base64 `SAMLResponse` form value and validates it.
    pub fn validate_post(
        &self,
        idp: &IdentityProvider,
        saml_response: &str,
        expect: Expect<'_>,
    ) -> Result<Login, Error> {
        let xml = decode_base64(saml_response, "SAMLResponse", self.config.max_message_bytes)?;
        self.validate_response(idp, &xml, expect)
    }

    /// Runs every check on a Response and reports each, for the person fixing an IdP set-up:
    /// it does not stop at the first failure where later checks can still be made (after a
    /// failed signature, the remaining checks read the unverified assertion and say so).
    pub fn diagnose(&self, idp: &IdentityProvider, xml: &[u8], expect: Expect<'_>) -> Diagnosis {
        let mut checks = Checks {
            report: Some(Vec::new()),
        };
        let result = self.run_checks(idp, xml, expect, &mut checks);
        let list = checks.report.unwrap_or_default();
        let login = match result {
            Ok(login) if list.iter().all(|c| c.passed) => Some(login),
            _ => None,
        };
        Diagnosis {
            checks: list,
            login,
        }
    }

    fn run_checks(
        &self,
        idp: &IdentityProvider,
        xml: &[u8],
        expect: Expect<'_>,
        checks: &mut Checks,
    ) -> Result<Login, Error> {
        let config = &self.config;
        let skew = config.clock_skew;
        let now = expect.now;
        let limits = Limits::default().with_max_bytes(config.max_message_bytes);
        let doc = checks.hard(
            "xml",
            Document::parse(xml, &limits).map_err(Error::from),
            |_| format!("{} bytes of well-formed XML, no DTD", xml.len()),
        )?;
        let root = doc.root();
        checks.hard(
            "response",
            if root.is(SAMLP, "Response") {
                check_version(root, "Response")
                    .and_then(|()| required_attr(root, "ID", "Response").map(|_| ()))
                    .and_then(|()| {
                        time::parse(
                            "IssueInstant",
                            required_attr(root, "IssueInstant", "Response")?,
                        )
                        .map(|_| ())
                    })
            } else {
                Err(Error::malformed(
                    "Response",
                    format!(
                        "root element is {:?}, not samlp:Response",
                        root.local_name()
                    ),
                ))
            },
            |()| "samlp:Response, Version 2.0".to_owned(),
        )?;
        let response_id = root.attribute("ID").unwrap_or_default().to_owned();

        // Signature on the Response, if any. Everything below reads from its verified view.
        let response_signed = root.child(DS, "Signature").is_some();
        let mut signatures = Vec::new();
        let verified_response = if response_signed {
            verify_signature(checks, idp, root, "Response", &mut signatures, now)?
        } else {
            None
        };
        let response = verified_response.unwrap_or(root);

        checks.soft(
            "destination",
            match response.attribute("Destination") {
                Some(dest) if config.acs_urls.iter().any(|acs| acs == dest) => Ok(dest.to_owned()),
                Some(dest) => Err(Error::DestinationMismatch {
                    expected: config.acs_urls.clone(),
                    actual: dest.to_owned(),
                }),
                None if response_signed => Err(Error::DestinationMissing {
                    expected: config.acs_urls.clone(),
                }),
                None => Ok("absent (allowed on an unsigned Response)".to_owned()),
            },
        )?;
        checks.soft(
            "response_issuer",
            check_issuer(response, "Response", idp, false),
        )?;
        checks.hard("status", check_status(response), Clone::clone)?;
        checks.soft(
            "response_in_response_to",
            match response.attribute("InResponseTo") {
                None => Ok("absent".to_owned()),
                actual => check_in_response_to(
                    "Response",
                    actual,
                    expect.request_id,
                    config.allow_unsolicited,
                ),
            },
        )?;

        // Exactly one assertion, plain or encrypted, directly in the (verified) Response.
        let plain: Vec<Element<'_>> = response.children_named(SAML, "Assertion").collect();
        let encrypted: Vec<Element<'_>> = response
            .children_named(SAML, "EncryptedAssertion")
            .collect();
        let source = checks.hard(
            "assertion_count",
            match (plain.as_slice(), encrypted.as_slice()) {
                ([one], []) => Ok(AssertionSource::InResponse(*one)),
                ([], [one]) => self.decrypt(*one),
                ([], []) => Err(Error::AssertionMissing),
                _ => Err(Error::AssertionMultiple {
                    count: plain.len() + encrypted.len(),
                }),
            },
            |s| match s {
                AssertionSource::InResponse(_) => "one Assertion".to_owned(),
                AssertionSource::Decrypted(_) => "one EncryptedAssertion, decrypted".to_owned(),
            },
        )?;
        let (assertion, was_encrypted) = match &source {
            AssertionSource::InResponse(a) => (*a, false),
            AssertionSource::Decrypted(d) => (decrypted_assertion(d)?, true),
        };

        // A signature on the assertion itself.
        let verified_assertion = if assertion.child(DS, "Signature").is_some() {
            verify_signature(checks, idp, assertion, "Assertion", &mut signatures, now)?
        } else {
            None
        };
        let assertion_verified = verified_assertion.is_some();
        let assertion = verified_assertion.unwrap_or(assertion);
        let covered = match config.signature_policy {
            SignaturePolicy::Assertion => assertion_verified,
            SignaturePolicy::AssertionOrResponse => {
                assertion_verified || verified_response.is_some()
            }
        };
        checks.recoverable(
            "signature_coverage",
            if covered {
                Ok(())
            } else {
                Err(Error::SignatureMissing {
                    detail: match (response_signed, assertion.child(DS, "Signature").is_some() || assertion_verified) {
                        (_, true) | (true, _) => "no signature covering the assertion verified".to_owned(),
                        (false, false) if config.signature_policy == SignaturePolicy::Assertion => {
                            "the assertion is not signed, and this SP requires a signature on the assertion itself".to_owned()
                        }
                        (false, false) => "neither the Response nor the Assertion is signed".to_owned(),
                    },
                })
            },
            |()| {
                let by: Vec<&str> = signatures.iter().map(|s| s.element).collect();
                format!("assertion covered by trusted signature on {}", by.join(" and "))
            },
            (),
        )?;

        // The assertion itself.
        checks.soft(
            "assertion",
            check_version(assertion, "Assertion")
                .and_then(|()| required_attr(assertion, "ID", "Assertion").map(|_| ()))
                .and_then(|()| {
                    time::parse(
                        "IssueInstant",
                        required_attr(assertion, "IssueInstant", "Assertion")?,
                    )
                    .map(|_| ())
                })
                .map(|()| "Version 2.0 with ID and IssueInstant".to_owned()),
        )?;
        let assertion_id = assertion.attribute("ID").unwrap_or_default().to_owned();
        let issuer = checks.hard(
            "assertion_issuer",
            check_issuer(assertion, "Assertion", idp, true),
            Clone::clone,
        )?;

        let name_id = checks.hard("subject", read_name_id(assertion), |n| {
            format!(
                "NameID {:?} ({})",
                n.value,
                n.format.as_deref().unwrap_or("no format")
            )
        })?;
        let confirmation_expiry = checks.recoverable(
            "subject_confirmation",
            self.check_subject_confirmation(assertion, expect),
            |at| {
                format!(
                    "bearer, Recipient an ACS URL, NotOnOrAfter {}",
                    time::format(*at)
                )
            },
            now,
        )?;

        let conditions = assertion.child(SAML, "Conditions");
        let conditions_expiry = checks.recoverable(
            "conditions_time",
            check_conditions_time(conditions, now, skew),
            |at| match at {
                Some(at) => format!("valid until {}", time::format(*at)),
                None => "no time limits".to_owned(),
            },
            None,
        )?;
        checks.soft("audience", check_audience(conditions, &config.entity_id))?;
        checks.soft("conditions_other", check_other_conditions(conditions))?;

        let authn = checks.hard(
            "authn_statement",
            read_authn_statement(assertion, now),
            |a| format!("AuthnInstant {}", time::format(a.instant)),
        )?;
        let attributes = checks.hard("attributes", Attributes::read(assertion), |a| {
            format!("{} attributes, each name once", a.iter().count())
        })?;

        let identity = build_identity(idp, &name_id, &attributes, &authn);
        checks.pass("identity", || {
            format!(
                "email {}, {} groups",
                identity
                    .email
                    .as_ref()
                    .map(|e| e.as_str().to_owned())
                    .unwrap_or_else(|| "none".into()),
                identity.groups.len()
            )
        });

        let mut not_on_or_after = confirmation_expiry;
        if let Some(at) = conditions_expiry {
            not_on_or_after = not_on_or_after.min(at);
        }
        Ok(Login {
            identity,
            issuer,
            name_id,
            assertion_id,
            response_id,
            in_response_to: expect.request_id.map(str::to_owned),
            session_index: authn.session_index,
            not_on_or_after: time::plus(not_on_or_after, skew),
            attributes,
            signatures,
            was_encrypted,
        })
    }

    fn decrypt(&self, encrypted: Element<'_>) -> Result<AssertionSource<'static>, Error> {
        if self.config.decryption_keys.is_empty() {
            return Err(Error::DecryptionKeyMissing);
        }
        let plaintext = crate::decrypt::decrypt_assertion(encrypted, &self.config.decryption_keys)?;
        // The plaintext may use prefixes declared on the Response; SAML assertions from real
        // IdPs declare their own, and the common `saml`/`saml2` ones are supplied here so that
        // those that do not still parse. Exclusive c14n ignores unused declarations, so the
        // wrapper never changes a digest.
        let mut wrapped = Vec::with_capacity(plaintext.len() + 256);
        wrapped.extend_from_slice(
            format!(
                "<w xmlns:saml=\"{SAML}\" xmlns:saml2=\"{SAML}\" xmlns:samlp=\"{SAMLP}\" xmlns:ds=\"{DS}\" xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"{}\">",
                crate::ns::XSI
            )
            .as_bytes(),
        );
        wrapped.extend_from_slice(strip_xml_declaration(&plaintext));
        wrapped.extend_from_slice(b"</w>");
        let limits =
            Limits::default().with_max_bytes(self.config.max_message_bytes.saturating_add(256));
        // AES-CBC is not authenticated: tampered ciphertext can decrypt to garbage that passes
        // the padding check. Telling "not XML" apart from "decryption failed" would recreate
        // the XML Encryption oracle (Jager & Somorovsky 2011), so both are the same error.
        Document::parse(&wrapped, &limits)
            .map(AssertionSource::Decrypted)
            .map_err(|_| Error::Decrypt(crate::decrypt::DecryptError::Failed))
    }

    /// Finds a bearer `SubjectConfirmation` that passes every check; returns its NotOnOrAfter.
    fn check_subject_confirmation(
        &self,
        assertion: Element<'_>,
        expect: Expect<'_>,
    ) -> Result<SystemTime, Error> {
        let config = &self.config;
        let skew = config.clock_skew;
        let subject = assertion
            .child(SAML, "Subject")
            .ok_or(Error::SubjectMissing { what: "Subject" })?;
        let mut first_error = None;
        let mut bearers = 0;
        for confirmation in subject.children_named(SAML, "SubjectConfirmation") {
            if confirmation.attribute("Method") != Some(BEARER) {
                continue;
            }
            bearers += 1;
            let result = (|| {
                let data = confirmation
                    .child(SAML, "SubjectConfirmationData")
                    .ok_or_else(|| Error::SubjectConfirmationMissing {
                        detail: "bearer confirmation without SubjectConfirmationData".into(),
                    })?;
                let recipient = data.attribute("Recipient").unwrap_or_default();
                if !config.acs_urls.iter().any(|acs| acs == recipient) {
                    return Err(Error::RecipientMismatch {
                        expected: config.acs_urls.clone(),
                        actual: recipient.to_owned(),
                    });
                }
                let not_on_or_after = match data.attribute("NotOnOrAfter") {
                    Some(v) => time::parse("NotOnOrAfter", v)?,
                    None => {
                        return Err(Error::SubjectConfirmationExpired {
                            not_on_or_after: "missing".into(),
                            now: time::format(expect.now),
                            skew_secs: skew_secs(skew),
                        });
                    }
                };
                if expect.now >= time::plus(not_on_or_after, skew) {
                    return Err(Error::SubjectConfirmationExpired {
                        not_on_or_after: time::format(not_on_or_after),
                        now: time::format(expect.now),
                        skew_secs: skew_secs(skew),
                    });
                }
                if let Some(v) = data.attribute("NotBefore") {
                    let not_before = time::parse("NotBefore", v)?;
                    if time::plus(expect.now, skew) < not_before {
                        return Err(Error::SubjectConfirmationNotYetValid {
                            not_before: time::format(not_before),
                            now: time::format(expect.now),
                            skew_secs: skew_secs(skew),
                        });
                    }
                }
                check_in_response_to(
                    "SubjectConfirmationData",
                    data.attribute("InResponseTo"),
                    expect.request_id,
                    config.allow_unsolicited,
                )?;
                Ok(not_on_or_after)
            })();
            match result {
                Ok(at) => return Ok(at),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(
            first_error.unwrap_or_else(|| Error::SubjectConfirmationMissing {
                detail: if bearers == 0 {
                    "no SubjectConfirmation with Method urn:oasis:names:tc:SAML:2.0:cm:bearer"
                        .into()
                } else {
                    "no bearer confirmation passed".into()
                },
            }),
        )
    }
}

fn strip_xml_declaration(bytes: &[u8]) -> &[u8] {
    let trimmed = bytes.trim_ascii_start();
    if trimmed.starts_with(b"<?xml")
        && let Some(end) = trimmed.windows(2).position(|w| w == b"?>")
    {
        return trimmed.get(end + 2..).unwrap_or_default();
    }
    trimmed
}

fn decrypted_assertion(doc: &Document) -> Result<Element<'_>, Error> {
    let wrapper = doc.root();
    let mut elements = wrapper.child_elements();
    match (elements.next(), elements.next()) {
        (Some(a), None) if a.is(SAML, "Assertion") => Ok(a),
        // The same single error as any decryption failure (no oracle, see above).
        _ => Err(Error::Decrypt(crate::decrypt::DecryptError::Failed)),
    }
}

fn read_name_id(assertion: Element<'_>) -> Result<NameId, Error> {
    let subject = assertion
        .child(SAML, "Subject")
        .ok_or(Error::SubjectMissing { what: "Subject" })?;
    if subject.child(SAML, "EncryptedID").is_some() {
        return Err(Error::NameIdEncrypted);
    }
    let name_id = subject
        .child(SAML, "NameID")
        .ok_or(Error::SubjectMissing { what: "NameID" })?;
    let value = name_id.text().trim().to_owned();
    if value.is_empty() {
        return Err(Error::SubjectMissing {
            what: "NameID value",
        });
    }
    Ok(NameId {
        value,
        format: name_id.attribute("Format").map(str::to_owned),
        name_qualifier: name_id.attribute("NameQualifier").map(str::to_owned),
        sp_name_qualifier: name_id.attribute("SPNameQualifier").map(str::to_owned),
    })
}

fn check_conditions_time(
    conditions: Option<Element<'_>>,
    now: SystemTime,
    skew: Duration,
) -> Result<Option<SystemTime>, Error> {
    let Some(conditions) = conditions else {
        return Ok(None);
    };
    if let Some(v) = conditions.attribute("NotBefore") {
        let not_before = time::parse("NotBefore", v)?;
        if time::plus(now, skew) < not_before {
            return Err(Error::NotYetValid {
                not_before: time::format(not_before),
                now: time::format(now),
                skew_secs: skew_secs(skew),
            });
        }
    }
    match conditions.attribute("NotOnOrAfter") {
        Some(v) => {
            let not_on_or_after = time::parse("NotOnOrAfter", v)?;
            if now >= time::plus(not_on_or_after, skew) {
                return Err(Error::Expired {
                    not_on_or_after: time::format(not_on_or_after),
                    now: time::format(now),
                    skew_secs: skew_secs(skew),
                });
            }
            Ok(Some(not_on_or_after))
        }
        None => Ok(None),
    }
}

/// Conditions other than the time window and audience: `OneTimeUse` is always honoured (every
/// assertion ID goes into the replay cache until it expires), `ProxyRestriction` concerns
/// only relying parties that issue assertions of their own; anything else is not understood,
/// which makes the assertion invalid (SAML core §2.5.1.5).
fn check_other_conditions(conditions: Option<Element<'_>>) -> Result<String, Error> {
    let Some(conditions) = conditions else {
        return Ok("none".to_owned());
    };
    let mut seen = Vec::new();
    for condition in conditions.child_elements() {
        let name = condition.local_name();
        let known = condition.namespace() == Some(SAML)
            && matches!(
                name,
                "AudienceRestriction" | "OneTimeUse" | "ProxyRestriction"
            );
        if !known {
            let namespace = condition.namespace().unwrap_or_default();
            let typed = condition
                .attribute_ns(crate::ns::XSI, "type")
                .map(|t| format!(" (xsi:type {t})"))
                .unwrap_or_default();
            return Err(Error::ConditionUnsupported {
                condition: format!("{{{namespace}}}{name}{typed}"),
            });
        }
        if name != "AudienceRestriction" && !seen.contains(&name) {
            seen.push(name);
        }
    }
    Ok(if seen.is_empty() {
        "none besides the time window and audience".to_owned()
    } else {
        format!("{} (honoured)", seen.join(", "))
    })
}

/// Every `AudienceRestriction` must name the SP (restrictions are conjunctive), and the
/// profile requires at least one.
fn check_audience(conditions: Option<Element<'_>>, entity_id: &str) -> Result<String, Error> {
    let missing = || Error::AudienceMissing {
        expected: entity_id.to_owned(),
    };
    let conditions = conditions.ok_or_else(missing)?;
    let mut restrictions = 0;
    for restriction in conditions.children_named(SAML, "AudienceRestriction") {
        restrictions += 1;
        let audiences: Vec<String> = restriction
            .children_named(SAML, "Audience")
            .map(|a| a.text().trim().to_owned())
            .collect();
        if !audiences.iter().any(|a| a == entity_id) {
            return Err(Error::AudienceMismatch {
                expected: entity_id.to_owned(),
                actual: audiences,
            });
        }
    }
    if restrictions == 0 {
        return Err(missing());
    }
    Ok(entity_id.to_owned())
}

struct Authn {
    instant: SystemTime,
    session_index: Option<String>,
    session_not_on_or_after: Option<SystemTime>,
}

fn read_authn_statement(assertion: Element<'_>, now: SystemTime) -> Result<Authn, Error> {
    let statement = assertion
        .child(SAML, "AuthnStatement")
        .ok_or(Error::AuthnStatementMissing)?;
    let instant = time::parse(
        "AuthnInstant",
        required_attr(statement, "AuthnInstant", "AuthnStatement")?,
    )?;
    let session_not_on_or_after = statement
        .attribute("SessionNotOnOrAfter")
        .map(|v| time::parse("SessionNotOnOrAfter", v))
        .transpose()?;
    if let Some(at) = session_not_on_or_after
        && now >= at
    {
        return Err(Error::SessionExpired {
            session_not_on_or_after: time::format(at),
            now: time::format(now),
        });
    }
    Ok(Authn {
        instant,
        session_index: statement.attribute("SessionIndex").map(str::to_owned),
        session_not_on_or_after,
    })
}

fn build_identity(
    idp: &IdentityProvider,
    name_id: &NameId,
    attributes: &Attributes,
    authn: &Authn,
) -> VerifiedIdentity {
    let profile = &idp.profile;
    let subject = match &name_id.format {
        Some(format) => Subject::with_format(name_id.value.clone(), format.clone()),
        None => Subject::new(name_id.value.clone()),
    };
    let mut identity =
        VerifiedIdentity::new(idp.id.clone(), Protocol::Saml2, subject, authn.instant);
    let from_name_id = (profile.email_from_name_id()
        && name_id.format.as_deref() == Some(NAME_ID_EMAIL))
    .then(|| name_id.value.parse::<Email>().ok())
    .flatten();
    let from_attribute = || {
        attributes
            .first_of(profile.email_attributes())
            .and_then(|a| a.values.iter().find_map(|v| v.parse::<Email>().ok()))
    };
    // A NameID without a stated format is only a fallback after the email attributes.
    let from_unspecified = || {
        let unspecified = matches!(
            name_id.format.as_deref(),
            None | Some("urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified")
        );
        (profile.email_from_unspecified_name_id() && unspecified)
            .then(|| name_id.value.parse::<Email>().ok())
            .flatten()
    };
    identity.email = from_name_id
        .or_else(from_attribute)
        .or_else(from_unspecified);
    identity.email_verified = identity.email.is_some() && profile.email_verified();
    if let Some(groups) = attributes.first_of(profile.group_attributes()) {
        let mut list: Vec<String> = groups
            .values
            .iter()
            .filter(|g| !g.is_empty())
            .cloned()
            .collect();
        list.sort();
        list.dedup();
        identity.groups = list;
    }
    identity.attributes = attributes.to_map();
    identity.session_expiry = authn.session_not_on_or_after;
    let mut idp_session = IdpSession::default();
    idp_session.index.clone_from(&authn.session_index);
    idp_session
        .name_qualifier
        .clone_from(&name_id.name_qualifier);
    idp_session
        .sp_name_qualifier
        .clone_from(&name_id.sp_name_qualifier);
    identity.idp_session = Some(idp_session);
    identity
}
