//! Signed documents from seven other SAML / XML-DSig implementations, each with the outcome our
//! design gives it: accepted with the IdP key pinned from the corpus, or refused with an exact
//! error code.
//!
//! The table is `testdata/corpus/README.md` itself (the rows between the `vectors:begin` and
//! `vectors:end` markers), so the documentation cannot drift from what is tested. Per row:
//!
//! - **element**: what is handed to [`Verifier::verify_enveloped`]: `root`, `assertion` (the
//!   first `saml:Assertion` below the root in document order: what a naive SP picks), or
//!   `id:VALUE`.
//! - **key**: the pinned IdP key, from the vector's own project folder (see [`load_key`]).
//! - **expected**: the outcome with [`VerifyOptions::default`] (`accept` or an error code; a key
//!   the secure defaults refuse, RSA-1024 for example, is refused when it is loaded).
//! - **allow_sha1**: the outcome with [`VerifyOptions::allow_sha1`] (`=`: the same).
//! - **unrelated key**: only where the pinned key is refused: the outcome with an unrelated
//!   trusted key and SHA-1 allowed. A structural code (`xmldsig.signature.missing`,
//!   `xmldsig.shape`, ...) means the structure alone is refused; `xmldsig.key.untrusted` or
//!   `xmldsig.signature.invalid` means only the IdP's key could decide.
//! - **oracle**: an independent check of the signature with our canonicalization and ring
//!   directly, with none of our policies (any RSA size, SHA-1, ECDSA in DER form):
//!   `genuine` (signature and digest match), `signature` (signature matches, the reference is
//!   one the oracle does not dereference), `bad-digest`, `bad-signature`, or `n/a`. It shows
//!   that a refusal by policy is not a canonicalization bug in disguise.
//!
//! `JSM_SSO_CORPUS_TABLE=1` prints the rows with the outcomes actually observed instead of
//! asserting (for updating the table after a deliberate change).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test, and the \
              table mode prints"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use jsm_sso_xmldsig::{
    CodedError, Document, Element, Limits, TrustedKey, TrustedKeys, Verifier, VerifyOptions, c14n,
};
use ring::signature::{self as sig, UnparsedPublicKey};
use x509_parser::prelude::FromDer as _;

const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_NS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/corpus")
}

// ---------------------------------------------------------------------------------------------
// The table

#[derive(Debug, Clone)]
struct Row {
    line: usize,
    file: String,
    element: String,
    key: String,
    expected: String,
    allow_sha1: String,
    unrelated: String,
    oracle: String,
    why: String,
}

fn cell(text: &str) -> String {
    text.trim().trim_matches('`').trim().to_owned()
}

/// The rows of the markdown table between `<!-- vectors:begin -->` and `<!-- vectors:end -->`
/// in `readme`.
fn rows_of(readme: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut inside = false;
    for (n, line) in readme.lines().enumerate() {
        if line.contains("<!-- vectors:begin -->") {
            inside = true;
            continue;
        }
        if line.contains("<!-- vectors:end -->") {
            inside = false;
        }
        if !inside || !line.starts_with('|') || line.starts_with("|---") {
            continue;
        }
        let cells: Vec<String> = line.trim().trim_matches('|').split('|').map(cell).collect();
        if cells.first().is_some_and(|c| c == "vector") {
            continue;
        }
        assert_eq!(cells.len(), 8, "README.md line {}: 8 cells expected", n + 1);
        rows.push(Row {
            line: n + 1,
            file: cells[0].clone(),
            element: cells[1].clone(),
            key: cells[2].clone(),
            expected: cells[3].clone(),
            allow_sha1: cells[4].clone(),
            unrelated: cells[5].clone(),
            oracle: cells[6].clone(),
            why: cells[7].clone(),
        });
    }
    rows
}

fn table() -> Vec<Row> {
    let readme = std::fs::read_to_string(corpus_dir().join("README.md")).unwrap();
    let rows = rows_of(&readme);
    assert!(rows.len() > 100, "the vector table was not found");
    rows
}

// ---------------------------------------------------------------------------------------------
// Reading a vector

