//! Single Logout through the broker: SP-initiated (our LogoutRequest out, the IdP's answer
//! in, matched by RelayState, single use) and IdP-initiated (the IdP's request validated,
//! checked against the browser's session, answered); the session carries what logout needs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

mod common;

use std::sync::Arc;

use common::{ACS, Harness, Parts, SAML_ENTITY, SP, SSO, code, signed_in};
use jsm_sso_broker::{Callback, LogoutOutcome, Redirect, SamlIdp, Session, SessionClaims};
use jsm_sso_saml::{Endpoint, ServiceProvider, ServiceProviderConfig, bindings as binding};

const SLO: &str = "https://portal.example/saml/slo";
const IDP_SLO: &str = "https://idp.acme.example/slo";

fn saml_idp_with_slo(parts: &Parts, slo: bool) -> SamlIdp {
    let mut config = ServiceProviderConfig::new(SP, ACS);
    config.slo_url = Some(SLO.to_owned());
    let sp = ServiceProvider::new(config).unwrap();
    let mut idp = jsm_sso_saml::IdentityProvider::new(
        "acme-saml",
        SAML_ENTITY,
        parts.saml.trusted_keys(),
        Some(SSO.to_owned()),
    )
    .unwrap();
    if slo {
        idp.slo.push(Endpoint {
            binding: binding::REDIRECT.to_owned(),
            location: IDP_SLO.to_owned(),
            response_location: None,
        });
    }
    SamlIdp::new(Arc::new(sp), idp, parts.seams.clone())
}

/// A broker whose SAML IdP has (or has not) an SLO endpoint, keeping `department` and the
/// `staff` group in sessions.
async fn harness(slo: bool) -> Harness {
    let parts = Parts::new().await;
    let seams = parts.seams.clone();
    let idp = saml_idp_with_slo(&parts, slo);
    let broker = parts
        .builder_with_saml(&seams, idp)
        .await
        .session_claims(SessionClaims::new().attribute("department").group("staff"))
        .build()
        .unwrap();
    parts.into_harness(broker)
}

async fn session(h: &Harness) -> Session {
    signed_in(h.saml_login("jane@acme.example", &["staff", "other"]).await).session
}

fn post(params: &[(&str, &str)]) -> Callback {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (n, v) in params {
        form.append_pair(n, v);
    }
    Callback::parse(form.finish().as_bytes())
        .unwrap()
        .via_post()
}

/// The LogoutRequest's id and RelayState from the redirect URL.
fn request_of(redirect: &Redirect) -> (String, String) {
    let Redirect::Location(url) = redirect else {
        panic!("expected the redirect binding, got {redirect:?}");
    };
    assert!(url.starts_with(IDP_SLO), "{url}");
    let query = url.split_once('?').unwrap().1;
    let message = jsm_sso_saml::binding::RedirectMessage::from_query(query, 1 << 20).unwrap();
    let xml = String::from_utf8(message.xml).unwrap();
    assert!(xml.contains("<samlp:LogoutRequest"), "{xml}");
    assert!(xml.contains(">jane@acme.example</saml:NameID>"), "{xml}");
    assert!(xml.contains("<samlp:SessionIndex>"), "{xml}");
    let start = xml.find(" ID=\"").unwrap() + 5;
    let end = start + xml[start..].find('"').unwrap();
    (xml[start..end].to_owned(), message.relay_state.unwrap())
}

#[tokio::test]
async fn the_session_keeps_what_logout_and_templates_need() {
    let h = harness(true).await;
    let s = session(&h).await;
    assert_eq!(
        s.subject_format.as_deref(),
        Some(jsm_sso_testkit::saml::EMAIL_FORMAT)
    );
    let index = s.idp_session.as_ref().and_then(|i| i.index.clone());
    assert!(index.is_some_and(|i| i.starts_with('_')));
    // Only the named group and attribute are kept.
    assert_eq!(s.groups.iter().collect::<Vec<_>>(), ["staff"]);
    assert_eq!(s.attribute("department"), ["Sales"]);
    assert!(s.attribute("groups").is_empty());
    // And they survive the token.
    let token = h.broker.session_keys().seal(&s).unwrap();
    let opened = h.broker.session_keys().open(&token, h.now()).unwrap();
    assert_eq!(opened, s);
}

