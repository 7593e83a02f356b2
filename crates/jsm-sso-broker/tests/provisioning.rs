//! Provisioning through `CustomerDirectory`: concurrent first sign-ins, retries with
//! backoff, failures with their audit trail, the write-ahead ledger finishing a half-applied
//! change, deprovisioning.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use common::code;
use jsm_sso_audit::sink::MemorySink;
use jsm_sso_audit::{AuditLog, SigningKey};
use jsm_sso_broker::provision::{MemoryLedger, Person, RetryPolicy};
use jsm_sso_broker::{AuditContext, Broker, OidcIdp, Seams, SessionKeys};
use jsm_sso_core::clock::FixedClock;
use jsm_sso_core::decision::{OrganizationRef, StaticPolicy};
use jsm_sso_core::directory::{
    Customer, CustomerId, CustomerPage, DirectoryError, OrganizationId, PortalId,
};
use jsm_sso_core::memory::{MemoryDirectory, MemoryReplayCache, MemoryStateStore};
use jsm_sso_core::{CustomerDirectory, Decision, Email, HttpClient, Secret};
use jsm_sso_jira::memory::MemoryJsm;
use jsm_sso_oidc::{ProviderConfig, ProviderMetadata};

/// Failures left and the error to fail with.
type Fault = (usize, fn() -> DirectoryError);

/// A directory that fails chosen operations a set number of times, then passes through.
struct Faulty {
    inner: Arc<dyn CustomerDirectory>,
    faults: Mutex<HashMap<&'static str, Fault>>,
    calls: Mutex<HashMap<&'static str, usize>>,
}

impl Faulty {
    fn new(inner: Arc<dyn CustomerDirectory>) -> Self {
        Self {
            inner,
            faults: Mutex::default(),
            calls: Mutex::default(),
        }
    }
    fn fail(&self, op: &'static str, times: usize, error: fn() -> DirectoryError) {
        self.faults.lock().unwrap().insert(op, (times, error));
    }
    fn calls(&self, op: &str) -> usize {
        self.calls.lock().unwrap().get(op).copied().unwrap_or(0)
    }
    fn check(&self, op: &'static str) -> Result<(), DirectoryError> {
        *self.calls.lock().unwrap().entry(op).or_default() += 1;
        let mut faults = self.faults.lock().unwrap();
        if let Some((left, error)) = faults.get_mut(op)
            && *left > 0
        {
            *left -= 1;
            return Err(error());
        }
        Ok(())
    }
}

fn unavailable() -> DirectoryError {
    DirectoryError::Unavailable("503 from the helpdesk".into())
}

fn backend() -> DirectoryError {
    DirectoryError::Backend("unexpected answer".into())
}