/// The XML of a vector file: as is, or base64-decoded (the SAMLResponse form value).
fn decode(bytes: &[u8]) -> Vec<u8> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<') {
        return bytes.to_vec();
    }
    let compact: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    B64.decode(compact)
        .expect("a vector is XML or base64 of XML")
}

fn all_elements<'d>(element: Element<'d>, out: &mut Vec<Element<'d>>) {
    out.push(element);
    for child in element.child_elements() {
        all_elements(child, out);
    }
}

fn id_of<'d>(element: Element<'d>) -> Option<&'d str> {
    element
        .attribute("ID")
        .or_else(|| element.attribute("Id"))
        .or_else(|| element.attribute("id"))
}

fn target<'d>(doc: &'d Document, spec: &str) -> Element<'d> {
    let mut elements = Vec::new();
    all_elements(doc.root(), &mut elements);
    match spec {
        "root" => doc.root(),
        "assertion" => elements
            .into_iter()
            .skip(1)
            .find(|e| e.is(SAML, "Assertion"))
            .expect("the vector has an Assertion below the root"),
        _ => {
            let id = spec
                .strip_prefix("id:")
                .expect("root, assertion or id:VALUE");
            elements
                .into_iter()
                .find(|e| id_of(*e) == Some(id))
                .unwrap_or_else(|| panic!("no element with id {id}"))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Keys

/// DER certificates or SubjectPublicKeyInfos named by a key spec, relative to the project:
///
/// - `pem:FILE`: every CERTIFICATE and PUBLIC KEY block of a PEM file;
/// - `der:FILE`: a DER certificate or SPKI;
/// - `b64:FILE`: a bare base64 certificate (no PEM armour);
/// - `json:FILE`: `idp.x509cert` of a python3-saml settings file;
/// - `meta:FILE`: every `ds:X509Certificate` of IdP metadata (rollover set);
/// - `keyinfo`: the certificate in the checked signature's own `KeyInfo` (where upstream pins
///   that certificate by fingerprint); `keyinfo-pem`: the same, holding base64 of a PEM
///   certificate (the ADFS captures);
/// - `-`: no key in the corpus (the signer's key exists only inside the signature, or the
///   document is refused before any key matters).
fn key_material(project: &Path, spec: &str, signature_key_info: Option<String>) -> Vec<Vec<u8>> {
    let no_certificate = || panic!("{spec}: the signature's KeyInfo has no certificate");
    let (kind, file) = spec.split_once(':').unwrap_or((spec, ""));
    let read = || std::fs::read(project.join(file)).unwrap_or_else(|e| panic!("{spec}: {e}"));
    let base64 = |text: &str| {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        B64.decode(compact).unwrap()
    };
    match kind {
        "pem" => x509_parser::pem::Pem::iter_from_buffer(&read())
            .map(|p| p.unwrap())
            .filter_map(|p| match p.label.as_str() {
                "CERTIFICATE" | "PUBLIC KEY" => Some(p.contents),
                // PKCS#1, which TrustedKeys::from_pem does not read: wrapped as an SPKI here.
                "RSA PUBLIC KEY" => Some(rsa_spki(&p.contents)),
                _ => None,
            })
            .collect(),
        "der" => vec![read()],
        "b64" => vec![base64(&String::from_utf8(read()).unwrap())],
        "json" => {
            let text = String::from_utf8(read()).unwrap();
            let idp = &text[text.find("\"idp\"").unwrap()..];
            let at = idp.find("\"x509cert\"").unwrap() + "\"x509cert\"".len();
            let value = &idp[at..];
            let start = value.find('"').unwrap() + 1;
            let end = start + value[start..].find('"').unwrap();
            vec![base64(&value[start..end].replace("\\n", ""))]
        }
        "meta" => {
            let xml = read();
            let doc = Document::parse(&xml, &Limits::default()).unwrap();
            let mut elements = Vec::new();
            all_elements(doc.root(), &mut elements);
            elements
                .into_iter()
                .filter(|e| e.is(DS, "X509Certificate"))
                .map(|e| base64(&e.text()))
                .collect()
        }
        "keyinfo" => vec![base64(&signature_key_info.unwrap_or_else(no_certificate))],
        "keyinfo-pem" => {
            let pem = base64(&signature_key_info.unwrap_or_else(no_certificate));
            x509_parser::pem::Pem::iter_from_buffer(&pem)
                .map(|p| p.unwrap().contents)
                .collect()
        }
        "-" => Vec::new(),
        other => panic!("unknown key spec {other}"),
    }
}

/// A DER SubjectPublicKeyInfo around a PKCS#1 `RSAPublicKey`.
fn rsa_spki(pkcs1: &[u8]) -> Vec<u8> {
    fn der(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = body.len();
        if len < 0x80 {
            out.push(len as u8);
        } else if len < 0x100 {
            out.extend([0x81, len as u8]);
        } else {
            out.extend([0x82, (len >> 8) as u8, len as u8]);
        }
        out.extend_from_slice(body);
        out
    }
    // AlgorithmIdentifier { rsaEncryption, NULL }
    let algorithm = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bits = vec![0u8];
    bits.extend_from_slice(pkcs1);
    let mut body = algorithm.to_vec();
    body.extend(der(0x03, &bits));
    der(0x30, &body)
}

/// The pinned keys, as a verifier would load them: refused here when the secure defaults refuse
/// them (RSA under 2048 bits, DSA, P-521).
fn load_key(der: &[Vec<u8>]) -> Result<TrustedKeys, &'static str> {
    let mut keys = Vec::new();
    for item in der {
        let key = if x509_parser::parse_x509_certificate(item).is_ok() {
            TrustedKey::from_certificate_der(item)
        } else {
            TrustedKey::from_spki_der(item)
        };
        let key = key.map_err(|e| e.code())?;
        keys.push(key);
    }
    TrustedKeys::new(keys).map_err(|e| e.code())
}

/// The signature `element` carries, or `element` itself when it is a (enveloping) signature.
fn signature_of<'d>(element: Element<'d>) -> Option<Element<'d>> {
    if element.is(DS, "Signature") {
        Some(element)
    } else {
        element.child(DS, "Signature")
    }
}

