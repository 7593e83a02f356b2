//! A fleet of two brokers behind a load balancer, sharing one Redis through `jsm-sso-redis`
//! (pending sign-ins in its `StateStore`, seen assertion ids in its `ReplayCache`): a sign-in
//! begun on one instance finishes on the other, for SAML and OIDC; the same callback replayed
//! on either instance is refused; the same callback raced to both signs in once; an assertion
//! id seen by one instance is refused by the other.
//!
//! Needs the redis-server peer (`scripts/peers.d/redis.sh`, `JSM_SSO_REDIS_URL`); skipped
//! without it unless `JSM_SSO_REQUIRE_PEERS=1`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "test code: a failed unwrap is a failed test; the skip line goes to stderr"
)]

use std::sync::Arc;
use std::time::SystemTime;

use jsm_sso_audit::sink::MemorySink;
use jsm_sso_audit::{AuditLog, SigningKey};
use jsm_sso_broker::{
    Action, Begin, Broker, Callback, CodedError, Error, LoginHint, LoginOutcome, LoginRequest,
    OidcIdp, Redirect, SamlIdp, Seams, SessionKeys, SignedIn,
};
use jsm_sso_core::clock::FixedClock;
use jsm_sso_core::decision::StaticPolicy;
use jsm_sso_core::memory::MemoryDirectory;
use jsm_sso_core::{Clock, Decision, Secret};
use jsm_sso_oidc::{ProviderConfig, ProviderMetadata};
use jsm_sso_redis::RedisStore;
use jsm_sso_saml::{ServiceProvider, ServiceProviderConfig};
use jsm_sso_testkit::oidc::{TestIssuer, TestOp};
use jsm_sso_testkit::saml::{ResponseSpec, TestIdp};

const SP: &str = "https://portal.example/saml/metadata";
const ACS: &str = "https://portal.example/saml/acs";
const SAML_ENTITY: &str = "https://idp.acme.example/metadata";
const SSO: &str = "https://idp.acme.example/sso";
const ISS: &str = "https://op.example";
const CLIENT: &str = "portal";
const REDIRECT_URI: &str = "https://portal.example/oidc/callback";

/// The server's URL, or `None` after printing why the test skips (or panicking when peers
/// are required).
fn redis_url() -> Option<String> {
    match std::env::var("JSM_SSO_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                !std::env::var("JSM_SSO_REQUIRE_PEERS").is_ok_and(|v| v == "1"),
                "JSM_SSO_REDIS_URL is not set and JSM_SSO_REQUIRE_PEERS=1: start scripts/peers.d/redis.sh"
            );
            eprintln!(
                "skipped: JSM_SSO_REDIS_URL not set (scripts/peers.d/redis.sh starts redis-server)"
            );
            None
        }
    }
}

/// What the instances share besides Redis: the IdPs, the helpdesk, the clock (one host
/// time) and the session key (from the fleet's secret manager).
struct Fleet {
    a: Broker,
    b: Broker,
    saml: Arc<TestIdp>,
    op: TestOp,
    clock: Arc<FixedClock>,
}

