//! `jsm-sso audit verify` and `jsm-sso audit export` on the sealed log of
//! `crates/jsm-sso-audit/tests/vectors` and on tampered copies: exit 0 with the count and head
//! hash, or exit 1 naming the first altered, removed, reordered or truncated line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_jsm-sso");

fn vector(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../jsm-sso-audit/tests/vectors")
        .join(name)
}

fn lines() -> Vec<String> {
    std::fs::read_to_string(vector("sealed.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Writes `content` to a fresh file in the temp directory and returns its path.
fn temp_file(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jsm-sso-cli-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

fn joined(lines: &[String]) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

struct Run {
    status: i32,
    stdout: String,
}

fn run(args: &[&str]) -> Run {
    let out = Command::new(BIN).args(args).output().unwrap();
    Run {
        status: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
    }
}

impl Run {
    fn json(&self) -> Value {
        assert_eq!(
            self.stdout.lines().count(),
            1,
            "one JSON object: {}",
            self.stdout
        );
        serde_json::from_str(&self.stdout).unwrap()
    }

    fn error(&self, status: i32) -> (String, String) {
        assert_eq!(self.status, status, "{}", self.stdout);
        let json = self.json();
        let e = &json["error"];
        assert!(!e["hint"].as_str().unwrap().is_empty());
        (
            e["code"].as_str().unwrap().to_owned(),
            e["message"].as_str().unwrap().to_owned(),
        )
    }
}

fn verify_lines(name: &str, lines: &[String]) -> Run {
    let path = temp_file(name, &joined(lines));
    let key = vector("audit-signing.pub.pem");
    run(&[
        "audit",
        "verify",
        "--key",
        key.to_str().unwrap(),
        path.to_str().unwrap(),
    ])
}

#[test]
fn verify_prints_count_and_head() {
    let key = vector("audit-signing.pub.pem");
    let log = vector("sealed.jsonl");
    let run = run(&[
        "audit",
        "verify",
        "--key",
        key.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert_eq!(run.status, 0, "{}", run.stdout);
    let json = run.json();
    assert_eq!(json["verified"], true);
    assert_eq!(json["count"], 9);
    assert_eq!(json["events"], 7);
    assert_eq!(json["signatures"], "verified");
    let last = lines().pop().unwrap();
    let head = json["head"].as_str().unwrap();
    assert!(
        last.ends_with(&format!("\"hash\":\"{head}\"}}")),
        "{head} vs {last}"
    );

    let unkeyed = self::run(&["audit", "verify", log.to_str().unwrap()]);
    assert_eq!(unkeyed.status, 0);
    assert_eq!(unkeyed.json()["signatures"], "unchecked");
}

#[test]
fn tampering_exits_1_naming_the_line() {
    let original = lines();

    let mut altered = original.clone();
    altered[2] = altered[2].replace("\"totp\"", "\"recovery_code\"");
    let (code, message) = verify_lines("altered.jsonl", &altered).error(1);
    assert_eq!(code, "audit.verify.altered");
    assert!(message.contains("line 3 was altered"), "{message}");
    assert!(message.contains("altered.jsonl"), "{message}");

    let mut removed = original.clone();
    removed.remove(3);
    let (code, message) = verify_lines("removed.jsonl", &removed).error(1);
    assert_eq!(code, "audit.verify.removed");
    assert!(message.contains("before line 4"), "{message}");

    let mut swapped = original.clone();
    swapped.swap(1, 2);
    let (code, message) = verify_lines("swapped.jsonl", &swapped).error(1);
    assert_eq!(code, "audit.verify.reordered");
    assert!(message.contains("line 2 is out of order"), "{message}");

    let (code, message) = verify_lines("truncated.jsonl", &original[..7]).error(1);
    assert_eq!(code, "audit.verify.truncated");
    assert!(message.contains("ends at line 7"), "{message}");

    let mut cut = joined(&original);
    cut.truncate(cut.len() - 30);
    let path = temp_file("cut.jsonl", &cut);
    let (code, message) = run(&["audit", "verify", path.to_str().unwrap()]).error(1);
    assert_eq!(code, "audit.verify.partial_line");
    assert!(message.contains("line 9"), "{message}");
}

#[test]
fn key_problems() {
    let log = vector("sealed.jsonl");
    let (other, _) = jsm_sso_audit::SigningKey::generate().unwrap();
    let other_pub = temp_file("other.pub.pem", &other.verifying_key().to_pem());
    let (code, _) = run(&[
        "audit",
        "verify",
        "--key",
        other_pub.to_str().unwrap(),
        log.to_str().unwrap(),
    ])
    .error(1);
    assert_eq!(code, "audit.verify.key_mismatch");

    let junk = temp_file("junk.pem", "not a key");
    let (code, message) = run(&[
        "audit",
        "verify",
        "--key",
        junk.to_str().unwrap(),
        log.to_str().unwrap(),
    ])
    .error(2);
    assert_eq!(code, "audit.config.key");
    assert!(message.contains("junk.pem"), "{message}");

    let (code, _) = run(&["audit", "verify", "/nonexistent/audit.jsonl"]).error(2);
    assert_eq!(code, "cli.input.unreadable");
}

#[test]
fn export_ocsf_and_cloudevents() {
    let log = vector("sealed.jsonl");
    let ocsf = run(&["audit", "export", "--format", "ocsf", log.to_str().unwrap()]);
    assert_eq!(ocsf.status, 0);
    let events: Vec<Value> = ocsf
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 7);
    for e in &events {
        let class = e["class_uid"].as_u64().unwrap();
        let activity = e["activity_id"].as_u64().unwrap();
        assert_eq!(e["type_uid"].as_u64().unwrap(), class * 100 + activity);
        assert_eq!(e["metadata"]["version"], "1.8.0");
    }
    assert_eq!(events[0]["auth_protocol_id"], 5);

    let ce = run(&[
        "audit",
        "export",
        "--format",
        "cloudevents",
        "--source",
        "urn:example:broker",
        log.to_str().unwrap(),
    ]);
    assert_eq!(ce.status, 0);
    let first: Value = serde_json::from_str(ce.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["specversion"], "1.0");
    assert_eq!(first["source"], "urn:example:broker");
    assert_eq!(first["type"], "io.github.jsm-sso.audit.signin.started");
    assert!(
        !ce.stdout.contains("\"subject\":\"") || !first["subject"].as_str().unwrap().contains('@')
    );

    // a tampered log is not exported, unless asked for explicitly
    let mut altered = lines();
    altered[3] = altered[3].replace("\"12\"", "\"13\"");
    let path = temp_file("export-altered.jsonl", &joined(&altered));
    let refused = run(&[
        "audit",
        "export",
        "--format",
        "ocsf",
        path.to_str().unwrap(),
    ]);
    let (code, _) = refused.error(1);
    assert_eq!(code, "audit.verify.altered");
    let (code, message) = run(&[
        "audit",
        "export",
        "--format",
        "ocsf",
        "--unverified",
        path.to_str().unwrap(),
    ])
    .error(1);
    assert_eq!(
        code, "audit.verify.altered",
        "each line's own hash is still checked"
    );
    assert!(message.contains("line 4"), "{message}");

    let (code, _) = run(&["audit", "export", "--format", "csv", log.to_str().unwrap()]).error(2);
    assert_eq!(code, "cli.usage");
}
