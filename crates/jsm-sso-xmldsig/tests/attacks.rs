//! Every attack of issue 3 (and the corpus README's extra cases) as a test: each is refused with
//! its specific error code, or, where the attack targets the reader rather than the verifier,
//! the verified view shows only what was signed.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test and bench code: a failure should stop the run loudly"
)]

use base64::Engine as _;
use jsm_sso_xmldsig::{
    CodedError, Document, Limits, Placement, SigningKey, TrustedKeys, Verifier, VerifyOptions,
    c14n, sign_enveloped,
};

const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

const RESPONSE: &str = concat!(
    r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" "#,
    r#"xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_resp" Version="2.0">"#,
    r#"<saml:Issuer>https://idp.example</saml:Issuer>"#,
    r#"<saml:Assertion ID="_assert" Version="2.0"><saml:Issuer>https://idp.example</saml:Issuer>"#,
    r#"<saml:Subject><saml:NameID>jane@customer.example</saml:NameID></saml:Subject>"#,
    r#"<saml:AttributeStatement><saml:Attribute Name="role">"#,
    r#"<saml:AttributeValue>user</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>"#,
    r#"</saml:Assertion></samlp:Response>"#
);

fn file(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/testdata/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn idp_key() -> SigningKey {
    SigningKey::from_pem(&file("peerbench/idp-rsa.key"))
        .unwrap()
        .with_certificate_pem(&file("peerbench/idp-rsa.crt"))
        .unwrap()
}

fn verifier() -> Verifier {
    let keys = TrustedKeys::from_pem(&file("peerbench/idp-rsa.crt")).unwrap();
    Verifier::new(keys, VerifyOptions::default())
}

fn signed_response() -> String {
    sign_enveloped(
        RESPONSE.as_bytes(),
        "_assert",
        &idp_key(),
        &Placement::after_saml_issuer(),
    )
    .unwrap()
}

/// What a naive SP does: take the first Assertion child of the Response and verify it.
/// Returns the NameID read through the verified view, or the error code.
fn verify_first_assertion(xml: &str) -> Result<String, &'static str> {
    verify_first_assertion_with(xml, &verifier())
}

fn verify_first_assertion_with(xml: &str, verifier: &Verifier) -> Result<String, &'static str> {
    let doc = Document::parse(xml.as_bytes(), &Limits::default()).map_err(|e| e.code())?;
    let assertion = doc
        .root()
        .child(SAML, "Assertion")
        .ok_or("test.no_assertion")?;
    let verified = verifier.verify_enveloped(assertion).map_err(|e| e.code())?;
    Ok(verified
        .element()
        .child(SAML, "Subject")
        .and_then(|s| s.child(SAML, "NameID"))
        .map(|n| n.text().into_owned())
        .unwrap_or_default())
}

/// The `<ds:Signature>...</ds:Signature>` substring.
fn signature_of(xml: &str) -> String {
    let start = xml.find("<ds:Signature").unwrap();
    let end = xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    xml[start..end].to_owned()
}

