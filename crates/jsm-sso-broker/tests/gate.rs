//! The portal session and gate: tampering, expiry, foreign keys, portal denial, requests
//! raised on the customer's behalf in JSM, the per-customer rate limit.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Harness, code, signed_in};
use jsm_sso_broker::gate::RequestDraft;
use jsm_sso_broker::{Action, SessionKeys};
use jsm_sso_core::directory::PortalId;

async fn jane(h: &Harness) -> String {
    signed_in(h.saml_login("jane@acme.example", &[]).await).token
}

#[tokio::test]
async fn the_gate_lets_the_session_into_its_portals_only() {
    let h = Harness::new().await;
    let token = jane(&h).await;
    let help = PortalId::from(h.help.as_str());
    let billing = PortalId::from(h.billing.as_str());
    let session = h
        .broker
        .authorize(&token, &help, Action::RaiseRequest)
        .await
        .unwrap();
    assert_eq!(session.email, "jane@acme.example");
    let r = h.broker.authorize(&token, &billing, Action::View).await;
    assert_eq!(code(&r), "broker.gate.portal_denied");
    let trail = h.trail().await;
    assert_eq!(
        trail.last().unwrap(),
        &(
            "gate.denied".to_owned(),
            "broker.gate.portal_denied".to_owned()
        )
    );
}

#[tokio::test]
async fn tampered_foreign_and_expired_sessions_are_refused() {
    let h = Harness::new().await;
    let token = jane(&h).await;
    let help = PortalId::from(h.help.as_str());
    let billing = PortalId::from(h.billing.as_str());

    // Grant billing in the payload, keep the signature.
    let mut parts = token.splitn(3, '.');
    let (v, payload, tag) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let mut json: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    json["portals"]
        .as_array_mut()
        .unwrap()
        .push(h.billing.clone().into());
    let forged = format!(
        "{v}.{}.{tag}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json).unwrap())
    );
    let r = h.broker.authorize(&forged, &billing, Action::View).await;
    assert_eq!(code(&r), "broker.session.signature");
    // Flip one bit of the signature.
    let mut bad = token.clone().into_bytes();
    let last = bad.len() - 2;
    bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
    let r = h
        .broker
        .authorize(&String::from_utf8(bad).unwrap(), &help, Action::View)
        .await;
    assert_eq!(code(&r), "broker.session.signature");
    // A session from a broker with another key.
    let other = SessionKeys::new(&[1; 32]).unwrap();
    let session = h.broker.session_keys().open(&token, h.now()).unwrap();
    let foreign = other.seal(&session).unwrap();
    let r = h.broker.authorize(&foreign, &help, Action::View).await;
    assert_eq!(code(&r), "broker.session.signature");
    // Garbage and empty cookies.
    for junk in ["", "v1.", "not-a-token", "v1.e30.!!", &"x".repeat(10_000)] {
        let r = h.broker.authorize(junk, &help, Action::View).await;
        assert_eq!(code(&r), "broker.session.malformed", "{junk:.20}");
    }
    // Eight hours later the session has ended (the IdP's SessionNotOnOrAfter is 8 h too).
    h.clock.advance(Duration::from_secs(8 * 3600));
    let r = h.broker.authorize(&token, &help, Action::View).await;
    assert_eq!(code(&r), "broker.session.expired");
    let trail = h.trail().await;
    let denied = trail.iter().filter(|(k, _)| k == "gate.denied").count();
    assert_eq!(denied, 9);
    // A well-formed token with no signature is a signature failure.
    let r = h.broker.authorize("v1.e30.", &help, Action::View).await;
    assert_eq!(code(&r), "broker.session.signature");
}

#[tokio::test]
async fn the_session_ends_with_the_idp_session() {
    let h = Harness::with(|b| b.session_ttl(Duration::from_secs(24 * 3600))).await;
    let (id, relay) = h.saml_begin("jane@acme.example").await;
    let mut spec = h.saml_spec(&id, "jane@acme.example", &[]);
    spec.session_not_on_or_after = Some(h.now() + Duration::from_secs(600));
    let done = signed_in(
        h.broker
            .finish_login(&h.saml_callback(&spec, &relay), None)
            .await,
    );
    assert_eq!(done.session.exp - done.session.iat, 600);
}

