//! The public decryption API: round trips for every allowed algorithm combination and both
//! `EncryptedKey` layouts, key rollover, key loading, and every refusal with its exact code,
//! including the proof that different cryptographic failures are indistinguishable.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

use std::path::PathBuf;

use base64::Engine as _;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockModeEncrypt, KeyIvInit};
use jsm_sso_core::CodedError;
use jsm_sso_saml::decrypt::{
    ContentAlgorithm, DecryptError, DecryptOptions, DecryptionKey, EncryptOptions, KeyPlacement,
    KeyTransport, OaepHash, decrypt_assertion, decrypt_assertion_with, decrypt_element,
    encrypt_assertion,
};
use jsm_sso_xmldsig::{Document, Limits};
use rsa::pkcs8::DecodePublicKey as _;

const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
const MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";

const ASSERTION: &str = r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_3f1a9c" Version="2.0" IssueInstant="2025-06-01T12:00:00Z"><saml:Issuer>https://idp.example.org/saml</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">jöhn.customer@example.org</saml:NameID></saml:Subject><saml:AttributeStatement><saml:Attribute Name="groups"><saml:AttributeValue>portal-users &amp; friends</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>"#;

fn vector(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/decrypt")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sp_key() -> DecryptionKey {
    DecryptionKey::from_pem(&vector("sp-rsa2048.key")).unwrap()
}

fn sp2_key() -> DecryptionKey {
    DecryptionKey::from_pem(&vector("sp2-rsa3072-pkcs1.key")).unwrap()
}

fn sp_cert() -> Vec<u8> {
    vector("sp-rsa2048.crt")
}

fn decrypt_xml(xml: &str, keys: &[DecryptionKey]) -> Result<Vec<u8>, DecryptError> {
    let doc = Document::parse(xml.as_bytes(), &Limits::default()).unwrap();
    decrypt_assertion(doc.root(), keys)
}

fn decrypt_xml_with(
    xml: &str,
    keys: &[DecryptionKey],
    options: &DecryptOptions,
) -> Result<Vec<u8>, DecryptError> {
    let doc = Document::parse(xml.as_bytes(), &Limits::default()).unwrap();
    decrypt_assertion_with(doc.root(), keys, options)
}

fn encrypt(options: &EncryptOptions) -> String {
    encrypt_assertion(ASSERTION.as_bytes(), &sp_cert(), options).unwrap()
}

fn code(result: Result<Vec<u8>, DecryptError>) -> &'static str {
    result.unwrap_err().code()
}

const HASHES: [OaepHash; 5] = [
    OaepHash::Sha1,
    OaepHash::Sha224,
    OaepHash::Sha256,
    OaepHash::Sha384,
    OaepHash::Sha512,
];

// ---------------------------------------------------------------------------------------------
// round trips

#[test]
fn every_content_algorithm_with_both_oaep_uris_and_both_layouts() {
    let key = sp_key();
    let transports = [
        KeyTransport::RsaOaepMgf1p {
            digest: OaepHash::Sha1,
        },
        KeyTransport::RsaOaepMgf1p {
            digest: OaepHash::Sha256,
        },
        KeyTransport::RsaOaep {
            digest: OaepHash::Sha256,
            mgf: OaepHash::Sha1,
        },
        KeyTransport::RsaOaep {
            digest: OaepHash::Sha512,
            mgf: OaepHash::Sha256,
        },
    ];
    let mut done = 0;
    for content in ContentAlgorithm::ALL {
        for transport in transports {
            for placement in [
                KeyPlacement::InsideKeyInfo,
                KeyPlacement::SiblingWithRetrievalMethod,
            ] {
                let options = EncryptOptions::default()
                    .content(content)
                    .key_transport(transport)
                    .placement(placement);
                let xml = encrypt(&options);
                assert!(xml.contains(content.uri()), "{xml}");
                assert!(xml.contains(transport.uri()), "{xml}");
                let plain = decrypt_xml(&xml, std::slice::from_ref(&key))
                    .unwrap_or_else(|e| panic!("{content:?} {transport:?} {placement:?}: {e}"));
                assert_eq!(plain, ASSERTION.as_bytes());
                done += 1;
            }
        }
    }
    assert_eq!(done, 32);
}

