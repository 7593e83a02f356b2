//! ID token validation: every check of OIDC Core 3.1.3.7 and every rejection of the
//! OpenID RP conformance tests (Basic RP, Config RP), each asserting its exact code.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jsm_sso_core::Secret;
use jsm_sso_core::clock::FixedClock;
use jsm_sso_oidc::{Algorithm, CodedError, Expectations, IdTokenValidator, IssuerPolicy, KeySet};
use jsm_sso_testkit::oidc::{TestIssuer, TestKey, half_hash};
use serde_json::json;

const T0: u64 = 1_700_000_000;
const ISS: &str = "https://op.test";
const CLIENT: &str = "portal";
const NONCE: &str = "n-0S6_WzA2Mj";

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(T0)
}

/// An issuer publishing the RSA, P-256 and Ed25519 keys, signing with RSA.
fn issuer() -> TestIssuer {
    let mut issuer = TestIssuer::new(ISS, CLIENT, Arc::new(FixedClock::new(now())));
    issuer.publish(TestKey::es256());
    issuer.publish(TestKey::eddsa());
    issuer
}

fn keys(issuer: &TestIssuer) -> KeySet {
    KeySet::from_json(issuer.jwks().to_string().as_bytes()).unwrap()
}

fn validator() -> IdTokenValidator {
    IdTokenValidator::new(ISS, CLIENT)
}

fn expect() -> Expectations<'static> {
    Expectations::at(now()).nonce(NONCE)
}

/// Validates with the default validator and the issuer's keys; the error code or "ok".
fn check(issuer: &TestIssuer, token: &str) -> &'static str {
    check_with(&validator(), issuer, token, &expect())
}

fn check_with(
    v: &IdTokenValidator,
    issuer: &TestIssuer,
    token: &str,
    e: &Expectations<'_>,
) -> &'static str {
    match v.validate(token, &keys(issuer), e) {
        Ok(_) => "ok",
        Err(err) => err.code(),
    }
}

#[test]
fn valid_tokens_of_each_algorithm() {
    let issuer = issuer();
    for key in [TestKey::rs256(), TestKey::es256(), TestKey::eddsa()] {
        let token = issuer
            .id_token()
            .sign_with(&key)
            .claim("nonce", NONCE)
            .claim("email", "alice@example.com")
            .build();
        let verified = validator()
            .validate(&token, &keys(&issuer), &expect())
            .unwrap();
        assert_eq!(verified.subject, "alice");
        assert_eq!(verified.issuer, ISS);
        assert_eq!(verified.kid.as_deref(), Some(key.kid()));
        assert_eq!(verified.alg.as_str(), key.alg());
        assert_eq!(verified.claims["email"], "alice@example.com");
    }
}

// ---- the rejections of issue item 9 / the RP conformance tests -----------------------------

#[test]
fn alg_none_is_refused() {
    let issuer = issuer();
    let token = issuer.id_token().claim("nonce", NONCE).unsigned().build();
    assert_eq!(check(&issuer, &token), "oidc.id_token.alg_none");
}

#[test]
fn bad_signature_is_refused() {
    let issuer = issuer();
    for key in [TestKey::rs256(), TestKey::es256(), TestKey::eddsa()] {
        let token = issuer
            .id_token()
            .sign_with(&key)
            .claim("nonce", NONCE)
            .corrupt_signature()
            .build();
        assert_eq!(
            check(&issuer, &token),
            "oidc.id_token.signature",
            "{}",
            key.alg()
        );
    }
    // Claims changed after signing.
    let token = issuer.id_token().claim("nonce", NONCE).build();
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let other = issuer
        .id_token()
        .claim("nonce", NONCE)
        .claim("sub", "mallory")
        .build();
    parts[1] = other.split('.').nth(1).unwrap().to_owned();
    assert_eq!(check(&issuer, &parts.join(".")), "oidc.id_token.signature");
}

#[test]
fn wrong_issuer_is_refused() {
    let issuer = issuer();
    let token = issuer
        .id_token()
        .claim("nonce", NONCE)
        .claim("iss", "https://evil.test")
        .build();
    assert_eq!(check(&issuer, &token), "oidc.id_token.issuer");
    // Close is not equal: a trailing slash is another issuer.
    let token = issuer
        .id_token()
        .claim("nonce", NONCE)
        .claim("iss", "https://op.test/")
        .build();
    let err = validator()
        .validate(&token, &keys(&issuer), &expect())
        .unwrap_err();
    assert_eq!(err.code(), "oidc.id_token.issuer");
    assert!(err.to_string().contains("\"https://op.test/\""), "{err}");
    let token = issuer
        .id_token()
        .claim("nonce", NONCE)
        .without("iss")
        .build();
    assert_eq!(check(&issuer, &token), "oidc.id_token.claim_missing");
}

