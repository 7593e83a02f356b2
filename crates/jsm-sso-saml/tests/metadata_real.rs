//! IdP metadata as real IdPs publish it (Entra ID signed federation metadata, Okta, Google
//! Workspace, the TestShib aggregate, a rollover set, SimpleSAMLphp), read with a pinned clock;
//! the pinned metadata-signing certificate checked on Entra's real signature. Origins in
//! `tests/vectors/metadata/README.md`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers"
)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsm_sso_core::CodedError;
use jsm_sso_saml::{IdentityProvider, MetadataOptions, bindings, read_idp_metadata};
use jsm_sso_xmldsig::TrustedKeys;

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/vectors/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// 2020-01-01T00:00:00Z: inside every document's validity.
fn in_2020() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_577_836_800)
}

fn options() -> MetadataOptions {
    MetadataOptions::new(in_2020())
}

const ENTRA: &str = "https://sts.windows.net/8bd6e98d-e212-4022-b13f-a244fab4c253/";

#[test]
fn entra_federation_metadata_verifies_against_the_pinned_certificate() {
    let xml = read("metadata/entra-federationmetadata.xml");
    let mut opts = options();
    opts.signed_by =
        Some(TrustedKeys::from_pem(&read("metadata/entra-metadata-signing.pem")).unwrap());
    let idp = IdentityProvider::from_metadata(&xml, Some(ENTRA), &opts).unwrap();
    assert_eq!(idp.entity_id, ENTRA);
    assert!(!idp.keys.is_empty());
    let sso = idp.sso_endpoint(bindings::REDIRECT).unwrap();
    assert_eq!(
        sso.location,
        "https://login.windows.net/8bd6e98d-e212-4022-b13f-a244fab4c253/saml2"
    );
    assert!(idp.sso_endpoint(bindings::POST).is_some());
    // The WS-Federation RoleDescriptors beside the IDPSSODescriptor are not IdPs.
    assert_eq!(read_idp_metadata(&xml, &opts).unwrap().len(), 1);

    // Any change to the signed document is refused: an SSO endpoint pointed elsewhere.
    let text = String::from_utf8(xml.clone()).unwrap();
    let moved = text.replacen(
        "https://login.windows.net/8bd6e98d-e212-4022-b13f-a244fab4c253/saml2",
        "https://login.evil.example/8bd6e98d-e212-4022-b13f-a244fab4c253/saml2",
        1,
    );
    assert_ne!(moved, text);
    assert_eq!(
        read_idp_metadata(moved.as_bytes(), &opts)
            .unwrap_err()
            .code(),
        "saml.signature.digest_mismatch"
    );
    // A signing certificate added by an attacker in transit.
    let extra = text.replacen(
        "<KeyDescriptor use=\"signing\">",
        "<KeyDescriptor use=\"signing\"><!-- injected --></KeyDescriptor><KeyDescriptor use=\"signing\">",
        1,
    );
    if extra != text {
        assert_eq!(
            read_idp_metadata(extra.as_bytes(), &opts)
                .unwrap_err()
                .code(),
            "saml.signature.digest_mismatch"
        );
    }
    // Pinned to another certificate: not trusted.
    let mut other = options();
    other.signed_by = Some(TrustedKeys::from_pem(&read("peerbench/idp-rsa.crt")).unwrap());
    let code = read_idp_metadata(&xml, &other).unwrap_err().code();
    assert!(
        matches!(
            code,
            "saml.signature.untrusted_key" | "saml.signature.invalid"
        ),
        "{code}"
    );
    // Unsigned metadata where a signature is pinned: refused.
    let okta = read("metadata/okta-idp-metadata.xml");
    assert_eq!(
        read_idp_metadata(&okta, &opts).unwrap_err().code(),
        "saml.signature.missing"
    );
}

#[test]
fn okta_and_google_metadata() {
    let okta =
        IdentityProvider::from_metadata(&read("metadata/okta-idp-metadata.xml"), None, &options())
            .unwrap();
    assert_eq!(okta.entity_id, "http://www.okta.com/exkppsa1qwuFV4D7z0h7");
    assert_eq!(okta.keys.len(), 1);
    assert!(!okta.want_authn_requests_signed);
    assert!(
        okta.sso_endpoint(bindings::POST)
            .unwrap()
            .location
            .starts_with("https://dev-")
    );

    let google_xml = read("metadata/google-idp-metadata.xml");
    let google = IdentityProvider::from_metadata(&google_xml, None, &options()).unwrap();
    assert_eq!(
        google.entity_id,
        "https://accounts.google.com/o/saml2?idpid=C02dfl1r1"
    );
    assert!(google.valid_until.is_some());
    // Google Workspace offers the POST binding only.
    assert!(google.sso_endpoint(bindings::REDIRECT).is_none());
    assert_eq!(
        google.sso_endpoint(bindings::POST).unwrap().location,
        "https://accounts.google.com/o/saml2/idp?idpid=C02dfl1r1"
    );
    // Its validUntil (2021-01-03) has passed by 2026.
    let later = MetadataOptions::new(UNIX_EPOCH + Duration::from_secs(1_780_000_000));
    let err = IdentityProvider::from_metadata(&google_xml, None, &later).unwrap_err();
    assert_eq!(err.code(), "saml.metadata.expired");
    assert!(err.to_string().contains("2021-01-03"), "{err}");
}