#[test]
fn every_oaep_digest_and_mgf_pair() {
    let key = sp_key();
    for digest in HASHES {
        for mgf in HASHES {
            let options = EncryptOptions::default()
                .content(ContentAlgorithm::Aes128Gcm)
                .key_transport(KeyTransport::RsaOaep { digest, mgf });
            let xml = encrypt(&options);
            assert_eq!(
                decrypt_xml(&xml, std::slice::from_ref(&key)).unwrap(),
                ASSERTION.as_bytes(),
                "{digest:?} {mgf:?}"
            );
        }
        let options =
            EncryptOptions::default().key_transport(KeyTransport::RsaOaepMgf1p { digest });
        assert_eq!(
            decrypt_xml(&encrypt(&options), std::slice::from_ref(&key)).unwrap(),
            ASSERTION.as_bytes()
        );
    }
}

#[test]
fn oaep_params_are_the_label() {
    let options = EncryptOptions::default()
        .key_transport(KeyTransport::RsaOaep {
            digest: OaepHash::Sha256,
            mgf: OaepHash::Sha256,
        })
        .oaep_params(Some(b"jsm-sso label".to_vec()));
    let xml = encrypt(&options);
    assert!(xml.contains("<xenc:OAEPparams>"));
    assert_eq!(
        decrypt_xml(&xml, &[sp_key()]).unwrap(),
        ASSERTION.as_bytes()
    );
    // A different label: OAEP decoding fails, reported like every other crypto failure.
    let other = base64::engine::general_purpose::STANDARD.encode(b"another label");
    let start = xml.find("<xenc:OAEPparams>").unwrap() + "<xenc:OAEPparams>".len();
    let end = xml.find("</xenc:OAEPparams>").unwrap();
    let tampered = format!("{}{other}{}", &xml[..start], &xml[end..]);
    assert_eq!(
        decrypt_xml(&tampered, &[sp_key()]),
        Err(DecryptError::Failed)
    );
}

#[test]
fn key_rollover_any_configured_key_works() {
    let xml = encrypt_assertion(
        ASSERTION.as_bytes(),
        &vector("sp2-rsa3072.crt"),
        &EncryptOptions::default(),
    )
    .unwrap();
    assert_eq!(
        decrypt_xml(&xml, &[sp_key(), sp2_key()]).unwrap(),
        ASSERTION.as_bytes()
    );
    assert_eq!(
        decrypt_xml(&xml, &[sp2_key(), sp_key()]).unwrap(),
        ASSERTION.as_bytes()
    );
    assert_eq!(decrypt_xml(&xml, &[sp_key()]), Err(DecryptError::Failed));
}

#[test]
fn encrypted_assertion_inside_a_response_with_prefixes_from_outside() {
    let inner = encrypt(&EncryptOptions::default().content(ContentAlgorithm::Aes256Cbc));
    let response = format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r" Version="2.0" IssueInstant="2025-06-01T12:00:00Z">{inner}</samlp:Response>"#
    );
    let doc = Document::parse(response.as_bytes(), &Limits::default()).unwrap();
    let encrypted = doc
        .root()
        .child(
            "urn:oasis:names:tc:SAML:2.0:assertion",
            "EncryptedAssertion",
        )
        .unwrap();
    assert_eq!(
        decrypt_assertion(encrypted, &[sp_key()]).unwrap(),
        ASSERTION.as_bytes()
    );
}

// ---------------------------------------------------------------------------------------------
// layouts real IdPs use, built by hand from a valid encryption

/// The EncryptedKey element and the EncryptedData CipherValue of an encryption with the key
/// inside KeyInfo.
fn parts(xml: &str) -> (String, String) {
    let ek_start = xml.find("<xenc:EncryptedKey").unwrap();
    let ek_end = xml.find("</xenc:EncryptedKey>").unwrap() + "</xenc:EncryptedKey>".len();
    let ek = xml[ek_start..ek_end].to_owned();
    let rest = &xml[ek_end..];
    let cv_start = rest.find("<xenc:CipherValue>").unwrap() + "<xenc:CipherValue>".len();
    let cv_end = rest.find("</xenc:CipherValue>").unwrap();
    (ek, rest[cv_start..cv_end].to_owned())
}

fn assemble(content_uri: &str, key_info: &str, cipher_value: &str, siblings: &str) -> String {
    format!(
        r#"<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><xenc:EncryptedData xmlns:xenc="{XENC}" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="_data" Type="{XENC}Element"><xenc:EncryptionMethod Algorithm="{content_uri}"/>{key_info}<xenc:CipherData><xenc:CipherValue>{cipher_value}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>{siblings}</saml:EncryptedAssertion>"#
    )
}

