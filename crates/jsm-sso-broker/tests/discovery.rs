//! Home-realm discovery, explicit picks, per-portal IdP lists, builder checks, and an IdP
//! of a protocol the broker does not know, plugged in through the trait.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use common::{Harness, Parts, code, signed_in};
use jsm_sso_broker::error::BoxedError;
use jsm_sso_broker::idp::BeginOptions;
use jsm_sso_broker::{
    Begin, Callback, Challenge, Discovery, IdentityProvider, LoginHint, LoginRequest, Redirect,
};
use jsm_sso_core::identity::{IdpId, Protocol, Subject};
use jsm_sso_core::{Clock, VerifiedIdentity};

/// A made-up protocol: the "IdP" redirects to itself and the callback names the user.
/// It keeps no state of its own: the broker's pending sign-in is the only record.
struct MagicLinkIdp {
    id: IdpId,
    clock: Arc<dyn Clock>,
}

#[async_trait]
impl IdentityProvider for MagicLinkIdp {
    fn id(&self) -> &IdpId {
        &self.id
    }
    fn protocol(&self) -> Protocol {
        Protocol::OAuth2
    }
    fn display_name(&self) -> &str {
        "Magic link"
    }
    async fn begin(&self, options: &BeginOptions) -> Result<Challenge, BoxedError> {
        let state = format!("magic-{}", options.login_hint.clone().unwrap_or_default());
        Ok(Challenge::new(
            Redirect::Location(format!("https://magic.example/?state={state}")),
            state,
        ))
    }
    async fn finish(&self, callback: &Callback) -> Result<VerifiedIdentity, BoxedError> {
        let email = callback.get("email").unwrap_or_default();
        let mut identity = VerifiedIdentity::new(
            self.id.clone(),
            Protocol::OAuth2,
            Subject::new(email),
            self.clock.now(),
        );
        identity.email = email.parse().ok();
        identity.email_verified = true;
        Ok(identity)
    }
}

#[tokio::test]
async fn a_new_protocol_plugs_in_through_the_trait() {
    let parts = Parts::new().await;
    let magic = Arc::new(MagicLinkIdp {
        id: "magic".into(),
        clock: parts.clock.clone(),
    });
    let seams = parts.seams.clone();
    let broker = parts
        .builder(&seams)
        .await
        .idp(magic)
        .domain("magic.example.com", "magic")
        .build()
        .unwrap();
    let h = parts.into_harness(broker);
    let request = LoginRequest::new(LoginHint::parse("magic").unwrap());
    let Begin::Redirect { idp, challenge } = h.broker.begin_login(&request).await.unwrap() else {
        panic!()
    };
    assert_eq!(idp.as_str(), "magic");
    let form = format!("state={}&email=zoe%40example.com", challenge.state);
    let done = signed_in(
        h.broker
            .finish_login(&Callback::parse(form.as_bytes()).unwrap(), None)
            .await,
    );
    // Policy, provisioning and the session work as for the built-in protocols.
    assert_eq!(done.session.idp.as_str(), "magic");
    assert_eq!(done.session.protocol, Protocol::OAuth2);
    assert!(done.session.grants(&h.help.as_str().into()));
    assert_eq!(h.jsm.customers().len(), 1);
}

#[tokio::test]
async fn discovery_by_domain_choice_pick_and_portal() {
    let h = Harness::with(|b| {
        b.domain("*.shared.example", "acme-saml")
            .domain("*.shared.example", "okta")
            .domain("sub.shared.example", "okta")
            .fallback_idps(["okta"])
            .portal_idps("restricted", ["acme-saml"])
    })
    .await;
    let b = &h.broker;
    let hint = |t: &str| LoginHint::parse(t).unwrap();
    assert_eq!(
        b.discover(&hint("jane@ACME.example"), None).unwrap(),
        Discovery::Idp("acme-saml".into())
    );
    // A wildcard mapping to two IdPs offers a choice; an exact mapping wins over it.
    assert_eq!(
        b.discover(&hint("x@eu.shared.example"), None).unwrap(),
        Discovery::Choice(vec!["acme-saml".into(), "okta".into()])
    );
    assert_eq!(
        b.discover(&hint("x@sub.shared.example"), None).unwrap(),
        Discovery::Idp("okta".into())
    );
    // The wildcard covers subdomains only, not the domain itself: the fallback applies.
    assert_eq!(
        b.discover(&hint("x@shared.example"), None).unwrap(),
        Discovery::Idp("okta".into())
    );
    // The portal allows only the SAML IdP: the choice narrows to it.
    let restricted = "restricted".into();
    assert_eq!(
        b.discover(&hint("x@eu.shared.example"), Some(&restricted))
            .unwrap(),
        Discovery::Idp("acme-saml".into())
    );
    assert_eq!(
        code(&b.discover(&hint("okta"), Some(&restricted))),
        "broker.discovery.idp_not_allowed"
    );
    assert_eq!(
        code(&b.discover(&hint("x@sub.shared.example"), Some(&restricted))),
        "broker.discovery.idp_not_allowed"
    );
    assert_eq!(
        code(&b.discover(&hint("nobody"), None)),
        "broker.discovery.unknown_idp"
    );
    // No hint: every IdP the portal allows.
    assert_eq!(
        b.discover(&LoginHint::None, None).unwrap(),
        Discovery::Choice(vec!["acme-saml".into(), "okta".into()])
    );
    assert_eq!(
        b.discover(&LoginHint::None, Some(&restricted)).unwrap(),
        Discovery::Idp("acme-saml".into())
    );
    // begin_login with a choice returns the names to show, and stores nothing.
    let request = LoginRequest::new(hint("x@eu.shared.example"));
    let Begin::Choose(choices) = b.begin_login(&request).await.unwrap() else {
        panic!()
    };
    let shown: Vec<(&str, &str, Protocol)> = choices
        .iter()
        .map(|c| (c.id.as_str(), c.display_name.as_str(), c.protocol))
        .collect();
    assert_eq!(
        shown,
        [
            ("acme-saml", "Acme (SAML)", Protocol::Saml2),
            ("okta", "Okta", Protocol::Oidc)
        ]
    );
    let r = b
        .begin_login(&LoginRequest::new(hint("okta")).portal("restricted"))
        .await;
    assert_eq!(code(&r), "broker.discovery.idp_not_allowed");
    let trail = h.trail().await;
    assert_eq!(
        trail.last().unwrap(),
        &(
            "signin.started".to_owned(),
            "broker.discovery.idp_not_allowed".to_owned()
        )
    );
}

