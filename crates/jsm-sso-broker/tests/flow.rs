//! End to end: SAML and OIDC sign-in through the broker with the testkit IdPs, a real
//! policy file and JSM in memory; denial, replay, callback attacks, provisioning changes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

mod common;

use std::time::Duration;

use common::{FIELD, Harness, code, signed_in, user};
use jsm_sso_broker::{Callback, LoginHint, LoginOutcome, LoginRequest, Redirect};
use jsm_sso_core::Clock;
use jsm_sso_core::identity::Protocol;

#[tokio::test]
async fn saml_sign_in_provisions_and_opens_a_session() {
    let h = Harness::new().await;
    let done = signed_in(h.saml_login("jane@acme.example", &["staff"]).await);
    assert_eq!(done.return_to.as_deref(), Some("/portal"));
    assert_eq!(done.session.idp.as_str(), "acme-saml");
    assert_eq!(done.session.protocol, Protocol::Saml2);
    assert_eq!(done.session.email, "jane@acme.example");
    assert!(!done.session.mfa);
    assert_eq!(
        done.session
            .portals
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>(),
        [h.help.as_str()]
    );
    // The customer exists in JSM, in Acme Corp, with access to Help, and the field is set.
    let p = &done.provisioned;
    assert!(p.created);
    let account = p.customer.id.as_str();
    assert_eq!(h.jsm.customers().len(), 1);
    assert_eq!(h.jsm.organization_members(&h.acme_org), [account]);
    assert!(h.jsm.desk_customers(&h.help).contains(&account.to_owned()));
    assert_eq!(p.fields_written, [FIELD]);
    // The broker recorded what it manages, as a JSM user property.
    let ledger = h.jsm.user_property(account, "jsm-sso.managed").unwrap();
    assert_eq!(ledger["organizations"], serde_json::json!([h.acme_org]));
    assert_eq!(ledger["created"], true);

    let trail = h.trail().await;
    let kinds: Vec<&str> = trail.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "signin.started",
            "policy.decided",
            "customer.created",
            "organization.member_added",
            "portal.access_granted",
            "fields.written",
            "signin.succeeded"
        ]
    );
    assert!(trail.iter().all(|(_, outcome)| outcome == "ok"));
    // One correlation id ties the sign-in together; the decision names the matched rule.
    let events = h.events().await;
    let first = events[0].correlation_id.clone().unwrap();
    assert!(
        events
            .iter()
            .all(|e| e.correlation_id.as_deref() == Some(&*first))
    );
    let decided = serde_json::to_value(&events[1]).unwrap();
    assert_eq!(
        decided["details"]["matched_rules"],
        serde_json::json!(["acme-customers"])
    );
}

#[tokio::test]
async fn oidc_sign_in_provisions_and_opens_a_session() {
    let h = Harness::new().await;
    let done = signed_in(h.oidc_login(user("u-1", "alice@example.com", &[])).await);
    assert_eq!(done.session.idp.as_str(), "okta");
    assert_eq!(done.session.protocol, Protocol::Oidc);
    assert_eq!(done.session.subject, "u-1");
    assert_eq!(done.provisioned.customer.display_name, "Alice Example");
    assert!(done.session.grants(&h.help.as_str().into()));
    assert!(!done.session.grants(&h.billing.as_str().into()));
    // The OIDC callback is single use: the same one again is refused before the OP.
    let callback = h.oidc_callback().await;
    assert!(matches!(
        h.broker.finish_login(&callback, None).await,
        Ok(LoginOutcome::SignedIn(_))
    ));
    let again = h.broker.finish_login(&callback, None).await;
    assert_eq!(code(&again), "broker.callback.state_unknown");
    assert_eq!(h.jsm.customers().len(), 1, "one customer for two sign-ins");
}

#[tokio::test]
async fn policy_denial_carries_the_reason_and_provisions_nothing() {
    let h = Harness::new().await;
    let result = h.saml_login("mallory@evil.example", &["gold"]).await;
    assert_eq!(code(&result), "broker.policy.denied");
    let Err(jsm_sso_broker::Error::Denied { reason }) = result else {
        panic!("expected a denial");
    };
    assert_eq!(
        reason.as_deref(),
        Some("Accounts from evil.example cannot use this portal.")
    );
    assert!(h.jsm.customers().is_empty(), "nothing provisioned");
    let trail = h.trail().await;
    assert_eq!(
        trail,
        [
            ("signin.started".into(), "ok".into()),
            ("policy.decided".into(), "broker.policy.denied".into()),
            ("signin.failed".into(), "broker.policy.denied".into()),
        ]
    );
    // The default-deny case too (no rule matches an unknown domain through the OP).
    let result = h
        .oidc_login(user("u-2", "bob@elsewhere.example", &[]))
        .await;
    assert_eq!(code(&result), "broker.policy.denied");
    assert!(h.jsm.customers().is_empty());
}