#[test]
fn wrong_audience_is_refused() {
    let issuer = issuer();
    let token = issuer
        .id_token()
        .claim("nonce", NONCE)
        .claim("aud", "other-client")
        .build();
    let err = validator()
        .validate(&token, &keys(&issuer), &expect())
        .unwrap_err();
    assert_eq!(err.code(), "oidc.id_token.audience");
    assert!(err.to_string().contains("other-client") && err.to_string().contains("portal"));
    let token = issuer
        .id_token()
        .claim("nonce", NONCE)
        .claim("aud", json!(["x", "y"]))
        .build();
    assert_eq!(check(&issuer, &token), "oidc.id_token.audience");
    let token = issuer
        .id_token()
        .claim("nonce", NONCE)
        .claim("aud", 7)
        .build();
    assert_eq!(check(&issuer, &token), "oidc.id_token.claim_type");
}

#[test]
fn extra_audiences_need_trust_and_azp() {
    let issuer = issuer();
    let two = issuer
        .id_token()
        .claim("nonce", NONCE)
        .claim("aud", json!([CLIENT, "api"]));
    assert_eq!(
        check(&issuer, &two.clone().claim("azp", CLIENT).build()),
        "oidc.id_token.untrusted_audience"
    );
    let trusting = validator().trusted_audiences(["api".to_owned()]);
    // Several audiences: azp is required and must be the client.
    assert_eq!(
        check_with(&trusting, &issuer, &two.clone().build(), &expect()),
        "oidc.id_token.azp"
    );
    assert_eq!(
        check_with(
            &trusting,
            &issuer,
            &two.clone().claim("azp", "api").build(),
            &expect()
        ),
        "oidc.id_token.azp"
    );
    assert_eq!(
        check_with(
            &trusting,
            &issuer,
            &two.claim("azp", CLIENT).build(),
            &expect()
        ),
        "ok"
    );
    // One audience with an azp of another client.
    let token = issuer
        .id_token()
        .claim("nonce", NONCE)
        .claim("azp", "other")
        .build();
    assert_eq!(check(&issuer, &token), "oidc.id_token.azp");
}

#[test]
fn missing_or_incorrect_nonce_is_refused() {
    let issuer = issuer();
    assert_eq!(
        check(&issuer, &issuer.id_token().build()),
        "oidc.nonce.missing"
    );
    let err = validator()
        .validate(
            &issuer.id_token().claim("nonce", "other").build(),
            &keys(&issuer),
            &expect(),
        )
        .unwrap_err();
    assert_eq!(err.code(), "oidc.nonce.mismatch");
    assert!(err.to_string().contains("\"other\"") && err.to_string().contains(NONCE));
    assert_eq!(
        check(&issuer, &issuer.id_token().claim("nonce", 5).build()),
        "oidc.id_token.claim_type"
    );
}

#[test]
fn expired_token_is_refused() {
    let issuer = issuer();
    let base = issuer.id_token().claim("nonce", NONCE);
    // Expired 61 s ago: past the 60 s leeway.
    let expired = base.clone().shift_times(-361).build();
    assert_eq!(check(&issuer, &expired), "oidc.id_token.expired");
    // Expired 59 s ago: within the leeway.
    let within = base.clone().shift_times(-359).build();
    assert_eq!(check(&issuer, &within), "ok");
    let strict = validator().leeway(Duration::ZERO);
    assert_eq!(
        check_with(&strict, &issuer, &within, &expect()),
        "oidc.id_token.expired"
    );
    // exp exactly now is already expired without leeway ("before exp").
    let at_exp = base.claim("exp", T0).build();
    assert_eq!(
        check_with(&strict, &issuer, &at_exp, &expect()),
        "oidc.id_token.expired"
    );
}

#[test]
fn iat_in_the_future_past_leeway_is_refused() {
    let issuer = issuer();
    let base = issuer.id_token().claim("nonce", NONCE);
    assert_eq!(
        check(&issuer, &base.clone().claim("iat", T0 + 61).build()),
        "oidc.id_token.issued_in_future"
    );
    assert_eq!(check(&issuer, &base.claim("iat", T0 + 60).build()), "ok");
}

