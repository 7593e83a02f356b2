//! Just-in-time provisioning through [`CustomerDirectory`]: one code path for sign-in, SCIM
//! and cleanup.
//!
//! [`Provisioner::apply`] makes the directory match a [`Decision`]: the customer exists
//! (matched by email first), is a member of the organizations the decision names and of no
//! other organization the broker manages, may use the portals it names and no other portal
//! the broker manages, and has the field values it names.
//!
//! What the broker manages is recorded in a [`Ledger`], so memberships an agent made by
//! hand are never removed. The ledger is written ahead: before any change, it records the
//! union of what was managed and what is about to be added, and only after every change
//! succeeded does it record the new set. A failure half way leaves a ledger that still names
//! everything the broker may have touched, so the next run (a retry, the next sign-in)
//! finishes the job. Every directory call is idempotent and retried with backoff on
//! [`DirectoryError::is_retryable`] errors; every change and every failure is audited.
//!
//! Concurrent provisioning of one person in one process is serialised by a per-email lock;
//! across processes the directory's own contract (create returns the existing customer)
//! keeps it to one customer.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use async_trait::async_trait;
use jsm_sso_audit::{CustomerRef, Details};
use jsm_sso_core::decision::OrganizationRef;
use jsm_sso_core::directory::{Customer, CustomerId, DirectoryError, OrganizationId, PortalId};
use jsm_sso_core::identity::IdpId;
use jsm_sso_core::{Clock, CodedError, CustomerDirectory, Decision, Email, VerifiedIdentity};
use serde::{Deserialize, Serialize};

use crate::error::{BoxedError, Error};
use crate::trail::{AuditContext, Auditor};

/// What the broker manages for one customer (the [`Ledger`] record).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Managed {
    /// Organizations the broker added the customer to.
    pub organizations: BTreeSet<OrganizationId>,
    /// Portals the broker granted.
    pub portals: BTreeSet<PortalId>,
    /// Whether the broker created the customer (cleanup removes only those by default).
    pub created: bool,
    /// Whether the customer's IdP account was deprovisioned (SCIM deactivation); cleanup
    /// removes them.
    pub deprovisioned: bool,
}

/// Where the broker records what it manages, per customer.
///
/// Implementations: [`MemoryLedger`] (one process, tests) and, with the `jira` feature,
/// `jira::PropertyLedger` (a JSM user property, shared by every broker instance).
#[async_trait]
pub trait Ledger: Send + Sync {
    /// The record for a customer; `None` when the broker never managed them.
    ///
    /// # Errors
    ///
    /// The backend's error.
    async fn load(&self, customer: &CustomerId) -> Result<Option<Managed>, BoxedError>;

    /// Replaces the record for a customer.
    ///
    /// # Errors
    ///
    /// The backend's error.
    async fn store(&self, customer: &CustomerId, managed: &Managed) -> Result<(), BoxedError>;

    /// Drops the record for a customer (after removal).
    ///
    /// # Errors
    ///
    /// The backend's error.
    async fn forget(&self, customer: &CustomerId) -> Result<(), BoxedError>;
}

/// A [`Ledger`] in memory: for one broker process and tests (lost on restart, so
/// memberships added before a restart are no longer removed by the broker).
#[derive(Debug, Default)]
pub struct MemoryLedger {
    records: Mutex<HashMap<CustomerId, Managed>>,
}

