//! Single Logout: the SP's LogoutRequest out (Redirect and POST, signed), the IdP's
//! LogoutResponse in and an IdP-initiated LogoutRequest in, through both bindings; every
//! rejection with its code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers"
)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use jsm_sso_core::CodedError;
use jsm_sso_saml::binding::{MessageKind, RedirectMessage, redirect_url};
use jsm_sso_saml::{
    Endpoint, IdentityProvider, Inbound, NameId, ServiceProvider, ServiceProviderConfig, bindings,
};
use jsm_sso_xmldsig::{
    Document, Limits, Placement, SigningKey, TrustedKeys, Verifier, VerifyOptions, sign_enveloped,
};

const SP: &str = "https://portal.example.test/saml/metadata";
const ACS: &str = "https://portal.example.test/saml/acs";
const SLO: &str = "https://portal.example.test/saml/slo";
const IDP: &str = "https://idp.example.test/metadata";
const IDP_SLO: &str = "https://idp.example.test/slo";
const OUR_REQUEST: &str = "_sp_logout_0123456789";

const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

fn read(path: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/vectors/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// The IdP's signing key (the peerbench test IdP).
fn idp_key() -> SigningKey {
    SigningKey::from_pem(&read("peerbench/idp-rsa.key")).unwrap()
}

/// The SP's signing key (the decryption test key doubles as the SP's signing key here).
fn sp_key() -> SigningKey {
    SigningKey::from_pem(&read("decrypt/sp-rsa2048.key")).unwrap()
}

fn sp_keys() -> TrustedKeys {
    TrustedKeys::from_pem(&read("decrypt/sp-rsa2048.crt")).unwrap()
}

fn sp() -> ServiceProvider {
    let mut config = ServiceProviderConfig::new(SP, ACS);
    config.slo_url = Some(SLO.into());
    config.signing_key = Some(sp_key());
    ServiceProvider::new(config).unwrap()
}

fn idp(binding: &str) -> IdentityProvider {
    let mut idp = IdentityProvider::new(
        "acme-idp",
        IDP,
        TrustedKeys::from_pem(&read("peerbench/idp-rsa.crt")).unwrap(),
        Some("https://idp.example.test/sso".into()),
    )
    .unwrap();
    idp.slo.push(Endpoint {
        binding: binding.into(),
        location: IDP_SLO.into(),
        response_location: None,
    });
    idp
}

fn session() -> NameId {
    NameId {
        value: "alice@acme.example".into(),
        format: Some(EMAIL.into()),
        name_qualifier: None,
        sp_name_qualifier: None,
    }
}

fn time(at: SystemTime) -> String {
    time::OffsetDateTime::from(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// The parts of an IdP's logout message a test changes.
#[derive(Clone)]
struct Msg {
    id: &'static str,
    version: &'static str,
    destination: Option<&'static str>,
    issuer: Option<&'static str>,
    in_response_to: &'static str,
    status: &'static str,
    second_status: Option<&'static str>,
    message: Option<&'static str>,
    not_on_or_after: Option<SystemTime>,
    name_id: &'static str,
    session_indexes: Vec<&'static str>,
}

impl Default for Msg {
    fn default() -> Self {
        Msg {
            id: "_idp_msg_42",
            version: "2.0",
            destination: Some(SLO),
            issuer: Some(IDP),
            in_response_to: OUR_REQUEST,
            status: SUCCESS,
            second_status: None,
            message: None,
            not_on_or_after: Some(now() + Duration::from_secs(300)),
            name_id: "<saml:NameID Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\">alice@acme.example</saml:NameID>",
            session_indexes: vec!["_session_1"],
        }
    }
}

fn head(m: &Msg, element: &str) -> String {
    let mut xml = format!(
        "<samlp:{element} xmlns:samlp=\"{SAMLP}\" xmlns:saml=\"{SAML}\" ID=\"{}\" Version=\"{}\" IssueInstant=\"{}\"",
        m.id,
        m.version,
        time(now())
    );
    if let Some(d) = m.destination {
        xml.push_str(&format!(" Destination=\"{d}\""));
    }
    xml
}

fn issuer(m: &Msg) -> String {
    m.issuer
        .map(|i| format!("<saml:Issuer>{i}</saml:Issuer>"))
        .unwrap_or_default()
}

fn logout_response_xml(m: &Msg) -> String {
    let mut xml = head(m, "LogoutResponse");
    xml.push_str(&format!(
        " InResponseTo=\"{}\">{}",
        m.in_response_to,
        issuer(m)
    ));
    xml.push_str(&format!(
        "<samlp:Status><samlp:StatusCode Value=\"{}\"",
        m.status
    ));
    match m.second_status {
        Some(second) => xml.push_str(&format!(
            "><samlp:StatusCode Value=\"{second}\"/></samlp:StatusCode>"
        )),
        None => xml.push_str("/>"),
    }
    if let Some(message) = m.message {
        xml.push_str(&format!(
            "<samlp:StatusMessage>{message}</samlp:StatusMessage>"
        ));
    }
    xml.push_str("</samlp:Status></samlp:LogoutResponse>");
    xml
}

fn logout_request_xml(m: &Msg) -> String {
    let mut xml = head(m, "LogoutRequest");
    if let Some(at) = m.not_on_or_after {
        xml.push_str(&format!(" NotOnOrAfter=\"{}\"", time(at)));
    }
    xml.push_str(&format!(">{}{}", issuer(m), m.name_id));
    for index in &m.session_indexes {
        xml.push_str(&format!("<samlp:SessionIndex>{index}</samlp:SessionIndex>"));
    }
    xml.push_str("</samlp:LogoutRequest>");
    xml
}

/// The query string of an IdP Redirect-binding message, signed with `key` when given.
fn redirect(kind: MessageKind, xml: &str, key: Option<&SigningKey>) -> Inbound {
    let url = redirect_url(IDP_SLO, kind, xml, Some("rs-7"), key).unwrap();
    Inbound::Redirect(url.split_once('?').unwrap().1.to_owned())
}

/// An IdP POST-binding message, XML-signed with `key` when given.
fn post(xml: &str, id: &str, key: Option<&SigningKey>) -> Inbound {
    let xml = match key {
        Some(key) => {
            sign_enveloped(xml.as_bytes(), id, key, &Placement::after_saml_issuer()).unwrap()
        }
        None => xml.to_owned(),
    };
    Inbound::Post(base64::engine::general_purpose::STANDARD.encode(xml))
}

fn response_code(message: &Inbound, binding: &str) -> &'static str {
    match sp().validate_logout_response(&idp(binding), message, OUR_REQUEST, now()) {
        Ok(()) => "ok",
        Err(e) => e.code(),
    }
}

fn request_code(message: &Inbound, binding: &str) -> &'static str {
    match sp().validate_logout_request(&idp(binding), message, now()) {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

#[test]
fn sp_initiated_logout_request_redirect_is_signed_over_the_query() {
    let out = sp()
        .logout_request(
            &idp(bindings::REDIRECT),
            &session(),
            Some("_session_1"),
            Some("back-to-portal"),
            now(),
        )
        .unwrap();
    assert!(out.post_form.is_none());
    let url = out.redirect_url.unwrap();
    let (location, query) = url.split_once('?').unwrap();
    assert_eq!(location, IDP_SLO);
    // Order of the signed parameters as the bindings spec fixes it.
    let names: Vec<&str> = query
        .split('&')
        .map(|p| p.split_once('=').unwrap().0)
        .collect();
    assert_eq!(names, ["SAMLRequest", "RelayState", "SigAlg", "Signature"]);
    let message = RedirectMessage::from_query(query, 100_000).unwrap();
    assert_eq!(message.kind, MessageKind::Request);
    assert_eq!(message.relay_state.as_deref(), Some("back-to-portal"));
    // The IdP verifies it with the SP's certificate (from SP metadata).
    message.verify(&sp_keys(), false).unwrap();
    // And nothing else verifies it.
    let err = message
        .verify(
            &TrustedKeys::from_pem(&read("peerbench/idp-rsa.crt")).unwrap(),
            false,
        )
        .unwrap_err();
    assert_eq!(err.code(), "saml.signature.invalid");
    let xml = String::from_utf8(message.xml).unwrap();
    assert_eq!(xml, out.xml);
    let doc = Document::parse(xml.as_bytes(), &Limits::default()).unwrap();
    let root = doc.root();
    assert!(root.is(SAMLP, "LogoutRequest"));
    assert_eq!(root.attribute("ID"), Some(out.id.as_str()));
    assert_eq!(root.attribute("Destination"), Some(IDP_SLO));
    assert_eq!(root.attribute("Version"), Some("2.0"));
    assert!(root.attribute("NotOnOrAfter").is_some());
    assert_eq!(root.child(SAML, "Issuer").unwrap().text(), SP);
    let name_id = root.child(SAML, "NameID").unwrap();
    assert_eq!(name_id.text(), "alice@acme.example");
    assert_eq!(name_id.attribute("Format"), Some(EMAIL));
    assert_eq!(
        root.child(SAMLP, "SessionIndex").unwrap().text(),
        "_session_1"
    );
}

#[test]
fn sp_initiated_logout_request_post_is_xml_signed() {
    let out = sp()
        .logout_request(&idp(bindings::POST), &session(), None, None, now())
        .unwrap();
    assert!(out.redirect_url.is_none());
    let form = out.post_form.unwrap();
    assert_eq!(form.action, IDP_SLO);
    let (name, value) = &form.fields[0];
    assert_eq!(name, "SAMLRequest");
    let xml = base64::engine::general_purpose::STANDARD
        .decode(value)
        .unwrap();
    let doc = Document::parse(&xml, &Limits::default()).unwrap();
    let verified = Verifier::new(sp_keys(), VerifyOptions::default())
        .verify_enveloped(doc.root())
        .unwrap();
    assert_eq!(verified.info().reference_id, out.id);
    assert!(verified.element().child(SAMLP, "SessionIndex").is_none());
    // Without an SLO endpoint at the IdP there is nothing to send.
    let mut none = idp(bindings::POST);
    none.slo.clear();
    assert_eq!(
        sp().logout_request(&none, &session(), None, None, now())
            .unwrap_err()
            .code(),
        "saml.config"
    );
}

#[test]
fn logout_response_is_accepted_through_both_bindings() {
    let key = idp_key();
    let xml = logout_response_xml(&Msg::default());
    assert_eq!(
        response_code(
            &redirect(MessageKind::Response, &xml, Some(&key)),
            bindings::REDIRECT
        ),
        "ok"
    );
    assert_eq!(
        response_code(&post(&xml, "_idp_msg_42", Some(&key)), bindings::POST),
        "ok"
    );
    // A partial logout is still a Success at the top level.
    let partial = logout_response_xml(&Msg {
        second_status: Some("urn:oasis:names:tc:SAML:2.0:status:PartialLogout"),
        ..Msg::default()
    });
    assert_eq!(
        response_code(
            &redirect(MessageKind::Response, &partial, Some(&key)),
            bindings::REDIRECT
        ),
        "ok"
    );
    // Lower-case percent-encoding (ADFS, Entra) verifies: the raw query is what is signed.
    let Inbound::Redirect(query) = redirect(MessageKind::Response, &xml, None) else {
        unreachable!()
    };
    let lower = lower_case_escapes(&query);
    assert_ne!(lower, query);
    let signed_octets =
        lower.clone() + "&SigAlg=http%3a%2f%2fwww.w3.org%2f2001%2f04%2fxmldsig-more%23rsa-sha256";
    let signature = key.sign_detached(signed_octets.as_bytes()).unwrap();
    let full = format!(
        "{signed_octets}&Signature={}",
        lower_case_escapes(
            &url::form_urlencoded::byte_serialize(
                base64::engine::general_purpose::STANDARD
                    .encode(signature)
                    .as_bytes()
            )
            .collect::<String>()
        )
    );
    assert_eq!(
        response_code(&Inbound::Redirect(full), bindings::REDIRECT),
        "ok"
    );
}

fn lower_case_escapes(query: &str) -> String {
    let mut out = String::new();
    let mut rest = query;
    while let Some(p) = rest.find('%') {
        out.push_str(&rest[..p]);
        out.push('%');
        out.push_str(&rest[p + 1..p + 3].to_ascii_lowercase());
        rest = &rest[p + 3..];
    }
    out.push_str(rest);
    out
}

#[test]
fn logout_response_rejections_have_their_codes() {
    let key = idp_key();
    let other = SigningKey::from_pem(&read("decrypt/sp-rsa2048.key")).unwrap();
    let base = Msg::default();
    let cases: Vec<(&str, Msg)> = vec![
        (
            "saml.status.responder",
            Msg {
                status: "urn:oasis:names:tc:SAML:2.0:status:Responder",
                second_status: Some("urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal"),
                message: Some("no such session"),
                ..base.clone()
            },
        ),
        (
            "saml.status.requester",
            Msg {
                status: "urn:oasis:names:tc:SAML:2.0:status:Requester",
                ..base.clone()
            },
        ),
        (
            "saml.in_response_to.mismatch",
            Msg {
                in_response_to: "_someone_elses_logout",
                ..base.clone()
            },
        ),
        (
            "saml.destination.mismatch",
            Msg {
                destination: Some("https://evil.example/slo"),
                ..base.clone()
            },
        ),
        (
            "saml.destination.missing",
            Msg {
                destination: None,
                ..base.clone()
            },
        ),
        (
            "saml.issuer.mismatch",
            Msg {
                issuer: Some("https://other-idp.example/"),
                ..base.clone()
            },
        ),
        (
            "saml.message.version",
            Msg {
                version: "1.1",
                ..base.clone()
            },
        ),
    ];
    for (code, m) in &cases {
        let xml = logout_response_xml(m);
        assert_eq!(
            response_code(
                &redirect(MessageKind::Response, &xml, Some(&key)),
                bindings::REDIRECT
            ),
            *code,
            "redirect: {code}"
        );
        assert_eq!(
            response_code(&post(&xml, m.id, Some(&key)), bindings::POST),
            *code,
            "post: {code}"
        );
    }
    // No Issuer: through the Redirect binding (a POST signature is placed after the Issuer).
    let xml = logout_response_xml(&Msg {
        issuer: None,
        ..base.clone()
    });
    assert_eq!(
        response_code(
            &redirect(MessageKind::Response, &xml, Some(&key)),
            bindings::REDIRECT
        ),
        "saml.issuer.missing"
    );
    let d = sp()
        .validate_logout_response(
            &idp(bindings::REDIRECT),
            &redirect(
                MessageKind::Response,
                &logout_response_xml(&cases[0].1),
                Some(&key),
            ),
            OUR_REQUEST,
            now(),
        )
        .unwrap_err()
        .to_string();
    assert!(
        d.contains("UnknownPrincipal") && d.contains("no such session"),
        "{d}"
    );

    // Signatures, Redirect binding.
    let xml = logout_response_xml(&base);
    let code = |m: &Inbound| response_code(m, bindings::REDIRECT);
    assert_eq!(
        code(&redirect(MessageKind::Response, &xml, None)),
        "saml.signature.missing"
    );
    assert_eq!(
        code(&redirect(MessageKind::Response, &xml, Some(&other))),
        "saml.signature.invalid"
    );
    let Inbound::Redirect(signed) = redirect(MessageKind::Response, &xml, Some(&key)) else {
        unreachable!()
    };
    assert_eq!(
        code(&Inbound::Redirect(
            signed.replace("RelayState=rs-7", "RelayState=rs-8")
        )),
        "saml.signature.invalid"
    );
    let hmac = signed.replace(
        "SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256",
        "SigAlg=http%3A%2F%2Fwww.w3.org%2F2000%2F09%2Fxmldsig%23hmac-sha1",
    );
    assert_ne!(hmac, signed);
    assert_eq!(code(&Inbound::Redirect(hmac)), "saml.signature.algorithm");
    // A LogoutRequest sent to where a LogoutResponse is expected.
    assert_eq!(
        code(&redirect(
            MessageKind::Request,
            &logout_request_xml(&base),
            Some(&key)
        )),
        "saml.redirect.parameter"
    );
    // An IdP allowed to send unsigned Redirect messages: accepted unsigned, a signature that
    // is present is still checked.
    let mut lax = idp(bindings::REDIRECT);
    lax.require_signed_redirect = false;
    assert!(
        sp().validate_logout_response(
            &lax,
            &redirect(MessageKind::Response, &xml, None),
            OUR_REQUEST,
            now()
        )
        .is_ok()
    );
    assert_eq!(
        sp().validate_logout_response(
            &lax,
            &redirect(MessageKind::Response, &xml, Some(&other)),
            OUR_REQUEST,
            now()
        )
        .unwrap_err()
        .code(),
        "saml.signature.invalid"
    );

    // Signatures, POST binding.
    let code = |m: &Inbound| response_code(m, bindings::POST);
    assert_eq!(
        code(&post(&xml, "_idp_msg_42", None)),
        "saml.signature.missing"
    );
    assert_eq!(
        code(&post(&xml, "_idp_msg_42", Some(&other))),
        "saml.signature.invalid"
    );
    let signed = sign_enveloped(
        xml.as_bytes(),
        "_idp_msg_42",
        &key,
        &Placement::after_saml_issuer(),
    )
    .unwrap();
    let tampered = signed.replace(OUR_REQUEST, "_another_request_id_");
    assert_eq!(
        code(&Inbound::Post(
            base64::engine::general_purpose::STANDARD.encode(tampered)
        )),
        "saml.signature.digest_mismatch"
    );
    assert_eq!(
        code(&Inbound::Post("%%% not base64".into())),
        "saml.encoding.base64"
    );
}

#[test]
fn redirect_encoding_errors_have_their_codes() {
    let code = |q: &str| response_code(&Inbound::Redirect(q.to_owned()), bindings::REDIRECT);
    assert_eq!(code("RelayState=x"), "saml.redirect.parameter");
    assert_eq!(
        code("SAMLResponse=AAAA&SAMLResponse=AAAA"),
        "saml.redirect.parameter"
    );
    assert_eq!(
        code("SAMLResponse=AAAA&SAMLRequest=AAAA"),
        "saml.redirect.parameter"
    );
    assert_eq!(code("SAMLResponse=%2F%2F%2F%2F"), "saml.redirect.inflate");
    assert_eq!(code("SAMLResponse=***"), "saml.encoding.base64");
    // A deflate bomb: 1 KB that inflates past the message limit.
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut encoder, &vec![b' '; 2 * 1024 * 1024]).unwrap();
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 4096, "{}", bomb.len());
    let query = format!(
        "SAMLResponse={}",
        url::form_urlencoded::byte_serialize(
            base64::engine::general_purpose::STANDARD
                .encode(&bomb)
                .as_bytes()
        )
        .collect::<String>()
    );
    assert_eq!(code(&query), "saml.message.too_large");
    // Signature without SigAlg and the reverse.
    let Inbound::Redirect(signed) = redirect(
        MessageKind::Response,
        &logout_response_xml(&Msg::default()),
        Some(&idp_key()),
    ) else {
        unreachable!()
    };
    let (without_sig, _) = signed.split_once("&Signature=").unwrap();
    assert_eq!(code(without_sig), "saml.redirect.parameter");
    let (before_alg, after_alg) = signed.split_once("&SigAlg=").unwrap();
    let sig = after_alg.split_once('&').unwrap().1;
    assert_eq!(
        code(&format!("{before_alg}&{sig}")),
        "saml.redirect.parameter"
    );
}

#[test]
fn idp_initiated_logout_request_is_validated_and_answered() {
    let key = idp_key();
    let xml = logout_request_xml(&Msg::default());
    for (message, binding) in [
        (
            redirect(MessageKind::Request, &xml, Some(&key)),
            bindings::REDIRECT,
        ),
        (post(&xml, "_idp_msg_42", Some(&key)), bindings::POST),
    ] {
        let idp = idp(binding);
        let request = sp().validate_logout_request(&idp, &message, now()).unwrap();
        assert_eq!(request.id, "_idp_msg_42");
        assert_eq!(request.name_id, session());
        assert_eq!(request.session_indexes, ["_session_1"]);
        if binding == bindings::REDIRECT {
            assert_eq!(request.relay_state.as_deref(), Some("rs-7"));
        }
        // Which local session it ends.
        request
            .check_session(&session(), Some("_session_1"))
            .unwrap();
        assert_eq!(
            request
                .check_session(&session(), Some("_session_2"))
                .unwrap_err()
                .code(),
            "saml.logout.subject_mismatch"
        );
        assert_eq!(
            request.check_session(&session(), None).unwrap_err().code(),
            "saml.logout.subject_mismatch"
        );
        let mut bob = session();
        bob.value = "bob@acme.example".into();
        let err = request.check_session(&bob, Some("_session_1")).unwrap_err();
        assert_eq!(err.code(), "saml.logout.subject_mismatch");
        assert!(err.to_string().contains("bob@acme.example"), "{err}");
        let mut persistent = session();
        persistent.format = Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into());
        assert_eq!(
            request
                .check_session(&persistent, Some("_session_1"))
                .unwrap_err()
                .code(),
            "saml.logout.subject_mismatch"
        );

        // The answer: a signed Success LogoutResponse to the IdP, InResponseTo its ID.
        let answer = sp().logout_response(&idp, &request, now()).unwrap();
        let answer_xml = match (&answer.redirect_url, &answer.post_form) {
            (Some(url), None) => {
                let m =
                    RedirectMessage::from_query(url.split_once('?').unwrap().1, 100_000).unwrap();
                assert_eq!(m.kind, MessageKind::Response);
                assert_eq!(m.relay_state.as_deref(), Some("rs-7"));
                m.verify(&sp_keys(), false).unwrap();
                m.xml
            }
            (None, Some(form)) => {
                let xml = base64::engine::general_purpose::STANDARD
                    .decode(&form.fields[0].1)
                    .unwrap();
                let doc = Document::parse(&xml, &Limits::default()).unwrap();
                Verifier::new(sp_keys(), VerifyOptions::default())
                    .verify_enveloped(doc.root())
                    .unwrap();
                xml
            }
            other => panic!("{other:?}"),
        };
        let doc = Document::parse(&answer_xml, &Limits::default()).unwrap();
        assert_eq!(doc.root().attribute("InResponseTo"), Some("_idp_msg_42"));
        assert_eq!(doc.root().attribute("Destination"), Some(IDP_SLO));
    }
    // No SessionIndex: every session of the subject ends.
    let all = sp()
        .validate_logout_request(
            &idp(bindings::REDIRECT),
            &redirect(
                MessageKind::Request,
                &logout_request_xml(&Msg {
                    session_indexes: vec![],
                    ..Msg::default()
                }),
                Some(&key),
            ),
            now(),
        )
        .unwrap();
    all.check_session(&session(), None).unwrap();
    all.check_session(&session(), Some("_any")).unwrap();
}

