//! `jsm-sso saml verify` on responses captured from real IdPs (Google Workspace, OneLogin, a
//! production IdP at Secureworks, Shibboleth/TestShib), with their metadata or certificates and
//! a pinned `--now`. Origins: `crates/jsm-sso-saml/tests/vectors/real-idp/README.md`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers"
)]

use std::process::Command;

fn vector(name: &str) -> String {
    format!(
        "{}/../jsm-sso-saml/tests/vectors/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn run(args: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_jsm-sso"))
        .args(args)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap(), json)
}

#[test]
fn google_workspace_capture_from_its_metadata() {
    let args = |request: &str| {
        run(&[
            "saml",
            "verify",
            "--sp-entity-id",
            "https://29ee6d2e.ngrok.io/saml/metadata",
            "--acs-url",
            "https://29ee6d2e.ngrok.io/saml/acs",
            "--idp-metadata",
            &vector("metadata/google-idp-metadata.xml"),
            "--request-id",
            request,
            "--now",
            "2016-01-05T16:55:00Z",
            // The base64 form value as posted, line breaks included.
            &vector("real-idp/google_response.b64"),
        ])
    };
    let (code, json) = args("id-fd419a5ab0472645427f8e07d87a3a5dd0b2e9a6");
    assert_eq!(code, 0, "{json}");
    assert_eq!(
        json["idp"],
        "https://accounts.google.com/o/saml2?idpid=C02dfl1r1"
    );
    assert_eq!(json["subject"], "ross@octolabs.io");
    // The generic profile takes the email from an emailAddress-format NameID or an email
    // claim only; Google's NameID has no format.
    assert_eq!(json["email"], serde_json::Value::Null);
    assert!(json["attributes"]["jobTitle"].is_array(), "{json}");
    assert_eq!(json["not_on_or_after"], "2016-01-05T17:01:39.348Z");
    let (code, json) = args("_another_request");
    assert_eq!(code, 1);
    assert_eq!(json["error"]["code"], "saml.in_response_to.mismatch");
}

fn onelogin(extra: &[&str]) -> (i32, serde_json::Value) {
    let metadata = vector("real-idp/onelogin_idp_metadata.xml");
    let response = vector("real-idp/onelogin_response.b64");
    let mut args = vec![
        "saml",
        "verify",
        "--sp-entity-id",
        "https://29ee6d2e.ngrok.io/saml/metadata",
        "--acs-url",
        "https://29ee6d2e.ngrok.io/saml/acs",
        "--idp-metadata",
        &metadata,
        "--request-id",
        "id-d40c15c104b52691eccf0a2a5c8a15595be75423",
        "--now",
        "2016-01-05T17:53:00Z",
    ];
    args.extend_from_slice(extra);
    args.push(&response);
    run(&args)
}

#[test]
fn onelogin_capture_is_sha1_and_needs_allow_sha1() {
    let (code, json) = onelogin(&[]);
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["error"]["code"], "saml.signature.sha1");
    assert!(
        json["error"]["hint"].as_str().unwrap().contains("SHA-256"),
        "{json}"
    );
    let (code, json) = onelogin(&["--allow-sha1"]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["subject"], "ross@kndr.org");
    assert_eq!(
        json["name_id_format"],
        "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    );
    assert_eq!(json["email"], "ross@kndr.org");
    assert!(json["attributes"]["memberOf"].is_array(), "{json}");
    assert!(json["session_index"].is_string(), "{json}");
}

#[test]
fn secureworks_production_idp_capture() {
    let (code, json) = run(&[
        "saml",
        "verify",
        "--sp-entity-id",
        "https://preview.docrocket-ross.test.octolabs.io/saml/metadata",
        "--acs-url",
        "https://preview.docrocket-ross.test.octolabs.io/saml/acs",
        "--idp-metadata",
        &vector("real-idp/secureworks_idp_metadata.xml"),
        "--request-id",
        "id-3992f74e652d89c3cf1efd6c7e472abaac9bc917",
        "--now",
        "2017-04-21T13:15:00Z",
        "--allow-sha1",
        &vector("real-idp/secureworks_response.xml"),
    ]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["idp"], "https://idp.secureworks.com/SAML2");
    assert_eq!(json["subject"], "rkinder@secureworks.com");
}

#[test]
fn shibboleth_testshib_encrypted_capture() {
    let args = |now: &str| {
        run(&[
            "saml",
            "verify",
            "--sp-entity-id",
            "http://subspacesw.com",
            "--acs-url",
            "http://localhost/browserSamlLogin",
            "--idp-entity-id",
            "https://idp.testshib.org/idp/shibboleth",
            "--idp-cert",
            &vector("real-idp/testshib-2014-signing.pem"),
            "--decryption-key",
            &vector("decrypt/corpus/node-saml/testshib_encryption_pvk.pem"),
            "--request-id",
            "_3138d675d6ed416d43d6",
            "--now",
            now,
            &vector("decrypt/corpus/node-saml/testshib_encrypted_response.xml"),
        ])
    };
    let (code, json) = args("2014-06-02T17:50:00Z");
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["subject"], "_32990a6fe34e615a7657a8fe2056d885");
    assert_eq!(
        json["name_id_format"],
        "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
    );
    assert_eq!(
        json["attributes"]["urn:oid:0.9.2342.19200300.100.1.1"],
        serde_json::json!(["myself"])
    );
    // An hour later the bearer confirmation has expired.
    let (code, json) = args("2014-06-02T18:50:00Z");
    assert_eq!(code, 1);
    assert_eq!(json["error"]["code"], "saml.subject_confirmation.expired");
}