impl MemoryLedger {
    /// An empty ledger.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The record for a customer (for tests).
    #[must_use]
    pub fn get(&self, customer: &CustomerId) -> Option<Managed> {
        self.lock().get(customer).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CustomerId, Managed>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Ledger for MemoryLedger {
    async fn load(&self, customer: &CustomerId) -> Result<Option<Managed>, BoxedError> {
        Ok(self.get(customer))
    }

    async fn store(&self, customer: &CustomerId, managed: &Managed) -> Result<(), BoxedError> {
        self.lock().insert(customer.clone(), managed.clone());
        Ok(())
    }

    async fn forget(&self, customer: &CustomerId) -> Result<(), BoxedError> {
        self.lock().remove(customer);
        Ok(())
    }
}

/// How directory calls are retried on transient errors (rate limits, unavailability).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub attempts: u32,
    /// The wait before the first retry; it doubles each time, with jitter.
    pub initial_backoff: Duration,
    /// The longest wait (also caps a directory's `Retry-After`).
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// Four attempts, 200 ms doubling up to 5 s.
    fn default() -> Self {
        Self {
            attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based): half the doubled backoff plus a
    /// random part up to the other half, or the directory's `Retry-After`, capped.
    fn wait(&self, retry: u32, error: &DirectoryError) -> Duration {
        if let DirectoryError::RateLimited {
            retry_after: Some(after),
        } = error
        {
            return (*after).min(self.max_backoff);
        }
        let base = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.max_backoff);
        let mut byte = [0u8; 1];
        let _ignored = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut byte);
        let [random] = byte;
        let half = base / 2;
        half + half.mul_f64(f64::from(random) / 255.0)
    }
}

/// The person to provision: email (the match key), display name, and the IdP account.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Person {
    /// The email the customer is matched by.
    pub email: Email,
    /// The name shown to agents when the customer is created.
    pub display_name: String,
    /// The IdP and subject, for the audit trail.
    pub account: Option<(IdpId, String)>,
}

impl Person {
    /// A person with an email and a display name.
    pub fn new(email: Email, display_name: impl Into<String>) -> Self {
        Self {
            email,
            display_name: display_name.into(),
            account: None,
        }
    }

    /// The person of a verified sign-in: its verified email, and a display name from the
    /// `name` or `displayName` attribute, given and family name, else the email.
    ///
    /// # Errors
    ///
    /// `broker.identity.email_unverified` when the IdP does not vouch for an email.
    pub fn from_identity(identity: &VerifiedIdentity) -> Result<Self, Error> {
        let email = identity
            .verified_email()
            .cloned()
            .ok_or_else(|| Error::EmailUnverified {
                idp: identity.idp.clone(),
            })?;
        let first = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| identity.attribute(n).first())
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let display_name = first(&["name", "displayName", "display_name"])
            .or_else(|| {
                let given = first(&["given_name", "givenName", "firstName"])?;
                Some(match first(&["family_name", "surname", "sn", "lastName"]) {
                    Some(family) => format!("{given} {family}"),
                    None => given,
                })
            })
            .unwrap_or_else(|| email.as_str().to_owned());
        Ok(Self {
            email,
            display_name,
            account: Some((identity.idp.clone(), identity.subject.value.clone())),
        })
    }
}

/// What [`Provisioner::apply`] changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Provisioned {
    /// The customer.
    pub customer: Customer,
    /// Whether this call created them.
    pub created: bool,
    /// Organizations added (not managed before).
    pub organizations_added: Vec<OrganizationId>,
    /// Managed organizations the decision no longer grants, removed.
    pub organizations_removed: Vec<OrganizationId>,
    /// Portals granted (not managed before).
    pub portals_granted: Vec<PortalId>,
    /// Managed portals the decision no longer grants, revoked.
    pub portals_revoked: Vec<PortalId>,
    /// Field ids written.
    pub fields_written: Vec<String>,
    /// The portals the customer may use now (what the decision grants).
    pub portals: BTreeSet<PortalId>,
}

type LockMap = Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>;

/// Applies decisions to the directory. Cheap to clone; clones share locks and ledger.
#[derive(Clone)]
pub struct Provisioner {
    directory: Arc<dyn CustomerDirectory>,
    ledger: Arc<dyn Ledger>,
    retry: RetryPolicy,
    auditor: Auditor,
    clock: Arc<dyn Clock>,
    locks: Arc<LockMap>,
}