fn sibling(ek: &str, extra: &str) -> String {
    ek.replacen(
        "<xenc:EncryptedKey",
        r#"<xenc:EncryptedKey xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#""#,
        1,
    )
    .replacen("</xenc:EncryptedKey>", &format!("{extra}</xenc:EncryptedKey>"), 1)
}

#[test]
fn sibling_key_layouts_retrieval_method_key_name_and_unnamed() {
    let alg = ContentAlgorithm::Aes128Cbc;
    let xml = encrypt(&EncryptOptions::default().content(alg));
    let (ek, cv) = parts(&xml);
    let id = &ek[ek.find("Id=\"").unwrap() + 4..];
    let id = &id[..id.find('"').unwrap()];

    // Okta: RetrievalMethod, EncryptedKey beside EncryptedData.
    let okta = assemble(
        alg.uri(),
        &format!(
            r##"<ds:KeyInfo><ds:RetrievalMethod Type="{XENC}EncryptedKey" URI="#{id}"/></ds:KeyInfo>"##
        ),
        &cv,
        &sibling(
            &ek,
            r##"<xenc:ReferenceList><xenc:DataReference URI="#_data"/></xenc:ReferenceList>"##,
        ),
    );
    assert_eq!(
        decrypt_xml(&okta, &[sp_key()]).unwrap(),
        ASSERTION.as_bytes()
    );

    // KeyName matching CarriedKeyName; a decoy sibling without the name comes first.
    let decoy = sibling(&ek, "<xenc:CarriedKeyName>old</xenc:CarriedKeyName>")
        .replace(id, "_decoy")
        .replacen("<xenc:CipherValue>", "<xenc:CipherValue>AAAA", 1);
    let named = assemble(
        alg.uri(),
        "<ds:KeyInfo><ds:KeyName>sp-2025</ds:KeyName></ds:KeyInfo>",
        &cv,
        &format!(
            "{decoy}{}",
            sibling(&ek, "<xenc:CarriedKeyName>sp-2025</xenc:CarriedKeyName>")
        ),
    );
    assert_eq!(
        decrypt_xml(&named, &[sp_key()]).unwrap(),
        ASSERTION.as_bytes()
    );

    // No KeyInfo on EncryptedData at all: the siblings are the candidates.
    let unnamed = assemble(alg.uri(), "", &cv, &sibling(&ek, ""));
    assert_eq!(
        decrypt_xml(&unnamed, &[sp_key()]).unwrap(),
        ASSERTION.as_bytes()
    );

    // A sibling whose ReferenceList points at another EncryptedData is not a candidate.
    let elsewhere = assemble(
        alg.uri(),
        "",
        &cv,
        &sibling(
            &ek,
            r##"<xenc:ReferenceList><xenc:DataReference URI="#_other"/></xenc:ReferenceList>"##,
        ),
    );
    assert_eq!(
        code(decrypt_xml(&elsewhere, &[sp_key()])),
        "saml.decrypt.encrypted_key.missing"
    );

    // RetrievalMethod naming an Id that no EncryptedKey has.
    let dangling = assemble(
        alg.uri(),
        &format!(
            r##"<ds:KeyInfo><ds:RetrievalMethod Type="{XENC}EncryptedKey" URI="#_nope"/></ds:KeyInfo>"##
        ),
        &cv,
        &sibling(&ek, ""),
    );
    assert_eq!(
        code(decrypt_xml(&dangling, &[sp_key()])),
        "saml.decrypt.encrypted_key.missing"
    );

    // RetrievalMethod pointing outside the document.
    let remote = assemble(
        alg.uri(),
        &format!(
            r#"<ds:KeyInfo><ds:RetrievalMethod Type="{XENC}EncryptedKey" URI="https://evil.example/key.xml"/></ds:KeyInfo>"#
        ),
        &cv,
        &sibling(&ek, ""),
    );
    assert_eq!(
        code(decrypt_xml(&remote, &[sp_key()])),
        "saml.decrypt.shape"
    );
}

// ---------------------------------------------------------------------------------------------
// refusals decided from the structure