#[tokio::test]
async fn sp_initiated_logout_round_trip_is_single_use() {
    let h = harness(true).await;
    let s = session(&h).await;
    let redirect = h.broker.begin_logout(&s).await.unwrap().unwrap();
    let (request_id, relay) = request_of(&redirect);
    let answer = h
        .saml
        .logout_response_base64(SLO, &request_id, h.now())
        .unwrap();
    let message = post(&[("SAMLResponse", &answer), ("RelayState", &relay)]);
    assert_eq!(
        h.broker.finish_logout(&message, None).await.unwrap(),
        LogoutOutcome::Completed
    );
    // The same answer again: the pending logout was used up.
    assert_eq!(
        code(&h.broker.finish_logout(&message, None).await),
        "broker.logout.unknown"
    );
}

#[tokio::test]
async fn logout_answers_that_do_not_match_are_refused() {
    let h = harness(true).await;
    let s = session(&h).await;
    // An answer to another request.
    let redirect = h.broker.begin_logout(&s).await.unwrap().unwrap();
    let (_, relay) = request_of(&redirect);
    let answer = h
        .saml
        .logout_response_base64(SLO, "_not-our-request", h.now())
        .unwrap();
    let message = post(&[("SAMLResponse", &answer), ("RelayState", &relay)]);
    assert_eq!(
        code(&h.broker.finish_logout(&message, None).await),
        "saml.in_response_to.mismatch"
    );
    // An answer signed by another IdP's key.
    let redirect = h.broker.begin_logout(&s).await.unwrap().unwrap();
    let (request_id, relay) = request_of(&redirect);
    let stranger = jsm_sso_testkit::saml::TestIdp::generate(SAML_ENTITY).unwrap();
    let forged = stranger
        .logout_response_base64(SLO, &request_id, h.now())
        .unwrap();
    let message = post(&[("SAMLResponse", &forged), ("RelayState", &relay)]);
    assert_eq!(
        code(&h.broker.finish_logout(&message, None).await),
        "saml.signature.invalid"
    );
    // An answer with an unknown RelayState.
    let answer = h
        .saml
        .logout_response_base64(SLO, &request_id, h.now())
        .unwrap();
    let message = post(&[("SAMLResponse", &answer), ("RelayState", "made-up")]);
    assert_eq!(
        code(&h.broker.finish_logout(&message, None).await),
        "broker.logout.unknown"
    );
    // No message at all.
    let message = post(&[("RelayState", "x")]);
    assert_eq!(
        code(&h.broker.finish_logout(&message, None).await),
        "broker.logout.unknown"
    );
}

#[tokio::test]
async fn without_an_idp_slo_endpoint_only_the_local_session_ends() {
    let h = harness(false).await;
    let s = session(&h).await;
    assert_eq!(h.broker.begin_logout(&s).await.unwrap(), None);
    // OIDC sessions have no logout messages either.
    let oidc = signed_in(
        h.oidc_login(common::user("u-1", "ann@example.com", &[]))
            .await,
    )
    .session;
    assert_eq!(h.broker.begin_logout(&oidc).await.unwrap(), None);
}

