//! Writes the seed corpus of the `saml_response` fuzz target (`fuzz/corpus/saml_response/`):
//! the peerbench responses, test-IdP responses addressed to the fuzz SP (valid, each check
//! broken, encrypted, the signature-wrapping variants), logout messages and metadata.
//! `cargo run -p jsm-sso-saml --example write_saml_fuzz_seeds`; the output is committed.
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    missing_docs,
    reason = "a generator run by hand"
)]

use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine;
use jsm_sso_saml::decrypt::{EncryptOptions, encrypt_assertion};
use jsm_sso_testkit::saml::{ResponseSpec, Signing, TestIdp, attacks};

const IDP: &str = "http://www.okta.com/exk8q2bq1zPEXAMPLE697";
const SP: &str = "https://portal.example-jsm.test/saml/metadata";
const ACS: &str = "https://portal.example-jsm.test/saml/acs";
const REQUEST: &str = "_a8f3e1c2b9d04f6e8c7b5a4d3e2f1a0b";

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let vectors = root.join("tests/vectors");
    let out = root.join("../../fuzz/corpus/saml_response");
    std::fs::create_dir_all(&out).unwrap();
    let write = |name: &str, bytes: &[u8]| std::fs::write(out.join(name), bytes).unwrap();

    for (name, file) in [
        ("peerbench-small.xml", "peerbench/small.xml"),
        ("peerbench-medium.xml", "peerbench/medium.xml"),
        ("peerbench-medium-both.xml", "peerbench/medium_both.xml"),
        ("peerbench-medium-ecdsa.xml", "peerbench/medium_ecdsa.xml"),
        ("google.b64", "real-idp/google_response.b64"),
        ("secureworks.xml", "real-idp/secureworks_response.xml"),
        (
            "entra-metadata.xml",
            "metadata/entra-federationmetadata.xml",
        ),
        ("testshib-metadata.xml", "metadata/testshib-providers.xml"),
        (
            "shibboleth-encrypted.xml",
            "decrypt/corpus/node-saml/testshib_encrypted_response.xml",
        ),
    ] {
        write(name, &std::fs::read(vectors.join(file)).unwrap());
    }

    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_748_779_230);
    let idp = TestIdp::from_pem(
        IDP,
        &std::fs::read(vectors.join("peerbench/idp-rsa.key")).unwrap(),
        &std::fs::read(vectors.join("peerbench/idp-rsa.crt")).unwrap(),
    )
    .unwrap();
    let spec = || {
        ResponseSpec::new(SP, ACS, now)
            .in_response_to(REQUEST)
            .attribute("groups", ["staff", "portal-users"])
            .attribute("mail", ["alice@acme.example"])
    };
    let valid = idp.response(&spec()).unwrap();
    write("testkit-valid.xml", valid.as_bytes());
    write(
        "testkit-response-signed.xml",
        idp.response(&spec().signing(Signing::Response))
            .unwrap()
            .as_bytes(),
    );
    write(
        "testkit-both-signed.xml",
        idp.response(&spec().signing(Signing::Both))
            .unwrap()
            .as_bytes(),
    );
    write(
        "testkit-unsigned.xml",
        idp.response(&spec().signing(Signing::None))
            .unwrap()
            .as_bytes(),
    );
    write(
        "testkit-valid.b64",
        idp.response_base64(&spec()).unwrap().as_bytes(),
    );
    let mut broken: Vec<(&str, ResponseSpec)> = Vec::new();
    let mut s = spec();
    s.destination = Some("https://evil.example/acs".into());
    broken.push(("destination", s));
    let mut s = spec();
    s.audience = Some("https://other-sp.example".into());
    broken.push(("audience", s));
    let mut s = spec();
    s.status = "urn:oasis:names:tc:SAML:2.0:status:Responder".into();
    s.status_detail = Some((
        "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed".into(),
        "no".into(),
    ));
    broken.push(("status", s));
    let mut s = spec();
    s.confirmation_not_on_or_after = Some(now - Duration::from_secs(600));
    broken.push(("confirmation-expired", s));
    let mut s = spec();
    s.authn_statement = false;
    broken.push(("no-authn-statement", s));
    broken.push((
        "duplicate-attribute",
        spec().attribute("mail", ["b@acme.example"]),
    ));
    let mut s = spec();
    s.in_response_to = None;
    broken.push(("unsolicited", s));
    for (name, s) in &broken {
        write(
            &format!("testkit-{name}.xml"),
            idp.response(s).unwrap().as_bytes(),
        );
    }
    for (name, forged) in attacks::wrapping_variants(&valid, "ceo@acme.example") {
        write(&format!("wrapping-{name}.xml"), forged.as_bytes());
    }

    // Encrypted (AES-256-GCM, RSA-OAEP) for the SP key the fuzz SP holds.
    let s = spec();
    let assertion = idp.sign(&idp.assertion_xml(&s, "_enc1"), "_enc1").unwrap();
    let encrypted = encrypt_assertion(
        assertion.as_bytes(),
        &std::fs::read(vectors.join("decrypt/sp-rsa2048.crt")).unwrap(),
        &EncryptOptions::default(),
    )
    .unwrap();
    write(
        "testkit-encrypted.xml",
        idp.wrap_response(&s, "_r_enc", &encrypted).as_bytes(),
    );

    // Logout messages as Redirect query strings (signed by the IdP).
    let key = jsm_sso_xmldsig::SigningKey::from_pem(
        &std::fs::read(vectors.join("peerbench/idp-rsa.key")).unwrap(),
    )
    .unwrap();
    let logout = format!(
        "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_lr1\" Version=\"2.0\" IssueInstant=\"2025-06-01T12:00:00Z\" Destination=\"https://portal.example-jsm.test/saml/slo\"><saml:Issuer>{IDP}</saml:Issuer><saml:NameID>alice@acme.example</saml:NameID><samlp:SessionIndex>_s1</samlp:SessionIndex></samlp:LogoutRequest>"
    );
    let url = jsm_sso_saml::binding::redirect_url(
        "https://idp.example/slo",
        jsm_sso_saml::binding::MessageKind::Request,
        &logout,
        Some("rs"),
        Some(&key),
    )
    .unwrap();
    write(
        "logout-request.query",
        url.split_once('?').unwrap().1.as_bytes(),
    );
    write(
        "logout-request.b64",
        base64::engine::general_purpose::STANDARD
            .encode(logout.as_bytes())
            .as_bytes(),
    );
    println!("wrote {}", out.display());
}