impl Fleet {
    async fn start(url: &str, name: &str) -> Self {
        let prefix = format!(
            "fleet:{}:{name}:{}:",
            std::process::id(),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        // Real time: Redis expires keys by its own clock.
        let clock = Arc::new(FixedClock::new(SystemTime::now()));
        let saml = Arc::new(TestIdp::generate(SAML_ENTITY).unwrap());
        let op = TestOp::new(TestIssuer::new(ISS, CLIENT, clock.clone()));
        let directory = Arc::new(MemoryDirectory::new(100).with_portal("2"));
        let mut decision = Decision::allow();
        decision.portals.push("2".into());
        let policy = Arc::new(StaticPolicy::new(decision));

        let mut instances = Vec::new();
        for _ in 0..2 {
            // Each instance connects on its own, as separate processes would.
            let redis = Arc::new(
                RedisStore::builder(url)
                    .prefix(prefix.as_str())
                    .connect()
                    .await
                    .unwrap(),
            );
            let seams = Seams::new(redis.clone(), redis, clock.clone());
            let sp = ServiceProvider::new(ServiceProviderConfig::new(SP, ACS)).unwrap();
            let idp = jsm_sso_saml::IdentityProvider::new(
                "acme-saml",
                SAML_ENTITY,
                saml.trusted_keys(),
                Some(SSO.to_owned()),
            )
            .unwrap();
            let config = ProviderConfig::builder("okta")
                .metadata(ProviderMetadata::discover(&op, ISS).await.unwrap())
                .client_id(CLIENT)
                .client_secret_basic(Secret::new("secret"))
                .redirect_uri(REDIRECT_URI)
                .build()
                .unwrap();
            let (audit_key, _) = SigningKey::generate().unwrap();
            let audit = AuditLog::builder(Arc::new(MemorySink::new()), audit_key)
                .clock(clock.clone())
                .start()
                .await
                .unwrap();
            let broker = Broker::builder(
                seams.clone(),
                policy.clone(),
                directory.clone(),
                audit,
                SessionKeys::new(&[7; 32]).unwrap(),
            )
            .idp(Arc::new(SamlIdp::new(Arc::new(sp), idp, seams.clone())))
            .idp(Arc::new(OidcIdp::new(config, Arc::new(op.clone()), &seams)))
            .domain("acme.example", "acme-saml")
            .domain("example.com", "okta")
            .build()
            .unwrap();
            instances.push(broker);
        }
        let b = instances.pop().unwrap();
        let a = instances.pop().unwrap();
        Self {
            a,
            b,
            saml,
            op,
            clock,
        }
    }

    /// Begins a SAML sign-in on `broker`; returns (AuthnRequest ID, RelayState).
    async fn saml_begin(broker: &Broker, email: &str) -> (String, String) {
        let request = LoginRequest::new(LoginHint::parse(email).unwrap());
        let Begin::Redirect { challenge, .. } = broker.begin_login(&request).await.unwrap() else {
            panic!("expected a redirect");
        };
        let Redirect::Location(url) = &challenge.redirect else {
            panic!("expected the redirect binding");
        };
        let query = url.split_once('?').unwrap().1;
        let message = jsm_sso_saml::binding::RedirectMessage::from_query(query, 1 << 20).unwrap();
        let xml = String::from_utf8(message.xml).unwrap();
        let start = xml.find(" ID=\"").unwrap() + 5;
        let end = start + xml[start..].find('"').unwrap();
        (xml[start..end].to_owned(), challenge.state.clone())
    }

    /// The IdP's signed Response to `request_id` for `email`, posted back with `relay_state`.
    fn saml_callback(
        &self,
        request_id: &str,
        email: &str,
        relay_state: &str,
        assertion_id: Option<&str>,
    ) -> Callback {
        let mut spec = ResponseSpec::new(SP, ACS, self.clock.now())
            .in_response_to(request_id)
            .name_id(email);
        spec.assertion_id = assertion_id.map(str::to_owned);
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("SAMLResponse", &self.saml.response_base64(&spec).unwrap())
            .append_pair("RelayState", relay_state)
            .finish();
        Callback::parse(form.as_bytes()).unwrap()
    }

    /// Begins an OIDC sign-in on `broker` and lets the OP answer; returns the callback.
    async fn oidc_callback(&self, broker: &Broker) -> Callback {
        let request = LoginRequest::new(LoginHint::parse("okta").unwrap());
        let Begin::Redirect { challenge, .. } = broker.begin_login(&request).await.unwrap() else {
            panic!("expected a redirect");
        };
        let Redirect::Location(url) = &challenge.redirect else {
            panic!("expected a location");
        };
        Callback::from_url(&self.op.authorize(url).unwrap()).unwrap()
    }
}

fn signed_in(outcome: Result<LoginOutcome, Error>) -> Box<SignedIn> {
    match outcome {
        Ok(LoginOutcome::SignedIn(s)) => s,
        Ok(other) => panic!("expected a session, got {other:?}"),
        Err(e) => panic!("expected a session, got {} ({e})", e.code()),
    }
}

fn code<T>(result: &Result<T, Error>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

#[tokio::test]
async fn saml_sign_in_begun_on_one_instance_finishes_on_the_other() {
    let Some(url) = redis_url() else { return };
    let fleet = Fleet::start(&url, "saml").await;
    let (request_id, relay) = Fleet::saml_begin(&fleet.a, "jane@acme.example").await;
    let callback = fleet.saml_callback(&request_id, "jane@acme.example", &relay, None);

    let done = signed_in(fleet.b.finish_login(&callback, None).await);
    assert_eq!(done.session.email, "jane@acme.example");
    // The session made by B opens the gate on A (one key for the fleet).
    let session = fleet
        .a
        .authorize(&done.token, &"2".into(), Action::RaiseRequest)
        .await
        .unwrap();
    assert_eq!(session.email, "jane@acme.example");

    // The same POST replayed, on either instance: the pending sign-in is gone.
    for (name, broker) in [("a", &fleet.a), ("b", &fleet.b)] {
        let again = broker.finish_login(&callback, None).await;
        assert_eq!(
            code(&again),
            "broker.callback.state_unknown",
            "replay on {name}"
        );
    }
}

#[tokio::test]
async fn oidc_sign_in_begun_on_one_instance_finishes_on_the_other() {
    let Some(url) = redis_url() else { return };
    let fleet = Fleet::start(&url, "oidc").await;
    let callback = fleet.oidc_callback(&fleet.b).await;

    let done = signed_in(fleet.a.finish_login(&callback, None).await);
    assert!(done.provisioned.created);
    fleet
        .b
        .authorize(&done.token, &"2".into(), Action::View)
        .await
        .unwrap();

    for (name, broker) in [("a", &fleet.a), ("b", &fleet.b)] {
        let again = broker.finish_login(&callback, None).await;
        assert_eq!(
            code(&again),
            "broker.callback.state_unknown",
            "replay on {name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_callback_raced_to_both_instances_signs_in_once() {
    let Some(url) = redis_url() else { return };
    let fleet = Arc::new(Fleet::start(&url, "race").await);
    for round in 0..3 {
        let callback = if round % 2 == 0 {
            fleet.oidc_callback(&fleet.a).await
        } else {
            let email = format!("racer{round}@acme.example");
            let (id, relay) = Fleet::saml_begin(&fleet.a, &email).await;
            fleet.saml_callback(&id, &email, &relay, None)
        };
        let barrier = Arc::new(tokio::sync::Barrier::new(16));
        let mut tasks = Vec::new();
        for i in 0..16 {
            let (fleet, callback, barrier) = (fleet.clone(), callback.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                let broker = if i % 2 == 0 { &fleet.a } else { &fleet.b };
                barrier.wait().await;
                code(&broker.finish_login(&callback, None).await)
            }));
        }
        let mut codes = Vec::new();
        for task in tasks {
            codes.push(task.await.unwrap());
        }
        assert_eq!(
            codes.iter().filter(|c| **c == "ok").count(),
            1,
            "round {round}: {codes:?}"
        );
        assert!(
            codes
                .iter()
                .all(|c| *c == "ok" || *c == "broker.callback.state_unknown"),
            "round {round}: {codes:?}"
        );
    }
}

#[tokio::test]
async fn an_assertion_id_seen_by_one_instance_is_refused_by_the_other() {
    let Some(url) = redis_url() else { return };
    let fleet = Fleet::start(&url, "assertion").await;
    let assertion_id = format!("_fleet-assertion-{}", std::process::id());

    let (first, relay) = Fleet::saml_begin(&fleet.a, "jane@acme.example").await;
    let callback = fleet.saml_callback(&first, "jane@acme.example", &relay, Some(&assertion_id));
    signed_in(fleet.a.finish_login(&callback, None).await);

    // A fresh sign-in on B, answered with an assertion carrying the id A already accepted.
    let (second, relay) = Fleet::saml_begin(&fleet.b, "jane@acme.example").await;
    let callback = fleet.saml_callback(&second, "jane@acme.example", &relay, Some(&assertion_id));
    let replayed = fleet.b.finish_login(&callback, None).await;
    assert_eq!(code(&replayed), "saml.assertion.replayed");
}