#[tokio::test]
async fn saml_replay_and_protocol_failures_keep_the_protocol_code() {
    let h = Harness::new().await;
    let (id, relay) = h.saml_begin("jane@acme.example").await;
    let spec = h.saml_spec(&id, "jane@acme.example", &[]);
    let callback = h.saml_callback(&spec, &relay);
    signed_in(h.broker.finish_login(&callback, None).await);
    // The same Response again: the pending sign-in is gone.
    let again = h.broker.finish_login(&callback, None).await;
    assert_eq!(code(&again), "broker.callback.state_unknown");

    // The same assertion under a new sign-in: the replay cache refuses it.
    let (_, relay2) = h.saml_begin("jane@acme.example").await;
    let mut fixed = spec.clone();
    fixed.assertion_id = Some("_fixed-assertion".into());
    fixed.in_response_to = None;
    let first = h.saml_callback(&fixed, &relay2);
    // InResponseTo missing for an SP-initiated sign-in is the SAML crate's refusal.
    let r = h.broker.finish_login(&first, None).await;
    assert_eq!(code(&r), "saml.in_response_to.mismatch");

    let (id3, relay3) = h.saml_begin("jane@acme.example").await;
    let mut replayed = h.saml_spec(&id3, "jane@acme.example", &[]);
    replayed.assertion_id = Some("_once".into());
    signed_in(
        h.broker
            .finish_login(&h.saml_callback(&replayed, &relay3), None)
            .await,
    );
    let (id4, relay4) = h.saml_begin("jane@acme.example").await;
    replayed.in_response_to = Some(id4);
    let r = h
        .broker
        .finish_login(&h.saml_callback(&replayed, &relay4), None)
        .await;
    assert_eq!(code(&r), "saml.assertion.replayed");

    // Expired assertion.
    let (id5, relay5) = h.saml_begin("jane@acme.example").await;
    let expired = h
        .saml_spec(&id5, "jane@acme.example", &[])
        .conditions_not_on_or_after(h.clock.now() - Duration::from_secs(600));
    let r = h
        .broker
        .finish_login(&h.saml_callback(&expired, &relay5), None)
        .await;
    assert_eq!(code(&r), "saml.conditions.expired");
    let trail = h.trail().await;
    let failed: Vec<&str> = trail
        .iter()
        .filter(|(k, _)| k == "signin.failed")
        .map(|(_, c)| c.as_str())
        .collect();
    assert_eq!(failed.len(), 4);
    assert!(failed.contains(&"saml.assertion.replayed"));
}

#[tokio::test]
async fn callback_attacks_are_refused_with_exact_codes() {
    let h = Harness::new().await;
    // No state at all.
    let r = h
        .broker
        .finish_login(&Callback::parse(b"code=abc").unwrap(), None)
        .await;
    assert_eq!(code(&r), "broker.callback.malformed");
    // A made-up state.
    let r = h
        .broker
        .finish_login(&Callback::parse(b"code=abc&state=made-up").unwrap(), None)
        .await;
    assert_eq!(code(&r), "broker.callback.state_unknown");
    // An oversized state.
    let long = format!("state={}", "a".repeat(300));
    let r = h
        .broker
        .finish_login(&Callback::parse(long.as_bytes()).unwrap(), None)
        .await;
    assert_eq!(code(&r), "broker.callback.state_unknown");
    // Mix-up: an OIDC callback delivered to the SAML IdP's endpoint.
    let callback = h.oidc_callback().await.arrived_for("acme-saml");
    let r = h.broker.finish_login(&callback, None).await;
    assert_eq!(code(&r), "broker.callback.idp_mismatch");
    // A SAML sign-in whose callback carries no Response.
    let (_, relay) = h.saml_begin("jane@acme.example").await;
    let form = format!("RelayState={relay}");
    let r = h
        .broker
        .finish_login(&Callback::parse(form.as_bytes()).unwrap(), None)
        .await;
    assert_eq!(code(&r), "broker.callback.malformed");
    // An OIDC error answer keeps the OIDC code.
    let request = LoginRequest::new(LoginHint::parse("okta").unwrap());
    let jsm_sso_broker::Begin::Redirect { challenge, .. } =
        h.broker.begin_login(&request).await.unwrap()
    else {
        panic!()
    };
    let form = format!(
        "error=access_denied&state={}&iss={}",
        challenge.state,
        common::ISS
    );
    let r = h
        .broker
        .finish_login(&Callback::parse(form.as_bytes()).unwrap(), None)
        .await;
    assert_eq!(code(&r), "oidc.authorization.access_denied");
    assert!(h.jsm.customers().is_empty());
}

#[tokio::test]
async fn unverified_email_is_never_provisioned() {
    let h = Harness::new().await;
    let mut u = user("u-3", "alice@example.com", &[]);
    u.claims.insert("email_verified".into(), false.into());
    let r = h.oidc_login(u).await;
    // The policy's domain rule needs a verified email, so it denies first.
    assert_eq!(code(&r), "broker.policy.denied");
    assert!(h.jsm.customers().is_empty());
}