fn key_info_certificate(element: Element<'_>) -> Option<String> {
    let certificate = signature_of(element)?
        .child(DS, "KeyInfo")?
        .child(DS, "X509Data")?
        .child(DS, "X509Certificate")?;
    Some(certificate.text().into_owned())
}

fn unrelated_key() -> TrustedKeys {
    let pem =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/peerbench/idp-rsa.crt"))
            .unwrap();
    TrustedKeys::from_pem(&pem).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The oracle: the signature checked with our c14n and ring, without our policies

/// A public key as the oracle needs it.
enum OracleKey {
    Rsa { der: Vec<u8>, bits: usize },
    Ec { point: Vec<u8>, curve: &'static str },
    Other,
}

fn oracle_key(der: &[u8]) -> OracleKey {
    let spki_der = match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => cert.public_key().raw.to_vec(),
        Err(_) => der.to_vec(),
    };
    let Ok((_, spki)) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&spki_der) else {
        return OracleKey::Other;
    };
    let data = spki.subject_public_key.data.to_vec();
    match spki.algorithm.algorithm.to_id_string().as_str() {
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => {
            let (_, rsa) = x509_parser::public_key::RSAPublicKey::from_der(&data).unwrap();
            let modulus = rsa.modulus;
            let first = modulus.iter().position(|b| *b != 0).unwrap_or(0);
            let bits = (modulus.len() - first) * 8 - modulus[first].leading_zeros() as usize;
            OracleKey::Rsa { der: data, bits }
        }
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.clone().oid().ok())
                .map(|o| o.to_id_string());
            match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => OracleKey::Ec {
                    point: data,
                    curve: "p256",
                },
                Some("1.3.132.0.34") => OracleKey::Ec {
                    point: data,
                    curve: "p384",
                },
                _ => OracleKey::Other,
            }
        }
        _ => OracleKey::Other,
    }
}