#[test]
fn rsa_1_5_key_transport_is_refused_before_any_decryption() {
    let xml = encrypt(&EncryptOptions::default())
        .replace(MGF1P, "http://www.w3.org/2001/04/xmlenc#rsa-1_5");
    let err = decrypt_xml(&xml, &[sp_key()]).unwrap_err();
    assert_eq!(err, DecryptError::Rsa15Refused);
    assert_eq!(err.code(), "saml.decrypt.algorithm.rsa1_5");
    // Decided from the URI: the same answer with a key that could never decrypt it.
    assert_eq!(
        decrypt_xml(&xml, &[sp2_key()]).unwrap_err(),
        DecryptError::Rsa15Refused
    );
}

#[test]
fn triple_des_aes192_and_unknown_algorithms_are_refused() {
    let xml = encrypt(&EncryptOptions::default().content(ContentAlgorithm::Aes128Cbc));
    for uri in [
        "http://www.w3.org/2001/04/xmlenc#tripledes-cbc",
        "http://www.w3.org/2001/04/xmlenc#aes192-cbc",
        "http://www.w3.org/2009/xmlenc11#aes192-gcm",
        "urn:example:rot13",
    ] {
        let bad = xml.replace(ContentAlgorithm::Aes128Cbc.uri(), uri);
        let err = decrypt_xml(&bad, &[sp_key()]).unwrap_err();
        assert_eq!(err.code(), "saml.decrypt.algorithm.unsupported", "{uri}");
        assert!(err.to_string().contains(uri), "{err}");
    }
    for uri in [
        "http://www.w3.org/2001/04/xmlenc#kw-aes256",
        "http://www.w3.org/2001/04/xmlenc#rsa-oaep",
    ] {
        let bad = xml.replace(MGF1P, uri);
        assert_eq!(
            code(decrypt_xml(&bad, &[sp_key()])),
            "saml.decrypt.algorithm.unsupported",
            "{uri}"
        );
    }
    let md5 = xml.replace(
        "http://www.w3.org/2000/09/xmldsig#sha1",
        "http://www.w3.org/2001/04/xmldsig-more#md5",
    );
    assert_eq!(
        code(decrypt_xml(&md5, &[sp_key()])),
        "saml.decrypt.algorithm.unsupported"
    );
}

#[test]
fn missing_encryption_methods() {
    let xml = encrypt(&EncryptOptions::default().content(ContentAlgorithm::Aes256Gcm));
    let no_content_method = xml.replacen(
        &format!(
            r#"<xenc:EncryptionMethod Algorithm="{}"/>"#,
            ContentAlgorithm::Aes256Gcm.uri()
        ),
        "",
        1,
    );
    assert_eq!(
        decrypt_xml(&no_content_method, &[sp_key()]).unwrap_err(),
        DecryptError::AlgorithmMissing {
            element: "EncryptedData"
        }
    );
    let (ek, _) = parts(&xml);
    let method_start = ek.find("<xenc:EncryptionMethod").unwrap();
    let method_end =
        ek.find("</xenc:EncryptionMethod>").unwrap() + "</xenc:EncryptionMethod>".len();
    let no_key_method = xml.replace(&ek[method_start..method_end], "");
    let err = decrypt_xml(&no_key_method, &[sp_key()]).unwrap_err();
    assert_eq!(err.code(), "saml.decrypt.algorithm.missing");
}

#[test]
fn missing_encrypted_key() {
    let xml = encrypt(&EncryptOptions::default());
    let (ek, _) = parts(&xml);
    let without = xml.replace(&ek, "");
    assert_eq!(
        code(decrypt_xml(&without, &[sp_key()])),
        "saml.decrypt.encrypted_key.missing"
    );
}

