//! `jsm-sso demo` with `JSM_BASE_URL`: a real site is never replaced by JSM in memory
//! silently. Without credentials (or with a token but no site URL) the demo does not start:
//! exit status 2, the problem's code and the variable to set on stderr, no banner.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests: a failed unwrap is a failed test"
)]

use std::process::{Command, Output, Stdio};

const VARS: [&str; 6] = [
    "JSM_BASE_URL",
    "JSM_EMAIL",
    "JSM_API_TOKEN",
    "JSM_PAT",
    "JSM_ACCESS_TOKEN",
    "JSM_DEMO_PORTALS",
];

fn demo(vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jsm-sso"));
    command
        .args(["demo", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null());
    for var in VARS {
        command.env_remove(var);
    }
    for (k, v) in vars {
        command.env(k, v);
    }
    command.output().unwrap()
}

#[test]
fn base_url_without_a_token_exits_non_zero_with_the_code() {
    let out = demo(&[("JSM_BASE_URL", "https://acme.atlassian.net")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("jsm-sso demo: error[config.env.missing]: JSM_BASE_URL:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: ") && stderr.contains("JSM_PAT"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "no banner");
}

#[test]
fn an_access_token_is_only_sent_to_the_oauth_gateway() {
    let out = demo(&[
        ("JSM_BASE_URL", "https://acme.atlassian.net"),
        ("JSM_ACCESS_TOKEN", "secret-access-token"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error[config.env.invalid]: JSM_BASE_URL:"),
        "{stderr}"
    );
    assert!(!stderr.contains("secret-access-token"), "{stderr}");
}

#[test]
fn two_kinds_of_credentials_conflict() {
    let out = demo(&[
        ("JSM_BASE_URL", "https://acme.atlassian.net"),
        ("JSM_EMAIL", "bot@acme.example"),
        ("JSM_API_TOKEN", "t"),
        ("JSM_PAT", "p"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("error[config.env.conflict]"), "{stderr}");
}

#[test]
fn help_names_the_variables() {
    let out = Command::new(env!("CARGO_BIN_EXE_jsm-sso"))
        .args(["demo", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for var in VARS {
        assert!(help.contains(var), "{var} missing from {help}");
    }
}