impl std::fmt::Debug for Provisioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provisioner")
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Provisioner {
    pub(crate) fn new(
        directory: Arc<dyn CustomerDirectory>,
        ledger: Arc<dyn Ledger>,
        retry: RetryPolicy,
        auditor: Auditor,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            directory,
            ledger,
            retry,
            auditor,
            clock,
            locks: Arc::default(),
        }
    }

    /// The directory it provisions.
    #[must_use]
    pub fn directory(&self) -> &Arc<dyn CustomerDirectory> {
        &self.directory
    }

    /// The ledger of what it manages.
    #[must_use]
    pub fn ledger(&self) -> &Arc<dyn Ledger> {
        &self.ledger
    }

    /// Holds the per-person lock: one provisioning of a person at a time in this process.
    async fn lock(&self, email: &Email) -> tokio::sync::OwnedMutexGuard<()> {
        let key = email.as_str().to_ascii_lowercase();
        let mutex = {
            let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            if locks.len() > 1024 {
                locks.retain(|_, weak| weak.strong_count() > 0);
            }
            match locks.get(&key).and_then(Weak::upgrade) {
                Some(mutex) => mutex,
                None => {
                    let mutex = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(key, Arc::downgrade(&mutex));
                    mutex
                }
            }
        };
        mutex.lock_owned().await
    }

    /// Runs a directory call, retrying transient failures with backoff.
    async fn call<T, F, Fut>(&self, step: &'static str, mut op: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, DirectoryError>>,
    {
        let mut retry = 0;
        loop {
            match op().await {
                Ok(value) => return Ok(value),
                Err(e) if e.is_retryable() && retry + 1 < self.retry.attempts.max(1) => {
                    tokio::time::sleep(self.retry.wait(retry, &e)).await;
                    retry += 1;
                }
                Err(source) => return Err(Error::Directory { step, source }),
            }
        }
    }

    /// Audits a failed step and hands the error back.
    async fn fail(&self, context: &AuditContext, details: Details, error: Error) -> Error {
        match self.auditor.failed(context, details, error.code()).await {
            Ok(()) => error,
            Err(audit) => audit,
        }
    }

    /// Runs one directory step (with retries) and audits it: as done when it succeeded and
    /// `changed` says it changed something, as failed with its code when it failed. Returns
    /// whether it was audited as a change.
    async fn audited<F, Fut>(
        &self,
        context: &AuditContext,
        step: &'static str,
        details: Details,
        changed: bool,
        op: F,
    ) -> Result<bool, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), DirectoryError>>,
    {
        match self.call(step, op).await {
            Ok(()) if changed => {
                self.auditor.ok(context, details).await?;
                Ok(true)
            }
            Ok(()) => Ok(false),
            Err(e) => Err(self.fail(context, details, e).await),
        }
    }

    /// Removes the customer from an organization; one deleted meanwhile has no members to
    /// remove, so that counts as done.
    async fn leave_organization(
        &self,
        id: &CustomerId,
        org: &OrganizationId,
    ) -> Result<(), DirectoryError> {
        match self.directory.remove_from_organization(id, org).await {
            Err(DirectoryError::OrganizationNotFound(_)) => Ok(()),
            other => other,
        }
    }

    /// Revokes a portal grant; a portal that does not exist (any more) grants nothing to
    /// revoke, so that counts as done.
    async fn revoke_grant(&self, id: &CustomerId, portal: &PortalId) -> Result<(), DirectoryError> {
        match self.directory.revoke_portal(id, portal).await {
            Err(DirectoryError::PortalNotFound(_)) => Ok(()),
            other => other,
        }
    }

    /// Finds the customer by email, creating them if they do not exist.
    async fn ensure_customer(
        &self,
        person: &Person,
        context: &AuditContext,
    ) -> Result<(Customer, bool), Error> {
        let email = &person.email;
        let found = self
            .call("find_customer", || {
                self.directory.find_customer_by_email(email)
            })
            .await;
        match found {
            Ok(Some(customer)) => return Ok((customer, false)),
            Ok(None) => {}
            Err(e) => return Err(self.fail(context, Details::CustomerCreated {}, e).await),
        }
        let created = self
            .call("create_customer", || {
                self.directory.create_customer(email, &person.display_name)
            })
            .await;
        match created {
            Ok(customer) => {
                let context = context.clone().with_customer_id(customer.id.as_str());
                self.auditor
                    .ok(&context, Details::CustomerCreated {})
                    .await?;
                Ok((customer, true))
            }
            Err(e) => Err(self.fail(context, Details::CustomerCreated {}, e).await),
        }
    }

    async fn load(&self, customer: &CustomerId) -> Result<Managed, Error> {
        Ok(self
            .ledger
            .load(customer)
            .await
            .map_err(Error::Ledger)?
            .unwrap_or_default())
    }

    async fn store(&self, customer: &CustomerId, managed: &Managed) -> Result<(), Error> {
        self.ledger
            .store(customer, managed)
            .await
            .map_err(Error::Ledger)
    }

    /// Makes the directory match the decision for this person; see the module docs.
    ///
    /// # Errors
    ///
    /// `broker.policy.denied` for a deny decision (nothing changed);
    /// `broker.provision.organization_unknown` when an organization the decision names does
    /// not exist (nothing changed); the directory's code when a call failed after its
    /// retries; `broker.provision.ledger`; the audit log's code.
    pub async fn apply(
        &self,
        person: &Person,
        decision: &Decision,
        context: &AuditContext,
    ) -> Result<Provisioned, Error> {
        if let jsm_sso_core::decision::Effect::Deny { reason } = &decision.effect {
            return Err(Error::Denied {
                reason: reason.clone(),
            });
        }
        let mut context = context.clone();
        if context.customer.is_none() {
            let mut customer = CustomerRef::default().with_email(person.email.as_str());
            if let Some((_, subject)) = &person.account {
                customer = customer.with_subject(subject.clone());
            }
            context = context.customer(customer);
        }
        let _guard = self.lock(&person.email).await;

        // Resolve before changing anything: an unknown organization changes nothing.
        let mut organizations = BTreeSet::new();
        for reference in &decision.organizations {
            let resolved = self
                .call("resolve_organization", || {
                    self.directory.resolve_organization(reference)
                })
                .await;
            match resolved {
                Ok(Some(id)) => {
                    organizations.insert(id);
                }
                Ok(None) => {
                    let organization = match reference {
                        OrganizationRef::Id(id) => id.to_string(),
                        OrganizationRef::Name(name) => name.clone(),
                    };
                    let details = Details::OrganizationMemberAdded {
                        organization: organization.clone(),
                    };
                    return Err(self
                        .fail(
                            &context,
                            details,
                            Error::OrganizationUnknown { organization },
                        )
                        .await);
                }
                Err(e) => {
                    let details = Details::OrganizationMemberAdded {
                        organization: format!("{reference:?}"),
                    };
                    return Err(self.fail(&context, details, e).await);
                }
            }
        }
        let portals: BTreeSet<PortalId> = decision.portals.iter().cloned().collect();

        let (customer, created) = self.ensure_customer(person, &context).await?;
        let context = context.with_customer_id(customer.id.as_str());
        let id = &customer.id;
        let before = self.load(id).await?;

        // Write ahead: everything the broker may touch is recorded before it is touched.
        let mut ahead = before.clone();
        ahead.organizations.extend(organizations.iter().cloned());
        ahead.portals.extend(portals.iter().cloned());
        ahead.created |= created;
        ahead.deprovisioned = false;
        if ahead != before {
            self.store(id, &ahead).await?;
        }

        let mut done = Provisioned {
            customer: customer.clone(),
            created,
            organizations_added: Vec::new(),
            organizations_removed: Vec::new(),
            portals_granted: Vec::new(),
            portals_revoked: Vec::new(),
            fields_written: Vec::new(),
            portals: portals.clone(),
        };
        for org in &organizations {
            let details = Details::OrganizationMemberAdded {
                organization: org.to_string(),
            };
            let new = !before.organizations.contains(org);
            let add = || self.directory.add_to_organization(id, org);
            if self
                .audited(&context, "add_to_organization", details, new, add)
                .await?
            {
                done.organizations_added.push(org.clone());
            }
        }
        for portal in &portals {
            let details = Details::PortalAccessGranted {
                portal: portal.to_string(),
            };
            let new = !before.portals.contains(portal);
            let grant = || self.directory.grant_portal(id, portal);
            if self
                .audited(&context, "grant_portal", details, new, grant)
                .await?
            {
                done.portals_granted.push(portal.clone());
            }
        }
        for org in ahead.organizations.difference(&organizations) {
            let details = Details::OrganizationMemberRemoved {
                organization: org.to_string(),
            };
            let leave = || self.leave_organization(id, org);
            self.audited(&context, "remove_from_organization", details, true, leave)
                .await?;
            done.organizations_removed.push(org.clone());
        }
        for portal in ahead.portals.difference(&portals) {
            let details = Details::PortalAccessRevoked {
                portal: portal.to_string(),
            };
            let revoke = || self.revoke_grant(id, portal);
            self.audited(&context, "revoke_portal", details, true, revoke)
                .await?;
            done.portals_revoked.push(portal.clone());
        }
        if !decision.fields.is_empty() {
            let fields: &BTreeMap<String, String> = &decision.fields;
            let details = Details::FieldsWritten {
                fields: fields.keys().cloned().collect(),
            };
            let write = || self.directory.set_fields(id, fields);
            self.audited(&context, "set_fields", details, true, write)
                .await?;
            done.fields_written = fields.keys().cloned().collect();
        }
        let now = self.clock.now();
        self.call("record_sign_in", || self.directory.record_sign_in(id, now))
            .await?;

        let after = Managed {
            organizations,
            portals,
            created: ahead.created,
            deprovisioned: false,
        };
        if after != ahead {
            self.store(id, &after).await?;
        }
        Ok(done)
    }

    /// The IdP account of this person was deprovisioned (SCIM deactivation): removes every
    /// organization membership and portal grant the broker manages and marks the customer
    /// for cleanup. The customer record stays (their requests keep their reporter) until
    /// [`Provisioner::remove`] or a cleanup run removes it. Returns the customer, `None` if
    /// the directory has no customer with this email.
    ///
    /// # Errors
    ///
    /// The directory's code, `broker.provision.ledger`, the audit log's code.
    pub async fn deprovision(
        &self,
        email: &Email,
        context: &AuditContext,
    ) -> Result<Option<CustomerId>, Error> {
        let _guard = self.lock(email).await;
        let Some(customer) = self
            .call("find_customer", || {
                self.directory.find_customer_by_email(email)
            })
            .await?
        else {
            return Ok(None);
        };
        let id = &customer.id;
        let context = context
            .clone()
            .customer(CustomerRef::by_id(id.as_str()).with_email(email.as_str()));
        let managed = self.load(id).await?;
        for org in &managed.organizations {
            let details = Details::OrganizationMemberRemoved {
                organization: org.to_string(),
            };
            let leave = || self.leave_organization(id, org);
            self.audited(&context, "remove_from_organization", details, true, leave)
                .await?;
        }
        for portal in &managed.portals {
            let details = Details::PortalAccessRevoked {
                portal: portal.to_string(),
            };
            let revoke = || self.revoke_grant(id, portal);
            self.audited(&context, "revoke_portal", details, true, revoke)
                .await?;
        }
        let after = Managed {
            created: managed.created,
            deprovisioned: true,
            ..Managed::default()
        };
        self.store(id, &after).await?;
        Ok(Some(id.clone()))
    }

    /// Removes a customer from the directory (delete where the helpdesk allows it, else
    /// revoke everything) and forgets the ledger record; audited as `customer.removed` with
    /// the reason.
    ///
    /// # Errors
    ///
    /// The directory's code, `broker.provision.ledger`, the audit log's code.
    pub async fn remove(
        &self,
        customer: &Customer,
        reason: &str,
        context: &AuditContext,
    ) -> Result<(), Error> {
        let _guard = self.lock(&customer.email).await;
        let context = context
            .clone()
            .customer(CustomerRef::by_id(customer.id.as_str()).with_email(customer.email.as_str()));
        let details = Details::CustomerRemoved {
            reason: reason.to_owned(),
        };
        let id = &customer.id;
        if let Err(e) = self
            .call("remove_customer", || self.directory.remove_customer(id))
            .await
        {
            return Err(self.fail(&context, details, e).await);
        }
        self.ledger.forget(id).await.map_err(Error::Ledger)?;
        self.auditor.ok(&context, details).await
    }
}
