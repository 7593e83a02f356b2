//! The `jsm-sso` binary's contract, checked by running it: exit status 0 / 1 / 2, and exactly
//! one JSON object on stdout (`{"error":{"code","message","hint"}}` on failure).
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_jsm-sso");

const SAML_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const ASSERTION_ID: &str = "id1713498223498765432109876";
const RESPONSE_ID: &str = "id1713498223412345678901234";

/// The signed SAML responses and IdP keys of the peer-benchmark corpus, which
/// `jsm-sso-xmldsig` keeps under `testdata/peerbench` (see its README there).
fn peerbench(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../jsm-sso-xmldsig/testdata/peerbench")
        .join(name)
}

/// Extra test keys of `jsm-sso-xmldsig` (`testdata/keys`, see its README).
fn test_key(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../jsm-sso-xmldsig/testdata/keys")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

fn peerbench_str(name: &str) -> String {
    peerbench(name).to_str().unwrap().to_owned()
}

/// One run of the binary.
struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The one JSON object on stdout: a single line, newline-terminated.
    fn json(&self) -> Value {
        assert!(self.stdout.ends_with('\n'), "stdout: {:?}", self.stdout);
        assert_eq!(self.stdout.lines().count(), 1, "stdout: {:?}", self.stdout);
        let value: Value = serde_json::from_str(&self.stdout).expect("stdout is JSON");
        assert!(value.is_object(), "stdout: {value}");
        value
    }

    /// Asserts the failure contract and returns the error code.
    fn error_code(&self, status: i32) -> String {
        assert_eq!(
            self.status, status,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        let json = self.json();
        let error = json["error"].as_object().expect("an error object");
        assert_eq!(error.len(), 3, "{json}");
        for field in ["code", "message", "hint"] {
            let text = error[field].as_str().unwrap_or_default();
            assert!(!text.is_empty(), "empty {field}: {json}");
        }
        let message = error["message"].as_str().unwrap();
        assert!(!message.ends_with('.'), "message style: {message:?}");
        error["code"].as_str().unwrap().to_owned()
    }
}

fn jsm_sso(args: &[&str]) -> Run {
    jsm_sso_stdin(args, b"")
}

fn jsm_sso_stdin(args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run jsm-sso");
    // A usage error exits before reading stdin, so the write may meet a closed pipe.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    let output = child.wait_with_output().unwrap();
    Run {
        status: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// `jsm-sso xmldsig verify --cert CERT... FILE`, with the paths as given.
fn verify_paths(certs: &[&str], file: &str) -> Run {
    let mut args = vec!["xmldsig", "verify"];
    for cert in certs {
        args.extend(["--cert", cert]);
    }
    args.push(file);
    jsm_sso(&args)
}

/// The same with files of the peer-benchmark corpus.
fn verify(certs: &[&str], file: &str) -> Run {
    let certs: Vec<String> = certs.iter().map(|c| peerbench_str(c)).collect();
    let certs: Vec<&str> = certs.iter().map(String::as_str).collect();
    verify_paths(&certs, &peerbench_str(file))
}

fn verify_stdin(extra: &[&str], document: &[u8]) -> Run {
    let cert = peerbench_str("idp-rsa.crt");
    let mut args = vec!["xmldsig", "verify", "--cert", &cert];
    args.extend(extra);
    args.push("-");
    jsm_sso_stdin(&args, document)
}

fn medium() -> String {
    std::fs::read_to_string(peerbench("medium.xml")).unwrap()
}

// ---- help and usage -------------------------------------------------------------------------

#[test]
fn help_explains_the_tool_and_its_contract() {
    let run = jsm_sso(&["--help"]);
    assert_eq!(run.status, 0);
    for needle in [
        "Jira Service Management",
        "spam",
        "xmldsig",
        "Exit status",
        "`-`",
    ] {
        assert!(
            run.stdout.contains(needle),
            "--help lacks {needle:?}:\n{}",
            run.stdout
        );
    }
    let run = jsm_sso(&["xmldsig", "verify", "--help"]);
    assert_eq!(run.status, 0);
    for needle in [
        "--cert",
        "--allow-sha1",
        "--id-attr",
        "standard input",
        "rollover",
    ] {
        assert!(
            run.stdout.contains(needle),
            "verify --help lacks {needle:?}"
        );
    }
}

#[test]
fn version_prints_the_package_version() {
    let run = jsm_sso(&["--version"]);
    assert_eq!(run.status, 0);
    assert_eq!(
        run.stdout.trim(),
        format!("jsm-sso {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn no_subcommand_is_a_usage_error() {
    let run = jsm_sso(&[]);
    assert_eq!(run.error_code(2), "cli.usage");
    assert!(
        run.stderr.contains("Usage:"),
        "clap's help on stderr: {}",
        run.stderr
    );
}

#[test]
fn unknown_subcommand_and_flag_are_usage_errors() {
    for args in [
        &["frobnicate"][..],
        &["xmldsig", "frobnicate"],
        &["xmldsig", "verify", "--frobnicate", "a.xml"],
    ] {
        let run = jsm_sso(args);
        assert_eq!(run.error_code(2), "cli.usage", "{args:?}");
        assert!(run.stderr.contains("error:"), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn missing_required_argument_names_it() {
    let run = jsm_sso(&["xmldsig", "verify", "response.xml"]);
    assert_eq!(run.error_code(2), "cli.usage");
    let message = run.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("--cert"), "{message}");
}

#[test]
fn id_attr_must_be_an_attribute_name() {
    let run = verify_stdin(&["--id-attr", "saml:ID"], medium().as_bytes());
    assert_eq!(run.error_code(2), "cli.usage");
}

// ---- configuration errors (exit 2) ----------------------------------------------------------

#[test]
fn unreadable_document_is_a_config_error() {
    let run = verify_paths(
        &[&peerbench_str("idp-rsa.crt")],
        "/nonexistent/response.xml",
    );
    assert_eq!(run.error_code(2), "cli.input.unreadable");
    assert!(run.stdout.contains("/nonexistent/response.xml"));
    assert!(
        run.stderr
            .starts_with("jsm-sso: cannot read /nonexistent/response.xml")
            && run.stderr.lines().count() == 1,
        "one short line on stderr: {:?}",
        run.stderr
    );
}

#[test]
fn unreadable_certificate_is_a_config_error() {
    let run = verify_paths(&["/nonexistent/idp.crt"], "-");
    assert_eq!(run.error_code(2), "cli.input.unreadable");
}

#[test]
fn a_directory_is_not_a_readable_input() {
    let run = verify_paths(&[&peerbench_str("idp-rsa.crt")], env!("CARGO_MANIFEST_DIR"));
    assert_eq!(run.error_code(2), "cli.input.unreadable");
}

#[test]
fn stdin_for_two_inputs_is_refused_before_reading() {
    let run = verify_paths(&["-"], "-");
    assert_eq!(run.error_code(2), "cli.input.stdin_twice");
}

#[test]
fn a_file_that_is_not_a_certificate_is_a_config_error() {
    // An XML document where a PEM certificate belongs: no usable key.
    let run = verify(&["medium.xml"], "medium.xml");
    let code = run.error_code(2);
    assert!(code.starts_with("xmldsig.key."), "{code}");
    let message = run.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("medium.xml: "),
        "names the file: {message}"
    );
}

#[test]
fn a_garbled_pem_is_a_config_error() {
    let garbled =
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
    let run = jsm_sso_stdin(
        &[
            "xmldsig",
            "verify",
            "--cert",
            "-",
            &peerbench_str("medium.xml"),
        ],
        garbled.as_bytes(),
    );
    assert_eq!(run.error_code(2), "xmldsig.key.invalid");
}

#[test]
fn a_weak_or_unsupported_trusted_key_is_a_config_error() {
    let medium = peerbench_str("medium.xml");
    for (key, code) in [
        ("rsa1024.crt", "xmldsig.key.too_small"),
        ("ed25519.crt", "xmldsig.key.unsupported"),
    ] {
        let run = verify_paths(&[&test_key(key)], &medium);
        assert_eq!(run.error_code(2), code, "{key}");
    }
}

// ---- verification succeeds (exit 0) ---------------------------------------------------------

fn assert_verified(run: &Run, element: &str, id: &str, signature_method: &str) {
    assert_eq!(
        run.status, 0,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    let json = run.json();
    assert_eq!(json["verified"], true);
    assert_eq!(json["element"], element);
    assert_eq!(json["id"], id);
    assert_eq!(json["signature_method"], signature_method);
    assert_eq!(json["digest_method"], SHA256);
    let key = json["key"].as_str().unwrap();
    assert!(
        key.len() == 64
            && key
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "sha-256 hex fingerprint: {key}"
    );
    assert_eq!(json.as_object().unwrap().len(), 6, "{json}");
    assert!(run.stderr.is_empty(), "stderr: {}", run.stderr);
}

#[test]
fn verifies_the_signed_assertion_of_a_response() {
    for file in ["small.xml", "medium.xml", "large.xml"] {
        let run = verify(&["idp-rsa.crt"], file);
        assert_verified(
            &run,
            &format!("{{{SAML_ASSERTION}}}Assertion"),
            ASSERTION_ID,
            RSA_SHA256,
        );
    }
}

#[test]
fn verifies_a_signed_response_root_first() {
    // Response and Assertion both signed: the root's signature is the one checked.
    let run = verify(&["idp-rsa.crt"], "medium_both.xml");
    assert_verified(
        &run,
        "{urn:oasis:names:tc:SAML:2.0:protocol}Response",
        RESPONSE_ID,
        RSA_SHA256,
    );
}

#[test]
fn verifies_ecdsa() {
    let run = verify(&["idp-ec.crt"], "medium_ecdsa.xml");
    assert_verified(
        &run,
        &format!("{{{SAML_ASSERTION}}}Assertion"),
        ASSERTION_ID,
        ECDSA_SHA256,
    );
}

#[test]
fn several_certs_for_rollover_and_the_key_that_verified_is_named() {
    let rsa = verify(&["idp-ec.crt", "idp-rsa.crt"], "medium.xml");
    let ec = verify(&["idp-ec.crt", "idp-rsa.crt"], "medium_ecdsa.xml");
    assert_eq!(rsa.status, 0, "{}", rsa.stdout);
    assert_eq!(ec.status, 0, "{}", ec.stdout);
    let (rsa_key, ec_key) = (rsa.json()["key"].clone(), ec.json()["key"].clone());
    assert_ne!(rsa_key, ec_key);
    // A certificate and its bare public key have the same fingerprint (SHA-256 of the SPKI).
    let spki = verify(&["idp-rsa.pub.pem"], "medium.xml");
    assert_eq!(spki.status, 0, "{}", spki.stdout);
    assert_eq!(spki.json()["key"], rsa_key);
}

#[test]
fn reads_the_document_from_stdin() {
    let run = verify_stdin(&[], medium().as_bytes());
    assert_verified(
        &run,
        &format!("{{{SAML_ASSERTION}}}Assertion"),
        ASSERTION_ID,
        RSA_SHA256,
    );
}

#[test]
fn options_that_do_not_loosen_anything_still_verify() {
    let run = verify_stdin(&["--id-attr", "ID", "--allow-sha1"], medium().as_bytes());
    assert_eq!(run.status, 0, "{}", run.stdout);
}

// ---- verification refused (exit 1) ----------------------------------------------------------

#[test]
fn tampered_signed_content_is_rejected() {
    let forged = medium().replace("jane.customer@example.org", "mallory@example.org");
    let run = verify_stdin(&[], forged.as_bytes());
    assert_eq!(run.error_code(1), "xmldsig.digest.mismatch");
    assert!(
        run.stderr.is_empty(),
        "a rejection is on stdout only: {}",
        run.stderr
    );
}

#[test]
fn untrusted_key_is_rejected() {
    // Signed with the IdP's RSA key, whose certificate is in KeyInfo; another RSA key and an EC
    // key are trusted. The certificate in the document adds no trust.
    let trusted = [test_key("attacker-rsa.crt"), peerbench_str("idp-ec.crt")];
    let run = verify_paths(&[&trusted[0], &trusted[1]], &peerbench_str("medium.xml"));
    assert_eq!(run.error_code(1), "xmldsig.key.untrusted");
}

#[test]
fn unsigned_document_is_rejected() {
    let run = verify_stdin(
        &[],
        b"<Response xmlns=\"urn:example\"><Assertion ID=\"a\"/></Response>",
    );
    assert_eq!(run.error_code(1), "xmldsig.signature.missing");
}

#[test]
fn doctype_is_rejected() {
    let doc = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x \"y\">]><r>&x;</r>";
    let run = verify_stdin(&[], doc.as_bytes());
    assert_eq!(run.error_code(1), "xml.doctype");
}

#[test]
fn not_xml_is_rejected() {
    let run = verify_stdin(&[], b"SAMLResponse=PHNhbWw+");
    assert!(run.error_code(1).starts_with("xml."), "{}", run.stdout);
}

#[test]
fn an_id_attribute_the_reference_does_not_use_finds_nothing() {
    let run = verify_stdin(&["--id-attr", "AssertionID"], medium().as_bytes());
    assert_eq!(run.error_code(1), "xmldsig.reference.not_found");
}

#[test]
fn two_signed_children_are_ambiguous() {
    // A second copy of the signed Assertion beside the first: the command will not guess.
    let doc = medium();
    let start = doc.find("<saml2:Assertion ").unwrap();
    let end = doc.find("</saml2:Assertion>").unwrap() + "</saml2:Assertion>".len();
    let doubled = format!("{}{}", &doc[..end], &doc[start..]);
    let run = verify_stdin(&[], doubled.as_bytes());
    assert_eq!(run.error_code(1), "cli.xmldsig.ambiguous");
}