/// Whether `signature` over `message` verifies with `key` under the XML-DSig method `method`;
/// `None` when the oracle cannot check this combination.
fn oracle_signature(
    method: &str,
    key: &OracleKey,
    message: &[u8],
    signature: &[u8],
) -> Option<bool> {
    let fragment = method.rsplit('#').next().unwrap_or_default();
    let verify = |alg: &'static dyn sig::VerificationAlgorithm, public: &[u8], s: &[u8]| {
        UnparsedPublicKey::new(alg, public)
            .verify(message, s)
            .is_ok()
    };
    match key {
        OracleKey::Rsa { der, bits } => {
            let legacy = *bits < 2048;
            let alg: &'static dyn sig::VerificationAlgorithm = match (fragment, legacy) {
                ("rsa-sha1", true) => &sig::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
                ("rsa-sha1", false) => &sig::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                ("rsa-sha256", true) => &sig::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                ("rsa-sha256", false) => &sig::RSA_PKCS1_2048_8192_SHA256,
                ("rsa-sha384", false) => &sig::RSA_PKCS1_2048_8192_SHA384,
                ("rsa-sha512", true) => &sig::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
                ("rsa-sha512", false) => &sig::RSA_PKCS1_2048_8192_SHA512,
                ("sha256-rsa-MGF1", false) => &sig::RSA_PSS_2048_8192_SHA256,
                ("sha384-rsa-MGF1", false) => &sig::RSA_PSS_2048_8192_SHA384,
                ("sha512-rsa-MGF1", false) => &sig::RSA_PSS_2048_8192_SHA512,
                _ => return None,
            };
            Some(verify(alg, der, signature))
        }
        OracleKey::Ec { point, curve } => {
            let asn1: &'static dyn sig::VerificationAlgorithm = match (fragment, *curve) {
                ("ecdsa-sha256", "p256") => &sig::ECDSA_P256_SHA256_ASN1,
                ("ecdsa-sha384", "p384") => &sig::ECDSA_P384_SHA384_ASN1,
                ("ecdsa-sha384", "p256") => &sig::ECDSA_P256_SHA384_ASN1,
                ("ecdsa-sha256", "p384") => &sig::ECDSA_P384_SHA256_ASN1,
                _ => return None,
            };
            let n = if *curve == "p256" { 32 } else { 48 };
            // Raw r || s as XML-DSig has it, or the DER form some Java signers emit: the oracle
            // takes both, our verifier only the first.
            let der = if signature.len() == 2 * n {
                raw_to_der(signature, n)
            } else {
                signature.to_vec()
            };
            Some(verify(asn1, point, &der))
        }
        OracleKey::Other => None,
    }
}

