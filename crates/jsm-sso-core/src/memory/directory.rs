//! [`MemoryDirectory`]: a small in-memory [`CustomerDirectory`] for tests.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use async_trait::async_trait;

use crate::Email;
use crate::decision::OrganizationRef;
use crate::directory::{
    Customer, CustomerDirectory, CustomerId, CustomerPage, DirectoryError, OrganizationId, PortalId,
};

/// The most customers one [`list_customers`](CustomerDirectory::list_customers) page holds.
const MAX_PAGE: usize = 1_000;
const CURSOR_PREFIX: &str = "after:";

/// Everything [`MemoryDirectory`] holds about one customer (a snapshot).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryCustomer {
    /// The customer.
    pub customer: Customer,
    /// Organizations the customer belongs to.
    pub organizations: BTreeSet<OrganizationId>,
    /// Portals the customer may use.
    pub portals: BTreeSet<PortalId>,
    /// Customer field values.
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    customers: BTreeMap<CustomerId, MemoryCustomer>,
    /// Case-folded email to id.
    by_email: HashMap<String, CustomerId>,
    organizations: BTreeMap<OrganizationId, String>,
    portals: BTreeSet<PortalId>,
    fields: BTreeSet<String>,
}

impl State {
    fn customer_mut(&mut self, id: &CustomerId) -> Result<&mut MemoryCustomer, DirectoryError> {
        self.customers
            .get_mut(id)
            .ok_or_else(|| DirectoryError::CustomerNotFound(id.clone()))
    }
}

/// **For tests and examples**: a [`CustomerDirectory`] held in memory.
///
/// - Organizations, portals and customer fields exist only once registered
///   ([`with_organization`](Self::with_organization), [`with_portal`](Self::with_portal),
///   [`with_field`](Self::with_field)); naming others fails with the matching error, as a
///   real helpdesk would.
/// - Emails are matched ignoring case (the whole address), as helpdesks such as JSM do.
/// - Bounded: at most `capacity` customers ([`DirectoryError::Full`] past that). It is a
///   test double, not a store for production data; one `Mutex` guards everything.
/// - Customer ids are `cust-00000001`, `cust-00000002`, ... in creation order, and
///   listings are in id order.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use jsm_sso_core::CustomerDirectory;
/// use jsm_sso_core::directory::{OrganizationId, PortalId};
/// use jsm_sso_core::memory::MemoryDirectory;
///
/// let directory = MemoryDirectory::new(100)
///     .with_organization("10", "Acme Corp")
///     .with_portal("3");
/// let email = "alice@acme.example".parse()?;
/// let alice = directory.create_customer(&email, "Alice").await?;
/// directory.add_to_organization(&alice.id, &OrganizationId::from("10")).await?;
/// directory.grant_portal(&alice.id, &PortalId::from("3")).await?;
/// let snapshot = directory.customer(&alice.id).unwrap();
/// assert!(snapshot.portals.contains(&PortalId::from("3")));
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct MemoryDirectory {
    state: Mutex<State>,
    capacity: usize,
}

impl MemoryDirectory {
    /// An empty directory for at most `capacity` customers.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            capacity,
        }
    }

    /// Registers an organization.
    #[must_use]
    pub fn with_organization(self, id: impl Into<OrganizationId>, name: impl Into<String>) -> Self {
        self.lock().organizations.insert(id.into(), name.into());
        self
    }

    /// Registers a portal (service desk).
    #[must_use]
    pub fn with_portal(self, id: impl Into<PortalId>) -> Self {
        self.lock().portals.insert(id.into());
        self
    }

    /// Registers a customer field id.
    #[must_use]
    pub fn with_field(self, id: impl Into<String>) -> Self {
        self.lock().fields.insert(id.into());
        self
    }

    /// A snapshot of everything held about a customer.
    #[must_use]
    pub fn customer(&self, id: &CustomerId) -> Option<MemoryCustomer> {
        self.lock().customers.get(id).cloned()
    }

    /// Number of customers.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().customers.len()
    }

    /// Whether there are no customers.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn fold(email: &Email) -> String {
    email.as_str().to_lowercase()
}

#[async_trait]
impl CustomerDirectory for MemoryDirectory {
    async fn find_customer_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<Customer>, DirectoryError> {
        let state = self.lock();
        Ok(state
            .by_email
            .get(&fold(email))
            .and_then(|id| state.customers.get(id))
            .map(|c| c.customer.clone()))
    }

