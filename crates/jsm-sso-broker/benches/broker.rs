//! A whole sign-in through the broker (SAML and OIDC) with in-memory seams, next to the
//! protocol validation alone, so the broker's own overhead is visible.
//!
//! - `broker/signin/saml`: `begin_login` + `finish_login` for a returning customer: pending
//!   state, the SAML crate's full validation and replay check, the policy, provisioning
//!   against the in-memory directory and ledger, the session token, six audit events.
//!   The test IdP's signing of each Response happens between the two calls and is not
//!   timed (it is the IdP's work, not the broker's).
//! - `saml/validate`: the SAML crate's validation of the same kind of Response alone.
//! - `broker/signin/oidc`: the same with the OIDC code flow against the in-process OP
//!   (ES256 ID tokens). The OP's token endpoint runs inside `finish_login` (the broker
//!   waits for it), so its minting is in the number; `op/mint` measures that part.
//! - `oidc/validate`: ID token validation alone.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "bench set-up: a failed unwrap is a broken bench"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use jsm_sso_audit::record::Record;
use jsm_sso_audit::sink::{AuditSink, ChainHead};
use jsm_sso_audit::{AuditLog, SigningKey, SinkError};
use jsm_sso_broker::{
    Begin, Broker, Callback, LoginHint, LoginOutcome, LoginRequest, OidcIdp, Redirect, SamlIdp,
    Seams, SessionKeys,
};
use jsm_sso_core::clock::SystemClock;
use jsm_sso_core::memory::{MemoryDirectory, MemoryReplayCache, MemoryStateStore};
use jsm_sso_core::{Clock, Secret};
use jsm_sso_oidc::{Expectations, IdTokenValidator, KeySet, ProviderConfig, ProviderMetadata};
use jsm_sso_saml::{Expect, ServiceProvider, ServiceProviderConfig};
use jsm_sso_testkit::oidc::{TestIssuer, TestKey, TestOp};
use jsm_sso_testkit::saml::{ResponseSpec, TestIdp};

const SP: &str = "https://portal.example/saml/metadata";
const ACS: &str = "https://portal.example/saml/acs";
const ENTITY: &str = "https://idp.acme.example/metadata";
const SSO: &str = "https://idp.acme.example/sso";
const ISS: &str = "https://op.example";

const POLICY: &str = r#"
version = 1
default = "deny"
[portals]
"p-help" = "Help"
"p-billing" = "Billing"
[organizations]
acme = "Acme Corp"
gold = "Gold"

[[rule]]
name = "block-disposable"
effect = "deny"
email_domain = ["mailinator.com"]

[[rule]]
name = "acme"
email_domain = ["acme.example"]
organizations = ["acme"]
portals = ["p-help"]
fields = { customfield_1 = "{attr.department}" }

[[rule]]
name = "example"
email_domain = ["example.com"]
portals = ["p-help"]

[[rule]]
name = "gold"
group = ["gold"]
organizations = ["gold"]
portals = ["p-billing"]
"#;

/// A sink that stores nothing: the log still builds, serialises, chains and signs every
/// record, but a long bench does not fill memory with them (a memory sink would hold
/// hundreds of megabytes and measure the allocator).
#[derive(Debug)]
struct Discard;

#[async_trait::async_trait]
impl AuditSink for Discard {
    async fn open(&self) -> Result<Option<ChainHead>, SinkError> {
        Ok(None)
    }

    async fn write(&self, records: &[Record]) -> Result<(), SinkError> {
        black_box(records.len());
        Ok(())
    }
}

fn authn_request_id(url: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    let message = jsm_sso_saml::binding::RedirectMessage::from_query(query, 1 << 20).unwrap();
    let xml = String::from_utf8(message.xml).unwrap();
    let start = xml.find(" ID=\"").unwrap() + 5;
    let end = start + xml[start..].find('"').unwrap();
    xml[start..end].to_owned()
}

struct Rig {
    broker: Broker,
    saml: Arc<TestIdp>,
    op: TestOp,
    sp: Arc<ServiceProvider>,
    saml_config: jsm_sso_saml::IdentityProvider,
    clock: Arc<dyn Clock>,
}