#[tokio::test]
async fn a_changed_decision_adds_and_removes_only_managed_memberships() {
    let h = Harness::new().await;
    let first = signed_in(h.saml_login("jane@acme.example", &["gold"]).await);
    let account = first.provisioned.customer.id.as_str().to_owned();
    assert_eq!(
        first.provisioned.organizations_added.len(),
        2,
        "Acme Corp and Gold Customers"
    );
    assert!(h.jsm.organization_members(&h.gold_org).contains(&account));
    assert!(h.jsm.desk_customers(&h.billing).contains(&account));
    // An agent adds Jane to another organization by hand.
    let vip = h.jsm.add_organization("VIP");
    h.jsm
        .client()
        .add_organization_members(&vip, &[&account])
        .await
        .unwrap();

    // Jane leaves the gold group at the IdP.
    h.clock.advance(Duration::from_secs(60));
    let second = signed_in(h.saml_login("jane@acme.example", &[]).await);
    let p = &second.provisioned;
    assert!(!p.created);
    assert_eq!(p.customer.id.as_str(), account);
    assert!(p.organizations_added.is_empty());
    assert_eq!(
        p.organizations_removed
            .iter()
            .map(|o| o.as_str())
            .collect::<Vec<_>>(),
        [h.gold_org.as_str()]
    );
    assert_eq!(
        p.portals_revoked
            .iter()
            .map(|o| o.as_str())
            .collect::<Vec<_>>(),
        [h.billing.as_str()]
    );
    assert!(!h.jsm.organization_members(&h.gold_org).contains(&account));
    assert!(!h.jsm.desk_customers(&h.billing).contains(&account));
    assert!(h.jsm.organization_members(&h.acme_org).contains(&account));
    // The hand-made membership is not the broker's to remove.
    assert!(h.jsm.organization_members(&vip).contains(&account));
    assert!(!second.session.grants(&h.billing.as_str().into()));

    // A third sign-in with the same decision changes nothing and audits no change.
    let before = h.trail().await.len();
    let third = signed_in(h.saml_login("jane@acme.example", &[]).await);
    assert!(third.provisioned.organizations_added.is_empty());
    assert!(third.provisioned.organizations_removed.is_empty());
    let trail = h.trail().await;
    let kinds: Vec<&str> = trail[before..].iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "signin.started",
            "policy.decided",
            "fields.written",
            "signin.succeeded"
        ]
    );
    let removed: Vec<_> = trail
        .iter()
        .filter(|(k, _)| k == "organization.member_removed" || k == "portal.access_revoked")
        .collect();
    assert_eq!(removed.len(), 2);
}

#[tokio::test]
async fn return_to_must_be_a_local_path() {
    let h = Harness::new().await;
    for bad in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
        "/ok\nSet-Cookie: x",
    ] {
        let request =
            LoginRequest::new(LoginHint::parse("jane@acme.example").unwrap()).return_to(bad);
        let r = h.broker.begin_login(&request).await;
        assert_eq!(code(&r), "broker.login.return_to_invalid", "{bad:?}");
    }
    let trail = h.trail().await;
    assert_eq!(trail.len(), 5);
    assert!(
        trail
            .iter()
            .all(|(k, c)| k == "signin.started" && c == "broker.login.return_to_invalid")
    );
}

#[tokio::test]
async fn saml_post_binding_challenge() {
    let h = Harness::with(|b| b).await;
    // The same IdP with the POST binding gives a form.
    let parts = common::Parts::new().await;
    let seams = parts.seams.clone();
    let mut sso = jsm_sso_saml::IdentityProvider::new(
        "post-idp",
        common::SAML_ENTITY,
        parts.saml.trusted_keys(),
        None,
    )
    .unwrap();
    sso.sso.push(jsm_sso_saml::Endpoint {
        binding: jsm_sso_saml::bindings::POST.into(),
        location: common::SSO.into(),
        response_location: None,
    });
    let sp = jsm_sso_saml::ServiceProvider::new(jsm_sso_saml::ServiceProviderConfig::new(
        common::SP,
        common::ACS,
    ))
    .unwrap();
    let idp = jsm_sso_broker::SamlIdp::new(std::sync::Arc::new(sp), sso, seams.clone())
        .request_options(jsm_sso_saml::AuthnRequestOptions {
            binding: jsm_sso_saml::RequestBinding::Post,
            ..Default::default()
        });
    let broker = parts
        .builder(&seams)
        .await
        .idp(std::sync::Arc::new(idp))
        .build()
        .unwrap();
    let request = LoginRequest::new(LoginHint::parse("post-idp").unwrap());
    let jsm_sso_broker::Begin::Redirect { challenge, .. } =
        broker.begin_login(&request).await.unwrap()
    else {
        panic!()
    };
    let Redirect::PostForm {
        action,
        fields,
        html,
    } = &challenge.redirect
    else {
        panic!("expected a form")
    };
    assert_eq!(action, common::SSO);
    assert!(fields.iter().any(|(n, _)| n == "SAMLRequest"));
    assert!(
        fields
            .iter()
            .any(|(n, v)| n == "RelayState" && *v == challenge.state)
    );
    assert!(html.contains("<form"));
    drop(h);
}