#[test]
fn rollover_metadata_trusts_every_signing_certificate() {
    let idp = IdentityProvider::from_metadata(
        &read("metadata/rollover-idp-metadata.xml"),
        None,
        &options(),
    )
    .unwrap();
    assert_eq!(idp.entity_id, "https://idp.examle.com/saml/metadata");
    // Three KeyDescriptors: the same 2048-bit certificate twice (kept once) and a 1024-bit
    // one, which is too weak to trust and left out.
    assert_eq!(idp.keys.len(), 1);
    assert_eq!(idp.slo.len(), 1);
    assert_eq!(idp.slo[0].location, "https://idp.examle.com/saml/slo");
}

#[test]
fn aggregates_testshib_and_two_idps() {
    // TestShib: one Shibboleth IdP (SAML 1.1 + 2.0) and one SP in an EntitiesDescriptor.
    let xml = read("metadata/testshib-providers.xml");
    let all = read_idp_metadata(&xml, &options()).unwrap();
    assert_eq!(all.len(), 1);
    let shib = &all[0];
    assert_eq!(shib.entity_id, "https://idp.testshib.org/idp/shibboleth");
    // A KeyDescriptor without `use` is for signing as well.
    assert_eq!(shib.keys.len(), 1);
    assert!(shib.sso_endpoint(bindings::REDIRECT).is_some());
    assert!(shib.sso_endpoint(bindings::POST).is_some());
    assert_eq!(
        IdentityProvider::from_metadata(
            &xml,
            Some("https://sp.testshib.org/shibboleth-sp"),
            &options()
        )
        .unwrap_err()
        .code(),
        "saml.metadata.entity_not_found"
    );

    // Two IdPs whose X509Certificate elements hold base64 of a PEM file (base64 twice), a
    // mistake seen in hand-edited metadata: refused, naming the IdP and the parse failure.
    let two = read("metadata/two-idps-metadata.xml");
    let in_2013 = MetadataOptions::new(UNIX_EPOCH + Duration::from_secs(1_370_000_000));
    let err = read_idp_metadata(&two, &in_2013).unwrap_err();
    assert_eq!(err.code(), "saml.metadata.invalid");
    assert!(
        err.to_string().contains("foo.example.com") && err.to_string().contains("certificate"),
        "{err}"
    );
    // Its validUntil (2014) is checked before anything else in the entity.
    assert_eq!(
        read_idp_metadata(&two, &options()).unwrap_err().code(),
        "saml.metadata.expired"
    );
    // Repaired, the certificates are 1024-bit RSA keys: too weak to trust, and the error says so.
    let err = read_idp_metadata(&repair_double_base64(&two), &in_2013).unwrap_err();
    assert_eq!(err.code(), "saml.metadata.invalid");
    assert!(err.to_string().contains("1024 bits"), "{err}");
}

/// Decodes each `X509Certificate` once (base64 of PEM -> PEM) and keeps the PEM body.
fn repair_double_base64(xml: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let text = String::from_utf8(xml.to_vec()).unwrap();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("<ds:X509Certificate>") {
        let body_start = start + "<ds:X509Certificate>".len();
        let end = body_start + rest[body_start..].find("</ds:X509Certificate>").unwrap();
        let compact: String = rest[body_start..end].split_whitespace().collect();
        let pem = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .unwrap();
        let pem = String::from_utf8(pem).unwrap();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        out.push_str(&rest[..body_start]);
        out.push_str(&body);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out.into_bytes()
}

#[test]
fn simplesamlphp_generated_metadata() {
    let idp = IdentityProvider::from_metadata(
        &read("simplesamlphp/idp-metadata.xml"),
        None,
        &MetadataOptions::new(UNIX_EPOCH + Duration::from_secs(1_790_000_000)),
    )
    .unwrap();
    assert_eq!(idp.entity_id, "http://127.0.0.1/jsm-sso/simplesamlphp-idp");
    assert_eq!(idp.keys.len(), 1);
    let pinned = TrustedKeys::from_pem(&read("simplesamlphp/idp-cert.pem")).unwrap();
    assert_eq!(
        idp.keys.iter().next().unwrap().fingerprint(),
        pinned.iter().next().unwrap().fingerprint()
    );
    assert!(idp.sso_endpoint(bindings::REDIRECT).is_some());
}

#[test]
fn documents_that_are_not_usable_metadata() {
    let code = |xml: &str| {
        read_idp_metadata(xml.as_bytes(), &options())
            .unwrap_err()
            .code()
    };
    assert_eq!(
        code("<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"/>"),
        "saml.metadata.invalid"
    );
    assert_eq!(
        code("<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\"/>"),
        "saml.metadata.invalid"
    );
    // An IdP whose only certificate is not a certificate.
    assert_eq!(
        code(
            "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"https://idp\"><md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\"><md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>AAAA</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor></md:IDPSSODescriptor></md:EntityDescriptor>"
        ),
        "saml.metadata.invalid"
    );
    assert_eq!(
        code(
            "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"x\" validUntil=\"soon\"><md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\"/></md:EntityDescriptor>"
        ),
        "saml.message.time"
    );
    assert_eq!(code("<!DOCTYPE x [<!ENTITY e \"e\">]><x/>"), "xml.doctype");
    // The IdP asked for is described, but only for SAML 1.1: not a SAML 2.0 IdP.
    assert_eq!(
        IdentityProvider::from_metadata(
            b"<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"https://old\"><md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:1.1:protocol\"/></md:EntityDescriptor>",
            None,
            &options()
        )
        .unwrap_err()
        .code(),
        "saml.metadata.invalid"
    );
}