async fn rig() -> Rig {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let seams = Seams::new(
        Arc::new(MemoryStateStore::new(clock.clone(), 4_000_000)),
        Arc::new(MemoryReplayCache::new(clock.clone(), 4_000_000)),
        clock.clone(),
    );
    let saml = Arc::new(TestIdp::generate(ENTITY).unwrap());
    let sp = Arc::new(ServiceProvider::new(ServiceProviderConfig::new(SP, ACS)).unwrap());
    let saml_config =
        jsm_sso_saml::IdentityProvider::new("acme", ENTITY, saml.trusted_keys(), Some(SSO.into()))
            .unwrap();
    let op = TestOp::new(TestIssuer::new(ISS, "portal", clock.clone()));
    op.with_issuer(|i| i.rotate(TestKey::es256()));
    let config = ProviderConfig::builder("okta")
        .metadata(ProviderMetadata::discover(&op, ISS).await.unwrap())
        .client_id("portal")
        .client_secret_basic(Secret::new("secret"))
        .redirect_uri("https://portal.example/oidc/callback")
        .build()
        .unwrap();
    let directory = Arc::new(
        MemoryDirectory::new(1000)
            .with_organization("o-acme", "Acme Corp")
            .with_organization("o-gold", "Gold")
            .with_portal("p-help")
            .with_portal("p-billing")
            .with_field("customfield_1"),
    );
    let policy =
        jsm_sso_policy::load_str(POLICY, jsm_sso_policy::Format::Toml, "policy.toml").unwrap();
    let audit = AuditLog::builder(Arc::new(Discard), SigningKey::generate().unwrap().0)
        .start()
        .await
        .unwrap();
    let broker = Broker::builder(
        seams.clone(),
        Arc::new(policy),
        directory,
        audit,
        SessionKeys::new(&[7; 32]).unwrap(),
    )
    .idp(Arc::new(SamlIdp::new(
        sp.clone(),
        saml_config.clone(),
        seams.clone(),
    )))
    .idp(Arc::new(OidcIdp::new(config, Arc::new(op.clone()), &seams)))
    .domain("acme.example", "acme")
    .domain("example.com", "okta")
    .build()
    .unwrap();
    Rig {
        broker,
        saml,
        op,
        sp,
        saml_config,
        clock,
    }
}

fn spec(id: &str, now: std::time::SystemTime) -> ResponseSpec {
    ResponseSpec::new(SP, ACS, now)
        .in_response_to(id)
        .name_id("jane@acme.example")
        .attribute("groups", ["gold", "customers"])
        .attribute("department", ["Sales"])
}

/// One SAML sign-in; returns the time spent in the broker.
async fn saml_signin(r: &Rig) -> Duration {
    let request = LoginRequest::new(LoginHint::parse("jane@acme.example").unwrap());
    let t = Instant::now();
    let begin = r.broker.begin_login(&request).await.unwrap();
    let mut spent = t.elapsed();
    let Begin::Redirect { challenge, .. } = begin else {
        panic!()
    };
    let Redirect::Location(url) = &challenge.redirect else {
        panic!()
    };
    let response = r
        .saml
        .response_base64(&spec(&authn_request_id(url), r.clock.now()))
        .unwrap();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("SAMLResponse", &response)
        .append_pair("RelayState", &challenge.state)
        .finish();
    let callback = Callback::parse(form.as_bytes()).unwrap();
    let t = Instant::now();
    let outcome = r.broker.finish_login(&callback, None).await.unwrap();
    spent += t.elapsed();
    assert!(matches!(outcome, LoginOutcome::SignedIn(_)));
    spent
}