#[tokio::test]
async fn unmapped_domain_without_fallback_and_bad_hints() {
    let h = Harness::new().await;
    let r = h
        .broker
        .discover(&LoginHint::parse("x@nowhere.example").unwrap(), None);
    assert_eq!(code(&r), "broker.discovery.no_idp");
    assert_eq!(
        code(&LoginHint::parse("not@an@email")),
        "broker.discovery.hint_invalid"
    );
    assert_eq!(LoginHint::parse("  ").unwrap(), LoginHint::None);
}

#[tokio::test]
async fn builder_refuses_inconsistent_configuration() {
    let parts = Parts::new().await;
    let seams = parts.seams.clone();
    let cases: Vec<(&str, jsm_sso_broker::BrokerBuilder)> = vec![
        (
            "unregistered domain IdP",
            parts.builder(&seams).await.domain("x.example", "ghost"),
        ),
        (
            "unregistered portal IdP",
            parts.builder(&seams).await.portal_idps("1", ["ghost"]),
        ),
        (
            "portal allowing no IdP",
            parts
                .builder(&seams)
                .await
                .portal_idps("1", Vec::<String>::new()),
        ),
        (
            "unregistered fallback",
            parts.builder(&seams).await.fallback_idps(["ghost"]),
        ),
        (
            "bad domain",
            parts.builder(&seams).await.domain("a..b", "okta"),
        ),
        (
            "wildcard in the middle",
            parts.builder(&seams).await.domain("a.*.b", "okta"),
        ),
        (
            "twice registered",
            parts
                .builder(&seams)
                .await
                .idp(Arc::new(parts.saml_idp(&seams))),
        ),
        (
            "rate limit zero",
            parts
                .builder(&seams)
                .await
                .rate_limit(jsm_sso_broker::gate::RateLimit {
                    limit: 0,
                    window: std::time::Duration::from_secs(1),
                }),
        ),
        (
            "login ttl too short",
            parts
                .builder(&seams)
                .await
                .login_ttl(std::time::Duration::from_secs(5)),
        ),
    ];
    for (name, builder) in cases {
        assert_eq!(code(&builder.build()), "broker.config", "{name}");
    }
}

/// Two instances sharing the stores, one with a newer configuration that no longer allows
/// the IdP for the portal: a sign-in begun on the old one is refused on the new one.
#[tokio::test]
async fn the_portal_rule_is_checked_again_where_the_sign_in_finishes() {
    let parts = Parts::new().await;
    let seams = parts.seams.clone();
    let old = parts.builder(&seams).await.build().unwrap();
    let new = parts
        .builder(&seams)
        .await
        .portal_idps("p-1", ["acme-saml"])
        .build()
        .unwrap();
    let h = parts.into_harness(old);
    let request = LoginRequest::new(LoginHint::parse("okta").unwrap()).portal("p-1");
    let Begin::Redirect { challenge, .. } = h.broker.begin_login(&request).await.unwrap() else {
        panic!()
    };
    let Redirect::Location(url) = &challenge.redirect else {
        panic!()
    };
    let callback = Callback::from_url(&h.op.authorize(url).unwrap()).unwrap();
    let r = new.finish_login(&callback, None).await;
    assert_eq!(code(&r), "broker.discovery.idp_not_allowed");
    assert!(h.jsm.customers().is_empty());
}
