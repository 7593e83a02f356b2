//! Writes the seed corpus of the `oidc_jwt` and `oidc_callback` fuzz targets
//! (`fuzz/corpus/oidc_*/`) and the JWKS they verify against
//! (`tests/vectors/fuzz-jwks.json`), from the testkit issuer at a fixed time.
//! `cargo run -p jsm-sso-oidc --example write_oidc_fuzz_seeds`; the output is committed.
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    missing_docs,
    reason = "a generator run by hand"
)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jsm_sso_core::clock::FixedClock;
use jsm_sso_testkit::oidc::{TestIssuer, TestKey, half_hash};
use serde_json::json;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = root.join("../../fuzz/corpus");
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut issuer = TestIssuer::new(
        "https://op.example",
        "portal",
        Arc::new(FixedClock::new(now)),
    );
    issuer.publish(TestKey::es256());
    issuer.publish(TestKey::eddsa());
    let mut jwks = serde_json::to_string_pretty(&issuer.jwks()).unwrap();
    jwks.push('\n');
    std::fs::write(root.join("tests/vectors/fuzz-jwks.json"), jwks).unwrap();

    let base = || issuer.id_token().claim("nonce", "n-fuzz");
    let tokens = [
        ("valid-rs256", base().build()),
        ("valid-es256", base().sign_with(&TestKey::es256()).build()),
        ("valid-eddsa", base().sign_with(&TestKey::eddsa()).build()),
        (
            "full-claims",
            base()
                .claim("email", "alice@example.com")
                .claim("email_verified", true)
                .claim("groups", json!(["a", "b"]))
                .claim("aud", json!(["portal", "api"]))
                .claim("azp", "portal")
                .claim("at_hash", half_hash("RS256", "access-token"))
                .claim("nbf", 1_699_999_000)
                .build(),
        ),
        ("alg-none", base().unsigned().build()),
        ("hs256", base().hmac(b"secret").build()),
        ("bad-signature", base().corrupt_signature().build()),
        ("string-exp", base().claim("exp", "1800000000").build()),
        ("crit", base().header("crit", json!(["b64"])).build()),
        ("no-kid", base().without_header("kid").build()),
        ("unknown-kid", base().sign_with(&TestKey::rs256_b()).build()),
        (
            "embedded-jwk",
            base()
                .header("jwk", TestKey::rs256_b().jwk())
                .header("jku", "https://evil.example/")
                .build(),
        ),
        (
            "wrong-issuer",
            base().claim("iss", "https://evil.example").build(),
        ),
        ("expired", base().shift_times(-10_000).build()),
        (
            "jwe-shape",
            "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d".to_owned(),
        ),
    ];
    let dir = corpus.join("oidc_jwt");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, token) in &tokens {
        std::fs::write(dir.join(format!("{name}.jwt")), token).unwrap();
    }
    let callbacks = [
        (
            "code",
            "code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj&iss=https%3A%2F%2Fop.example",
        ),
        (
            "error",
            "error=access_denied&error_description=the%20user%20said%20no&state=xyz",
        ),
        ("error-no-state", "error=login_required"),
        (
            "form-post",
            "state=af0ifjsldkj&code=abc&session_state=123.456",
        ),
        ("repeated", "code=a&code=b&state=s"),
        ("empty-values", "code=&state=&iss="),
        (
            "encoded",
            "code=%F0%9F%94%91&state=%00%ff&iss=https%3A%2F%2Fop.example%2F",
        ),
        ("plus-and-semicolon", "code=a+b;state=c&&&=&x"),
        (
            "url",
            "https://portal.example/oidc/callback?code=c&state=s#fragment",
        ),
        ("bad-percent", "code=%zz&state=%"),
    ];
    let dir = corpus.join("oidc_callback");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, query) in callbacks {
        std::fs::write(dir.join(format!("{name}.txt")), query).unwrap();
    }
    println!(
        "wrote {} jwt and {} callback seeds",
        tokens.len(),
        callbacks.len()
    );
}