/// One OIDC sign-in; returns the time spent in the broker (the OP's token endpoint included).
async fn oidc_signin(r: &Rig) -> Duration {
    let request = LoginRequest::new(LoginHint::parse("alice@example.com").unwrap());
    let t = Instant::now();
    let begin = r.broker.begin_login(&request).await.unwrap();
    let mut spent = t.elapsed();
    let Begin::Redirect { challenge, .. } = begin else {
        panic!()
    };
    let Redirect::Location(url) = &challenge.redirect else {
        panic!()
    };
    let back = r.op.authorize(url).unwrap();
    let callback = Callback::from_url(&back).unwrap();
    let t = Instant::now();
    let outcome = r.broker.finish_login(&callback, None).await.unwrap();
    spent += t.elapsed();
    assert!(matches!(outcome, LoginOutcome::SignedIn(_)));
    spent
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(rig());
    // Warm: the first sign-in of each customer creates them; the bench measures returning
    // customers (the common case).
    rt.block_on(saml_signin(&r));
    rt.block_on(oidc_signin(&r));

    c.bench_function("broker/signin/saml", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += saml_signin(&r).await;
                }
                total
            })
        });
    });

    let now = r.clock.now();
    let xml = r.saml.response(&spec("_req-bench", now)).unwrap();
    assert!(
        r.sp.validate_response(
            &r.saml_config,
            xml.as_bytes(),
            Expect {
                now,
                request_id: Some("_req-bench"),
            },
        )
        .is_ok()
    );
    c.bench_function("saml/validate", |b| {
        b.iter(|| {
            r.sp.validate_response(
                &r.saml_config,
                black_box(xml.as_bytes()),
                Expect {
                    now,
                    request_id: Some("_req-bench"),
                },
            )
            .is_ok()
        });
    });

    // The SAML crate's own begin + finish (pending request, base64, validation, replay
    // check) without the broker, timed the same way: the broker's overhead is the
    // difference to broker/signin/saml.
    let (store, replay) = (
        MemoryStateStore::new(r.clock.clone(), 4_000_000),
        MemoryReplayCache::new(r.clock.clone(), 4_000_000),
    );
    let idps = [r.saml_config.clone()];
    c.bench_function("saml/begin_finish", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let t = Instant::now();
                    let request =
                        r.sp.begin_login(
                            &r.saml_config,
                            &jsm_sso_saml::AuthnRequestOptions::default(),
                            &store,
                            r.clock.now(),
                        )
                        .await
                        .unwrap();
                    total += t.elapsed();
                    let response = r
                        .saml
                        .response_base64(&spec(&request.id, r.clock.now()))
                        .unwrap();
                    let t = Instant::now();
                    let login =
                        r.sp.finish_login(
                            &idps,
                            &response,
                            request.relay_state.as_deref(),
                            &store,
                            &replay,
                            r.clock.now(),
                        )
                        .await
                        .unwrap();
                    total += t.elapsed();
                    black_box(login);
                }
                total
            })
        });
    });

    c.bench_function("broker/signin/oidc", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += oidc_signin(&r).await;
                }
                total
            })
        });
    });

    // Where the broker's own time goes: starting a sign-in, and provisioning a returning
    // customer (directory calls, ledger, audit events).
    c.bench_function("broker/begin/saml", |b| {
        let request = LoginRequest::new(LoginHint::parse("jane@acme.example").unwrap());
        b.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    black_box(r.broker.begin_login(&request).await.unwrap());
                }
                t.elapsed()
            })
        });
    });
    c.bench_function("saml/authn_request", |b| {
        b.iter(|| {
            r.sp.authn_request(
                &r.saml_config,
                &jsm_sso_saml::AuthnRequestOptions::default(),
                Some("relay"),
                now,
            )
            .unwrap()
        });
    });
    let person =
        jsm_sso_broker::provision::Person::new("jane@acme.example".parse().unwrap(), "Jane");
    let mut decision = jsm_sso_core::Decision::allow();
    decision
        .organizations
        .push(jsm_sso_core::decision::OrganizationRef::Name(
            "Acme Corp".into(),
        ));
    decision.portals.push("p-help".into());
    decision
        .fields
        .insert("customfield_1".into(), "Sales".into());
    let context = jsm_sso_broker::AuditContext::new("bench");
    c.bench_function("broker/provision/returning", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    black_box(
                        r.broker
                            .provisioner()
                            .apply(&person, &decision, &context)
                            .await
                            .unwrap(),
                    );
                }
                t.elapsed()
            })
        });
    });

    let issuer = r.op.with_issuer(|i| i.clone());
    let token = issuer
        .id_token()
        .claim("nonce", "n-bench")
        .claim("email", "alice@example.com")
        .claim("email_verified", true)
        .claim("name", "Alice Example")
        .build();
    let keys = KeySet::from_json(issuer.jwks().to_string().as_bytes()).unwrap();
    let validator = IdTokenValidator::new(ISS, "portal");
    let expect = Expectations::at(now).nonce("n-bench");
    assert!(validator.validate(&token, &keys, &expect).is_ok());
    c.bench_function("oidc/validate", |b| {
        b.iter(|| {
            validator
                .validate(black_box(&token), &keys, &expect)
                .is_ok()
        });
    });
    c.bench_function("op/mint", |b| {
        b.iter(|| black_box(issuer.id_token().claim("nonce", "n").build()));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
