//! `jsm-sso saml verify | diagnose | metadata`: the exact CLI contract.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers"
)]

use std::process::Command;

const SP: &str = "https://portal.example-jsm.test/saml/metadata";
const ACS: &str = "https://portal.example-jsm.test/saml/acs";
const IDP: &str = "http://www.okta.com/exk8q2bq1zPEXAMPLE697";
const REQ: &str = "_a8f3e1c2b9d04f6e8c7b5a4d3e2f1a0b";

fn vectors() -> String {
    format!(
        "{}/../jsm-sso-saml/tests/vectors/peerbench",
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

fn verify(extra: &[&str], response: &str) -> (i32, serde_json::Value) {
    let cert = format!("{}/idp-rsa.crt", vectors());
    let mut args = vec![
        "saml",
        "verify",
        "--sp-entity-id",
        SP,
        "--acs-url",
        ACS,
        "--idp-entity-id",
        IDP,
        "--idp-cert",
        &cert,
        "--now",
        "2025-06-01T12:00:30Z",
    ];
    args.extend_from_slice(extra);
    args.push(response);
    run(&args)
}

#[test]
fn verify_prints_the_identity() {
    let file = format!("{}/medium.xml", vectors());
    let (code, json) = verify(&["--request-id", REQ], &file);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["idp"], IDP);
    assert_eq!(json["subject"], "jane.customer@example.org");
    assert_eq!(json["email"], "jane.customer@example.org");
    assert_eq!(
        json["name_id_format"],
        "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    );
    assert!(json["groups"].as_array().unwrap().len() >= 2);
    assert!(json["attributes"].is_object());
    assert!(json["assertion_id"].as_str().unwrap().starts_with("id"));
    assert!(
        json["not_on_or_after"]
            .as_str()
            .unwrap()
            .starts_with("2099")
    );
    assert!(json["session_index"].is_string());
}

#[test]
fn verify_accepts_base64_with_line_breaks() {
    use base64::Engine;
    let xml = std::fs::read(format!("{}/medium.xml", vectors())).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(xml);
    let wrapped: String = b64
        .as_bytes()
        .chunks(76)
        .map(|c| format!("{}\n", String::from_utf8_lossy(c)))
        .collect();
    let path = std::env::temp_dir().join(format!("jsm-sso-saml-b64-{}.txt", std::process::id()));
    std::fs::write(&path, wrapped).unwrap();
    let (code, json) = verify(&["--request-id", REQ], path.to_str().unwrap());
    std::fs::remove_file(&path).ok();
    assert_eq!(code, 0, "{json}");
}

#[test]
fn verify_rejections_have_codes() {
    let file = format!("{}/medium.xml", vectors());
    let (code, json) = verify(&["--request-id", "_other"], &file);
    assert_eq!(
        (code, json["error"]["code"].as_str()),
        (1, Some("saml.in_response_to.mismatch"))
    );
    let (code, json) = verify(&[], &file);
    assert_eq!(
        (code, json["error"]["code"].as_str()),
        (1, Some("saml.in_response_to.unsolicited"))
    );
    let cert = format!("{}/idp-rsa.crt", vectors());
    let (code, json) = run(&[
        "saml",
        "verify",
        "--sp-entity-id",
        "https://other-sp",
        "--acs-url",
        ACS,
        "--idp-entity-id",
        IDP,
        "--idp-cert",
        &cert,
        "--now",
        "2025-06-01T12:00:30Z",
        "--request-id",
        REQ,
        &file,
    ]);
    assert_eq!(
        (code, json["error"]["code"].as_str()),
        (1, Some("saml.audience.mismatch"))
    );
    assert!(
        json["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("entity ID")
    );
}

#[test]
fn usage_errors_exit_2() {
    let file = format!("{}/medium.xml", vectors());
    let (code, _) = run(&[
        "saml",
        "verify",
        "--sp-entity-id",
        SP,
        "--acs-url",
        ACS,
        &file,
    ]);
    assert_eq!(code, 2);
    let (code, _) = run(&[
        "saml",
        "verify",
        "--sp-entity-id",
        SP,
        "--acs-url",
        ACS,
        "--idp-entity-id",
        IDP,
        "--idp-cert",
        "x",
        "--request-id",
        "a",
        "--allow-unsolicited",
        &file,
    ]);
    assert_eq!(code, 2);
    let (code, json) = verify(&["--clock-skew", "600", "--request-id", REQ], &file);
    assert_eq!(
        (code, json["error"]["code"].as_str()),
        (2, Some("saml.config"))
    );
}

#[test]
fn diagnose_lists_checks_and_metadata_is_printed() {
    let file = format!("{}/medium.xml", vectors());
    let (code, json) = run(&[
        "saml",
        "diagnose",
        "--now",
        "2025-06-01T12:00:30Z",
        "--acs-url",
        "https://wrong/acs",
        &file,
    ]);
    assert_eq!(code, 1, "{json}");
    let checks = json["checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "destination" && c["passed"] == false)
    );
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "assertion_signature" && c["passed"] == true)
    );
    assert_eq!(json["trusted_key"], false);
    assert!(json["xml"].as_str().unwrap().contains("Assertion"));
    let (code, json) = run(&["saml", "metadata", "--sp-entity-id", SP, "--acs-url", ACS]);
    assert_eq!(code, 0);
    assert!(
        json["metadata"]
            .as_str()
            .unwrap()
            .contains("AssertionConsumerService")
    );
}