#[test]
fn idp_initiated_logout_request_rejections_have_their_codes() {
    let key = idp_key();
    let other = SigningKey::from_pem(&read("decrypt/sp-rsa2048.key")).unwrap();
    let base = Msg::default();
    let cases: Vec<(&str, Msg)> = vec![
        (
            "saml.conditions.expired",
            Msg {
                not_on_or_after: Some(now() - Duration::from_secs(61)),
                ..base.clone()
            },
        ),
        (
            "saml.subject.missing",
            Msg {
                name_id: "",
                ..base.clone()
            },
        ),
        (
            "saml.subject.missing",
            Msg {
                name_id: "<saml:NameID> </saml:NameID>",
                ..base.clone()
            },
        ),
        (
            "saml.subject.encrypted_id",
            Msg {
                name_id: "<saml:EncryptedID><xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\"/></saml:EncryptedID>",
                ..base.clone()
            },
        ),
        (
            "saml.issuer.mismatch",
            Msg {
                issuer: Some("https://other-idp.example/"),
                ..base.clone()
            },
        ),
        (
            "saml.destination.mismatch",
            Msg {
                destination: Some("https://evil.example/slo"),
                ..base.clone()
            },
        ),
        (
            "saml.destination.missing",
            Msg {
                destination: None,
                ..base.clone()
            },
        ),
        (
            "saml.message.version",
            Msg {
                version: "1.1",
                ..base.clone()
            },
        ),
    ];
    for (code, m) in &cases {
        let xml = logout_request_xml(m);
        assert_eq!(
            request_code(
                &redirect(MessageKind::Request, &xml, Some(&key)),
                bindings::REDIRECT
            ),
            *code,
            "redirect: {code}"
        );
        assert_eq!(
            request_code(&post(&xml, m.id, Some(&key)), bindings::POST),
            *code,
            "post: {code}"
        );
    }
    // Within the clock skew an expired request still passes.
    let late = logout_request_xml(&Msg {
        not_on_or_after: Some(now() - Duration::from_secs(59)),
        ..base.clone()
    });
    assert_eq!(
        request_code(
            &redirect(MessageKind::Request, &late, Some(&key)),
            bindings::REDIRECT
        ),
        "ok"
    );
    let xml = logout_request_xml(&base);
    assert_eq!(
        request_code(
            &redirect(MessageKind::Request, &xml, None),
            bindings::REDIRECT
        ),
        "saml.signature.missing"
    );
    assert_eq!(
        request_code(
            &redirect(MessageKind::Request, &xml, Some(&other)),
            bindings::REDIRECT
        ),
        "saml.signature.invalid"
    );
    assert_eq!(
        request_code(&post(&xml, "_idp_msg_42", None), bindings::POST),
        "saml.signature.missing"
    );
    assert_eq!(
        request_code(&post(&xml, "_idp_msg_42", Some(&other)), bindings::POST),
        "saml.signature.invalid"
    );
    // A LogoutResponse posted where a LogoutRequest is expected is not a LogoutRequest.
    let response = logout_response_xml(&base);
    assert_eq!(
        request_code(&post(&response, "_idp_msg_42", Some(&key)), bindings::POST),
        "saml.message.malformed"
    );
    assert_eq!(
        request_code(
            &redirect(MessageKind::Response, &response, Some(&key)),
            bindings::REDIRECT
        ),
        "saml.redirect.parameter"
    );
    // A forged request wrapping the signed one: the signature covers the signed element
    // only, and the root is what is read.
    let signed = sign_enveloped(
        xml.as_bytes(),
        "_idp_msg_42",
        &key,
        &Placement::after_saml_issuer(),
    )
    .unwrap();
    let body = signed.split_once("?>").map_or(signed.as_str(), |(_, r)| r);
    let forged = logout_request_xml(&Msg {
        id: "_forged",
        name_id: "<saml:NameID>ceo@acme.example</saml:NameID>",
        ..base.clone()
    })
    .replace(
        "</samlp:LogoutRequest>",
        &format!("<samlp:Extensions>{body}</samlp:Extensions></samlp:LogoutRequest>"),
    );
    assert_ne!(
        request_code(
            &Inbound::Post(base64::engine::general_purpose::STANDARD.encode(forged)),
            bindings::POST
        ),
        "ok"
    );
}