#[tokio::test]
async fn requests_are_raised_on_behalf_of_the_customer_and_rate_limited() {
    let h = Harness::new().await;
    let token = jane(&h).await;
    let help = PortalId::from(h.help.as_str());
    let draft = RequestDraft::new(&h.request_type, "Printer on fire", "Third floor.");
    let raised = h.broker.raise_request(&token, &help, &draft).await.unwrap();
    assert!(raised.key.starts_with("HELP-"), "{}", raised.key);
    let requests = h.jsm.requests();
    assert_eq!(requests.len(), 1);
    let session = h.broker.session_keys().open(&token, h.now()).unwrap();
    assert_eq!(requests[0].reporter, session.customer.as_str());
    assert_eq!(requests[0].fields["summary"], "Printer on fire");

    // Bad drafts never reach JSM.
    for (bad, why) in [
        (
            RequestDraft::new(&h.request_type, "  ", "x"),
            "empty summary",
        ),
        (
            RequestDraft::new(&h.request_type, "s".repeat(256), "x"),
            "long summary",
        ),
        (
            RequestDraft::new(&h.request_type, "ok", "d".repeat(40_000)),
            "huge description",
        ),
        (RequestDraft::new("", "ok", "x"), "no type"),
    ] {
        let r = h.broker.raise_request(&token, &help, &bad).await;
        assert_eq!(code(&r), "broker.gate.request_invalid", "{why}");
    }
    // Another portal: the gate refuses before JSM is asked.
    let billing = PortalId::from(h.billing.as_str());
    let r = h.broker.raise_request(&token, &billing, &draft).await;
    assert_eq!(code(&r), "broker.gate.portal_denied");
    assert_eq!(h.jsm.requests().len(), 1);

    // Three per hour: two more succeed, the fourth is refused.
    h.broker.raise_request(&token, &help, &draft).await.unwrap();
    h.broker.raise_request(&token, &help, &draft).await.unwrap();
    let r = h.broker.raise_request(&token, &help, &draft).await;
    assert_eq!(code(&r), "broker.gate.rate_limited");
    assert_eq!(h.jsm.requests().len(), 3);
    // Another customer has their own budget.
    let other = signed_in(h.saml_login("john@acme.example", &[]).await).token;
    h.broker.raise_request(&other, &help, &draft).await.unwrap();
    // The next window opens the gate again.
    h.clock.advance(Duration::from_secs(3600));
    h.broker.raise_request(&token, &help, &draft).await.unwrap();

    let trail = h.trail().await;
    let raised = trail
        .iter()
        .filter(|(k, c)| k == "request.raised" && c == "ok")
        .count();
    assert_eq!(raised, 5);
    assert!(trail.contains(&(
        "gate.denied".to_owned(),
        "broker.gate.rate_limited".to_owned()
    )));
}

#[tokio::test]
async fn a_desk_failure_keeps_the_desk_code_and_is_audited() {
    let h = Harness::new().await;
    let token = jane(&h).await;
    let help = PortalId::from(h.help.as_str());
    // A request type the desk does not have: JSM refuses.
    let draft = RequestDraft::new("999", "Hello", "x");
    let r = h.broker.raise_request(&token, &help, &draft).await;
    let c = code(&r);
    assert_eq!(c, "jira.bad_request");
    let trail = h.trail().await;
    assert_eq!(
        trail.last().unwrap(),
        &("request.raised".to_owned(), c.to_owned())
    );
}

#[tokio::test]
async fn without_a_desk_no_request_can_be_raised() {
    let parts = common::Parts::new().await;
    let seams = parts.seams.clone();
    // Built without `request_desk`.
    let directory = parts.jsm.directory().with_field(common::FIELD);
    let broker = jsm_sso_broker::Broker::builder(
        seams.clone(),
        parts.policy.clone(),
        std::sync::Arc::new(directory),
        parts.audit.clone(),
        SessionKeys::new(&[9; 32]).unwrap(),
    )
    .idp(std::sync::Arc::new(parts.saml_idp(&seams)))
    .domain("acme.example", "acme-saml")
    .build()
    .unwrap();
    let h = parts.into_harness(broker);
    let token = jane(&h).await;
    let draft = RequestDraft::new(&h.request_type, "Hello", "x");
    let r = h
        .broker
        .raise_request(&token, &h.help.as_str().into(), &draft)
        .await;
    assert_eq!(code(&r), "broker.config");
    assert!(h.jsm.requests().is_empty());
}

#[tokio::test]
async fn a_deprovisioned_customer_cannot_raise_requests_with_an_old_session() {
    let h = Harness::new().await;
    let token = jane(&h).await;
    let help = PortalId::from(h.help.as_str());
    let draft = RequestDraft::new(&h.request_type, "Hello", "x");
    h.broker.raise_request(&token, &help, &draft).await.unwrap();
    h.broker
        .provisioner()
        .deprovision(
            &"jane@acme.example".parse().unwrap(),
            &jsm_sso_broker::AuditContext::new("scim"),
        )
        .await
        .unwrap();
    let r = h.broker.raise_request(&token, &help, &draft).await;
    assert_eq!(code(&r), "broker.gate.deprovisioned");
    assert_eq!(h.jsm.requests().len(), 1);
    // Signing in again (the IdP let them back in) clears it.
    let token = jane(&h).await;
    h.broker.raise_request(&token, &help, &draft).await.unwrap();
    assert_eq!(h.jsm.requests().len(), 2);
}