fn raw_to_der(raw: &[u8], n: usize) -> Vec<u8> {
    let integer = |bytes: &[u8]| {
        let first = bytes
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(bytes.len() - 1);
        let mut v = bytes[first..].to_vec();
        if v[0] & 0x80 != 0 {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    };
    let mut body = integer(&raw[..n]);
    body.extend(integer(&raw[n..]));
    let mut der = vec![0x30];
    if body.len() >= 0x80 {
        der.push(0x81);
    }
    der.push(body.len() as u8);
    der.extend(body);
    der
}

fn c14n_method(element: Element<'_>) -> Option<(c14n::Algorithm, Vec<String>)> {
    let algorithm = c14n::Algorithm::from_uri(element.attribute("Algorithm")?)?;
    let prefixes = element
        .child(EXC_NS, "InclusiveNamespaces")
        .and_then(|i| i.attribute("PrefixList"))
        .map(|list| list.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    Some((algorithm, prefixes))
}

fn without_comments(algorithm: c14n::Algorithm) -> c14n::Algorithm {
    match algorithm {
        c14n::Algorithm::InclusiveWithComments => c14n::Algorithm::Inclusive,
        c14n::Algorithm::ExclusiveWithComments => c14n::Algorithm::Exclusive,
        other => other,
    }
}

/// The document text with the `Signature` element that carries `signature_value` cut out: the
/// enveloped-signature transform, done on the text.
fn cut_signature(xml: &str, prefix: Option<&str>, signature_value: &str) -> Option<String> {
    let name = match prefix {
        Some(p) => format!("{p}:Signature"),
        None => "Signature".to_owned(),
    };
    let open = format!("<{name}");
    let close = format!("</{name}>");
    let probe: String = signature_value
        .chars()
        .filter(|c| !c.is_whitespace())
        .take(16)
        .collect();
    let mut from = 0;
    while let Some(found) = xml[from..].find(&open) {
        let start = from + found;
        let after = xml[start + open.len()..].chars().next()?;
        from = start + open.len();
        if !(after.is_whitespace() || after == '>') {
            continue;
        }
        let end = start + xml[start..].find(&close)? + close.len();
        if xml[start..end].contains(&probe) {
            return Some(format!("{}{}", &xml[..start], &xml[end..]));
        }
    }
    None
}

fn digest(uri: &str, data: &[u8]) -> Option<Vec<u8>> {
    let alg = match uri.rsplit('#').next()? {
        "sha1" => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        "sha256" => &ring::digest::SHA256,
        "sha384" => &ring::digest::SHA384,
        "sha512" => &ring::digest::SHA512,
        _ => return None,
    };
    Some(ring::digest::digest(alg, data).as_ref().to_vec())
}

/// The oracle's verdict on the signature that `element` carries.
fn oracle(xml: &str, element: Element<'_>, key: &OracleKey) -> &'static str {
    let Some(signature) = signature_of(element) else {
        return "n/a";
    };
    let check = || -> Option<&'static str> {
        let signed_info = signature.child(DS, "SignedInfo")?;
        let (algorithm, prefixes) = c14n_method(signed_info.child(DS, "CanonicalizationMethod")?)?;
        let prefixes: Vec<&str> = prefixes.iter().map(String::as_str).collect();
        let canonical = c14n::canonicalize(signed_info, algorithm, &prefixes);
        let method = signed_info
            .child(DS, "SignatureMethod")?
            .attribute("Algorithm")?;
        let value_text = signature.child(DS, "SignatureValue")?.text().into_owned();
        let value = B64
            .decode(
                value_text
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect::<String>(),
            )
            .ok()?;
        if !oracle_signature(method, key, &canonical, &value)? {
            return Some("bad-signature");
        }
        // The digest of the reference, for same-document references the oracle understands.
        let reference = signed_info.child(DS, "Reference")?;
        let uri = reference.attribute("URI")?;
        let mut enveloped = false;
        let mut transform = None;
        if let Some(transforms) = reference.child(DS, "Transforms") {
            for t in transforms.child_elements() {
                let a = t.attribute("Algorithm")?;
                if a.ends_with("#enveloped-signature") {
                    enveloped = true;
                } else if let Some(m) = c14n_method(t) {
                    transform = Some(m);
                } else if a == "http://www.w3.org/TR/1999/REC-xpath-19991116"
                    && t.child(DS, "XPath").is_some_and(|x| {
                        x.text().split_whitespace().collect::<String>()
                            == "not(ancestor-or-self::dsig:Signature)"
                    })
                {
                    enveloped = true;
                } else {
                    return Some("signature");
                }
            }
        }
        let (c14n_alg, c14n_prefixes) = transform.unwrap_or((c14n::Algorithm::Inclusive, vec![]));
        let c14n_alg = without_comments(c14n_alg);
        let c14n_prefixes: Vec<&str> = c14n_prefixes.iter().map(String::as_str).collect();
        let text = if enveloped {
            cut_signature(xml, signature.prefix(), &value_text)?
        } else {
            xml.to_owned()
        };
        let doc = Document::parse(text.as_bytes(), &Limits::default()).ok()?;
        let canonical = if uri.is_empty() {
            c14n::canonicalize_document(&doc, c14n_alg, &c14n_prefixes)
        } else if let Some(id) = uri.strip_prefix('#').filter(|i| !i.contains('(')) {
            let mut elements = Vec::new();
            all_elements(doc.root(), &mut elements);
            let referenced = elements.into_iter().find(|e| id_of(*e) == Some(id))?;
            c14n::canonicalize(referenced, c14n_alg, &c14n_prefixes)
        } else {
            return Some("signature");
        };
        let expected = reference.child(DS, "DigestValue")?.text().into_owned();
        let expected = B64
            .decode(
                expected
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect::<String>(),
            )
            .ok()?;
        let method = reference
            .child(DS, "DigestMethod")?
            .attribute("Algorithm")?;
        let Some(actual) = digest(method, &canonical) else {
            return Some("signature");
        };
        Some(if actual == expected {
            "genuine"
        } else {
            "bad-digest"
        })
    };
    check().unwrap_or("n/a")
}

// ---------------------------------------------------------------------------------------------
// Running a row

struct Observed {
    expected: String,
    allow_sha1: String,
    unrelated: String,
    oracle: String,
}

fn outcome(result: Result<jsm_sso_xmldsig::Verified<'_>, jsm_sso_xmldsig::Error>) -> String {
    match result {
        Ok(_) => "accept".to_owned(),
        Err(e) => e.code().to_owned(),
    }
}

fn run(row: &Row) -> Observed {
    let (project, path) = row.file.split_once('/').unwrap();
    let project_dir = corpus_dir().join(project);
    let bytes =
        std::fs::read(project_dir.join(path)).unwrap_or_else(|e| panic!("{}: {e}", row.file));
    let xml = decode(&bytes);
    let doc = match Document::parse(&xml, &Limits::default()) {
        Ok(doc) => doc,
        Err(e) => {
            return Observed {
                expected: e.code().to_owned(),
                allow_sha1: "=".to_owned(),
                unrelated: "-".to_owned(),
                oracle: "n/a".to_owned(),
            };
        }
    };
    let text = String::from_utf8_lossy(xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&xml))
        .replace("\r\n", "\n");
    let element = target(&doc, &row.element);
    let material = std::panic::catch_unwind(|| {
        key_material(&project_dir, &row.key, key_info_certificate(element))
    })
    .unwrap_or_else(|_| panic!("README.md:{} {}: bad key spec", row.line, row.file));
    // The best verdict over the pinned keys (metadata may hold several).
    let rank = |v: &str| {
        ["genuine", "signature", "bad-digest", "bad-signature", "n/a"]
            .iter()
            .position(|r| *r == v)
            .unwrap()
    };
    let oracle_verdict = material
        .iter()
        .map(|der| oracle(&text, element, &oracle_key(der)))
        .min_by_key(|v| rank(v))
        .unwrap_or("n/a");
    let check_accepted = |verified: &jsm_sso_xmldsig::Verified<'_>| {
        assert_eq!(
            Some(verified.info().reference_id.as_str()),
            id_of(element),
            "{}: the verified element is the one asked for",
            row.file
        );
    };
    match load_key(&material) {
        Ok(keys) => {
            let default = Verifier::new(keys.clone(), VerifyOptions::default())
                .verify_enveloped(element)
                .inspect(check_accepted);
            let sha1 = Verifier::new(keys, VerifyOptions::default().allow_sha1(true))
                .verify_enveloped(element)
                .inspect(check_accepted);
            let (default, sha1) = (outcome(default), outcome(sha1));
            Observed {
                allow_sha1: if sha1 == default {
                    "=".to_owned()
                } else {
                    sha1
                },
                expected: default,
                unrelated: "-".to_owned(),
                oracle: oracle_verdict.to_owned(),
            }
        }
        Err(code) => Observed {
            expected: code.to_owned(),
            allow_sha1: "=".to_owned(),
            unrelated: outcome(
                Verifier::new(unrelated_key(), VerifyOptions::default().allow_sha1(true))
                    .verify_enveloped(element),
            ),
            oracle: oracle_verdict.to_owned(),
        },
    }
}

