//! Encrypted assertions produced by real IdPs and other SAML libraries (Okta, ADFS,
//! SimpleSAMLphp, Shibboleth, ruby-saml's algorithm matrix), from the test suites of
//! crewjam/saml, node-saml, python3-saml and ruby-saml (see `tests/vectors/decrypt/README.md`):
//! each one decrypts with its SP key or is refused with its exact code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

use std::path::PathBuf;

use base64::Engine as _;
use jsm_sso_core::CodedError;
use jsm_sso_saml::decrypt::{DecryptError, DecryptionKey, decrypt_assertion};
use jsm_sso_xmldsig::{Document, Element, Limits};

const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

fn corpus(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/decrypt/corpus")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Raw XML, or the base64 `SAMLResponse` form value.
fn response_xml(name: &str) -> Vec<u8> {
    let raw = corpus(name);
    if raw.trim_ascii_start().starts_with(b"<") {
        return raw;
    }
    let compact: Vec<u8> = raw
        .into_iter()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .unwrap()
}

fn find_encrypted(e: Element<'_>) -> Option<Element<'_>> {
    if e.is(SAML, "EncryptedAssertion") {
        return Some(e);
    }
    e.child_elements().find_map(find_encrypted)
}

fn legacy_key(name: &str) -> DecryptionKey {
    DecryptionKey::from_pem_allowing_1024_bits(&corpus(name)).unwrap()
}

enum Expect {
    /// Decrypts to an assertion with this `ID`.
    Assertion(&'static str),
    /// Refused with this code.
    Refused(&'static str),
}

fn check(file: &str, key: &DecryptionKey, expect: &Expect) {
    let xml = response_xml(file);
    let doc = Document::parse(&xml, &Limits::default()).unwrap_or_else(|e| panic!("{file}: {e}"));
    let encrypted =
        find_encrypted(doc.root()).unwrap_or_else(|| panic!("{file}: no EncryptedAssertion"));
    let result = decrypt_assertion(encrypted, std::slice::from_ref(key));
    match (expect, result) {
        (Expect::Assertion(id), Ok(plain)) => {
            let text = String::from_utf8(plain).unwrap();
            let head = &text[..text.find('>').unwrap()];
            assert!(
                head.starts_with('<') && head.contains(":Assertion"),
                "{file}: {head}"
            );
            assert!(head.contains(&format!(r#"ID="{id}""#)), "{file}: {head}");
            assert!(text.trim_end().ends_with(":Assertion>"), "{file}");
        }
        (Expect::Refused(code), Err(err)) => assert_eq!(err.code(), *code, "{file}: {err}"),
        (Expect::Assertion(_), Err(err)) => panic!("{file}: expected an assertion, got {err}"),
        (Expect::Refused(code), Ok(_)) => panic!("{file}: expected {code}, but it decrypted"),
    }
}

const UNSUPPORTED: &str = "saml.decrypt.algorithm.unsupported";
const RSA15: &str = "saml.decrypt.algorithm.rsa1_5";

#[test]
fn ruby_saml_algorithm_matrix_okta_adfs_and_simplesamlphp() {
    use Expect::{Assertion, Refused};
    let key = legacy_key("ruby-saml/ruby-saml.key");
    let pfx = "pfxf567515e-4de9-2b7e-3b9d-e4f331aed11a";
    let cases = [
        // aes128-cbc / aes128-gcm / aes256-cbc / aes256-gcm, rsa-oaep-mgf1p
        (
            "unsigned_message_aes128_encrypted_signed_assertion.xml.base64",
            Assertion(pfx),
        ),
        (
            "unsigned_message_aes128gcm_encrypted_signed_assertion.xml.base64",
            Assertion(pfx),
        ),
        (
            "unsigned_message_aes256_encrypted_signed_assertion.xml.base64",
            Assertion(pfx),
        ),
        (
            "unsigned_message_aes256gcm_encrypted_signed_assertion.xml.base64",
            Assertion(pfx),
        ),
        // AES-192 (CBC and GCM) and 3DES (with RSA-1.5): refused from the content URI
        (
            "unsigned_message_aes192_encrypted_signed_assertion.xml.base64",
            Refused(UNSUPPORTED),
        ),
        (
            "unsigned_message_aes192gcm_encrypted_signed_assertion.xml.base64",
            Refused(UNSUPPORTED),
        ),
        (
            "unsigned_message_des192_encrypted_signed_assertion.xml.base64",
            Refused(UNSUPPORTED),
        ),
        (
            "invalids_encrypted_new_attack.xml.base64",
            Refused(UNSUPPORTED),
        ),
        // SimpleSAMLphp output (RSA-SHA512 signed message), assertion signed or not
        (
            "signed_message_encrypted_signed_assertion.xml.base64",
            Assertion("_9bb537f78bad52eac72e6767675ffe7eac1113410f"),
        ),
        (
            "signed_message_encrypted_unsigned_assertion.xml.base64",
            Assertion("_0c0614bfc4a7bdea869dcaaacd21183d5731a58196"),
        ),
        (
            "unsigned_message_encrypted_signed_assertion.xml.base64",
            Assertion("_d6e41c8f604ea9f9843a2adb5c22189dd9311ccae3"),
        ),
        (
            "unsigned_message_encrypted_unsigned_assertion.xml.base64",
            Assertion("_db5470e505da1c67996a55871452b4a7f69fb01f5a"),
        ),
        // the saml prefix declared only outside the EncryptedAssertion
        (
            "unsigned_message_encrypted_assertion_without_saml_namespace.xml.base64",
            Assertion(pfx),
        ),
        // ADFS-shaped response
        (
            "unsigned_encrypted_adfs.xml",
            Assertion("_db5470e505da1c67996a55871452b4a7f69fb01f5a"),
        ),
        // Okta: EncryptedKey beside the EncryptedData, named by ds:RetrievalMethod
        (
            "response_with_retrieval_method.xml",
            Assertion("id24448663616769201796292258"),
        ),
    ];
    for (file, expect) in &cases {
        check(&format!("ruby-saml/{file}"), &key, expect);
    }
}

#[test]
fn crewjam_okta_captures_and_golden_responses() {
    let key = legacy_key("crewjam-saml/sp_key.pem");
    let cases = [
        // Okta, EncryptedKey beside EncryptedData (RetrievalMethod), aes256-cbc
        (
            "TestSPCanHandleOktaResponseEncryptedAssertionBothSigned_response",
            "id84898765216570251668573514",
        ),
        (
            "TestSPCanHandleOktaResponseEncryptedSignedAssertion_response",
            "id84938651821511611470546522",
        ),
        (
            "TestSPCanHandleOktaSignedResponseEncryptedAssertion_response",
            "id84952199689873111750846593",
        ),
        // crewjam's own IdP output, aes128-cbc
        ("SP_SamlResponse", "_543eb64ea4ce19647a1f2aef5b91245d"),
        (
            "TestSPResponseWithNoIssuer_response",
            "_543eb64ea4ce19647a1f2aef5b91245d",
        ),
        (
            "TestParseXMLArtifactResponse_response",
            "_03f4bc22f17328b5f4851c46587f1957",
        ),
    ];
    for (file, id) in cases {
        check(
            &format!("crewjam-saml/{file}"),
            &key,
            &Expect::Assertion(id),
        );
    }
}

#[test]
fn node_saml_testshib_shibboleth_with_a_4096_bit_key() {
    // 4096 bits: the default loader takes it.
    let key = DecryptionKey::from_pem(&corpus("node-saml/testshib_encryption_pvk.pem")).unwrap();
    assert_eq!(key.bits(), 4096);
    let cases = [
        (
            "testshib_encrypted_response.xml",
            "_ade26627507dcc2902b20f0c38ee6298",
        ),
        (
            "signatures-valid_response.root-signed.assertion-unsigned-encrypted.xml",
            "_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        ),
        // Invalidly signed inside: decryption is not where that is caught.
        (
            "signatures-invalid_response.root-signed.assertion-invalidly-signed-encrypted.xml",
            "_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        ),
    ];
    for (file, id) in cases {
        check(&format!("node-saml/{file}"), &key, &Expect::Assertion(id));
    }
}

#[test]
fn python3_saml_oaep_decrypts_and_rsa_1_5_is_refused() {
    use Expect::{Assertion, Refused};
    let key = legacy_key("python3-saml/sp.key");
    let cases = [
        (
            "double_signed_encrypted_assertion2.xml.base64",
            Assertion("_c0f179a694543d15bf1d27dc54a6696447855f9075"),
        ),
        (
            "signed_encrypted_assertion2.xml.base64",
            Assertion("_a59374371e67925227f456da6fde5f407e0f662ff8"),
        ),
        (
            "signed_message_encrypted_assertion2.xml.base64",
            Assertion("_7ca14740fc2b29742caafa946ba838778ba19943ce"),
        ),
        (
            "signed_message_response2.xml.base64",
            Assertion("_a6c2abc83fb125078d7843204b850a27fdb76faa5b"),
        ),
        // SimpleSAMLphp's old default key transport: refused by its URI
        (
            "double_signed_encrypted_assertion.xml.base64",
            Refused(RSA15),
        ),
        ("signed_encrypted_assertion.xml.base64", Refused(RSA15)),
        (
            "signed_message_encrypted_assertion.xml.base64",
            Refused(RSA15),
        ),
        ("valid_encrypted_assertion.xml.base64", Refused(RSA15)),
        (
            "valid_encrypted_assertion_encrypted_nameid.xml.base64",
            Refused(RSA15),
        ),
    ];
    for (file, expect) in &cases {
        check(&format!("python3-saml/{file}"), &key, expect);
    }
}

#[test]
fn corpus_sp_keys_are_1024_bits_and_refused_by_default() {
    for file in [
        "ruby-saml/ruby-saml.key",
        "crewjam-saml/sp_key.pem",
        "python3-saml/sp.key",
    ] {
        assert_eq!(
            DecryptionKey::from_pem(&corpus(file)).unwrap_err(),
            DecryptError::KeyTooSmall {
                bits: 1024,
                min: 2048
            },
            "{file}"
        );
    }
}

#[test]
fn a_corpus_assertion_with_someone_elses_key_fails_opaquely() {
    let other = legacy_key("ruby-saml/ruby-saml.key");
    check(
        "crewjam-saml/TestSPCanHandleOktaSignedResponseEncryptedAssertion_response",
        &other,
        &Expect::Refused("saml.decrypt.failed"),
    );
}