#[test]
fn bad_base64_missing_cipher_value_and_cipher_reference() {
    let xml = encrypt(&EncryptOptions::default());
    let (ek, cv) = parts(&xml);
    let bad_content = xml.replace(&cv, &format!("{}*{}", &cv[..10], &cv[10..]));
    assert_eq!(
        decrypt_xml(&bad_content, &[sp_key()]).unwrap_err(),
        DecryptError::Encoding {
            element: "EncryptedData"
        }
    );
    let key_cv_start = ek.find("<xenc:CipherValue>").unwrap() + "<xenc:CipherValue>".len();
    let bad_key = xml.replacen(
        &ek[..key_cv_start],
        &format!("{}!!", &ek[..key_cv_start]),
        1,
    );
    assert_eq!(
        decrypt_xml(&bad_key, &[sp_key()]).unwrap_err(),
        DecryptError::Encoding {
            element: "EncryptedKey"
        }
    );
    let reference = xml.replace(
        &format!("<xenc:CipherValue>{cv}</xenc:CipherValue>"),
        r#"<xenc:CipherReference URI="https://evil.example/ciphertext"/>"#,
    );
    assert_eq!(
        decrypt_xml(&reference, &[sp_key()]).unwrap_err(),
        DecryptError::CipherReference {
            element: "EncryptedData"
        }
    );
    let missing = xml.replace(&format!("<xenc:CipherValue>{cv}</xenc:CipherValue>"), "");
    assert_eq!(
        decrypt_xml(&missing, &[sp_key()]).unwrap_err(),
        DecryptError::CipherValueMissing {
            element: "EncryptedData"
        }
    );
    let no_cipher_data = xml.replace(
        &format!("<xenc:CipherData><xenc:CipherValue>{cv}</xenc:CipherValue></xenc:CipherData>"),
        "",
    );
    assert_eq!(
        code(decrypt_xml(&no_cipher_data, &[sp_key()])),
        "saml.decrypt.cipher_value.missing"
    );
}

#[test]
fn size_and_count_limits() {
    let big = "x".repeat(64 * 1024);
    let assertion = format!(
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_big"><saml:Issuer>{big}</saml:Issuer></saml:Assertion>"#
    );
    let xml =
        encrypt_assertion(assertion.as_bytes(), &sp_cert(), &EncryptOptions::default()).unwrap();
    assert!(decrypt_xml(&xml, &[sp_key()]).is_ok());
    let small = DecryptOptions::default().max_ciphertext_bytes(16 * 1024);
    let err = decrypt_xml_with(&xml, &[sp_key()], &small).unwrap_err();
    assert_eq!(err.code(), "saml.decrypt.too_large");
    assert!(matches!(
        err,
        DecryptError::TooLarge {
            element: "EncryptedData",
            limit: 16384,
            ..
        }
    ));

    // Nine sibling EncryptedKeys: over the default limit of 8, refused before any RSA work.
    let xml = encrypt(&EncryptOptions::default().content(ContentAlgorithm::Aes128Gcm));
    let (ek, cv) = parts(&xml);
    let many: String = (0..9).map(|_| sibling(&ek, "")).collect();
    let crowded = assemble(ContentAlgorithm::Aes128Gcm.uri(), "", &cv, &many);
    assert_eq!(
        decrypt_xml(&crowded, &[sp_key()]).unwrap_err(),
        DecryptError::TooManyKeys { count: 9, limit: 8 }
    );
    let eight: String = (0..8).map(|_| sibling(&ek, "")).collect();
    let fits = assemble(ContentAlgorithm::Aes128Gcm.uri(), "", &cv, &eight);
    assert_eq!(
        decrypt_xml(&fits, &[sp_key()]).unwrap(),
        ASSERTION.as_bytes()
    );
    let one = DecryptOptions::default().max_encrypted_keys(1);
    assert_eq!(
        code(decrypt_xml_with(&fits, &[sp_key()], &one)),
        "saml.decrypt.encrypted_key.too_many"
    );
}

