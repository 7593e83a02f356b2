//! The end-to-end harness: a broker with a SAML IdP (testkit `TestIdp`, signing with a
//! generated key) and an OIDC provider (testkit `TestOp`), a real policy file
//! (jsm-sso-policy), JSM in memory (jsm-sso-jira `MemoryJsm`: directory, ledger and request
//! desk through the real REST client), and an audit log on a memory sink.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    unreachable_pub,
    reason = "test helpers shared by several test files: a failed unwrap is a failed test"
)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jsm_sso_audit::sink::MemorySink;
use jsm_sso_audit::{AuditEvent, AuditLog, SigningKey};
use jsm_sso_broker::gate::RateLimit;
use jsm_sso_broker::jira::PropertyLedger;
use jsm_sso_broker::mfa::SecondFactor;
use jsm_sso_broker::provision::RetryPolicy;
use jsm_sso_broker::{
    Begin, Broker, BrokerBuilder, Callback, CodedError, Error, LoginHint, LoginOutcome,
    LoginRequest, OidcIdp, Redirect, SamlIdp, Seams, SessionKeys, SignedIn,
};
use jsm_sso_core::clock::FixedClock;
use jsm_sso_core::memory::{MemoryReplayCache, MemoryStateStore};
use jsm_sso_core::{AccessPolicy, Clock, Secret};
use jsm_sso_jira::memory::MemoryJsm;
use jsm_sso_oidc::{ProviderConfig, ProviderMetadata};
use jsm_sso_saml::{ServiceProvider, ServiceProviderConfig};
use jsm_sso_testkit::oidc::{TestIssuer, TestOp, TestUser};
use jsm_sso_testkit::saml::{ResponseSpec, TestIdp};

pub const SP: &str = "https://portal.example/saml/metadata";
pub const ACS: &str = "https://portal.example/saml/acs";
pub const SAML_ENTITY: &str = "https://idp.acme.example/metadata";
pub const SSO: &str = "https://idp.acme.example/sso";
pub const ISS: &str = "https://op.example";
pub const CLIENT: &str = "portal";
pub const REDIRECT: &str = "https://portal.example/oidc/callback";
pub const FIELD: &str = "customfield_10050";

/// The result code of a call: `"ok"` or the error's code.
pub fn code<T>(result: &Result<T, Error>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

pub fn start_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000)
}

/// The policy, with the desk ids of this site.
pub fn policy_text(help: &str, billing: &str) -> String {
    format!(
        r#"
version = 1
default = "deny"
[portals]
"{help}" = "Help"
"{billing}" = "Billing"
[organizations]
acme = "Acme Corp"
gold = "Gold Customers"

[[rule]]
name = "block-evil"
effect = "deny"
email_domain = ["evil.example"]
reason = "Accounts from evil.example cannot use this portal."

[[rule]]
name = "acme-customers"
email_domain = ["acme.example"]
organizations = ["acme"]
portals = ["{help}"]
fields = {{ {FIELD} = "{{attr.department}}" }}

[[rule]]
name = "gold-group"
group = ["gold"]
organizations = ["gold"]
portals = ["{billing}"]

[[rule]]
name = "example-customers"
email_domain = ["example.com"]
portals = ["{help}"]

[[rule]]
name = "mfa-group"
group = ["mfa"]
portals = ["{help}"]
require_mfa = true
"#
    )
}

pub struct Harness {
    pub clock: Arc<FixedClock>,
    pub seams: Seams,
    pub jsm: MemoryJsm,
    pub help: String,
    pub billing: String,
    pub request_type: String,
    pub acme_org: String,
    pub gold_org: String,
    pub saml: Arc<TestIdp>,
    pub op: TestOp,
    pub sink: Arc<MemorySink>,
    pub audit: AuditLog,
    pub broker: Broker,
}

pub struct Parts {
    pub clock: Arc<FixedClock>,
    pub seams: Seams,
    pub jsm: MemoryJsm,
    pub help: String,
    pub billing: String,
    pub request_type: String,
    pub acme_org: String,
    pub gold_org: String,
    pub saml: Arc<TestIdp>,
    pub op: TestOp,
    pub sink: Arc<MemorySink>,
    pub audit: AuditLog,
    pub policy: Arc<dyn AccessPolicy>,
}

