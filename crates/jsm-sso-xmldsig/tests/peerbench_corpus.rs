//! The peer-benchmark responses (signed by xmlsec1) verify, and our c14n of their SignedInfo is
//! byte for byte what xmlsec1 signed.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test and bench code: a failure should stop the run loudly"
)]

use jsm_sso_xmldsig::{
    CodedError, DigestMethod, Document, Limits, SignatureMethod, TrustedKeys, Verifier,
    VerifyOptions, c14n,
};

const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/testdata/peerbench/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn verifier(cert: &str) -> Verifier {
    Verifier::new(
        TrustedKeys::from_pem(&read(cert)).unwrap(),
        VerifyOptions::default(),
    )
}

#[test]
fn assertion_signatures_verify() {
    for (file, cert, method) in [
        ("small.xml", "idp-rsa.crt", SignatureMethod::RsaSha256),
        ("medium.xml", "idp-rsa.crt", SignatureMethod::RsaSha256),
        ("large.xml", "idp-rsa.crt", SignatureMethod::RsaSha256),
        (
            "medium_ecdsa.xml",
            "idp-ec.crt",
            SignatureMethod::EcdsaSha256,
        ),
    ] {
        let xml = read(file);
        let doc = Document::parse(&xml, &Limits::default()).unwrap();
        let assertion = doc.root().child(SAML, "Assertion").unwrap();
        let verified = verifier(cert)
            .verify_enveloped(assertion)
            .unwrap_or_else(|e| {
                panic!("{file}: {} {e}", e.code());
            });
        assert_eq!(verified.info().signature_method, method, "{file}");
        assert_eq!(verified.info().digest_method, DigestMethod::Sha256);
        assert_eq!(verified.info().reference_id, "id1713498223498765432109876");
        let name_id = verified
            .element()
            .child(SAML, "Subject")
            .and_then(|s| s.child(SAML, "NameID"))
            .map(|n| n.text().into_owned());
        assert_eq!(name_id.as_deref(), Some("jane.customer@example.org"));
        // The enveloped signature is not part of the signed view.
        assert!(verified.element().child(DS, "Signature").is_none());
        // The response itself is not signed in these files.
        assert_eq!(
            verifier(cert)
                .verify_enveloped(doc.root())
                .unwrap_err()
                .code(),
            "xmldsig.signature.missing"
        );
    }
}

#[test]
fn response_and_assertion_both_verify() {
    let xml = read("medium_both.xml");
    let doc = Document::parse(&xml, &Limits::default()).unwrap();
    let verifier = verifier("idp-rsa.crt");
    let response = verifier.verify_enveloped(doc.root()).unwrap();
    assert_eq!(response.info().reference_id, "id1713498223412345678901234");
    let assertion = response.element().child(SAML, "Assertion").unwrap();
    let assertion = verifier.verify_enveloped(assertion).unwrap();
    assert_eq!(assertion.info().reference_id, "id1713498223498765432109876");
}

#[test]
fn signed_info_c14n_matches_what_xmlsec1_signed() {
    let xml = read("medium.xml");
    let doc = Document::parse(&xml, &Limits::default()).unwrap();
    let signed_info = doc
        .root()
        .child(SAML, "Assertion")
        .and_then(|a| a.child(DS, "Signature"))
        .and_then(|s| s.child(DS, "SignedInfo"))
        .unwrap();
    let ours = c14n::canonicalize(signed_info, c14n::Algorithm::Exclusive, &[]);
    assert_eq!(
        String::from_utf8(ours).unwrap(),
        String::from_utf8(read("medium.signedinfo.c14n")).unwrap()
    );
}

#[test]
fn spki_pem_is_a_trusted_key_too() {
    let xml = read("medium.xml");
    let doc = Document::parse(&xml, &Limits::default()).unwrap();
    let keys = TrustedKeys::from_pem(&read("idp-rsa.pub.pem")).unwrap();
    let assertion = doc.root().child(SAML, "Assertion").unwrap();
    let cert_fp = TrustedKeys::from_pem(&read("idp-rsa.crt"))
        .unwrap()
        .iter()
        .next()
        .unwrap()
        .fingerprint();
    let verified = Verifier::new(keys, VerifyOptions::default())
        .verify_enveloped(assertion)
        .unwrap();
    assert_eq!(verified.info().key_fingerprint, cert_fp);
}