#[test]
fn structural_refusals() {
    let xml = encrypt(&EncryptOptions::default());
    assert_eq!(decrypt_xml(&xml, &[]).unwrap_err(), DecryptError::NoKeys);

    let content_type = xml.replace(&format!("{XENC}Element"), &format!("{XENC}Content"));
    assert_eq!(
        code(decrypt_xml(&content_type, &[sp_key()])),
        "saml.decrypt.shape"
    );

    let data_start = xml.find("<xenc:EncryptedData").unwrap();
    let data_end = xml.find("</xenc:EncryptedData>").unwrap() + "</xenc:EncryptedData>".len();
    let data = &xml[data_start..data_end];
    let twice = xml.replace(data, &format!("{data}{data}"));
    assert_eq!(code(decrypt_xml(&twice, &[sp_key()])), "saml.decrypt.shape");
    let none = xml.replace(data, "");
    assert_eq!(code(decrypt_xml(&none, &[sp_key()])), "saml.decrypt.shape");
    let stranger = xml.replace(data, &format!("<saml:Assertion/>{data}"));
    assert_eq!(
        code(decrypt_xml(&stranger, &[sp_key()])),
        "saml.decrypt.shape"
    );

    // decrypt_assertion wants an EncryptedAssertion; decrypt_element takes an EncryptedID too.
    let as_id = xml.replace("saml:EncryptedAssertion", "saml:EncryptedID");
    assert_eq!(code(decrypt_xml(&as_id, &[sp_key()])), "saml.decrypt.shape");
    let doc = Document::parse(as_id.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(
        decrypt_element(doc.root(), &[sp_key()], &DecryptOptions::default()).unwrap(),
        ASSERTION.as_bytes()
    );
}

// ---------------------------------------------------------------------------------------------
// cryptographic failures: one answer for all

/// Hand-built ciphertexts for each cause, with the test's own AES and RSA calls.
struct Crafted {
    public: rsa::PublicKey,
}

impl Crafted {
    fn new() -> Self {
        let pem = String::from_utf8(sp_cert()).unwrap();
        let der = base64::engine::general_purpose::STANDARD
            .decode(
                pem.lines()
                    .filter(|l| !l.starts_with("-----"))
                    .collect::<String>(),
            )
            .unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let public = rsa::PublicKey::from_public_key_der(cert.public_key().raw).unwrap();
        Crafted { public }
    }

    fn wrap(&self, cek: &[u8]) -> String {
        let wrapped = self
            .public
            .encrypt(&mut getrandom::SysRng, rsa::Oaep::<sha1::Sha1>::new(), cek)
            .unwrap();
        base64::engine::general_purpose::STANDARD.encode(wrapped)
    }

    fn xml(&self, content: ContentAlgorithm, cek: &[u8], data: &[u8]) -> String {
        Self::xml_wrapped(content, &self.wrap(cek), data)
    }

    fn xml_wrapped(content: ContentAlgorithm, wrapped: &str, data: &[u8]) -> String {
        let key_info = format!(
            r#"<ds:KeyInfo><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="{MGF1P}"/><xenc:CipherData><xenc:CipherValue>{wrapped}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>"#
        );
        let cv = base64::engine::general_purpose::STANDARD.encode(data);
        assemble(content.uri(), &key_info, &cv, "")
    }
}

fn cbc128(key: &[u8; 16], iv: [u8; 16], plain_blocks: &[u8]) -> Vec<u8> {
    let mut buf = plain_blocks.to_vec();
    let len = buf.len();
    cbc::Encryptor::<aes::Aes128>::new_from_slices(key, &iv)
        .unwrap()
        .encrypt_padded::<NoPadding>(&mut buf, len)
        .unwrap();
    let mut out = iv.to_vec();
    out.extend(buf);
    out
}

fn gcm128(key: &[u8; 16], plain: &[u8]) -> Vec<u8> {
    use ring::aead;
    let iv = [5u8; 12];
    let key = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_128_GCM, key).unwrap());
    let mut buf = plain.to_vec();
    key.seal_in_place_append_tag(
        aead::Nonce::assume_unique_for_key(iv),
        aead::Aad::empty(),
        &mut buf,
    )
    .unwrap();
    let mut out = iv.to_vec();
    out.extend(buf);
    out
}

