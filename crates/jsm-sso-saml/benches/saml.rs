//! Full Response validation of the peer-benchmark responses beside the signature-verification
//! floor on the same document, and the ratio between the two.
//!
//! Ids (read by scripts): `saml/validate/typical` (the 7.9 KB response, `medium.xml` of
//! `../shared/peerbench/corpus/`), `saml/floor/typical` (one RSA-2048 PKCS#1 verify of the
//! canonical SignedInfo, a SHA-256 of the document and one quick-xml pass over it, the same
//! floor as the xmldsig bench), plus `saml/validate/{small,both,large}` and
//! `saml/validate_post/typical` (from the base64 form value). After the run the
//! validate/floor ratio of the typical response is printed (target: at most 2x).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "bench code: a failure should stop the run loudly; the ratio is printed"
)]

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use jsm_sso_saml::{Expect, IdentityProvider, ServiceProvider, ServiceProviderConfig};
use jsm_sso_xmldsig::{Document, Limits, TrustedKeys, c14n};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const REQUEST: &str = "_a8f3e1c2b9d04f6e8c7b5a4d3e2f1a0b";

fn vector(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/vectors/peerbench/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_748_779_230)
}

/// The floor's inputs: the canonical SignedInfo and raw signature value of the assertion
/// signature, and the IdP's RSA public key (PKCS#1), prepared outside the timed loop.
fn floor_inputs(xml: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let doc = Document::parse(xml, &Limits::default()).unwrap();
    let assertion = doc.root().child(SAML, "Assertion").unwrap();
    let signature = assertion.child(DS, "Signature").unwrap();
    let signed_info = signature.child(DS, "SignedInfo").unwrap();
    let canonical = c14n::canonicalize(signed_info, c14n::Algorithm::Exclusive, &[]);
    let value: String = signature
        .child(DS, "SignatureValue")
        .unwrap()
        .text()
        .split_whitespace()
        .collect();
    let value = base64::engine::general_purpose::STANDARD
        .decode(value)
        .unwrap();
    let pem = vector("idp-rsa.crt");
    let der = jsm_sso_saml::certificate_der_from_pem(&pem).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let public = cert
        .tbs_certificate
        .subject_pki
        .subject_public_key
        .data
        .to_vec();
    (canonical, value, public)
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

/// Times `validate` and `floor` in alternating batches and returns the medians of their
/// per-call times and of the per-round ratios (pairing the two keeps the ratio steady on a
/// loaded machine; criterion's own estimates are the reported times).
fn paired(
    mut validate: impl FnMut(),
    mut floor: impl FnMut(),
    rounds: usize,
    batch: u32,
) -> (Duration, Duration, f64) {
    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        for _ in 0..batch {
            f();
        }
        start.elapsed() / batch
    };
    let mut full = Vec::new();
    let mut base = Vec::new();
    let mut ratios = Vec::new();
    for _ in 0..rounds {
        let v = time(&mut validate);
        let f = time(&mut floor);
        ratios.push(v.as_secs_f64() / f.as_secs_f64().max(1e-12));
        full.push(v);
        base.push(f);
    }
    full.sort();
    base.sort();
    ratios.sort_by(f64::total_cmp);
    (
        full[full.len() / 2],
        base[base.len() / 2],
        ratios[ratios.len() / 2],
    )
}

fn benches(c: &mut Criterion) {
    let sp = ServiceProvider::new(ServiceProviderConfig::new(
        "https://portal.example-jsm.test/saml/metadata",
        "https://portal.example-jsm.test/saml/acs",
    ))
    .unwrap();
    let idp = IdentityProvider::new(
        "okta",
        "http://www.okta.com/exk8q2bq1zPEXAMPLE697",
        TrustedKeys::from_pem(&vector("idp-rsa.crt")).unwrap(),
        None,
    )
    .unwrap();
    let expect = Expect {
        now: now(),
        request_id: Some(REQUEST),
    };
    let validate = |xml: &[u8]| sp.validate_response(&idp, xml, expect).unwrap();

    let mut group = c.benchmark_group("saml");
    for (id, file) in [
        ("typical", "medium.xml"),
        ("small", "small.xml"),
        ("both", "medium_both.xml"),
        ("large", "large.xml"),
    ] {
        let xml = vector(file);
        validate(&xml);
        group.bench_function(format!("validate/{id}"), |b| {
            b.iter(|| validate(black_box(&xml)))
        });
    }

    let typical = vector("medium.xml");
    let form = base64::engine::general_purpose::STANDARD.encode(&typical);
    group.bench_function("validate_post/typical", |b| {
        b.iter(|| sp.validate_post(&idp, black_box(&form), expect).unwrap())
    });

    let (signed_info, signature, public) = floor_inputs(&typical);
    let key = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public);
    key.verify(&signed_info, &signature).unwrap();
    let text = std::str::from_utf8(&typical).unwrap().to_owned();
    let floor = || {
        key.verify(black_box(&signed_info), black_box(&signature))
            .unwrap();
        let digest = ring::digest::digest(&ring::digest::SHA256, black_box(&typical));
        black_box((digest, quick_xml_pass(black_box(&text))));
    };
    group.bench_function("floor/typical", |b| b.iter(floor));
    group.finish();

    // The ratio, measured back to back on the same machine state. In test mode (`cargo test
    // --bench`) a single round suffices to show it runs.
    let quick = std::env::args().any(|a| a == "--test" || a == "--list");
    let (rounds, batch) = if quick { (1, 1) } else { (101, 50) };
    let (full, base, ratio) = paired(
        || {
            validate(black_box(&typical));
        },
        floor,
        rounds,
        batch,
    );
    println!(
        "saml/typical: validate {:.1} µs, floor {:.1} µs, ratio {ratio:.2}x (target <= 2x); \
         quoted peers: samael 1762 µs, python3-saml 5473 µs, node-saml 17245 µs",
        full.as_secs_f64() * 1e6,
        base.as_secs_f64() * 1e6,
    );
}

criterion_group!(saml, benches);
criterion_main!(saml);
