//! Parse, c14n and verify of the peer-benchmark responses, beside the floor: one RSA-2048
//! verify + SHA-256 of the document + one quick-xml pass over it, on the same bytes.
//!
//! Ids (read by scripts): `xmldsig/verify/{small,medium,large}`, `xmldsig/floor/{...}`, plus
//! `xmldsig/parse/{...}` and `xmldsig/c14n/{...}` for where the time goes.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test and bench code: a failure should stop the run loudly"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use jsm_sso_xmldsig::{Document, Limits, TrustedKeys, Verifier, VerifyOptions, c14n};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use std::hint::black_box;

const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";

fn corpus(name: &str) -> Vec<u8> {
    let path = format!("{}/testdata/peerbench/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The floor's inputs: the canonical SignedInfo and raw signature value of the assertion,
/// prepared outside the timed loop.
fn floor_inputs(xml: &[u8]) -> (Vec<u8>, Vec<u8>) {
    use base64::Engine as _;
    let doc = Document::parse(xml, &Limits::default()).unwrap();
    let assertion = doc.root().child(SAML, "Assertion").unwrap();
    let signature = assertion.child(DS, "Signature").unwrap();
    let signed_info = signature.child(DS, "SignedInfo").unwrap();
    let canonical = c14n::canonicalize(signed_info, c14n::Algorithm::Exclusive, &[]);
    let value = signature
        .child(DS, "SignatureValue")
        .unwrap()
        .text()
        .replace(['\n', '\r', ' '], "");
    let value = base64::engine::general_purpose::STANDARD
        .decode(value)
        .unwrap();
    (canonical, value)
}

fn quick_xml_pass(xml: &str) -> usize {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut events = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) | Err(_) => return events,
            Ok(_) => events += 1,
        }
    }
}

fn benches(c: &mut Criterion) {
    let keys = TrustedKeys::from_pem(&corpus("idp-rsa.crt")).unwrap();
    let verifier = Verifier::new(keys, VerifyOptions::default());
    let rsa_public = std::fs::read(format!(
        "{}/testdata/peerbench/idp-rsa.pkcs1.der",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut group = c.benchmark_group("xmldsig");
    for size in ["small", "medium", "large"] {
        let xml = corpus(&format!("{size}.xml"));
        let text = std::str::from_utf8(&xml).unwrap().to_owned();

        let verify = |xml: &[u8]| {
            let doc = Document::parse(xml, &Limits::default()).unwrap();
            let assertion = doc.root().child(SAML, "Assertion").unwrap();
            verifier
                .verify_enveloped(assertion)
                .map(|v| v.info().digest_method)
                .unwrap()
        };
        verify(&xml);
        group.bench_function(format!("verify/{size}"), |b| {
            b.iter(|| verify(black_box(&xml)))
        });

        let (signed_info, signature) = floor_inputs(&xml);
        let public = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &rsa_public);
        public.verify(&signed_info, &signature).unwrap();
        group.bench_function(format!("floor/{size}"), |b| {
            b.iter(|| {
                public
                    .verify(black_box(&signed_info), black_box(&signature))
                    .unwrap();
                let digest = ring::digest::digest(&ring::digest::SHA256, black_box(&xml));
                (digest, quick_xml_pass(black_box(&text)))
            })
        });

        group.bench_function(format!("parse/{size}"), |b| {
            b.iter(|| Document::parse(black_box(&xml), &Limits::default()).unwrap())
        });
        let doc = Document::parse(&xml, &Limits::default()).unwrap();
        let assertion = doc.root().child(SAML, "Assertion").unwrap();
        group.bench_function(format!("c14n/{size}"), |b| {
            b.iter(|| c14n::canonicalize(black_box(assertion), c14n::Algorithm::Exclusive, &["xs"]))
        });
    }
    group.finish();
}

criterion_group!(xmldsig, benches);
criterion_main!(xmldsig);