#[test]
fn nbf_in_the_future_is_refused() {
    let issuer = issuer();
    let base = issuer.id_token().claim("nonce", NONCE);
    assert_eq!(
        check(&issuer, &base.clone().claim("nbf", T0 + 120).build()),
        "oidc.id_token.not_yet_valid"
    );
    assert_eq!(check(&issuer, &base.claim("nbf", T0 + 30).build()), "ok");
}

#[test]
fn exp_and_iat_are_required_and_must_be_numbers() {
    let issuer = issuer();
    let base = issuer.id_token().claim("nonce", NONCE);
    assert_eq!(
        check(&issuer, &base.clone().without("exp").build()),
        "oidc.id_token.claim_missing"
    );
    assert_eq!(
        check(&issuer, &base.clone().without("iat").build()),
        "oidc.id_token.claim_missing"
    );
    assert_eq!(
        check(&issuer, &base.clone().without("sub").build()),
        "oidc.id_token.claim_missing"
    );
    // CVE-2026-25537: a string exp or nbf must not be skipped.
    let string_exp = base.clone().claim("exp", (T0 - 1000).to_string()).build();
    assert_eq!(check(&issuer, &string_exp), "oidc.id_token.claim_type");
    let string_nbf = base.clone().claim("nbf", (T0 + 1000).to_string()).build();
    assert_eq!(check(&issuer, &string_nbf), "oidc.id_token.claim_type");
    let string_iat = base.clone().claim("iat", "now").build();
    assert_eq!(check(&issuer, &string_iat), "oidc.id_token.claim_type");
    // A fractional NumericDate is fine.
    assert_eq!(
        check(&issuer, &base.claim("exp", T0 as f64 + 100.5).build()),
        "ok"
    );
}

#[test]
fn unknown_kid_is_refused() {
    let issuer = issuer();
    let token = issuer
        .id_token()
        .claim("nonce", NONCE)
        .sign_with(&TestKey::rs256_b())
        .build();
    let err = validator()
        .validate(&token, &keys(&issuer), &expect())
        .unwrap_err();
    assert_eq!(err.code(), "oidc.jwks.unknown_kid");
    assert!(err.to_string().contains("rsa-b"));
}

#[test]
fn no_kid_with_several_keys_is_refused() {
    let mut issuer = issuer();
    issuer.publish(TestKey::rs256_b());
    let token = issuer
        .id_token()
        .claim("nonce", NONCE)
        .without_header("kid")
        .build();
    assert_eq!(check(&issuer, &token), "oidc.jwks.ambiguous_key");
    // With one RSA key (the EC and Ed keys cannot verify RS256), no kid is fine.
    let single = TestIssuer::new(ISS, CLIENT, Arc::new(FixedClock::new(now())));
    let token = single
        .id_token()
        .claim("nonce", NONCE)
        .without_header("kid")
        .build();
    assert_eq!(check(&single, &token), "ok");
}

#[test]
fn hs256_signed_with_the_rsa_public_key_is_refused() {
    let issuer = issuer();
    let public = TestKey::rs256().public_bytes();
    let token = issuer
        .id_token()
        .claim("nonce", NONCE)
        .hmac(&public)
        .build();
    // No client secret configured: HMAC is never allowed.
    assert_eq!(check(&issuer, &token), "oidc.id_token.alg_not_allowed");
    // Listing HS256 without a secret does not allow it either.
    let listed = validator().algorithms([Algorithm::RS256, Algorithm::HS256]);
    assert_eq!(
        check_with(&listed, &issuer, &token, &expect()),
        "oidc.id_token.alg_not_allowed"
    );
    // With a client secret and HS256 explicitly allowed, the RSA key is still not the key.
    let hmac = listed.hmac_secret(Secret::new("the-client-secret"));
    assert_eq!(
        check_with(&hmac, &issuer, &token, &expect()),
        "oidc.id_token.signature"
    );
    let genuine = issuer
        .id_token()
        .claim("nonce", NONCE)
        .hmac(b"the-client-secret")
        .build();
    assert_eq!(check_with(&hmac, &issuer, &genuine, &expect()), "ok");
}

#[test]
fn at_hash_mismatch_is_refused() {
    let issuer = issuer();
    let access_token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
    for key in [TestKey::rs256(), TestKey::es256(), TestKey::eddsa()] {
        let good = issuer
            .id_token()
            .sign_with(&key)
            .claim("nonce", NONCE)
            .claim("at_hash", half_hash(key.alg(), access_token))
            .build();
        assert_eq!(
            check_with(
                &validator(),
                &issuer,
                &good,
                &expect().access_token(access_token)
            ),
            "ok"
        );
        assert_eq!(
            check_with(
                &validator(),
                &issuer,
                &good,
                &expect().access_token("another-token")
            ),
            "oidc.id_token.at_hash",
            "{}",
            key.alg()
        );
    }
    let mut e = expect();
    e.code = Some("code-1");
    let token = issuer
        .id_token()
        .claim("nonce", NONCE)
        .claim("c_hash", half_hash("RS256", "code-2"))
        .build();
    assert_eq!(
        check_with(&validator(), &issuer, &token, &e),
        "oidc.id_token.c_hash"
    );
}

