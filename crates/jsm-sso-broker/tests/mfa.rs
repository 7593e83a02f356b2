//! The second factor in the flow, with TOTP from jsm-sso-mfa: enrolment on first sign-in
//! (otpauth URI and QR code), provisioning only after the code, wrong and replayed codes,
//! attempts, and a policy that requires MFA with no factor configured.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Harness, code, signed_in};
use jsm_sso_broker::LoginOutcome;
use jsm_sso_broker::totp::{MemoryFactorStore, TotpFactor};
use jsm_sso_mfa::{Sealer, SealingKey, TotpParams, TotpSecret};

async fn harness() -> Harness {
    let parts = common::Parts::new().await;
    let seams = parts.seams.clone();
    let factor = TotpFactor::new(
        "Acme Support",
        Sealer::new(SealingKey::from_bytes(&[0x42; 32]).unwrap()),
        Arc::new(MemoryFactorStore::new()),
        &seams,
    );
    let broker = parts
        .builder(&seams)
        .await
        .second_factor(Arc::new(factor))
        .build()
        .unwrap();
    parts.into_harness(broker)
}

/// The secret an authenticator app reads from the otpauth URI.
fn app_secret(uri: &str) -> TotpSecret {
    let url = url::Url::parse(uri).unwrap();
    let secret = url
        .query_pairs()
        .find(|(k, _)| k == "secret")
        .unwrap()
        .1
        .into_owned();
    TotpSecret::from_base32(&secret, TotpParams::default()).unwrap()
}

fn challenge(outcome: Result<LoginOutcome, jsm_sso_broker::Error>) -> (String, Option<String>) {
    match outcome {
        Ok(LoginOutcome::MfaRequired {
            challenge,
            enrolment,
        }) => {
            if let Some(e) = &enrolment {
                assert!(e.qr_svg.starts_with("<?xml") || e.qr_svg.contains("<svg"));
            }
            (challenge, enrolment.map(|e| e.otpauth_uri))
        }
        Ok(other) => panic!("expected a second-factor challenge, got {other:?}"),
        Err(e) => panic!(
            "expected a challenge, got {}",
            jsm_sso_broker::CodedError::code(&e)
        ),
    }
}

#[tokio::test]
async fn enrolment_then_sign_in_with_totp() {
    let h = harness().await;
    let (ch, uri) = challenge(h.saml_login("jane@acme.example", &["mfa"]).await);
    let uri = uri.expect("first sign-in offers an enrolment");
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains("issuer=Acme%20Support") || uri.contains("issuer=Acme+Support"));
    assert!(
        h.jsm.customers().is_empty(),
        "nothing provisioned before the code"
    );
    let app = app_secret(&uri);

    // A wrong code: refused, the challenge stays open.
    let good = app.totp(h.now()).unwrap();
    let bad = if good == "000000" { "111111" } else { "000000" };
    let r = h.broker.complete_mfa(&ch, bad, None).await;
    assert_eq!(code(&r), "broker.mfa.refused");
    let done = signed_in(h.broker.complete_mfa(&ch, &good, None).await);
    assert!(done.session.mfa);
    assert_eq!(done.return_to.as_deref(), Some("/portal"));
    assert_eq!(h.jsm.customers().len(), 1);
    // The challenge is used up.
    let r = h.broker.complete_mfa(&ch, &good, None).await;
    assert_eq!(code(&r), "broker.mfa.challenge_unknown");

    // The next sign-in: enrolled, no offer; the code just used is refused (replay).
    let (ch2, uri2) = challenge(h.saml_login("jane@acme.example", &["mfa"]).await);
    assert!(uri2.is_none());
    let r = h.broker.complete_mfa(&ch2, &good, None).await;
    assert_eq!(code(&r), "broker.mfa.refused");
    h.clock.advance(Duration::from_secs(30));
    let next = app.totp(h.now()).unwrap();
    let done = signed_in(h.broker.complete_mfa(&ch2, &next, None).await);
    assert!(done.session.mfa);

    let trail = h.trail().await;
    let of = |kind: &str| trail.iter().filter(|(k, _)| k == kind).count();
    assert_eq!(of("mfa.enrolled"), 1);
    assert_eq!(of("mfa.passed"), 2);
    assert_eq!(of("mfa.failed"), 2);
    assert_eq!(of("signin.succeeded"), 2);
}

#[tokio::test]
async fn attempts_run_out() {
    let h = harness().await;
    let (ch, uri) = challenge(h.saml_login("jane@acme.example", &["mfa"]).await);
    let app = app_secret(&uri.unwrap());
    let good = app.totp(h.now()).unwrap();
    let bad = if good == "123456" { "654321" } else { "123456" };
    for left in (1..5).rev() {
        let r = h.broker.complete_mfa(&ch, bad, None).await;
        assert!(
            matches!(r, Err(jsm_sso_broker::Error::MfaRefused { attempts_left }) if attempts_left == left)
        );
    }
    let r = h.broker.complete_mfa(&ch, bad, None).await;
    assert_eq!(code(&r), "broker.mfa.attempts_exhausted");
    // Even the right code cannot use the spent challenge.
    let r = h.broker.complete_mfa(&ch, &good, None).await;
    assert_eq!(code(&r), "broker.mfa.challenge_unknown");
    assert!(h.jsm.customers().is_empty());
    // Made-up and oversized challenges.
    for made_up in ["nope", "", &"x".repeat(300)] {
        let r = h.broker.complete_mfa(made_up, &good, None).await;
        assert_eq!(code(&r), "broker.mfa.challenge_unknown");
    }
}

#[tokio::test]
async fn a_challenge_expires() {
    let h = harness().await;
    let (ch, uri) = challenge(h.saml_login("jane@acme.example", &["mfa"]).await);
    let app = app_secret(&uri.unwrap());
    h.clock.advance(Duration::from_secs(301));
    let r = h
        .broker
        .complete_mfa(&ch, &app.totp(h.now()).unwrap(), None)
        .await;
    assert_eq!(code(&r), "broker.mfa.challenge_unknown");
}

#[tokio::test]
async fn mfa_required_without_a_factor_fails_closed() {
    let h = Harness::new().await;
    let r = h.saml_login("jane@acme.example", &["mfa"]).await;
    assert_eq!(code(&r), "broker.mfa.unavailable");
    assert!(h.jsm.customers().is_empty());
    let trail = h.trail().await;
    assert_eq!(
        trail.last().unwrap(),
        &(
            "signin.failed".to_owned(),
            "broker.mfa.unavailable".to_owned()
        )
    );
    // Without the mfa group no factor is asked for.
    signed_in(h.saml_login("jane@acme.example", &[]).await);
}
