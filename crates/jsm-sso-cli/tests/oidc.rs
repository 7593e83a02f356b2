//! `jsm-sso oidc verify`: the exact contract (exit 0 with the identity JSON, exit 1 with the
//! error's code, exit 2 for usage and configuration), on tokens minted by the testkit issuer.
#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jsm_sso_core::clock::FixedClock;
use jsm_sso_testkit::oidc::{TestIssuer, TestKey};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_jsm-sso");
const ISS: &str = "https://op.example";
const CLIENT: &str = "portal";
const NOW: &str = "2023-11-14T22:13:20Z"; // 1_700_000_000

fn issuer() -> TestIssuer {
    let clock = FixedClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let mut issuer = TestIssuer::new(ISS, CLIENT, Arc::new(clock));
    issuer.publish(TestKey::es256());
    issuer.publish(TestKey::eddsa());
    issuer.publish(TestKey::rs256_b());
    issuer
}

/// Writes `content` to a fresh file for this test and returns its path.
fn file(test: &str, name: &str, content: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("oidc-cli")
        .join(test);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Runs `oidc verify` with the issuer's JWKS, the usual issuer/client/now, `extra`
/// arguments and the token from a file; returns (exit status, stdout JSON).
fn verify(test: &str, token: &str, extra: &[&str]) -> (i32, Value) {
    let jwks = file(test, "jwks.json", &issuer().jwks().to_string());
    let token = file(test, "token.jwt", &format!("{token}\n"));
    let mut args = vec![
        "oidc",
        "verify",
        "--issuer",
        ISS,
        "--client-id",
        CLIENT,
        "--jwks",
        &jwks,
        "--now",
        NOW,
    ];
    args.extend_from_slice(extra);
    args.push(&token);
    run(&args, None)
}

fn run(args: &[&str], stdin: Option<&str>) -> (i32, Value) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // A usage error exits before reading stdin, so the write may meet a closed pipe.
    if let Err(e) = input.write_all(stdin.unwrap_or("").as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "stdout: {stdout:?}");
    (
        out.status.code().unwrap(),
        serde_json::from_str(&stdout).unwrap(),
    )
}

fn error_code(result: &(i32, Value), status: i32) -> String {
    assert_eq!(result.0, status, "{}", result.1);
    let error = result.1["error"].as_object().unwrap();
    assert_eq!(error.len(), 3);
    assert!(!error["message"].as_str().unwrap().is_empty());
    assert!(!error["hint"].as_str().unwrap().is_empty());
    error["code"].as_str().unwrap().to_owned()
}

#[test]
fn valid_token_prints_the_identity() {
    for key in [TestKey::rs256(), TestKey::es256(), TestKey::eddsa()] {
        let token = issuer()
            .id_token()
            .sign_with(&key)
            .claim("nonce", "n1")
            .claim("email", "alice@example.com")
            .claim("email_verified", true)
            .claim("groups", json!(["customers", "gold"]))
            .build();
        let (status, out) = verify("valid", &token, &["--nonce", "n1"]);
        assert_eq!(status, 0, "{out}");
        let fields: Vec<&str> = out
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            fields,
            [
                "claims",
                "email",
                "email_verified",
                "groups",
                "idp",
                "subject"
            ]
        );
        assert_eq!(out["idp"], ISS);
        assert_eq!(out["subject"], "alice");
        assert_eq!(out["email"], "alice@example.com");
        assert_eq!(out["email_verified"], true);
        assert_eq!(out["groups"], json!(["customers", "gold"]));
        assert_eq!(out["claims"]["nonce"], "n1");
    }
    // No email: null, not verified.
    let token = issuer().id_token().build();
    let (status, out) = verify("no-email", &token, &[]);
    assert_eq!(status, 0);
    assert_eq!(out["email"], Value::Null);
    assert_eq!(out["email_verified"], false);
}

#[test]
fn token_from_stdin() {
    let jwks = file("stdin", "jwks.json", &issuer().jwks().to_string());
    let token = issuer().id_token().build();
    let result = run(
        &[
            "oidc",
            "verify",
            "--issuer",
            ISS,
            "--client-id",
            CLIENT,
            "--jwks",
            &jwks,
            "--now",
            NOW,
            "-",
        ],
        Some(&token),
    );
    assert_eq!(result.0, 0, "{}", result.1);
}

