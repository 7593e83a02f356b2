//! The broker against the real peers `scripts/test.sh` starts on 127.0.0.1:
//!
//! - SimpleSAMLphp (`JSM_SSO_SIMPLESAMLPHP_*`): alice signs in through the broker over the
//!   HTTP-Redirect binding (login form driven like a browser by jsm-sso-saml's test driver),
//!   is provisioned and gets a session; the replayed Response is refused; bob (a domain the
//!   policy does not allow) is denied with the policy's reason.
//! - Node `oidc-provider` (`JSM_SSO_OIDC_PROVIDER_URL`): alice signs in with the code flow
//!   (PKCE, RFC 9207 `iss`, ES256 ID token) over real HTTP; bob's unverified email is denied.
//! - Prism serving Atlassian's JSM spec (`JSM_SSO_PRISM_URL`): provisioning, the ledger and
//!   raising a request go through the real REST client to the spec-validating mock.
//!
//! Each test skips with a note when its variable is absent, unless
//! `JSM_SSO_REQUIRE_PEERS=1`, which makes the absence a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test, and the \
              skip line goes to stderr"
)]

#[path = "../../jsm-sso-saml/tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jsm_sso_audit::sink::MemorySink;
use jsm_sso_audit::{AuditLog, SigningKey};
use jsm_sso_broker::gate::RequestDraft;
use jsm_sso_broker::jira::PropertyLedger;
use jsm_sso_broker::{
    Begin, Broker, BrokerBuilder, Callback, CodedError, LoginHint, LoginOutcome, LoginRequest,
    OidcIdp, Redirect, SamlIdp, Seams, SessionKeys,
};
use jsm_sso_core::clock::SystemClock;
use jsm_sso_core::decision::{OrganizationRef, StaticPolicy};
use jsm_sso_core::memory::{MemoryDirectory, MemoryReplayCache, MemoryStateStore};
use jsm_sso_core::transport::ReqwestHttpClient;
use jsm_sso_core::{AccessPolicy, Clock, CustomerDirectory, Decision, HttpClient, Secret};
use jsm_sso_jira::{Auth, JiraClient, JsmDirectory, Site};
use jsm_sso_oidc::{ProviderConfig, ProviderMetadata};
use jsm_sso_saml::{MetadataOptions, ServiceProvider, ServiceProviderConfig};
use support::simplesamlphp::{Peer, Start, login};

const POLICY: &str = r#"
version = 1
default = "deny"
[portals]
"p-help" = "Help"
[organizations]
acme = "Acme Corp"

[[rule]]
name = "acme"
email_domain = ["acme.example", "example.com"]
organizations = ["acme"]
portals = ["p-help"]

[[rule]]
name = "partners"
effect = "deny"
email_domain = ["partner.example"]
reason = "Partners use the partner portal."
"#;

fn peer_var(name: &str, test: &str) -> Option<String> {
    let required = std::env::var("JSM_SSO_REQUIRE_PEERS").is_ok_and(|v| v == "1");
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if required => panic!("JSM_SSO_REQUIRE_PEERS=1 but {name} is not set"),
        _ => {
            eprintln!("skipping {test}: {name} is not set (scripts/test.sh starts the peer)");
            None
        }
    }
}

fn seams() -> Seams {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    Seams::new(
        Arc::new(MemoryStateStore::new(clock.clone(), 1000)),
        Arc::new(MemoryReplayCache::new(clock.clone(), 1000)),
        clock,
    )
}

async fn audit() -> AuditLog {
    AuditLog::builder(
        Arc::new(MemorySink::new()),
        SigningKey::generate().unwrap().0,
    )
    .start()
    .await
    .unwrap()
}

fn directory() -> Arc<MemoryDirectory> {
    Arc::new(
        MemoryDirectory::new(100)
            .with_organization("o-acme", "Acme Corp")
            .with_portal("p-help"),
    )
}

fn policy() -> Arc<dyn AccessPolicy> {
    Arc::new(jsm_sso_policy::load_str(POLICY, jsm_sso_policy::Format::Toml, "policy.toml").unwrap())
}