#[async_trait]
impl CustomerDirectory for Faulty {
    async fn find_customer_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<Customer>, DirectoryError> {
        self.check("find")?;
        self.inner.find_customer_by_email(email).await
    }
    async fn create_customer(
        &self,
        email: &Email,
        display_name: &str,
    ) -> Result<Customer, DirectoryError> {
        self.check("create")?;
        // Widen the race window between find and create.
        tokio::task::yield_now().await;
        self.inner.create_customer(email, display_name).await
    }
    async fn resolve_organization(
        &self,
        organization: &OrganizationRef,
    ) -> Result<Option<OrganizationId>, DirectoryError> {
        self.check("resolve")?;
        self.inner.resolve_organization(organization).await
    }
    async fn add_to_organization(
        &self,
        customer: &CustomerId,
        organization: &OrganizationId,
    ) -> Result<(), DirectoryError> {
        self.check("add_org")?;
        self.inner.add_to_organization(customer, organization).await
    }
    async fn remove_from_organization(
        &self,
        customer: &CustomerId,
        organization: &OrganizationId,
    ) -> Result<(), DirectoryError> {
        self.check("remove_org")?;
        self.inner
            .remove_from_organization(customer, organization)
            .await
    }
    async fn grant_portal(
        &self,
        customer: &CustomerId,
        portal: &PortalId,
    ) -> Result<(), DirectoryError> {
        self.check("grant")?;
        self.inner.grant_portal(customer, portal).await
    }
    async fn revoke_portal(
        &self,
        customer: &CustomerId,
        portal: &PortalId,
    ) -> Result<(), DirectoryError> {
        self.check("revoke")?;
        self.inner.revoke_portal(customer, portal).await
    }
    async fn set_fields(
        &self,
        customer: &CustomerId,
        fields: &BTreeMap<String, String>,
    ) -> Result<(), DirectoryError> {
        self.check("fields")?;
        self.inner.set_fields(customer, fields).await
    }
    async fn record_sign_in(
        &self,
        customer: &CustomerId,
        at: SystemTime,
    ) -> Result<(), DirectoryError> {
        self.check("seen")?;
        self.inner.record_sign_in(customer, at).await
    }
    async fn list_customers(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<CustomerPage, DirectoryError> {
        self.check("list")?;
        self.inner.list_customers(cursor, limit).await
    }
    async fn remove_customer(&self, customer: &CustomerId) -> Result<(), DirectoryError> {
        self.check("remove")?;
        self.inner.remove_customer(customer).await
    }
}

struct Rig {
    broker: Broker,
    memory: Arc<MemoryDirectory>,
    faulty: Arc<Faulty>,
    ledger: Arc<MemoryLedger>,
    sink: Arc<MemorySink>,
    audit: AuditLog,
}

impl Rig {
    async fn new() -> Self {
        let memory = Arc::new(
            MemoryDirectory::new(1000)
                .with_organization("o-acme", "Acme Corp")
                .with_organization("o-gold", "Gold")
                .with_portal("p-help")
                .with_portal("p-billing")
                .with_field("customfield_1"),
        );
        let faulty = Arc::new(Faulty::new(memory.clone()));
        Self::on(memory, faulty).await
    }

    async fn on(memory: Arc<MemoryDirectory>, faulty: Arc<Faulty>) -> Self {
        let clock = Arc::new(FixedClock::new(common::start_time()));
        let seams = Seams::new(
            Arc::new(MemoryStateStore::new(clock.clone(), 100)),
            Arc::new(MemoryReplayCache::new(clock.clone(), 100)),
            clock.clone(),
        );
        let sink = Arc::new(MemorySink::new());
        let audit = AuditLog::builder(sink.clone(), SigningKey::generate().unwrap().0)
            .clock(clock.clone())
            .start()
            .await
            .unwrap();
        let ledger = Arc::new(MemoryLedger::new());
        let broker = Broker::builder(
            seams.clone(),
            Arc::new(StaticPolicy::new(Decision::allow())),
            faulty.clone(),
            audit.clone(),
            SessionKeys::generate().unwrap(),
        )
        .idp(Arc::new(oidc_idp(&seams)))
        .ledger(ledger.clone())
        .retry(RetryPolicy {
            attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
        })
        .build()
        .unwrap();
        Self {
            broker,
            memory,
            faulty,
            ledger,
            sink,
            audit,
        }
    }