#[test]
fn rejections_exit_1_with_their_code() {
    let i = issuer();
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "oidc.id_token.alg_none",
            i.id_token().unsigned().build(),
            vec![],
        ),
        (
            "oidc.id_token.signature",
            i.id_token().corrupt_signature().build(),
            vec![],
        ),
        (
            "oidc.id_token.issuer",
            i.id_token().claim("iss", "https://evil.example").build(),
            vec![],
        ),
        (
            "oidc.id_token.audience",
            i.id_token().claim("aud", "other").build(),
            vec![],
        ),
        (
            "oidc.nonce.missing",
            i.id_token().build(),
            vec!["--nonce", "n1"],
        ),
        (
            "oidc.nonce.mismatch",
            i.id_token().claim("nonce", "n2").build(),
            vec!["--nonce", "n1"],
        ),
        (
            "oidc.id_token.expired",
            i.id_token().shift_times(-3600).build(),
            vec![],
        ),
        (
            "oidc.id_token.issued_in_future",
            i.id_token().claim("iat", 1_700_000_061).build(),
            vec![],
        ),
        (
            "oidc.jwks.unknown_kid",
            i.id_token()
                .sign_with(&TestKey::rs256().with_kid("retired"))
                .build(),
            vec![],
        ),
        (
            "oidc.jwks.ambiguous_key",
            i.id_token().without_header("kid").build(),
            vec![],
        ),
        (
            "oidc.id_token.alg_not_allowed",
            i.id_token().hmac(&TestKey::rs256().public_bytes()).build(),
            vec![],
        ),
        (
            "oidc.id_token.claim_type",
            i.id_token().claim("exp", "1800000000").build(),
            vec![],
        ),
        (
            "oidc.id_token.alg_not_allowed",
            i.id_token().sign_with(&TestKey::es256()).build(),
            vec!["--alg", "RS256"],
        ),
        ("oidc.jwt.malformed", "not-a-jwt".to_owned(), vec![]),
    ];
    for (expected, token, extra) in cases {
        let result = verify("reject", &token, &extra);
        assert_eq!(error_code(&result, 1), expected);
    }
    // The no-kid case is ambiguous only with several keys of a kind: one Ed25519 key is fine.
    let ok = verify(
        "reject",
        &i.id_token()
            .sign_with(&TestKey::eddsa())
            .without_header("kid")
            .build(),
        &[],
    );
    assert_eq!(ok.0, 0, "{}", ok.1);
}

#[test]
fn leeway_and_hmac_options() {
    let i = issuer();
    let late = i.id_token().shift_times(-330).build(); // expired 30 s ago
    assert_eq!(verify("leeway", &late, &[]).0, 0);
    assert_eq!(
        error_code(&verify("leeway", &late, &["--leeway", "10"]), 1),
        "oidc.id_token.expired"
    );
    let hs = i.id_token().hmac(b"client-secret").build();
    assert_eq!(
        verify(
            "hmac",
            &hs,
            &["--alg", "HS256", "--client-secret", "client-secret"]
        )
        .0,
        0
    );
    // A secret alone does not allow HMAC; HMAC needs the right secret.
    assert_eq!(
        error_code(
            &verify("hmac", &hs, &["--client-secret", "client-secret"]),
            1
        ),
        "oidc.id_token.alg_not_allowed"
    );
    assert_eq!(
        error_code(
            &verify("hmac", &hs, &["--alg", "HS256", "--client-secret", "other"]),
            1
        ),
        "oidc.id_token.signature"
    );
}

#[test]
fn usage_and_configuration_errors_exit_2() {
    let token = issuer().id_token().build();
    assert_eq!(
        error_code(&verify("usage", &token, &["--alg", "none"]), 2),
        "cli.usage"
    );
    assert_eq!(
        error_code(&verify("usage", &token, &["--now", "yesterday"]), 2),
        "cli.usage"
    );
    assert_eq!(
        error_code(&verify("usage", &token, &["--leeway", "301"]), 2),
        "cli.oidc.config"
    );
    assert_eq!(
        error_code(&verify("usage", &token, &["--alg", "HS256"]), 2),
        "cli.oidc.config"
    );
    let result = run(
        &["oidc", "verify", "--issuer", ISS, "--jwks", "x", "t"],
        None,
    );
    assert_eq!(error_code(&result, 2), "cli.usage");
    let bad_jwks = file("usage", "bad.json", "{\"keys\": 1}");
    let token_file = file("usage", "t.jwt", &token);
    let result = run(
        &[
            "oidc",
            "verify",
            "--issuer",
            ISS,
            "--client-id",
            CLIENT,
            "--jwks",
            &bad_jwks,
            "--now",
            NOW,
            &token_file,
        ],
        None,
    );
    assert_eq!(error_code(&result, 2), "oidc.jwks.malformed");
    let result = run(
        &[
            "oidc",
            "verify",
            "--issuer",
            ISS,
            "--client-id",
            CLIENT,
            "--jwks",
            "/nonexistent/jwks.json",
            &token_file,
        ],
        None,
    );
    assert_eq!(error_code(&result, 2), "cli.input.unreadable");
}