/// The signed `<saml:Assertion ...>...</saml:Assertion>` substring.
fn assertion_of(xml: &str) -> String {
    let start = xml.find("<saml:Assertion").unwrap();
    let end = xml.rfind("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    xml[start..end].to_owned()
}

const FORGED_SUBJECT: &str =
    "<saml:Subject><saml:NameID>admin@victim.example</saml:NameID></saml:Subject>";

#[test]
fn the_untouched_response_verifies() {
    assert_eq!(
        verify_first_assertion(&signed_response()),
        Ok("jane@customer.example".into())
    );
}

#[test]
fn signature_removed() {
    let xml = signed_response();
    let stripped = xml.replace(&signature_of(&xml), "");
    assert_eq!(
        verify_first_assertion(&stripped),
        Err("xmldsig.signature.missing")
    );
}

#[test]
fn signed_content_tampered() {
    let xml = signed_response().replace("jane@customer.example", "admin@customer.example");
    assert_eq!(verify_first_assertion(&xml), Err("xmldsig.digest.mismatch"));
    let xml = signed_response().replace("<saml:AttributeValue>user", "<saml:AttributeValue>admin");
    assert_eq!(verify_first_assertion(&xml), Err("xmldsig.digest.mismatch"));
    let xml = signed_response().replace(
        r#"Version="2.0"><saml:Issuer>https://idp.example</saml:Issuer><ds:"#,
        r#"Version="2.0" Extra="1"><saml:Issuer>https://idp.example</saml:Issuer><ds:"#,
    );
    assert_eq!(verify_first_assertion(&xml), Err("xmldsig.digest.mismatch"));
}

#[test]
fn signed_info_tampered() {
    let xml = signed_response();
    let start = xml.find("<ds:DigestValue>").unwrap() + "<ds:DigestValue>".len();
    let mut bytes = xml.into_bytes();
    bytes[start] = if bytes[start] == b'A' { b'B' } else { b'A' };
    let xml = String::from_utf8(bytes).unwrap();
    assert_eq!(
        verify_first_assertion(&xml),
        Err("xmldsig.signature.invalid")
    );
}

#[test]
fn signature_value_tampered() {
    let xml = signed_response();
    let start = xml.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
    let mut bytes = xml.into_bytes();
    bytes[start + 10] = if bytes[start + 10] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let xml = String::from_utf8(bytes).unwrap();
    assert_eq!(
        verify_first_assertion(&xml),
        Err("xmldsig.signature.invalid")
    );
}

#[test]
fn reference_to_an_element_other_than_the_parent() {
    // The assertion's valid signature moved up to the Response, which an SP checking "is the
    // Response signed?" would then accept.
    let xml = signed_response();
    let signature = signature_of(&xml);
    let moved = xml.replace(&signature, "").replacen(
        "https://idp.example</saml:Issuer>",
        &format!("https://idp.example</saml:Issuer>{signature}"),
        1,
    );
    let doc = Document::parse(moved.as_bytes(), &Limits::default()).unwrap();
    let err = verifier().verify_enveloped(doc.root()).unwrap_err();
    assert_eq!(err.code(), "xmldsig.reference.not_parent");
}

#[test]
fn wrapping_forged_assertion_before_the_signed_one() {
    // XSW: a forged assertion first, carrying the original signature; the original after it.
    let xml = signed_response();
    let original = assertion_of(&xml);
    let forged = format!(
        r#"<saml:Assertion ID="_evil" Version="2.0"><saml:Issuer>https://idp.example</saml:Issuer>{}{FORGED_SUBJECT}</saml:Assertion>"#,
        signature_of(&xml)
    );
    let attack = xml.replace(&original, &format!("{forged}{original}"));
    assert_eq!(
        verify_first_assertion(&attack),
        Err("xmldsig.reference.not_parent")
    );
}

#[test]
fn wrapping_forged_assertion_after_the_signed_one() {
    // The signed assertion first and intact: it verifies, and the verified view shows the
    // signed subject, never the forged one that follows.
    let xml = signed_response();
    let original = assertion_of(&xml);
    let forged = format!(
        r#"<saml:Assertion ID="_evil" Version="2.0"><saml:Issuer>https://idp.example</saml:Issuer>{FORGED_SUBJECT}</saml:Assertion>"#
    );
    let attack = xml.replace(&original, &format!("{original}{forged}"));
    assert_eq!(
        verify_first_assertion(&attack),
        Ok("jane@customer.example".into())
    );
    let doc = Document::parse(attack.as_bytes(), &Limits::default()).unwrap();
    let second = doc.root().children_named(SAML, "Assertion").nth(1).unwrap();
    assert_eq!(
        verifier().verify_enveloped(second).unwrap_err().code(),
        "xmldsig.signature.missing"
    );
}

#[test]
fn wrapping_forged_assertion_around_the_signed_one() {
    let xml = signed_response();
    let original = assertion_of(&xml);
    // The forged outer element has no signature of its own.
    let attack = xml.replace(
        &original,
        &format!(
            r#"<saml:Assertion ID="_evil" Version="2.0"><saml:Issuer>https://idp.example</saml:Issuer>{FORGED_SUBJECT}{original}</saml:Assertion>"#
        ),
    );
    assert_eq!(
        verify_first_assertion(&attack),
        Err("xmldsig.signature.missing")
    );
    // The forged outer element carries the signature, which references the inner one.
    let signature = signature_of(&xml);
    let inner = original.replace(&signature, "");
    let attack = xml.replace(
        &original,
        &format!(
            r#"<saml:Assertion ID="_evil" Version="2.0"><saml:Issuer>https://idp.example</saml:Issuer>{signature}{FORGED_SUBJECT}{inner}</saml:Assertion>"#
        ),
    );
    assert_eq!(
        verify_first_assertion(&attack),
        Err("xmldsig.reference.not_parent")
    );
}

#[test]
fn wrapping_forged_content_inside_the_signed_one() {
    let xml = signed_response().replace(
        "</saml:AttributeStatement>",
        &format!("</saml:AttributeStatement><saml:Advice><saml:Assertion ID=\"_evil\">{FORGED_SUBJECT}</saml:Assertion></saml:Advice>"),
    );
    assert_eq!(verify_first_assertion(&xml), Err("xmldsig.digest.mismatch"));
}

#[test]
fn wrapping_signed_assertion_moved_into_signature_object() {
    let xml = signed_response();
    let original = assertion_of(&xml);
    let signature = signature_of(&xml);
    let with_object = signature.replace(
        "</ds:Signature>",
        &format!(
            "<ds:Object>{}</ds:Object></ds:Signature>",
            original.replace(&signature, "")
        ),
    );
    let attack = xml.replace(
        &original,
        &format!(
            r#"<saml:Assertion ID="_evil" Version="2.0"><saml:Issuer>https://idp.example</saml:Issuer>{with_object}{FORGED_SUBJECT}</saml:Assertion>"#
        ),
    );
    assert_eq!(verify_first_assertion(&attack), Err("xmldsig.shape"));
}

#[test]
fn wrapping_signed_assertion_moved_into_an_extension() {
    let xml = signed_response();
    let original = assertion_of(&xml);
    let signature = signature_of(&xml);
    let extension = format!(
        "<samlp:Extensions>{}</samlp:Extensions>",
        original.replace(&signature, "")
    );
    let forged = format!(
        r#"<saml:Assertion ID="_evil" Version="2.0"><saml:Issuer>https://idp.example</saml:Issuer>{signature}{FORGED_SUBJECT}</saml:Assertion>"#
    );
    let attack = xml.replace(&original, &format!("{extension}{forged}"));
    assert_eq!(
        verify_first_assertion(&attack),
        Err("xmldsig.reference.not_parent")
    );
    // The same with the forged assertion taking the original's ID.
    let forged_same_id = forged.replace("_evil", "_assert");
    let attack = xml.replace(&original, &format!("{extension}{forged_same_id}"));
    assert_eq!(
        verify_first_assertion(&attack),
        Err("xmldsig.reference.duplicate_id")
    );
}

#[test]
fn duplicate_ids_across_response_and_assertion() {
    let xml = signed_response().replacen(r#"ID="_resp""#, r#"ID="_assert""#, 1);
    assert_eq!(
        verify_first_assertion(&xml),
        Err("xmldsig.reference.duplicate_id")
    );
    // Also when the duplicate sits on an unrelated element, and under the other ID name.
    let xml = signed_response().replacen("<saml:Issuer>", r#"<saml:Issuer Id="_assert">"#, 1);
    assert_eq!(
        verify_first_assertion(&xml),
        Err("xmldsig.reference.duplicate_id")
    );
}

#[test]
fn untrusted_key_in_key_info_with_a_valid_signature() {
    let attacker = SigningKey::from_pem(&file("keys/attacker-rsa.key"))
        .unwrap()
        .with_certificate_pem(&file("keys/attacker-rsa.crt"))
        .unwrap();
    let forged = RESPONSE.replace("jane@customer.example", "admin@victim.example");
    let xml = sign_enveloped(
        forged.as_bytes(),
        "_assert",
        &attacker,
        &Placement::after_saml_issuer(),
    )
    .unwrap();
    assert_eq!(verify_first_assertion(&xml), Err("xmldsig.key.untrusted"));
    // Without a certificate in KeyInfo the trusted keys are tried, and none verifies.
    let attacker = SigningKey::from_pem(&file("keys/attacker-rsa.key")).unwrap();
    let xml = sign_enveloped(
        forged.as_bytes(),
        "_assert",
        &attacker,
        &Placement::after_saml_issuer(),
    )
    .unwrap();
    assert_eq!(
        verify_first_assertion(&xml),
        Err("xmldsig.signature.invalid")
    );
}

#[test]
fn key_info_selects_among_trusted_keys_for_rollover() {
    // Old (attacker key standing in) and new IdP keys both trusted: KeyInfo picks the right one.
    let mut keys = TrustedKeys::from_pem(&file("keys/attacker-rsa.crt")).unwrap();
    keys.extend(TrustedKeys::from_pem(&file("peerbench/idp-rsa.crt")).unwrap());
    let verifier = Verifier::new(keys, VerifyOptions::default());
    assert_eq!(
        verify_first_assertion_with(&signed_response(), &verifier),
        Ok("jane@customer.example".into())
    );
    let without_cert = SigningKey::from_pem(&file("peerbench/idp-rsa.key")).unwrap();
    let xml = sign_enveloped(
        RESPONSE.as_bytes(),
        "_assert",
        &without_cert,
        &Placement::after_saml_issuer(),
    )
    .unwrap();
    assert_eq!(
        verify_first_assertion_with(&xml, &verifier),
        Ok("jane@customer.example".into())
    );
}

#[test]
fn comment_in_signed_text_verifies_and_reads_in_full() {
    // The 2018 comment-truncation attack: the comment is outside c14n, so the signature still
    // holds; the reader must see the whole text, not the part before the comment.
    let xml = signed_response().replace(
        "jane@customer.example",
        "admin@victim.example<!---->.customer.example",
    );
    // Changing the text breaks the digest...
    assert_eq!(verify_first_assertion(&xml), Err("xmldsig.digest.mismatch"));
    // ...so the IdP signs a name that contains a dot-suffix, and the attacker adds a comment.
    let signed_name = RESPONSE.replace(
        "jane@customer.example",
        "admin@victim.example.customer.example",
    );
    let signed = sign_enveloped(
        signed_name.as_bytes(),
        "_assert",
        &idp_key(),
        &Placement::after_saml_issuer(),
    )
    .unwrap();
    let attack = signed.replace(
        "admin@victim.example.customer.example",
        "admin@victim.example<!---->.customer.example",
    );
    assert_eq!(
        verify_first_assertion(&attack),
        Ok("admin@victim.example.customer.example".into())
    );
    let cdata = signed.replace(
        "admin@victim.example.customer.example",
        "admin@victim.example<![CDATA[.customer]]>.example",
    );
    assert_eq!(
        verify_first_assertion(&cdata),
        Ok("admin@victim.example.customer.example".into())
    );
}

#[test]
fn doctype_with_internal_entities() {
    let xml = signed_response();
    let attack = format!(
        r#"<!DOCTYPE samlp:Response [<!ENTITY who "admin@victim.example">]>{}"#,
        xml.replace("jane@customer.example", "&who;")
    );
    assert_eq!(verify_first_assertion(&attack), Err("xml.doctype"));
}

#[test]
fn transforms_outside_the_allowed_list() {
    let xml = signed_response();
    for uri in [
        "http://www.w3.org/TR/1999/REC-xpath-19991116",
        "http://www.w3.org/2002/06/xmldsig-filter2",
        "http://www.w3.org/TR/1999/REC-xslt-19991116",
        "http://www.w3.org/2000/09/xmldsig#base64",
        "http://www.w3.org/2006/12/xml-c14n11",
    ] {
        let attack = xml.replacen(
            r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#,
            &format!(r#"<ds:Transform Algorithm="{uri}"/>"#),
            1,
        );
        assert_eq!(
            verify_first_assertion(&attack),
            Err("xmldsig.transform.unsupported"),
            "{uri}"
        );
    }
    // Three transforms are too many, even allowed ones.
    let attack = xml.replacen(
        "</ds:Transforms>",
        r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>"#,
        1,
    );
    assert_eq!(verify_first_assertion(&attack), Err("xmldsig.shape"));
    // The canonicalization method of SignedInfo is held to the same list.
    let attack = xml.replacen(
        r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#,
        r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"/>"#,
        1,
    );
    assert_eq!(
        verify_first_assertion(&attack),
        Err("xmldsig.transform.unsupported")
    );
}

#[test]
fn sha1_without_opt_in() {
    let xml = signed_response();
    let attack = xml.replace(
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    );
    assert_eq!(
        verify_first_assertion(&attack),
        Err("xmldsig.algorithm.sha1")
    );
    let attack = xml.replace(
        "http://www.w3.org/2001/04/xmlenc#sha256",
        "http://www.w3.org/2000/09/xmldsig#sha1",
    );
    assert_eq!(
        verify_first_assertion(&attack),
        Err("xmldsig.algorithm.sha1")
    );
    // With the opt-in the algorithm is accepted, and the (now wrong) signature is checked.
    let lax = Verifier::new(
        TrustedKeys::from_pem(&file("peerbench/idp-rsa.crt")).unwrap(),
        VerifyOptions::default().allow_sha1(true),
    );
    let attack = xml.replace(
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    );
    assert_eq!(
        verify_first_assertion_with(&attack, &lax),
        Err("xmldsig.signature.invalid")
    );
}

#[test]
fn hmac_dsa_and_md5_are_never_accepted() {
    let xml = signed_response();
    for uri in [
        "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
        "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256",
        "http://www.w3.org/2000/09/xmldsig#dsa-sha1",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-md5",
    ] {
        let attack = xml.replace("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", uri);
        assert_eq!(
            verify_first_assertion(&attack),
            Err("xmldsig.algorithm.unsupported"),
            "{uri}"
        );
    }
    let attack = xml.replace(
        "http://www.w3.org/2001/04/xmlenc#sha256",
        "http://www.w3.org/2001/04/xmldsig-more#md5",
    );
    assert_eq!(
        verify_first_assertion(&attack),
        Err("xmldsig.digest.unsupported")
    );
}

#[test]
fn rsa_1024_keys_are_refused() {
    assert_eq!(
        TrustedKeys::from_pem(&file("keys/rsa1024.crt"))
            .unwrap_err()
            .code(),
        "xmldsig.key.too_small"
    );
    assert_eq!(
        SigningKey::from_pem(&file("keys/rsa1024.key"))
            .unwrap_err()
            .code(),
        "xmldsig.key.too_small"
    );
}

#[test]
fn unsupported_key_types_are_refused() {
    assert_eq!(
        TrustedKeys::from_pem(&file("keys/ed25519.crt"))
            .unwrap_err()
            .code(),
        "xmldsig.key.unsupported"
    );
    assert_eq!(
        TrustedKeys::from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .unwrap_err()
            .code(),
        "xmldsig.key.invalid"
    );
}

#[test]
fn ecdsa_signature_in_der_form_is_refused() {
    let key = SigningKey::from_pem(&file("peerbench/idp-ec.key")).unwrap();
    let xml = sign_enveloped(
        RESPONSE.as_bytes(),
        "_assert",
        &key,
        &Placement::after_saml_issuer(),
    )
    .unwrap();
    let ec = Verifier::new(
        TrustedKeys::from_pem(&file("peerbench/idp-ec.crt")).unwrap(),
        VerifyOptions::default(),
    );
    assert_eq!(
        verify_first_assertion_with(&xml, &ec),
        Ok("jane@customer.example".into())
    );
    let start = xml.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
    let end = xml.find("</ds:SignatureValue>").unwrap();
    let raw = B64.decode(&xml[start..end]).unwrap();
    let der = raw_to_der(&raw);
    let attack = format!("{}{}{}", &xml[..start], B64.encode(der), &xml[end..]);
    assert_eq!(
        verify_first_assertion_with(&attack, &ec),
        Err("xmldsig.encoding")
    );
}

#[test]
fn signature_and_key_types_must_match() {
    let key = SigningKey::from_pem(&file("peerbench/idp-ec.key")).unwrap();
    let xml = sign_enveloped(
        RESPONSE.as_bytes(),
        "_assert",
        &key,
        &Placement::after_saml_issuer(),
    )
    .unwrap();
    assert_eq!(verify_first_assertion(&xml), Err("xmldsig.key.mismatch"));
}

#[test]
fn p384_keys_sign_and_verify_ecdsa_sha384() {
    let key = SigningKey::from_pem(&file("keys/idp-p384.key"))
        .unwrap()
        .with_certificate_pem(&file("keys/idp-p384.crt"))
        .unwrap();
    let xml = sign_enveloped(
        RESPONSE.as_bytes(),
        "_assert",
        &key,
        &Placement::after_saml_issuer(),
    )
    .unwrap();
    assert!(xml.contains("http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"));
    let p384 = Verifier::new(
        TrustedKeys::from_pem(&file("keys/idp-p384.crt")).unwrap(),
        VerifyOptions::default(),
    );
    assert_eq!(
        verify_first_assertion_with(&xml, &p384),
        Ok("jane@customer.example".into())
    );
    // An RSA signature is never checked against a P-384 key.
    let rsa_without_cert = SigningKey::from_pem(&file("peerbench/idp-rsa.key")).unwrap();
    let xml = sign_enveloped(
        RESPONSE.as_bytes(),
        "_assert",
        &rsa_without_cert,
        &Placement::after_saml_issuer(),
    )
    .unwrap();
    assert_eq!(
        verify_first_assertion_with(&xml, &p384),
        Err("xmldsig.key.mismatch")
    );
}

#[test]
fn enveloped_transform_removes_exactly_its_own_signature() {
    // A nested signature inside the signed content is covered by the digest: removing it
    // breaks the signature, so a verifier that strips "the first Signature" would be caught.
    let nested = format!(
        r#"<saml:Advice><ds:Signature xmlns:ds="{DS}"><ds:SignedInfo/></ds:Signature></saml:Advice>"#
    );
    let with_nested = RESPONSE.replace("<saml:Subject>", &format!("{nested}<saml:Subject>"));
    let xml = sign_enveloped(
        with_nested.as_bytes(),
        "_assert",
        &idp_key(),
        &Placement::after_saml_issuer(),
    )
    .unwrap();
    assert_eq!(
        verify_first_assertion(&xml),
        Ok("jane@customer.example".into())
    );
    let stripped = xml.replacen(&nested, "<saml:Advice></saml:Advice>", 1);
    assert_ne!(stripped, xml);
    assert_eq!(
        verify_first_assertion(&stripped),
        Err("xmldsig.digest.mismatch")
    );
}

#[test]
fn two_signatures_on_one_element() {
    let xml = signed_response();
    let signature = signature_of(&xml);
    let attack = xml.replace(&signature, &format!("{signature}{signature}"));
    assert_eq!(
        verify_first_assertion(&attack),
        Err("xmldsig.signature.multiple")
    );
}

#[test]
fn comment_inside_a_signature_field() {
    let xml = signed_response();
    let attack = xml.replacen("<ds:DigestValue>", "<ds:DigestValue><!-- x -->", 1);
    assert_eq!(verify_first_assertion(&attack), Err("xmldsig.shape"));
    let attack = xml.replacen("<ds:SignatureValue>", "<ds:SignatureValue><![CDATA[]]>", 1);
    assert_eq!(verify_first_assertion(&attack), Err("xmldsig.shape"));
}

#[test]
fn names_are_matched_by_namespace_not_prefix() {
    // A Signature in another namespace under the ds prefix is not a signature.
    let xml = signed_response();
    let attack = xml.replace(DS, "urn:not-xmldsig");
    assert_eq!(
        verify_first_assertion(&attack),
        Err("xmldsig.signature.missing")
    );
    // The real namespace under another prefix is found as the signature and checked (the
    // prefix is part of the canonical SignedInfo, so this rename breaks the signature value).
    let renamed = xml
        .replace("ds:", "sig:")
        .replace("xmlns:ds=", "xmlns:sig=");
    assert_eq!(
        verify_first_assertion(&renamed),
        Err("xmldsig.signature.invalid")
    );
}

#[test]
fn the_verified_view_cannot_reach_the_signature_or_outside() {
    let xml = signed_response();
    let doc = Document::parse(xml.as_bytes(), &Limits::default()).unwrap();
    let assertion = doc.root().child(SAML, "Assertion").unwrap();
    assert!(assertion.child(DS, "Signature").is_some());
    let verified = verifier().verify_enveloped(assertion).unwrap();
    let names: Vec<&str> = verified
        .element()
        .child_elements()
        .map(|e| e.local_name())
        .collect();
    assert_eq!(names, ["Issuer", "Subject", "AttributeStatement"]);
}

// ---- Validly signed SignedInfo with a malicious Reference: needs a hand-built signature. ----

/// A signature by the trusted IdP key over a hand-written SignedInfo body.
fn hand_signed(signed_info_body: &str) -> String {
    let signed_info =
        format!(r#"<ds:SignedInfo xmlns:ds="{DS}">{signed_info_body}</ds:SignedInfo>"#);
    let doc = Document::parse(signed_info.as_bytes(), &Limits::default()).unwrap();
    let canonical = c14n::canonicalize(doc.root(), c14n::Algorithm::Exclusive, &[]);
    let pem = String::from_utf8(file("peerbench/idp-rsa.key")).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let pkcs8 = B64.decode(body).unwrap();
    let key = ring::signature::RsaKeyPair::from_pkcs8(&pkcs8).unwrap();
    let mut value = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        &canonical,
        &mut value,
    )
    .unwrap();
    format!(
        r#"<ds:Signature xmlns:ds="{DS}">{}<ds:SignatureValue>{}</ds:SignatureValue></ds:Signature>"#,
        signed_info.replace(&format!(r#" xmlns:ds="{DS}""#), ""),
        B64.encode(value)
    )
}

fn signed_info_with_uri(uri: &str) -> String {
    format!(
        concat!(
            r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#,
            r#"<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>"#,
            r#"<ds:Reference URI="{}"><ds:Transforms>"#,
            r#"<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>"#,
            r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>"#,
            r#"<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>"#,
            r#"<ds:DigestValue>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=</ds:DigestValue></ds:Reference>"#
        ),
        uri
    )
}

fn with_hand_signature(uri: &str) -> String {
    RESPONSE.replacen(
        "https://idp.example</saml:Issuer><saml:Subject>",
        &format!(
            "https://idp.example</saml:Issuer>{}<saml:Subject>",
            hand_signed(&signed_info_with_uri(uri))
        ),
        1,
    )
}

#[test]
fn hand_signed_baseline_reaches_the_digest_check() {
    // The hand-built signature is valid; only the (zero) digest is wrong.
    assert_eq!(
        verify_first_assertion(&with_hand_signature("#_assert")),
        Err("xmldsig.digest.mismatch")
    );
}

#[test]
fn validly_signed_references_that_are_not_same_document_ids() {
    for uri in [
        "",
        "#",
        "#xpointer(/)",
        "#xpointer(id('_assert'))",
        "https://evil.example/a.xml#_assert",
        "_assert",
    ] {
        assert_eq!(
            verify_first_assertion(&with_hand_signature(uri)),
            Err("xmldsig.reference.uri"),
            "{uri:?}"
        );
    }
    assert_eq!(
        verify_first_assertion(&with_hand_signature("#_nowhere")),
        Err("xmldsig.reference.not_found")
    );
    assert_eq!(
        verify_first_assertion(&with_hand_signature("#_resp")),
        Err("xmldsig.reference.not_parent")
    );
}

#[test]
fn digest_value_of_the_wrong_length() {
    let body = signed_info_with_uri("#_assert")
        .replace("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "AAAA");
    let xml = RESPONSE.replacen(
        "https://idp.example</saml:Issuer><saml:Subject>",
        &format!(
            "https://idp.example</saml:Issuer>{}<saml:Subject>",
            hand_signed(&body)
        ),
        1,
    );
    assert_eq!(verify_first_assertion(&xml), Err("xmldsig.encoding"));
}

/// Raw ECDSA `r || s` to DER, for the DER-refusal test.
fn raw_to_der(raw: &[u8]) -> Vec<u8> {
    fn int(bytes: &[u8]) -> Vec<u8> {
        let mut b: Vec<u8> = bytes.iter().copied().skip_while(|x| *x == 0).collect();
        if b.first().is_none_or(|x| x & 0x80 != 0) {
            b.insert(0, 0);
        }
        let mut out = vec![0x02, b.len() as u8];
        out.extend(b);
        out
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let body = [int(r), int(s)].concat();
    let mut der = vec![0x30, body.len() as u8];
    der.extend(body);
    der
}