impl Parts {
    pub async fn new() -> Self {
        let clock = Arc::new(FixedClock::new(start_time()));
        let seams = Seams::new(
            Arc::new(MemoryStateStore::new(clock.clone(), 10_000)),
            Arc::new(MemoryReplayCache::new(clock.clone(), 100_000)),
            clock.clone(),
        );
        let jsm = MemoryJsm::new();
        let help = jsm.add_service_desk("HELP", "Help");
        let billing = jsm.add_service_desk("BILL", "Billing");
        let request_type = jsm
            .add_request_type(
                &help,
                "Question",
                &[
                    ("summary", "Summary", true),
                    ("description", "Description", false),
                ],
            )
            .unwrap();
        let acme_org = jsm.add_organization("Acme Corp");
        let gold_org = jsm.add_organization("Gold Customers");
        let policy = jsm_sso_policy::load_str(
            &policy_text(&help, &billing),
            jsm_sso_policy::Format::Toml,
            "policy.toml",
        )
        .unwrap();
        let saml = Arc::new(TestIdp::generate(SAML_ENTITY).unwrap());
        let op = TestOp::new(TestIssuer::new(ISS, CLIENT, clock.clone()));
        let sink = Arc::new(MemorySink::new());
        let (key, _) = SigningKey::generate().unwrap();
        let audit = AuditLog::builder(sink.clone(), key)
            .clock(clock.clone())
            .start()
            .await
            .unwrap();
        Self {
            clock,
            seams,
            jsm,
            help,
            billing,
            request_type,
            acme_org,
            gold_org,
            saml,
            op,
            sink,
            audit,
            policy: Arc::new(policy),
        }
    }

    pub fn saml_idp(&self, seams: &Seams) -> SamlIdp {
        let sp = ServiceProvider::new(ServiceProviderConfig::new(SP, ACS)).unwrap();
        let idp = jsm_sso_saml::IdentityProvider::new(
            "acme-saml",
            SAML_ENTITY,
            self.saml.trusted_keys(),
            Some(SSO.to_owned()),
        )
        .unwrap();
        SamlIdp::new(Arc::new(sp), idp, seams.clone()).display_name("Acme (SAML)")
    }

    pub async fn oidc_idp(&self, seams: &Seams) -> OidcIdp {
        let metadata = ProviderMetadata::discover(&self.op, ISS).await.unwrap();
        let config = ProviderConfig::builder("okta")
            .metadata(metadata)
            .client_id(CLIENT)
            .client_secret_basic(Secret::new("secret"))
            .redirect_uri(REDIRECT)
            .build()
            .unwrap();
        OidcIdp::new(config, Arc::new(self.op.clone()), seams).display_name("Okta")
    }

    /// The builder every test starts from: both IdPs, domains, the JSM directory, desk and
    /// ledger, fast retries.
    pub async fn builder(&self, seams: &Seams) -> BrokerBuilder {
        self.builder_with_saml(seams, self.saml_idp(seams)).await
    }

    /// As [`builder`](Self::builder), with this SAML IdP as `acme-saml`.
    pub async fn builder_with_saml(&self, seams: &Seams, saml: SamlIdp) -> BrokerBuilder {
        let directory = self
            .jsm
            .directory()
            .with_field(FIELD)
            .with_home_portal(self.help.as_str());
        Broker::builder(
            seams.clone(),
            self.policy.clone(),
            Arc::new(directory),
            self.audit.clone(),
            SessionKeys::new(&[9; 32]).unwrap(),
        )
        .idp(Arc::new(saml))
        .idp(Arc::new(self.oidc_idp(seams).await))
        .domain("acme.example", "acme-saml")
        .domain("evil.example", "acme-saml")
        .domain("example.com", "okta")
        .ledger(Arc::new(PropertyLedger::new(self.jsm.client())))
        .request_desk(Arc::new(self.jsm.client()))
        .retry(RetryPolicy {
            attempts: 4,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        })
        .rate_limit(RateLimit {
            limit: 3,
            window: Duration::from_secs(3600),
        })
    }

    pub fn into_harness(self, broker: Broker) -> Harness {
        Harness {
            clock: self.clock,
            seams: self.seams,
            jsm: self.jsm,
            help: self.help,
            billing: self.billing,
            request_type: self.request_type,
            acme_org: self.acme_org,
            gold_org: self.gold_org,
            saml: self.saml,
            op: self.op,
            sink: self.sink,
            audit: self.audit,
            broker,
        }
    }
}

impl Harness {
    pub async fn new() -> Self {
        Self::with(|b| b).await
    }

    pub async fn with(change: impl FnOnce(BrokerBuilder) -> BrokerBuilder) -> Self {
        let parts = Parts::new().await;
        let seams = parts.seams.clone();
        let broker = change(parts.builder(&seams).await).build().unwrap();
        parts.into_harness(broker)
    }