    async fn create_customer(
        &self,
        email: &Email,
        display_name: &str,
    ) -> Result<Customer, DirectoryError> {
        let mut state = self.lock();
        let key = fold(email);
        if let Some(existing) = state
            .by_email
            .get(&key)
            .and_then(|id| state.customers.get(id))
        {
            return Ok(existing.customer.clone());
        }
        if state.customers.len() >= self.capacity {
            return Err(DirectoryError::Full {
                capacity: self.capacity,
            });
        }
        state.next_id += 1;
        let id = CustomerId::from(format!("cust-{:08}", state.next_id));
        let customer = Customer::new(id.clone(), email.clone(), display_name);
        state.by_email.insert(key, id.clone());
        state.customers.insert(
            id,
            MemoryCustomer {
                customer: customer.clone(),
                organizations: BTreeSet::new(),
                portals: BTreeSet::new(),
                fields: BTreeMap::new(),
            },
        );
        Ok(customer)
    }

    async fn resolve_organization(
        &self,
        organization: &OrganizationRef,
    ) -> Result<Option<OrganizationId>, DirectoryError> {
        let state = self.lock();
        Ok(match organization {
            OrganizationRef::Id(id) => state.organizations.contains_key(id).then(|| id.clone()),
            OrganizationRef::Name(name) => state
                .organizations
                .iter()
                .find(|(_, n)| *n == name)
                .map(|(id, _)| id.clone()),
        })
    }

    async fn add_to_organization(
        &self,
        customer: &CustomerId,
        organization: &OrganizationId,
    ) -> Result<(), DirectoryError> {
        let mut state = self.lock();
        if !state.organizations.contains_key(organization) {
            return Err(DirectoryError::OrganizationNotFound(organization.clone()));
        }
        state
            .customer_mut(customer)?
            .organizations
            .insert(organization.clone());
        Ok(())
    }

    async fn remove_from_organization(
        &self,
        customer: &CustomerId,
        organization: &OrganizationId,
    ) -> Result<(), DirectoryError> {
        let mut state = self.lock();
        if !state.organizations.contains_key(organization) {
            return Err(DirectoryError::OrganizationNotFound(organization.clone()));
        }
        state
            .customer_mut(customer)?
            .organizations
            .remove(organization);
        Ok(())
    }

    async fn grant_portal(
        &self,
        customer: &CustomerId,
        portal: &PortalId,
    ) -> Result<(), DirectoryError> {
        let mut state = self.lock();
        if !state.portals.contains(portal) {
            return Err(DirectoryError::PortalNotFound(portal.clone()));
        }
        state.customer_mut(customer)?.portals.insert(portal.clone());
        Ok(())
    }

    async fn revoke_portal(
        &self,
        customer: &CustomerId,
        portal: &PortalId,
    ) -> Result<(), DirectoryError> {
        let mut state = self.lock();
        if !state.portals.contains(portal) {
            return Err(DirectoryError::PortalNotFound(portal.clone()));
        }
        state.customer_mut(customer)?.portals.remove(portal);
        Ok(())
    }

    async fn set_fields(
        &self,
        customer: &CustomerId,
        fields: &BTreeMap<String, String>,
    ) -> Result<(), DirectoryError> {
        let mut state = self.lock();
        if let Some(unknown) = fields.keys().find(|f| !state.fields.contains(*f)) {
            return Err(DirectoryError::FieldUnknown(unknown.clone()));
        }
        let record = state.customer_mut(customer)?;
        for (field, value) in fields {
            record.fields.insert(field.clone(), value.clone());
        }
        Ok(())
    }

    async fn record_sign_in(
        &self,
        customer: &CustomerId,
        at: SystemTime,
    ) -> Result<(), DirectoryError> {
        let mut state = self.lock();
        let last_seen = &mut state.customer_mut(customer)?.customer.last_seen;
        *last_seen = Some(last_seen.map_or(at, |seen| seen.max(at)));
        Ok(())
    }

    async fn list_customers(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<CustomerPage, DirectoryError> {
        let after = match cursor {
            None => None,
            Some(c) => Some(CustomerId::from(
                c.strip_prefix(CURSOR_PREFIX)
                    .filter(|id| !id.is_empty())
                    .ok_or(DirectoryError::CursorInvalid)?,
            )),
        };
        let limit = limit.clamp(1, MAX_PAGE);
        let state = self.lock();
        let mut rest = match &after {
            None => state.customers.range::<CustomerId, _>(..),
            Some(after) => state.customers.range::<CustomerId, _>((
                std::ops::Bound::Excluded(after),
                std::ops::Bound::Unbounded,
            )),
        };
        let customers: Vec<Customer> = rest
            .by_ref()
            .take(limit)
            .map(|(_, c)| c.customer.clone())
            .collect();
        let next = match (rest.next(), customers.last()) {
            (Some(_), Some(last)) => Some(format!("{CURSOR_PREFIX}{}", last.id)),
            _ => None,
        };
        Ok(CustomerPage::new(customers, next))
    }

    async fn remove_customer(&self, customer: &CustomerId) -> Result<(), DirectoryError> {
        let mut state = self.lock();
        if let Some(removed) = state.customers.remove(customer) {
            state.by_email.remove(&fold(&removed.customer.email));
        }
        Ok(())
    }
}