    async fn trail(&self) -> Vec<(String, String)> {
        self.audit.flush().await.unwrap();
        self.sink
            .records()
            .iter()
            .filter_map(|r| r.event().cloned())
            .map(|e| {
                (
                    e.kind().as_str().to_owned(),
                    e.outcome.code().unwrap_or("ok").to_owned(),
                )
            })
            .collect()
    }
}

/// An IdP the provisioning tests never sign in with (the builder needs one).
fn oidc_idp(seams: &Seams) -> OidcIdp {
    struct NoHttp;
    #[async_trait]
    impl HttpClient for NoHttp {
        async fn send(
            &self,
            _: http::Request<Vec<u8>>,
        ) -> Result<http::Response<Vec<u8>>, jsm_sso_core::transport::HttpError> {
            Err(jsm_sso_core::transport::HttpError::Timeout)
        }
    }
    let config = ProviderConfig::builder("okta")
        .metadata(ProviderMetadata::manual(
            "https://op.example",
            "https://op.example/authorize",
            "https://op.example/token",
            "https://op.example/jwks",
        ))
        .client_id("portal")
        .client_secret_basic(Secret::new("s"))
        .redirect_uri("https://portal.example/cb")
        .build()
        .unwrap();
    OidcIdp::new(config, Arc::new(NoHttp), seams)
}

fn person(email: &str) -> Person {
    Person::new(email.parse().unwrap(), "Jane Customer")
}

fn decision(orgs: &[&str], portals: &[&str]) -> Decision {
    let mut d = Decision::allow();
    d.organizations = orgs
        .iter()
        .map(|o| OrganizationRef::Name((*o).into()))
        .collect();
    d.portals = portals.iter().map(|p| PortalId::from(*p)).collect();
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_sign_ins_create_exactly_one_customer() {
    let rig = Rig::new().await;
    let d = decision(&["Acme Corp"], &["p-help"]);
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let broker = rig.broker.clone();
        let d = d.clone();
        tasks.push(tokio::spawn(async move {
            // Case differences are the same person.
            broker
                .provisioner()
                .apply(&person("Jane@Acme.example"), &d, &AuditContext::new("race"))
                .await
        }));
    }
    let mut created = 0;
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        let done = task.await.unwrap().unwrap();
        created += usize::from(done.created);
        ids.insert(done.customer.id);
    }
    assert_eq!(rig.memory.len(), 1, "one customer in the directory");
    assert_eq!(ids.len(), 1, "every sign-in got the same customer");
    assert_eq!(created, 1, "exactly one sign-in created them");
    assert_eq!(rig.faulty.calls("create"), 1, "one create call in all");
    let trail = rig.trail().await;
    let count = |kind: &str| trail.iter().filter(|(k, _)| k == kind).count();
    assert_eq!(count("customer.created"), 1);
    assert_eq!(count("organization.member_added"), 1);
    assert_eq!(count("portal.access_granted"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_brokers_racing_on_one_jsm_site_make_one_customer() {
    // Two broker instances (separate processes: separate locks) on one JSM site: JSM's
    // own uniqueness (409 on a duplicate) and the client's answer to it keep one customer.
    let jsm = MemoryJsm::new();
    let desk = jsm.add_service_desk("HELP", "Help");
    jsm.add_organization("Acme Corp");
    let memory = Arc::new(MemoryDirectory::new(1));
    let a = Rig::on(
        memory.clone(),
        Arc::new(Faulty::new(Arc::new(jsm.directory()))),
    )
    .await;
    let b = Rig::on(memory, Arc::new(Faulty::new(Arc::new(jsm.directory())))).await;
    let d = decision(&["Acme Corp"], &[desk.as_str()]);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let broker = if i % 2 == 0 {
            a.broker.clone()
        } else {
            b.broker.clone()
        };
        let d = d.clone();
        tasks.push(tokio::spawn(async move {
            broker
                .provisioner()
                .apply(&person("jane@acme.example"), &d, &AuditContext::default())
                .await
                .map(|p| p.customer.id)
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        ids.insert(task.await.unwrap().unwrap());
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(jsm.customers().len(), 1);
    let id = ids.into_iter().next().unwrap();
    assert_eq!(jsm.desk_customers(&desk), [id.as_str()]);
}

#[tokio::test]
async fn transient_failures_are_retried_with_backoff() {
    let rig = Rig::new().await;
    rig.faulty.fail("create", 2, unavailable);
    rig.faulty
        .fail("add_org", 1, || DirectoryError::RateLimited {
            retry_after: Some(Duration::from_millis(1)),
        });
    let done = rig
        .broker
        .provisioner()
        .apply(
            &person("jane@acme.example"),
            &decision(&["Acme Corp"], &["p-help"]),
            &AuditContext::default(),
        )
        .await
        .unwrap();
    assert!(done.created);
    assert_eq!(rig.faulty.calls("create"), 3);
    assert_eq!(rig.faulty.calls("add_org"), 2);
    let c = rig.memory.customer(&done.customer.id).unwrap();
    assert!(c.organizations.contains(&OrganizationId::from("o-acme")));
    assert!(c.customer.last_seen.is_some(), "sign-in recorded");
}

#[tokio::test]
async fn exhausted_retries_and_permanent_errors_fail_with_the_directory_code() {
    let rig = Rig::new().await;
    rig.faulty.fail("create", 10, unavailable);
    let r = rig
        .broker
        .provisioner()
        .apply(
            &person("jane@acme.example"),
            &decision(&[], &["p-help"]),
            &AuditContext::new("c1"),
        )
        .await;
    assert_eq!(code(&r), "core.directory.unavailable");
    assert_eq!(rig.faulty.calls("create"), 3, "three attempts in all");
    // A permanent error is not retried.
    rig.faulty.fail("create", 0, unavailable);
    rig.faulty.fail("find", 1, || DirectoryError::Unauthorized);
    let r = rig
        .broker
        .provisioner()
        .apply(
            &person("jane@acme.example"),
            &decision(&[], &["p-help"]),
            &AuditContext::new("c2"),
        )
        .await;
    assert_eq!(code(&r), "core.directory.unauthorized");
    assert_eq!(rig.faulty.calls("find"), 2);
    assert_eq!(
        rig.trail().await,
        [
            (
                "customer.created".to_owned(),
                "core.directory.unavailable".to_owned()
            ),
            (
                "customer.created".to_owned(),
                "core.directory.unauthorized".to_owned()
            ),
        ]
    );
}

#[tokio::test]
async fn unknown_organization_and_deny_change_nothing() {
    let rig = Rig::new().await;
    let r = rig
        .broker
        .provisioner()
        .apply(
            &person("jane@acme.example"),
            &decision(&["Acme Corp", "No Such Org"], &["p-help"]),
            &AuditContext::default(),
        )
        .await;
    assert_eq!(code(&r), "broker.provision.organization_unknown");
    assert!(rig.memory.is_empty(), "no customer created");
    assert_eq!(
        rig.trail().await,
        [(
            "organization.member_added".to_owned(),
            "broker.provision.organization_unknown".to_owned()
        )]
    );
    let r = rig
        .broker
        .provisioner()
        .apply(
            &person("jane@acme.example"),
            &Decision::deny(Some("no".into())),
            &AuditContext::default(),
        )
        .await;
    assert_eq!(code(&r), "broker.policy.denied");
    assert!(rig.memory.is_empty());
    // An unknown portal is the directory's refusal, after the customer exists.
    let r = rig
        .broker
        .provisioner()
        .apply(
            &person("jane@acme.example"),
            &decision(&[], &["p-ghost"]),
            &AuditContext::default(),
        )
        .await;
    assert_eq!(code(&r), "core.directory.portal_not_found");
    // The ledger recorded p-ghost ahead; the next run's revoke of a portal that does not
    // exist counts as done instead of failing every later sign-in.
    let fine = rig
        .broker
        .provisioner()
        .apply(
            &person("jane@acme.example"),
            &decision(&[], &["p-help"]),
            &AuditContext::default(),
        )
        .await
        .unwrap();
    assert_eq!(fine.portals_revoked, [PortalId::from("p-ghost")]);
    // Unknown field.
    let mut d = decision(&[], &["p-help"]);
    d.fields.insert("customfield_nope".into(), "x".into());
    let r = rig
        .broker
        .provisioner()
        .apply(&person("jane@acme.example"), &d, &AuditContext::default())
        .await;
    assert_eq!(code(&r), "core.directory.field_unknown");
}

#[tokio::test]
async fn a_half_applied_change_is_finished_by_the_next_run() {
    let rig = Rig::new().await;
    let p = rig.broker.provisioner();
    let jane = person("jane@acme.example");
    let first = p
        .apply(
            &jane,
            &decision(&["Acme Corp", "Gold"], &["p-help", "p-billing"]),
            &AuditContext::default(),
        )
        .await
        .unwrap();
    let id = first.customer.id.clone();
    // Gold is taken away, but the removal fails for good this time.
    rig.faulty.fail("remove_org", 5, backend);
    let r = p
        .apply(
            &jane,
            &decision(&["Acme Corp"], &["p-help"]),
            &AuditContext::default(),
        )
        .await;
    assert_eq!(code(&r), "core.directory.backend");
    // The ledger still names Gold (and Billing, not revoked yet): nothing is forgotten.
    let managed = rig.ledger.get(&id).unwrap();
    assert!(
        managed
            .organizations
            .contains(&OrganizationId::from("o-gold"))
    );
    assert!(managed.portals.contains(&PortalId::from("p-billing")));
    assert!(
        rig.memory
            .customer(&id)
            .unwrap()
            .organizations
            .contains(&OrganizationId::from("o-gold"))
    );
    // The directory recovers; the next sign-in finishes the job.
    rig.faulty.fail("remove_org", 0, backend);
    let done = p
        .apply(
            &jane,
            &decision(&["Acme Corp"], &["p-help"]),
            &AuditContext::default(),
        )
        .await
        .unwrap();
    assert_eq!(done.organizations_removed, [OrganizationId::from("o-gold")]);
    assert_eq!(done.portals_revoked, [PortalId::from("p-billing")]);
    let c = rig.memory.customer(&id).unwrap();
    assert_eq!(
        c.organizations.into_iter().collect::<Vec<_>>(),
        [OrganizationId::from("o-acme")]
    );
    assert_eq!(
        c.portals.into_iter().collect::<Vec<_>>(),
        [PortalId::from("p-help")]
    );
    let managed = rig.ledger.get(&id).unwrap();
    assert_eq!(managed.organizations.len(), 1);
    let trail = rig.trail().await;
    assert!(trail.contains(&(
        "organization.member_removed".to_owned(),
        "core.directory.backend".to_owned()
    )));
    assert!(trail.contains(&("organization.member_removed".to_owned(), "ok".to_owned())));
}

#[tokio::test]
async fn deprovisioning_removes_managed_access_and_marks_for_cleanup() {
    let rig = Rig::new().await;
    let p = rig.broker.provisioner();
    let jane = person("jane@acme.example");
    let done = p
        .apply(
            &jane,
            &decision(&["Acme Corp"], &["p-help"]),
            &AuditContext::default(),
        )
        .await
        .unwrap();
    // An organization added by hand stays.
    rig.memory
        .add_to_organization(&done.customer.id, &"o-gold".into())
        .await
        .unwrap();
    let id = p
        .deprovision(&jane.email, &AuditContext::new("scim-1"))
        .await
        .unwrap()
        .unwrap();
    let c = rig.memory.customer(&id).unwrap();
    assert_eq!(
        c.organizations.into_iter().collect::<Vec<_>>(),
        [OrganizationId::from("o-gold")]
    );
    assert!(c.portals.is_empty());
    assert!(rig.ledger.get(&id).unwrap().deprovisioned);
    assert_eq!(
        p.deprovision(
            &"nobody@acme.example".parse().unwrap(),
            &AuditContext::default()
        )
        .await
        .unwrap(),
        None
    );
    // Signing in again re-provisions and clears the mark.
    p.apply(
        &jane,
        &decision(&["Acme Corp"], &["p-help"]),
        &AuditContext::default(),
    )
    .await
    .unwrap();
    assert!(!rig.ledger.get(&id).unwrap().deprovisioned);
}

/// Each person gets their own lock: many people provisioned at once all succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_people_at_once() {
    let rig = Rig::new().await;
    let counter = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..100 {
        let broker = rig.broker.clone();
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let email = format!("user{}@acme.example", i % 50);
            broker
                .provisioner()
                .apply(
                    &person(&email),
                    &decision(&["Acme Corp"], &["p-help"]),
                    &AuditContext::default(),
                )
                .await
                .unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(counter.load(Ordering::SeqCst), 100);
    assert_eq!(rig.memory.len(), 50);
}