    pub async fn with_factor(factor: Arc<dyn SecondFactor>) -> Self {
        Self::with(|b| b.second_factor(factor)).await
    }

    /// The test clock's time.
    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// Every audit event so far, in order.
    pub async fn events(&self) -> Vec<AuditEvent> {
        self.audit.flush().await.unwrap();
        self.sink
            .records()
            .iter()
            .filter_map(|r| r.event().cloned())
            .collect()
    }

    /// `kind` and outcome code (`ok` for success) of every event so far.
    pub async fn trail(&self) -> Vec<(String, String)> {
        self.events()
            .await
            .iter()
            .map(|e| {
                (
                    e.kind().as_str().to_owned(),
                    e.outcome.code().unwrap_or("ok").to_owned(),
                )
            })
            .collect()
    }

    /// Starts a SAML sign-in for `email` and returns (AuthnRequest ID, RelayState).
    pub async fn saml_begin(&self, email: &str) -> (String, String) {
        let request = LoginRequest::new(LoginHint::parse(email).unwrap()).return_to("/portal");
        let Begin::Redirect { idp, challenge } = self.broker.begin_login(&request).await.unwrap()
        else {
            panic!("expected a redirect");
        };
        assert_eq!(idp.as_str(), "acme-saml");
        let Redirect::Location(url) = &challenge.redirect else {
            panic!("expected the redirect binding");
        };
        assert!(url.starts_with(SSO), "{url}");
        (authn_request_id(url), challenge.state.clone())
    }

    /// The callback the test IdP's signed Response makes.
    pub fn saml_callback(&self, spec: &ResponseSpec, relay_state: &str) -> Callback {
        let response = self.saml.response_base64(spec).unwrap();
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("SAMLResponse", &response)
            .append_pair("RelayState", relay_state)
            .finish();
        Callback::parse(form.as_bytes()).unwrap()
    }

    /// A Response for a request, for `email` with attributes.
    pub fn saml_spec(&self, request_id: &str, email: &str, groups: &[&str]) -> ResponseSpec {
        ResponseSpec::new(SP, ACS, self.clock.now())
            .in_response_to(request_id)
            .name_id(email)
            .attribute("groups", groups.iter().copied())
            .attribute("department", ["Sales"])
    }

    /// A whole SAML sign-in.
    pub async fn saml_login(&self, email: &str, groups: &[&str]) -> Result<LoginOutcome, Error> {
        let (id, relay) = self.saml_begin(email).await;
        let callback = self.saml_callback(&self.saml_spec(&id, email, groups), &relay);
        self.broker.finish_login(&callback, None).await
    }

    /// A whole OIDC sign-in of `user` (explicit IdP pick).
    pub async fn oidc_login(&self, user: TestUser) -> Result<LoginOutcome, Error> {
        self.op.set_user(user);
        let callback = self.oidc_callback().await;
        self.broker.finish_login(&callback, None).await
    }

    /// Begins an OIDC sign-in and lets the OP answer; returns the callback.
    pub async fn oidc_callback(&self) -> Callback {
        let request = LoginRequest::new(LoginHint::parse("okta").unwrap());
        let Begin::Redirect { challenge, .. } = self.broker.begin_login(&request).await.unwrap()
        else {
            panic!("expected a redirect");
        };
        let Redirect::Location(url) = &challenge.redirect else {
            panic!("expected a location");
        };
        let back = self.op.authorize(url).unwrap();
        Callback::from_url(&back).unwrap().arrived_for("okta")
    }
}

/// The AuthnRequest ID inside an HTTP-Redirect binding URL.
pub fn authn_request_id(url: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    let message = jsm_sso_saml::binding::RedirectMessage::from_query(query, 1 << 20).unwrap();
    let xml = String::from_utf8(message.xml).unwrap();
    let start = xml.find(" ID=\"").unwrap() + 5;
    let end = start + xml[start..].find('"').unwrap();
    xml[start..end].to_owned()
}

pub fn signed_in(outcome: Result<LoginOutcome, Error>) -> Box<SignedIn> {
    match outcome {
        Ok(LoginOutcome::SignedIn(s)) => s,
        Ok(other) => panic!("expected a session, got {other:?}"),
        Err(e) => panic!("expected a session, got {} ({e})", e.code()),
    }
}

pub fn user(sub: &str, email: &str, groups: &[&str]) -> TestUser {
    let mut user = TestUser::alice();
    user.sub = sub.into();
    user.claims.insert("email".into(), email.into());
    user.claims.insert(
        "groups".into(),
        serde_json::Value::from(groups.iter().map(|g| (*g).to_owned()).collect::<Vec<_>>()),
    );
    user
}