#[test]
fn every_cryptographic_failure_is_reported_identically() {
    let crafted = Crafted::new();
    let cek = [0x42u8; 16];
    let good_block = *b"<a>ok</a>\x07\x07\x07\x07\x07\x07\x07";
    assert!(
        decrypt_xml(
            &crafted.xml(
                ContentAlgorithm::Aes128Cbc,
                &cek,
                &cbc128(&cek, [1; 16], &good_block)
            ),
            &[sp_key()]
        )
        .is_ok(),
        "the crafting itself works"
    );
    assert!(
        decrypt_xml(
            &crafted.xml(ContentAlgorithm::Aes128Gcm, &cek, &gcm128(&cek, b"<a/>")),
            &[sp_key()]
        )
        .is_ok()
    );

    let mut cases: Vec<(&str, String, Vec<DecryptionKey>)> = Vec::new();
    let good_gcm = crafted.xml(ContentAlgorithm::Aes128Gcm, &cek, &gcm128(&cek, b"<a/>"));
    cases.push((
        "wrong SP key (OAEP fails)",
        good_gcm.clone(),
        vec![sp2_key()],
    ));
    // OAEP unwraps, but the key is 24 bytes for AES-128.
    cases.push((
        "content key of the wrong length",
        crafted.xml(
            ContentAlgorithm::Aes128Gcm,
            &[0x42; 24],
            &gcm128(&cek, b"<a/>"),
        ),
        vec![sp_key()],
    ));
    let mut tampered = gcm128(&cek, b"<a>tampered</a>");
    tampered[14] ^= 1;
    cases.push((
        "GCM tag does not verify (tampered ciphertext)",
        crafted.xml(ContentAlgorithm::Aes128Gcm, &cek, &tampered),
        vec![sp_key()],
    ));
    let mut tag = gcm128(&cek, b"<a/>");
    *tag.last_mut().unwrap() ^= 0x80;
    cases.push((
        "GCM tag altered",
        crafted.xml(ContentAlgorithm::Aes128Gcm, &cek, &tag),
        vec![sp_key()],
    ));
    let mut zero_pad = good_block;
    zero_pad[15] = 0;
    cases.push((
        "CBC padding count 0",
        crafted.xml(
            ContentAlgorithm::Aes128Cbc,
            &cek,
            &cbc128(&cek, [1; 16], &zero_pad),
        ),
        vec![sp_key()],
    ));
    let mut long_pad = good_block;
    long_pad[15] = 17;
    cases.push((
        "CBC padding count 17",
        crafted.xml(
            ContentAlgorithm::Aes128Cbc,
            &cek,
            &cbc128(&cek, [1; 16], &long_pad),
        ),
        vec![sp_key()],
    ));
    // Flipping the IV's last byte flips the pad count from 7 to 0x87: tampered CBC padding.
    let mut flipped = cbc128(&cek, [1; 16], &good_block);
    flipped[15] ^= 0x80;
    cases.push((
        "tampered CBC padding (IV bit flip)",
        crafted.xml(ContentAlgorithm::Aes128Cbc, &cek, &flipped),
        vec![sp_key()],
    ));
    cases.push((
        "plaintext not UTF-8",
        crafted.xml(
            ContentAlgorithm::Aes128Gcm,
            &cek,
            &gcm128(&cek, b"<a>\xff\xfe</a>"),
        ),
        vec![sp_key()],
    ));
    let truncated = gcm128(&cek, b"<a/>");
    cases.push((
        "truncated GCM ciphertext (shorter than IV + tag)",
        crafted.xml(ContentAlgorithm::Aes128Gcm, &cek, &truncated[..20]),
        vec![sp_key()],
    ));
    let cbc = cbc128(&cek, [1; 16], &[good_block, good_block].concat());
    cases.push((
        "truncated CBC ciphertext (not whole blocks)",
        crafted.xml(ContentAlgorithm::Aes128Cbc, &cek, &cbc[..40]),
        vec![sp_key()],
    ));
    cases.push((
        "CBC ciphertext of the IV only",
        crafted.xml(ContentAlgorithm::Aes128Cbc, &cek, &cbc[..16]),
        vec![sp_key()],
    ));
    let b64 = base64::engine::general_purpose::STANDARD;
    let wrapped = crafted.wrap(&cek);
    let sealed = gcm128(&cek, b"<a/>");
    assert!(
        decrypt_xml(
            &Crafted::xml_wrapped(ContentAlgorithm::Aes128Gcm, &wrapped, &sealed),
            &[sp_key()]
        )
        .is_ok()
    );
    let mut key_bytes = b64.decode(&wrapped).unwrap();
    key_bytes[100] ^= 4;
    cases.push((
        "tampered EncryptedKey",
        Crafted::xml_wrapped(
            ContentAlgorithm::Aes128Gcm,
            &b64.encode(&key_bytes),
            &sealed,
        ),
        vec![sp_key()],
    ));
    cases.push((
        "truncated EncryptedKey",
        Crafted::xml_wrapped(
            ContentAlgorithm::Aes128Gcm,
            &b64.encode(&key_bytes[..128]),
            &sealed,
        ),
        vec![sp_key(), sp2_key()],
    ));

    let reference = DecryptError::Failed;
    for (cause, xml, keys) in &cases {
        let err = decrypt_xml(xml, keys).unwrap_err();
        assert_eq!(err, reference, "{cause}");
        assert_eq!(err.code(), "saml.decrypt.failed", "{cause}");
        assert_eq!(err.to_string(), reference.to_string(), "{cause}");
        assert_eq!(format!("{err:?}"), format!("{reference:?}"), "{cause}");
        assert_eq!(err.hint(), reference.hint(), "{cause}");
    }
    assert_eq!(cases.len(), 13);
    assert_eq!(
        reference.to_string(),
        "the encrypted element could not be decrypted"
    );
}