#[test]
fn corpus_vectors() {
    let print = std::env::var("JSM_SSO_CORPUS_TABLE").is_ok_and(|v| v == "1");
    let rows = table();
    let mut failures = Vec::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for row in &rows {
        let seen = run(row);
        if print {
            println!(
                "| `{}` | `{}` | `{}` | `{}` | `{}` | `{}` | {} | {} |",
                row.file,
                row.element,
                row.key,
                seen.expected,
                seen.allow_sha1,
                seen.unrelated,
                seen.oracle,
                row.why
            );
            continue;
        }
        let want = (
            row.expected.as_str(),
            row.allow_sha1.as_str(),
            row.unrelated.as_str(),
            row.oracle.as_str(),
        );
        let got = (
            seen.expected.as_str(),
            seen.allow_sha1.as_str(),
            seen.unrelated.as_str(),
            seen.oracle.as_str(),
        );
        if want != got {
            failures.push(format!(
                "README.md:{} {} [{}]: expected {want:?}, got {got:?}",
                row.line, row.file, row.element
            ));
        }
        let accepted = row.expected == "accept" || row.allow_sha1 == "accept";
        *counts
            .entry(if accepted { "accepted" } else { "refused" })
            .or_default() += 1;
    }
    assert!(
        failures.is_empty(),
        "{} corpus vectors do not behave as the table says:\n{}",
        failures.len(),
        failures.join("\n")
    );
    if !print {
        eprintln!("corpus: {} rows, {counts:?}", rows.len());
    }
}