async fn builder(seams: &Seams, directory: Arc<dyn CustomerDirectory>) -> BrokerBuilder {
    Broker::builder(
        seams.clone(),
        policy(),
        directory,
        audit().await,
        SessionKeys::generate().unwrap(),
    )
}

fn http() -> ReqwestHttpClient {
    ReqwestHttpClient::builder()
        .allow_plain_http(true)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn code<T>(r: &Result<T, jsm_sso_broker::Error>) -> &'static str {
    r.as_ref().map_or_else(|e| e.code(), |_| "ok")
}

// ------------------------------------------------------------------ SimpleSAMLphp

async fn ssp_broker(peer: &Peer, directory: Arc<MemoryDirectory>) -> Broker {
    let seams = seams();
    let sp = ServiceProvider::new(ServiceProviderConfig::new(
        &peer.sp_entity_id,
        &peer.acs_url,
    ))
    .unwrap();
    let xml = std::fs::read(&peer.idp_metadata).unwrap();
    let mut idp = jsm_sso_saml::IdentityProvider::from_metadata(
        &xml,
        Some(&peer.idp_entity_id),
        &MetadataOptions::new(SystemTime::now()),
    )
    .unwrap();
    idp.id = "ssp".into();
    builder(&seams, directory)
        .await
        .idp(Arc::new(SamlIdp::new(Arc::new(sp), idp, seams.clone())))
        .domain("acme.example", "ssp")
        .fallback_idps(["ssp"])
        .build()
        .unwrap()
}

async fn ssp_callback(broker: &Broker, email: &str, user: &str, password: &str) -> Callback {
    let request = LoginRequest::new(LoginHint::parse(email).unwrap());
    let Begin::Redirect { challenge, .. } = broker.begin_login(&request).await.unwrap() else {
        panic!("expected a redirect")
    };
    let Redirect::Location(url) = &challenge.redirect else {
        panic!("expected the redirect binding")
    };
    let outcome = login(
        &Start::Redirect(url::Url::parse(url).unwrap()),
        user,
        password,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        outcome.relay_state.as_deref(),
        Some(challenge.state.as_str())
    );
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("SAMLResponse", &outcome.saml_response)
        .append_pair("RelayState", outcome.relay_state.as_deref().unwrap())
        .finish();
    Callback::parse(form.as_bytes()).unwrap()
}

#[tokio::test]
async fn simplesamlphp_sign_in_through_the_broker() {
    let Some(peer) = Peer::from_env("simplesamlphp_sign_in_through_the_broker") else {
        return;
    };
    let directory = directory();
    let broker = ssp_broker(&peer, directory.clone()).await;
    let alice = &peer.alice;
    let callback = ssp_callback(&broker, &alice.email, &alice.username, &alice.password).await;
    let outcome = broker.finish_login(&callback, None).await;
    let Ok(LoginOutcome::SignedIn(done)) = outcome else {
        panic!(
            "expected a session: {:?}",
            outcome.map(|_| ()).map_err(|e| e.code())
        )
    };
    assert_eq!(done.session.idp.as_str(), "ssp");
    assert_eq!(done.session.email, alice.email);
    assert!(done.provisioned.created);
    let c = directory.customer(&done.provisioned.customer.id).unwrap();
    assert!(c.organizations.contains("o-acme"));
    assert!(c.portals.contains("p-help"));
    // The same Response posted again.
    let again = broker.finish_login(&callback, None).await;
    assert_eq!(code(&again), "broker.callback.state_unknown");

    let bob = &peer.bob;
    let callback = ssp_callback(&broker, &bob.email, &bob.username, &bob.password).await;
    let denied = broker.finish_login(&callback, None).await;
    assert_eq!(code(&denied), "broker.policy.denied");
    let Err(jsm_sso_broker::Error::Denied { reason }) = denied else {
        panic!()
    };
    assert_eq!(reason.as_deref(), Some("Partners use the partner portal."));
    assert_eq!(directory.len(), 1);
}

