//! `jsm-sso policy check` and `jsm-sso policy explain`: the exact CLI contract.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_jsm-sso");

const POLICY: &str = r#"version = 1
default = "deny"
[portals]
"2" = "IT Support"
"5" = "Billing"
[organizations]
acme = "Acme Corp"
partners = "Gold Partners"

[[rule]]
name = "block-disposable"
effect = "deny"
email_domain = ["mailinator.com", "*.mailinator.com"]
reason = "Disposable addresses cannot raise requests."

[[rule]]
name = "acme-staff"
email_domain = ["acme.com", "*.acme.com"]
organizations = ["acme"]
portals = ["5", "2"]
fields = { customfield_10050 = "{attr.department}" }

[[rule]]
name = "gold-partners"
idp = ["okta-partners"]
group = ["partner-gold*"]
attribute = { region = ["EMEA", "APAC"] }
organizations = ["partners"]
portals = ["5"]
require_mfa = true
"#;

/// Writes `content` to a new file (a fresh directory per call, so tests running in
/// parallel never read a file another test is rewriting).
fn temp_file(name: &str, content: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("jsm-sso-cli-policy-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

struct Run {
    status: i32,
    json: Value,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let out = Command::new(BIN).args(args).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "one JSON line expected: {stdout}"
    );
    Run {
        status: out.status.code().unwrap(),
        json: serde_json::from_str(&stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn explain(policy: &str, identity: &Value) -> Run {
    let p = temp_file("explain.toml", policy);
    let id = temp_file("identity.json", &identity.to_string());
    run(&[
        "policy",
        "explain",
        p.to_str().unwrap(),
        "--identity",
        id.to_str().unwrap(),
    ])
}

#[test]
fn check_a_valid_policy() {
    let p = temp_file("valid.toml", POLICY);
    let r = run(&["policy", "check", p.to_str().unwrap()]);
    assert_eq!(r.status, 0, "{}", r.json);
    assert_eq!(r.json["valid"], true);
    assert_eq!(r.json["rules"], 3);
    assert_eq!(r.json["portals"], 2);
    assert_eq!(r.json["organizations"], 2);
    assert_eq!(r.json["default"], "deny");
    assert!(r.json["hash"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(r.json["warnings"], json!([]));
}

#[test]
fn check_lists_every_problem_with_file_line_column() {
    let bad = POLICY
        .replace(
            "\"mailinator.com\", \"*.mailinator.com\"",
            "\"mailinator.com\", \"*.com\"",
        )
        .replace("portals = [\"5\", \"2\"]", "portals = [\"5\", \"9\"]");
    let p = temp_file("bad.toml", &bad);
    let shown = p.display().to_string();
    let r = run(&["policy", "check", &shown]);
    assert_eq!(r.status, 1);
    assert_eq!(r.json["error"]["code"], "policy.invalid");
    assert_eq!(r.json["error"]["message"], "policy has 2 errors");
    let errors = r.json["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0]["code"], "policy.domain.public_suffix");
    assert_eq!(errors[0]["location"], format!("{shown}:13:35"));
    assert_eq!(errors[1]["code"], "policy.portal.unknown");
    assert_eq!(errors[1]["location"], format!("{shown}:20:17"));
    assert!(errors[1]["hint"].as_str().unwrap().contains("[portals]"));
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            format!("{shown}:13:35: \"*.com\" covers a whole top-level domain"),
            format!("{shown}:20:17: \"9\" is not declared in [portals]"),
        ]
    );
}

#[test]
fn check_yaml_json_and_format_override() {
    let yaml = "version: 1\nportals: {\"2\": IT}\nrule:\n  - name: a\n    idp: [okta]\n    portals: [\"2\"]\n";
    let p = temp_file("p.yaml", yaml);
    assert_eq!(run(&["policy", "check", p.to_str().unwrap()]).status, 0);
    let p = temp_file(
        "p.json",
        r#"{"version": 1, "portals": {"2": "IT"}, "rule": [{"name": "a", "idp": ["okta"], "portals": ["2"]}]}"#,
    );
    assert_eq!(run(&["policy", "check", p.to_str().unwrap()]).status, 0);
    let p = temp_file("policy.conf", POLICY);
    let r = run(&["policy", "check", p.to_str().unwrap()]);
    assert_eq!(r.status, 2);
    assert_eq!(r.json["error"]["code"], "policy.format.unknown");
    let r = run(&["policy", "check", "--format", "toml", p.to_str().unwrap()]);
    assert_eq!(r.status, 0);
    let r = run(&["policy", "check", "/nonexistent/jsm-sso/policy.toml"]);
    assert_eq!(r.status, 2);
    assert_eq!(r.json["error"]["code"], "cli.input.unreadable");
}

#[test]
fn explain_an_allow() {
    let r = explain(
        POLICY,
        &json!({"idp": "okta", "email": "ann@eu.acme.com", "email_verified": true,
                "groups": [], "attributes": {"department": ["Sales"]}}),
    );
    assert_eq!(r.status, 0, "{}", r.json);
    let j = &r.json;
    assert_eq!(j["allow"], true);
    assert_eq!(j["organizations"], json!(["acme"]));
    assert_eq!(j["portals"], json!(["2", "5"]));
    assert_eq!(j["fields"], json!({"customfield_10050": "Sales"}));
    assert_eq!(j["require_mfa"], false);
    assert_eq!(j["reason"], Value::Null);
    assert_eq!(j["matched"], json!(["acme-staff"]));
    assert_eq!(j["near_misses"], json!([]));
    assert!(j["policy_hash"].as_str().unwrap().starts_with("sha256:"));
    assert!(
        j["text"]
            .as_str()
            .unwrap()
            .starts_with("ALLOW (allow rules; policy sha256:")
    );
}

#[test]
fn explain_a_deny_with_its_reason() {
    let r = explain(
        POLICY,
        &json!({"idp": "okta", "email": "bot@x.mailinator.com", "email_verified": true}),
    );
    assert_eq!(r.status, 0);
    assert_eq!(r.json["allow"], false);
    assert_eq!(
        r.json["reason"],
        "Disposable addresses cannot raise requests."
    );
    assert_eq!(r.json["matched"], json!(["block-disposable"]));
    assert_eq!(r.json["organizations"], json!([]));
    assert_eq!(r.json["basis"], "deny_rule");
}

#[test]
fn explain_near_misses_and_warnings() {
    let r = explain(
        POLICY,
        &json!({"idp": "okta-partners", "email": "p@partner.example", "email_verified": true,
                "groups": ["partner-silver"], "attributes": {"region": ["EMEA"]}}),
    );
    assert_eq!(r.status, 0);
    assert_eq!(r.json["allow"], false);
    assert_eq!(
        r.json["near_misses"],
        json!([{"rule": "gold-partners", "condition": "group",
                "expected": ["partner-gold*"], "actual": ["partner-silver"]}])
    );
    let warnings = r.json["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w["code"] == "policy.identity.missing_attribute")
    );
    // An unverified email never matches a domain rule, and the explanation says so.
    let r = explain(
        POLICY,
        &json!({"idp": "okta", "email": "ann@acme.com", "email_verified": false}),
    );
    assert_eq!(r.json["allow"], false);
    assert_eq!(
        r.json["near_misses"][0]["actual"],
        json!(["acme.com (unverified)"])
    );
}

#[test]
fn explain_accepts_a_full_verified_identity() {
    let r = explain(
        POLICY,
        &json!({"idp": "okta", "protocol": "saml2",
                "subject": {"value": "ann", "format": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"},
                "email": "ann@acme.com", "email_verified": true, "groups": ["x"],
                "attributes": {"department": ["Ops"]},
                "authn_instant": "2025-01-02T03:04:05Z", "session_expiry": null}),
    );
    assert_eq!(r.status, 0, "{}", r.json);
    assert_eq!(r.json["fields"]["customfield_10050"], "Ops");
}

#[test]
fn explain_refuses_bad_input() {
    let r = explain(POLICY, &json!({"email": "ann@acme.com"}));
    assert_eq!(r.status, 2);
    assert_eq!(r.json["error"]["code"], "cli.policy.identity");
    let r = explain(POLICY, &json!({"idp": "okta", "emial": "ann@acme.com"}));
    assert_eq!(r.status, 2);
    assert_eq!(r.json["error"]["code"], "cli.policy.identity");
    let r = explain(POLICY, &json!({"idp": "okta", "email": "not an email"}));
    assert_eq!(r.status, 2);
    assert_eq!(r.json["error"]["code"], "cli.policy.identity");
    let r = explain(
        &POLICY.replace("version = 1", "version = 3"),
        &json!({"idp": "okta"}),
    );
    assert_eq!(r.status, 1);
    assert_eq!(r.json["errors"][0]["code"], "policy.version.unsupported");
}