// ---- further checks -----------------------------------------------------------------------

#[test]
fn algorithm_allow_list() {
    let issuer = issuer();
    let es = issuer
        .id_token()
        .claim("nonce", NONCE)
        .sign_with(&TestKey::es256())
        .build();
    let rs_only = validator().algorithms([Algorithm::RS256]);
    assert_eq!(
        check_with(&rs_only, &issuer, &es, &expect()),
        "oidc.id_token.alg_not_allowed"
    );
    // Default: what the keys allow. An RSA-only JWKS does not allow ES256.
    let rsa_only = TestIssuer::new(ISS, CLIENT, Arc::new(FixedClock::new(now())));
    let es = rsa_only
        .id_token()
        .claim("nonce", NONCE)
        .sign_with(&TestKey::es256());
    let no_kid = es.clone().without_header("kid").build();
    assert_eq!(check(&rsa_only, &no_kid), "oidc.id_token.alg_not_allowed");
    let rsa_kid = es.clone().header("kid", "rsa-a").build();
    assert_eq!(check(&rsa_only, &rsa_kid), "oidc.id_token.alg_not_allowed");
    // A kid the set lacks is reported as such (the provider may have rotated).
    assert_eq!(check(&rsa_only, &es.build()), "oidc.jwks.unknown_kid");
}

#[test]
fn crit_header_is_refused() {
    let issuer = issuer();
    let token = issuer
        .id_token()
        .claim("nonce", NONCE)
        .header("crit", json!(["http://example.com/ext"]))
        .build();
    assert_eq!(check(&issuer, &token), "oidc.id_token.crit_unsupported");
}

#[test]
fn jku_x5u_and_embedded_jwk_are_never_trusted() {
    let issuer = issuer();
    // The attacker signs with its own key, names the published kid and embeds its key.
    let attacker = TestKey::rs256_b().with_kid("rsa-a");
    let token = issuer
        .id_token()
        .claim("nonce", NONCE)
        .sign_with(&attacker)
        .header("jwk", attacker.jwk())
        .header("jku", "https://evil.test/jwks")
        .header("x5u", "https://evil.test/cert.pem")
        .build();
    assert_eq!(check(&issuer, &token), "oidc.id_token.signature");
    // A kid the provider does not publish, with the key embedded: still unknown.
    let evil = TestKey::rs256_b().with_kid("evil");
    let token = issuer
        .id_token()
        .claim("nonce", NONCE)
        .sign_with(&evil)
        .header("jwk", evil.jwk())
        .header("jku", "https://evil.test/jwks")
        .build();
    assert_eq!(check(&issuer, &token), "oidc.jwks.unknown_kid");
}

#[test]
fn weak_rsa_key_is_refused() {
    let mut issuer = issuer();
    issuer.publish_raw(TestKey::weak_rsa_jwk());
    let token = issuer
        .id_token()
        .claim("nonce", NONCE)
        .header("kid", "weak-1024")
        .build();
    let err = validator()
        .validate(&token, &keys(&issuer), &expect())
        .unwrap_err();
    assert_eq!(err.code(), "oidc.jwks.key_too_small");
    assert!(err.to_string().contains("rsa-1024"), "{err}");
}

#[test]
fn key_of_another_type_is_refused() {
    let issuer = issuer();
    // ES256 in the header, but the kid names the RSA key.
    let token = issuer
        .id_token()
        .claim("nonce", NONCE)
        .sign_with(&TestKey::es256().with_kid("rsa-a"))
        .build();
    assert_eq!(check(&issuer, &token), "oidc.jwks.key_mismatch");
}

#[test]
fn typ_of_other_tokens_is_refused() {
    let issuer = issuer();
    let token = issuer
        .id_token()
        .claim("nonce", NONCE)
        .header("typ", "at+jwt")
        .build();
    assert_eq!(check(&issuer, &token), "oidc.id_token.typ");
    let token = issuer
        .id_token()
        .claim("nonce", NONCE)
        .without_header("typ")
        .build();
    assert_eq!(check(&issuer, &token), "ok");
}