// ------------------------------------------------------------------ oidc-provider

const REDIRECT: &str = "http://127.0.0.1:1/callback";

/// Drives the OP's login and consent pages like a browser until it redirects to us.
async fn oidc_browser(op: &str, url: &str, user: &str) -> Callback {
    let client = http();
    let mut cookies: BTreeMap<String, String> = BTreeMap::new();
    let mut next = (String::from("GET"), url.to_owned(), None::<String>);
    for _ in 0..20 {
        let (method, target, form) = next.clone();
        let mut builder = http::Request::builder()
            .method(method.as_str())
            .uri(&target);
        if !cookies.is_empty() {
            let jar: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            builder = builder.header(http::header::COOKIE, jar.join("; "));
        }
        if form.is_some() {
            builder = builder.header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
        }
        let response = client
            .send(builder.body(form.unwrap_or_default().into_bytes()).unwrap())
            .await
            .unwrap();
        for value in response.headers().get_all(http::header::SET_COOKIE) {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            if let Some((k, v)) = pair.split_once('=') {
                if v.is_empty() {
                    cookies.remove(k.trim());
                } else {
                    cookies.insert(k.trim().to_owned(), v.to_owned());
                }
            }
        }
        if response.status().is_redirection() {
            let location = response.headers()[http::header::LOCATION]
                .to_str()
                .unwrap()
                .to_owned();
            let location = if location.starts_with('/') {
                format!("{op}{location}")
            } else {
                location
            };
            assert!(location.starts_with("http://127.0.0.1"), "{location}");
            if location.starts_with(REDIRECT) {
                return Callback::from_url(&location)
                    .unwrap()
                    .arrived_for("node-op");
            }
            next = ("GET".into(), location, None);
            continue;
        }
        let html = String::from_utf8_lossy(response.body()).into_owned();
        let form = if html.contains("name=\"prompt\" value=\"login\"") {
            format!("prompt=login&login={user}&password=any")
        } else if html.contains("name=\"prompt\" value=\"consent\"") {
            "prompt=consent".to_owned()
        } else {
            panic!("unexpected page {}: {html:.300}", response.status());
        };
        next = ("POST".into(), target, Some(form));
    }
    panic!("too many steps at the OP");
}

#[tokio::test]
async fn oidc_provider_sign_in_through_the_broker() {
    let Some(op) = peer_var(
        "JSM_SSO_OIDC_PROVIDER_URL",
        "oidc_provider_sign_in_through_the_broker",
    ) else {
        return;
    };
    let seams = seams();
    let http: Arc<dyn HttpClient> = Arc::new(http());
    let metadata = ProviderMetadata::discover(&*http, &op).await.unwrap();
    let config = ProviderConfig::builder("node-op")
        .metadata(metadata)
        .client_id("jsm-es256")
        .client_secret_basic(Secret::new("jsm-secret"))
        .redirect_uri(REDIRECT)
        .scopes(["openid", "email", "profile", "groups"])
        .fetch_userinfo(true)
        .build()
        .unwrap();
    let directory = directory();
    let broker = builder(&seams, directory.clone())
        .await
        .idp(Arc::new(OidcIdp::new(config, http, &seams)))
        .domain("example.com", "node-op")
        .build()
        .unwrap();
    for (user, expect) in [("alice", "ok"), ("bob", "broker.policy.denied")] {
        let email = format!("{user}@example.com");
        let request = LoginRequest::new(LoginHint::parse(&email).unwrap());
        let Begin::Redirect { challenge, .. } = broker.begin_login(&request).await.unwrap() else {
            panic!()
        };
        let Redirect::Location(url) = &challenge.redirect else {
            panic!()
        };
        assert!(url.contains("login_hint="), "{url}");
        let callback = oidc_browser(&op, url, user).await;
        let outcome = broker.finish_login(&callback, None).await;
        assert_eq!(code(&outcome), expect, "{user}");
        if let Ok(LoginOutcome::SignedIn(done)) = outcome {
            assert_eq!(done.session.subject, "alice");
            assert_eq!(done.session.email, "alice@example.com");
            assert!(done.session.grants(&"p-help".into()));
            // The same callback again.
            let again = broker.finish_login(&callback, None).await;
            assert_eq!(code(&again), "broker.callback.state_unknown");
        }
    }
    assert_eq!(directory.len(), 1);
}