// ---------------------------------------------------------------------------------------------
// keys

#[test]
fn decryption_keys_from_pem() {
    assert_eq!(sp_key().bits(), 2048);
    assert_eq!(sp2_key().bits(), 3072);
    // A key file with a certificate before the key.
    let mut combined = sp_cert();
    combined.extend(vector("sp-rsa2048.key"));
    assert_eq!(DecryptionKey::from_pem(&combined).unwrap().bits(), 2048);

    let small = vector("small-rsa1024.key");
    assert_eq!(
        DecryptionKey::from_pem(&small).unwrap_err(),
        DecryptError::KeyTooSmall {
            bits: 1024,
            min: 2048
        }
    );
    assert_eq!(
        DecryptionKey::from_pem_allowing_1024_bits(&small)
            .unwrap()
            .bits(),
        1024
    );

    let cases = [
        ("ec-p256.key", "saml.decrypt.key.unsupported"),
        ("sp-rsa2048-encrypted.key", "saml.decrypt.key.unsupported"),
        ("sp-rsa2048.crt", "saml.decrypt.key.invalid"),
    ];
    for (file, expected) in cases {
        assert_eq!(
            DecryptionKey::from_pem(&vector(file)).unwrap_err().code(),
            expected,
            "{file}"
        );
    }
    assert_eq!(
        DecryptionKey::from_pem(
            b"-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n"
        )
        .unwrap_err()
        .code(),
        "saml.decrypt.key.invalid"
    );
    assert_eq!(
        DecryptionKey::from_pem(b"-----BEGIN PRIVATE KEY-----\nMIIB\n")
            .unwrap_err()
            .code(),
        "saml.decrypt.key.invalid"
    );
    assert_eq!(
        DecryptionKey::from_pem(&[0xff, 0xfe]).unwrap_err().code(),
        "saml.decrypt.key.invalid"
    );
}

#[test]
fn debug_never_prints_the_key() {
    let text = format!("{:?}", sp_key());
    assert_eq!(text, r#"DecryptionKey { bits: 2048, key: "[redacted]" }"#);
}

#[test]
fn encrypt_refuses_bad_input() {
    let not_utf8 = encrypt_assertion(b"<a>\xff</a>", &sp_cert(), &EncryptOptions::default());
    assert_eq!(not_utf8.unwrap_err().code(), "saml.decrypt.encrypt_failed");
    let no_cert = encrypt_assertion(ASSERTION.as_bytes(), b"hello", &EncryptOptions::default());
    assert_eq!(no_cert.unwrap_err().code(), "saml.decrypt.key.invalid");
    let ec = encrypt_assertion(
        ASSERTION.as_bytes(),
        &vector("ec-p256.pub"),
        &EncryptOptions::default(),
    );
    assert_eq!(ec.unwrap_err().code(), "saml.decrypt.key.unsupported");
    let small = encrypt_assertion(
        ASSERTION.as_bytes(),
        &vector("small-rsa1024.crt"),
        &EncryptOptions::default(),
    );
    assert_eq!(
        small.unwrap_err(),
        DecryptError::KeyTooSmall {
            bits: 1024,
            min: 2048
        }
    );
}

#[test]
fn encrypt_with_a_bare_public_key_and_without_certificate() {
    let xml = encrypt_assertion(
        ASSERTION.as_bytes(),
        &sp_cert(),
        &EncryptOptions::default().include_certificate(false),
    )
    .unwrap();
    assert!(!xml.contains("X509Certificate"));
    assert_eq!(
        decrypt_xml(&xml, &[sp_key()]).unwrap(),
        ASSERTION.as_bytes()
    );
    let bare = encrypt_assertion(
        ASSERTION.as_bytes(),
        &vector("sp-rsa2048.pub"),
        &EncryptOptions::default(),
    )
    .unwrap();
    assert!(!bare.contains("X509Certificate"));
    assert_eq!(
        decrypt_xml(&bare, &[sp_key()]).unwrap(),
        ASSERTION.as_bytes()
    );
}
