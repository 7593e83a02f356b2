//! The per-input logic of the fuzz targets in `fuzz/fuzz_targets/`, shared with the stable
//! `fuzz_replay` test so the seed corpus is replayed through exactly the same code.
//!
//! Included by path from the fuzz crate (`#[path = ...] mod fuzz_logic;`), so it must depend on
//! nothing but `jsm_sso_xmldsig` and `std`. Every function may return early on errors; the only
//! failure a fuzzer reports is a panic (or a hang / out-of-memory).

#![allow(
    dead_code,
    reason = "each fuzz target uses only one of these functions"
)]

use std::sync::OnceLock;

use jsm_sso_xmldsig::c14n::{self, Algorithm};
use jsm_sso_xmldsig::{Document, Element, Limits, Node, TrustedKeys, Verifier, VerifyOptions};

/// The four canonicalization algorithms.
pub(crate) const ALGORITHMS: [Algorithm; 4] = [
    Algorithm::Inclusive,
    Algorithm::InclusiveWithComments,
    Algorithm::Exclusive,
    Algorithm::ExclusiveWithComments,
];

/// Upper bound on the elements canonicalized or verified per input, so a wide document cannot
/// turn a per-element loop into a fuzzer timeout (each call is linear in the subtree).
const MAX_ELEMENTS: usize = 512;

/// The pinned certificate of the peerbench corpus, as the `verify` target trusts it.
const IDP_RSA_CRT: &[u8] = include_bytes!("../../testdata/peerbench/idp-rsa.crt");

/// Every element of the document, root first, in document order (iterative: no recursion).
fn elements(doc: &Document) -> Vec<Element<'_>> {
    let mut out = Vec::new();
    let mut stack = vec![doc.root()];
    while let Some(element) = stack.pop() {
        out.push(element);
        let children: Vec<Element<'_>> = element.child_elements().collect();
        stack.extend(children.into_iter().rev());
    }
    out
}

/// `parse` target: parse any bytes; if they parse, read every name, attribute and text.
pub(crate) fn parse(data: &[u8]) {
    let Ok(doc) = Document::parse(data, &Limits::default()) else {
        return;
    };
    let mut total = 0usize;
    for element in elements(&doc) {
        total = total
            .wrapping_add(element.local_name().len())
            .wrapping_add(element.prefix().map_or(0, str::len))
            .wrapping_add(element.namespace().map_or(0, str::len))
            .wrapping_add(element.text().len());
        for attribute in element.attributes() {
            total = total
                .wrapping_add(attribute.local_name().len())
                .wrapping_add(attribute.prefix().map_or(0, str::len))
                .wrapping_add(attribute.namespace().map_or(0, str::len))
                .wrapping_add(attribute.value().len());
            // The lookup by name must find an attribute with that local name.
            let found = match attribute.namespace() {
                Some(ns) => element.attribute_ns(ns, attribute.local_name()),
                None => element.attribute(attribute.local_name()),
            };
            assert!(found.is_some(), "attribute listed but not found by name");
        }
        for node in element.children() {
            total = total.wrapping_add(match node {
                Node::Element(child) => child.local_name().len(),
                Node::Text(text) | Node::CData(text) | Node::Comment(text) => text.len(),
                Node::ProcessingInstruction { target, data } => target.len() + data.len(),
                _ => 0,
            });
        }
        let _ = element.has_child_elements();
    }
    std::hint::black_box(total);
}

/// `canonicalize` target: parse, then canonicalize the whole document and every element
/// (root included) with all four algorithms.
pub(crate) fn canonicalize(data: &[u8]) {
    let Ok(doc) = Document::parse(data, &Limits::default()) else {
        return;
    };
    for algorithm in ALGORITHMS {
        std::hint::black_box(c14n::canonicalize_document(&doc, algorithm, &[]));
        std::hint::black_box(c14n::canonicalize_document(&doc, algorithm, &["#default"]));
    }
    for element in elements(&doc).into_iter().take(MAX_ELEMENTS) {
        for algorithm in ALGORITHMS {
            std::hint::black_box(c14n::canonicalize(element, algorithm, &[]));
        }
    }
}

/// The verifier trusting the pinned peerbench RSA certificate, built once.
fn verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let keys = TrustedKeys::from_pem(IDP_RSA_CRT).expect("pinned test certificate loads");
        Verifier::new(keys, VerifyOptions::default())
    })
}

/// `verify` target: parse, then try an enveloped verification of every element that has child
/// elements. Errors are expected; only a panic is a finding.
pub(crate) fn verify(data: &[u8]) {
    let Ok(doc) = Document::parse(data, &Limits::default()) else {
        return;
    };
    let verifier = verifier();
    for element in elements(&doc)
        .into_iter()
        .filter(Element::has_child_elements)
        .take(MAX_ELEMENTS)
    {
        if let Ok(verified) = verifier.verify_enveloped(element) {
            std::hint::black_box(verified.element().local_name());
            std::hint::black_box(verified.info());
        }
    }
}