// ------------------------------------------------------------------ Prism (JSM spec)

#[tokio::test]
async fn prism_provisioning_ledger_and_request() {
    let Some(url) = peer_var("JSM_SSO_PRISM_URL", "prism_provisioning_ledger_and_request") else {
        return;
    };
    let client = JiraClient::builder(
        Site::cloud(&url).unwrap(),
        Auth::basic("broker@acme.example", Secret::new("api-token")),
    )
    .http(Arc::new(http()))
    .retry(jsm_sso_jira::retry::RetryPolicy::none())
    .build()
    .unwrap();
    let seams = seams();
    // Prism answers with the spec's examples, so the organization is the example's id.
    let mut decision = Decision::allow();
    decision.organizations.push(OrganizationRef::Id("1".into()));
    decision.portals.push("1".into());
    // The IdP is the in-process test IdP; the helpdesk is the peer.
    let saml = jsm_sso_testkit::saml::TestIdp::generate("https://idp.test/metadata").unwrap();
    let sp = ServiceProvider::new(ServiceProviderConfig::new(
        "https://portal.test/metadata",
        "https://portal.test/acs",
    ))
    .unwrap();
    let idp = jsm_sso_saml::IdentityProvider::new(
        "test-idp",
        "https://idp.test/metadata",
        saml.trusted_keys(),
        Some("https://idp.test/sso".into()),
    )
    .unwrap();
    let broker = Broker::builder(
        seams.clone(),
        Arc::new(StaticPolicy::new(decision.clone())),
        Arc::new(JsmDirectory::new(client.clone())),
        audit().await,
        SessionKeys::generate().unwrap(),
    )
    .idp(Arc::new(SamlIdp::new(Arc::new(sp), idp, seams.clone())))
    .ledger(Arc::new(PropertyLedger::new(client.clone())))
    .request_desk(Arc::new(client.clone()))
    .build()
    .unwrap();
    let request = LoginRequest::new(LoginHint::parse("test-idp").unwrap());
    let Begin::Redirect { challenge, .. } = broker.begin_login(&request).await.unwrap() else {
        panic!()
    };
    let Redirect::Location(url) = &challenge.redirect else {
        panic!()
    };
    let query = url.split_once('?').unwrap().1;
    let message = jsm_sso_saml::binding::RedirectMessage::from_query(query, 1 << 20).unwrap();
    let xml = String::from_utf8(message.xml).unwrap();
    let start = xml.find(" ID=\"").unwrap() + 5;
    let id = &xml[start..start + xml[start..].find('"').unwrap()];
    let spec = jsm_sso_testkit::saml::ResponseSpec::new(
        "https://portal.test/metadata",
        "https://portal.test/acs",
        SystemClock.now(),
    )
    .in_response_to(id)
    .name_id("fred@example.com");
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("SAMLResponse", &saml.response_base64(&spec).unwrap())
        .append_pair("RelayState", &challenge.state)
        .finish();
    let outcome = broker
        .finish_login(&Callback::parse(form.as_bytes()).unwrap(), None)
        .await;
    let Ok(LoginOutcome::SignedIn(done)) = outcome else {
        panic!(
            "expected a session: {:?}",
            outcome.map(|_| ()).map_err(|e| (e.code(), e.to_string()))
        )
    };
    assert!(!done.provisioned.customer.id.as_str().is_empty());
    // A request on the customer's behalf through the gate.
    let raised = broker
        .raise_request(
            &done.token,
            &"1".into(),
            &RequestDraft::new("1", "Printer", "On fire"),
        )
        .await
        .unwrap_or_else(|e| panic!("{} ({})", e, e.code()));
    assert!(!raised.key.is_empty());
}