#[tokio::test]
async fn idp_initiated_logout_ends_only_the_named_session() {
    let h = harness(true).await;
    let s = session(&h).await;
    let index = s.idp_session.as_ref().unwrap().index.clone().unwrap();
    let (request_id, request) = h
        .saml
        .logout_request_base64(SLO, "jane@acme.example", Some(&index), h.now())
        .unwrap();
    let message = post(&[("SAMLRequest", &request), ("RelayState", "idp-relay")]);
    let LogoutOutcome::Requested {
        ends_session,
        response,
    } = h.broker.finish_logout(&message, Some(&s)).await.unwrap()
    else {
        panic!("expected a request");
    };
    assert!(ends_session);
    let Redirect::Location(url) = response else {
        panic!("expected the redirect binding");
    };
    let query = url.split_once('?').unwrap().1;
    let answer = jsm_sso_saml::binding::RedirectMessage::from_query(query, 1 << 20).unwrap();
    let xml = String::from_utf8(answer.xml).unwrap();
    assert!(
        xml.contains(&format!("InResponseTo=\"{request_id}\"")),
        "{xml}"
    );
    assert!(xml.contains("status:Success"), "{xml}");
    assert_eq!(answer.relay_state.as_deref(), Some("idp-relay"));

    // Another subject, or another session index: answered, but this session stays.
    for (name, index) in [
        ("bob@acme.example", Some(index.as_str())),
        ("jane@acme.example", Some("_another-session")),
    ] {
        let (_, request) = h
            .saml
            .logout_request_base64(SLO, name, index, h.now())
            .unwrap();
        let message = post(&[("SAMLRequest", &request)]);
        let outcome = h.broker.finish_logout(&message, Some(&s)).await.unwrap();
        assert!(
            matches!(
                outcome,
                LogoutOutcome::Requested {
                    ends_session: false,
                    ..
                }
            ),
            "{name} {index:?}: {outcome:?}"
        );
    }
    // Without a session in the browser the request is still answered.
    let (_, request) = h
        .saml
        .logout_request_base64(SLO, "jane@acme.example", None, h.now())
        .unwrap();
    let message = post(&[("SAMLRequest", &request)]);
    assert!(matches!(
        h.broker.finish_logout(&message, None).await.unwrap(),
        LogoutOutcome::Requested {
            ends_session: false,
            ..
        }
    ));
}

#[tokio::test]
async fn idp_initiated_logout_rejections() {
    let h = harness(true).await;
    let s = session(&h).await;
    // Signed by a stranger claiming to be the IdP.
    let stranger = jsm_sso_testkit::saml::TestIdp::generate(SAML_ENTITY).unwrap();
    let (_, forged) = stranger
        .logout_request_base64(SLO, "jane@acme.example", None, h.now())
        .unwrap();
    let message = post(&[("SAMLRequest", &forged)]);
    assert_eq!(
        code(&h.broker.finish_logout(&message, Some(&s)).await),
        "saml.signature.invalid"
    );
    // From an IdP nobody configured.
    let unknown = jsm_sso_testkit::saml::TestIdp::generate("https://idp.unknown.example").unwrap();
    let (_, foreign) = unknown
        .logout_request_base64(SLO, "jane@acme.example", None, h.now())
        .unwrap();
    let message = post(&[("SAMLRequest", &foreign)]);
    assert_eq!(
        code(&h.broker.finish_logout(&message, Some(&s)).await),
        "broker.logout.unknown"
    );
    // Sent to another SP's logout URL.
    let (_, elsewhere) = h
        .saml
        .logout_request_base64(
            "https://other.example/slo",
            "jane@acme.example",
            None,
            h.now(),
        )
        .unwrap();
    let message = post(&[("SAMLRequest", &elsewhere)]);
    assert_eq!(
        code(&h.broker.finish_logout(&message, Some(&s)).await),
        "saml.destination.mismatch"
    );
    // Expired.
    let old = h.now() - std::time::Duration::from_secs(3600);
    let (_, stale) = h
        .saml
        .logout_request_base64(SLO, "jane@acme.example", None, old)
        .unwrap();
    let message = post(&[("SAMLRequest", &stale)]);
    assert_eq!(
        code(&h.broker.finish_logout(&message, Some(&s)).await),
        "saml.conditions.expired"
    );
    // Not base64.
    let message = post(&[("SAMLRequest", "%%%")]);
    assert_eq!(
        code(&h.broker.finish_logout(&message, Some(&s)).await),
        "broker.logout.unknown"
    );
}