/// Each project folder keeps its MANIFEST.md (licence and provenance) and a README.md whose
/// expectations agree with the main table.
#[test]
fn project_folders_document_their_files() {
    let rows = table();
    let mut by_project: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for row in &rows {
        let project = row.file.split('/').next().unwrap().to_owned();
        by_project.entry(project).or_default().push(row);
    }
    for (project, rows) in by_project {
        let dir = corpus_dir().join(&project);
        assert!(dir.join("MANIFEST.md").is_file(), "{project}/MANIFEST.md");
        let readme = std::fs::read_to_string(dir.join("README.md"))
            .unwrap_or_else(|e| panic!("{project}/README.md: {e}"));
        for row in rows {
            let path = row.file.split_once('/').unwrap().1;
            assert!(
                readme.contains(&format!("`{path}`")),
                "{project}/README.md does not mention {path}"
            );
        }
    }
}

/// crewjam's `TestSPRejectsInjectedComment` injects, in code, a comment into the NameID of a
/// genuine Google Workspace response (CVE-2017-11427 family). Exclusive c14n drops comments, so
/// the signature still verifies; what matters is that the signed text is read whole. Text that
/// would change the value is a digest mismatch.
#[test]
fn comment_injected_into_a_google_response() {
    let dir = corpus_dir().join("crewjam-saml");
    let bytes = std::fs::read(dir.join("TestSPRejectsInjectedComment_response")).unwrap();
    let text = String::from_utf8(decode(&bytes)).unwrap();
    let keys = load_key(&key_material(
        &dir,
        "meta:TestSPRejectsInjectedComment_IDPMetadata",
        None,
    ))
    .unwrap();
    let verifier = Verifier::new(keys, VerifyOptions::default());
    let original = "<saml2:NameID>ross@octolabs.io</saml2:NameID>";
    assert!(text.contains(original));
    for (injected, expected) in [
        ("ross@octolabs.io", Ok("ross@octolabs.io")),
        ("ross@<!-- . -->octolabs.io", Ok("ross@octolabs.io")),
        ("ross@octolabs.io<!---->", Ok("ross@octolabs.io")),
        (
            "<!--a-->ross<!--b-->@octolabs<!--c-->.io",
            Ok("ross@octolabs.io"),
        ),
        (
            "ross@octolabs.io<!-- -->.evil.example",
            Err("xmldsig.digest.mismatch"),
        ),
    ] {
        let xml = text.replacen(
            original,
            &format!("<saml2:NameID>{injected}</saml2:NameID>"),
            1,
        );
        let doc = Document::parse(xml.as_bytes(), &Limits::default()).unwrap();
        let name_id = verifier
            .verify_enveloped(doc.root())
            .map(|verified| {
                verified
                    .element()
                    .child(SAML, "Assertion")
                    .and_then(|a| a.child(SAML, "Subject"))
                    .and_then(|s| s.child(SAML, "NameID"))
                    .map(|n| n.text().into_owned())
                    .unwrap()
            })
            .map_err(|e| e.code());
        assert_eq!(name_id.as_deref().map_err(|e| *e), expected, "{injected}");
    }
}