#[test]
fn auth_time_and_max_age() {
    let issuer = issuer();
    let mut e = expect();
    e.max_age = Some(Duration::from_secs(600));
    let fresh = issuer
        .id_token()
        .claim("nonce", NONCE)
        .claim("auth_time", T0 - 300)
        .build();
    assert_eq!(check_with(&validator(), &issuer, &fresh, &e), "ok");
    let stale = issuer
        .id_token()
        .claim("nonce", NONCE)
        .claim("auth_time", T0 - 700)
        .build();
    assert_eq!(
        check_with(&validator(), &issuer, &stale, &e),
        "oidc.id_token.auth_time_stale"
    );
    let missing = issuer
        .id_token()
        .claim("nonce", NONCE)
        .without("auth_time")
        .build();
    assert_eq!(
        check_with(&validator(), &issuer, &missing, &e),
        "oidc.id_token.auth_time_missing"
    );
    assert_eq!(check(&issuer, &missing), "ok");
}

#[test]
fn tenant_templated_issuer() {
    let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
    let tenant = "9188040d-6c67-4c5b-b112-36a304b66dad";
    let issuer = TestIssuer::new(
        format!("https://login.microsoftonline.com/{tenant}/v2.0"),
        CLIENT,
        Arc::new(FixedClock::new(now())),
    );
    let v = IdTokenValidator::with_issuer_policy(
        IssuerPolicy::Tenant {
            template: template.into(),
            tenants: vec![tenant.into()],
        },
        CLIENT,
    );
    let good = issuer
        .id_token()
        .claim("nonce", NONCE)
        .claim("tid", tenant)
        .build();
    assert_eq!(check_with(&v, &issuer, &good, &expect()), "ok");
    let other = issuer
        .id_token()
        .claim("nonce", NONCE)
        .claim("tid", "other-tenant")
        .build();
    assert_eq!(
        check_with(&v, &issuer, &other, &expect()),
        "oidc.id_token.tenant_not_allowed"
    );
    let none = issuer.id_token().claim("nonce", NONCE).build();
    assert_eq!(
        check_with(&v, &issuer, &none, &expect()),
        "oidc.id_token.tenant_not_allowed"
    );
    // tid allowed, but iss names another tenant.
    let mixed = issuer
        .id_token()
        .claim("nonce", NONCE)
        .claim("tid", tenant)
        .claim("iss", "https://login.microsoftonline.com/other-tenant/v2.0")
        .build();
    assert_eq!(
        check_with(&v, &issuer, &mixed, &expect()),
        "oidc.id_token.issuer"
    );
}

#[test]
fn malformed_tokens_never_panic() {
    let issuer = issuer();
    for bad in [
        "",
        ".",
        "..",
        "a.b.c",
        "e30.e30.",
        "e30.e30.e30",
        "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln",
    ] {
        let code = check(&issuer, bad);
        assert!(code.starts_with("oidc."), "{bad}: {code}");
    }
    // A valid signature over a payload that is not JSON.
    let token = issuer.id_token().claim("nonce", NONCE).build();
    let header = token.split('.').next().unwrap();
    let key = TestKey::rs256();
    let input = format!("{header}.bm90IGpzb24");
    let sig = key.sign(input.as_bytes());
    use base64::Engine as _;
    let forged = format!(
        "{input}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
    );
    assert_eq!(check(&issuer, &forged), "oidc.jwt.malformed");
}

#[test]
fn google_issuer_without_scheme_is_the_same_issuer_and_no_other_is() {
    const GOOGLE: &str = "https://accounts.google.com";
    let google = TestIssuer::new(GOOGLE, CLIENT, Arc::new(FixedClock::new(now())));
    let google_validator = IdTokenValidator::new(GOOGLE, CLIENT);
    let bare = google
        .id_token()
        .claim("nonce", NONCE)
        .claim("iss", "accounts.google.com")
        .build();
    assert_eq!(
        check_with(&google_validator, &google, &bare, &expect()),
        "ok"
    );
    let other = google
        .id_token()
        .claim("nonce", NONCE)
        .claim("iss", "accounts.google.com.evil.test")
        .build();
    assert_eq!(
        check_with(&google_validator, &google, &other, &expect()),
        "oidc.id_token.issuer"
    );
    // Any other provider's issuer must match exactly, scheme included.
    let issuer = issuer();
    let schemeless = issuer
        .id_token()
        .claim("nonce", NONCE)
        .claim("iss", "op.test")
        .build();
    assert_eq!(check(&issuer, &schemeless), "oidc.id_token.issuer");
}
