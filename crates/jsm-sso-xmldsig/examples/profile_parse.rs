//! Parses and verifies a document many times, for profilers (`cargo run --release --example
//! profile_parse -- FILE CERT [ITERATIONS]`).
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    reason = "a profiling driver"
)]
use jsm_sso_xmldsig::{Document, Limits, TrustedKeys, Verifier, VerifyOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let xml = std::fs::read(&args[1]).unwrap();
    let keys = TrustedKeys::from_pem(&std::fs::read(&args[2]).unwrap()).unwrap();
    let n: usize = args.get(3).map_or(2000, |s| s.parse().unwrap());
    let verifier = Verifier::new(keys, VerifyOptions::default());
    let mut ok = 0;
    for _ in 0..n {
        let doc = Document::parse(&xml, &Limits::default()).unwrap();
        let a = doc
            .root()
            .child("urn:oasis:names:tc:SAML:2.0:assertion", "Assertion")
            .unwrap();
        ok += usize::from(verifier.verify_enveloped(a).is_ok());
    }
    println!("{ok}");
}
