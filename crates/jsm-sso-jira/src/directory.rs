//! [`JsmDirectory`]: the broker's [`CustomerDirectory`] mapped onto the JSM API, each
//! step idempotent.
//!
//! | broker step | JSM calls |
//! | --- | --- |
//! | find customer | platform user search, exact email, `accountType: customer` |
//! | create customer | `POST /customer?strictConflictStatusCode=true`; 409 -> look up |
//! | resolve organization | `GET /organization/{id}`, or the organization list by exact name |
//! | add / remove membership | `POST` / `DELETE /organization/{id}/user`; the first add marks the organization as broker-managed in its property [`MANAGED_PROPERTY`] |
//! | grant / revoke portal | `POST` / `DELETE /servicedesk/{id}/customer` (experimental) |
//! | set fields | user property [`FIELDS_PROPERTY`] (a JSON object, merged) |
//! | record sign-in | user property [`LAST_SEEN_PROPERTY`] (`{"epochMillis": n}`, never moved back) |
//! | list customers | the home portal's customer list (`start:N` cursors) |
//! | remove customer | leave every organization and service desk, then revoke portal-only access |

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use http::Method;
use jsm_sso_core::Email;
use jsm_sso_core::decision::OrganizationRef;
use jsm_sso_core::directory::{
    Customer, CustomerDirectory, CustomerId, CustomerPage, DirectoryError, OrganizationId, PortalId,
};
use serde_json::{Value, json};

use crate::client::{Call, JiraClient, decode};
use crate::error::Error;
use crate::model::{SdPage, User};

/// Organization property marking an organization whose memberships the broker manages.
pub const MANAGED_PROPERTY: &str = "jsm-sso.managed";
/// User property holding customer field values (a JSON object of field id to value).
pub const FIELDS_PROPERTY: &str = "jsm-sso.fields";
/// User property holding the last sign-in (`{"epochMillis": n}`).
pub const LAST_SEEN_PROPERTY: &str = "jsm-sso.last-seen";

const CURSOR_PREFIX: &str = "start:";
/// Largest page the servicedeskapi returns.
const MAX_PAGE: usize = 50;

/// A [`CustomerDirectory`] on a JSM site, through a [`JiraClient`].
///
/// Emails match ignoring ASCII case, as Jira matches them. Customer ids are Atlassian
/// account ids; organization ids JSM's numeric ids; portal ids service desk ids.
/// [`list_customers`](CustomerDirectory::list_customers) needs a
/// [home portal](Self::with_home_portal): the one every broker customer is granted.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use jsm_sso_core::CustomerDirectory;
/// use jsm_sso_core::decision::OrganizationRef;
/// use jsm_sso_jira::memory::MemoryJsm;
///
/// let jsm = MemoryJsm::new();
/// let desk = jsm.add_service_desk("HELP", "Help desk");
/// jsm.add_organization("Acme Corp");
/// let directory = jsm.directory().with_home_portal(desk.as_str());
///
/// let email = "alice@acme.example".parse()?;
/// let alice = directory.create_customer(&email, "Alice").await?;
/// let acme = directory
///     .resolve_organization(&OrganizationRef::Name("Acme Corp".into()))
///     .await?
///     .unwrap();
/// directory.add_to_organization(&alice.id, &acme).await?;
/// directory.add_to_organization(&alice.id, &acme).await?; // idempotent
/// directory.grant_portal(&alice.id, &desk.as_str().into()).await?;
/// assert_eq!(jsm.organization_members(acme.as_str()), [alice.id.as_str()]);
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct JsmDirectory {
    client: JiraClient,
    home_portal: Option<PortalId>,
    fields: BTreeSet<String>,
    revoke_on_remove: bool,
    marked: Mutex<HashSet<String>>,
}

impl JsmDirectory {
    /// A directory on `client`'s site, with no home portal and no customer fields.
    #[must_use]
    pub fn new(client: JiraClient) -> Self {
        Self {
            client,
            home_portal: None,
            fields: BTreeSet::new(),
            revoke_on_remove: true,
            marked: Mutex::new(HashSet::new()),
        }
    }

    /// The portal every broker customer is granted; customers are listed from it.
    #[must_use]
    pub fn with_home_portal(mut self, portal: impl Into<PortalId>) -> Self {
        self.home_portal = Some(portal.into());
        self
    }

    /// A customer field the policy may fill in (stored in [`FIELDS_PROPERTY`]).
    #[must_use]
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.fields.insert(field.into());
        self
    }

    /// Whether [`remove_customer`](CustomerDirectory::remove_customer) also revokes
    /// portal-only access (default on; needs site-admin rights).
    #[must_use]
    pub fn revoke_portal_only_access_on_remove(mut self, revoke: bool) -> Self {
        self.revoke_on_remove = revoke;
        self
    }

    /// The client underneath.
    #[must_use]
    pub fn client(&self) -> &JiraClient {
        &self.client
    }

    fn customer(user: &User, fallback: Option<&Email>) -> Option<Customer> {
        let id = user.id()?;
        let email = user
            .email_address
            .as_deref()
            .and_then(|e| e.parse::<Email>().ok())
            .or_else(|| fallback.cloned())?;
        let name = user
            .display_name
            .clone()
            .unwrap_or_else(|| email.as_str().to_owned());
        Some(Customer::new(CustomerId::from(id), email, name))
    }

    /// Tells "customer unknown" from other refusals after a 400 naming accounts.
    async fn customer_error(&self, customer: &CustomerId, error: Error) -> DirectoryError {
        if matches!(error, Error::BadRequest(_)) {
            match self.client.user_property_keys(customer.as_str()).await {
                Err(Error::NotFound(_)) => {
                    return DirectoryError::CustomerNotFound(customer.clone());
                }
                Err(e) if !matches!(e, Error::BadRequest(_)) => return map(e, || None),
                _ => {}
            }
        }
        map(error, || None)
    }

    async fn mark_managed(&self, organization: &OrganizationId) -> Result<(), Error> {
        let done = self
            .marked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(organization.as_str());
        if done {
            return Ok(());
        }
        self.client
            .set_organization_property(
                organization.as_str(),
                MANAGED_PROPERTY,
                &json!({ "managedBy": "jsm-sso", "memberships": "broker" }),
            )
            .await?;
        self.marked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(organization.as_str().to_owned());
        Ok(())
    }

    async fn last_seen(&self, customer: &str) -> Result<Option<SystemTime>, Error> {
        let value = self
            .client
            .user_property(customer, LAST_SEEN_PROPERTY)
            .await?;
        Ok(value
            .and_then(|v| v.get("epochMillis").and_then(Value::as_u64))
            .and_then(|ms| SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(ms))))
    }
}

/// Maps a client error onto the directory's; `not_found` names what a 404 (or an id JSM
/// cannot have) means for the operation.
fn map(error: Error, not_found: impl FnOnce() -> Option<DirectoryError>) -> DirectoryError {
    match error {
        Error::NotFound(_) | Error::InvalidArgument { .. } => match not_found() {
            Some(e) => e,
            None => DirectoryError::Backend(Box::new(error)),
        },
        Error::Unauthorized(_) | Error::Forbidden(_) => DirectoryError::Unauthorized,
        Error::RateLimited { retry_after, .. } => DirectoryError::RateLimited { retry_after },
        Error::BadRequest(api) => DirectoryError::Invalid(api.to_string()),
        e if e.is_transient() => DirectoryError::Unavailable(Box::new(e)),
        e => DirectoryError::Backend(Box::new(e)),
    }
}

#[async_trait]
impl CustomerDirectory for JsmDirectory {
    async fn find_customer_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<Customer>, DirectoryError> {
        let found = self
            .client
            .find_customer_by_email(email.as_str())
            .await
            .map_err(|e| map(e, || None))?;
        let Some(user) = found else { return Ok(None) };
        let mut customer = Self::customer(&user, Some(email));
        if let (Some(c), Some(id)) = (customer.as_mut(), user.id()) {
            c.last_seen = self.last_seen(id).await.map_err(|e| map(e, || None))?;
        }
        Ok(customer)
    }

    async fn create_customer(
        &self,
        email: &Email,
        display_name: &str,
    ) -> Result<Customer, DirectoryError> {
        let (user, _created) = self
            .client
            .ensure_customer(email.as_str(), display_name)
            .await
            .map_err(|e| map(e, || None))?;
        let mut customer = Self::customer(&user, Some(email)).ok_or_else(|| {
            DirectoryError::Backend("jira returned a customer without an account id".into())
        })?;
        if let Some(id) = user.id() {
            customer.last_seen = self.last_seen(id).await.map_err(|e| map(e, || None))?;
        }
        Ok(customer)
    }

    async fn resolve_organization(
        &self,
        organization: &OrganizationRef,
    ) -> Result<Option<OrganizationId>, DirectoryError> {
        match organization {
            OrganizationRef::Id(id) => match self.client.organization(id.as_str()).await {
                Ok(org) => Ok(Some(OrganizationId::from(org.id))),
                Err(Error::NotFound(_) | Error::InvalidArgument { .. }) => Ok(None),
                Err(e) => Err(map(e, || None)),
            },
            OrganizationRef::Name(name) => {
                let mut all = self.client.organizations();
                while let Some(org) = all.next().await {
                    let org = org.map_err(|e| map(e, || None))?;
                    if org.name == *name {
                        return Ok(Some(OrganizationId::from(org.id)));
                    }
                }
                Ok(None)
            }
        }
    }

    async fn add_to_organization(
        &self,
        customer: &CustomerId,
        organization: &OrganizationId,
    ) -> Result<(), DirectoryError> {
        let not_found = || Some(DirectoryError::OrganizationNotFound(organization.clone()));
        self.mark_managed(organization)
            .await
            .map_err(|e| map(e, not_found))?;
        match self
            .client
            .add_organization_members(organization.as_str(), &[customer.as_str()])
            .await
        {
            Ok(()) => Ok(()),
            Err(Error::NotFound(_)) => {
                Err(DirectoryError::OrganizationNotFound(organization.clone()))
            }
            Err(e) => Err(self.customer_error(customer, e).await),
        }
    }

    async fn remove_from_organization(
        &self,
        customer: &CustomerId,
        organization: &OrganizationId,
    ) -> Result<(), DirectoryError> {
        match self
            .client
            .remove_organization_members(organization.as_str(), &[customer.as_str()])
            .await
        {
            Ok(()) => Ok(()),
            Err(
                Error::NotFound(_)
                | Error::InvalidArgument {
                    what: "organization id",
                    ..
                },
            ) => Err(DirectoryError::OrganizationNotFound(organization.clone())),
            Err(e) => Err(self.customer_error(customer, e).await),
        }
    }

    async fn grant_portal(
        &self,
        customer: &CustomerId,
        portal: &PortalId,
    ) -> Result<(), DirectoryError> {
        match self
            .client
            .add_desk_customers(portal.as_str(), &[customer.as_str()])
            .await
        {
            Ok(()) => Ok(()),
            Err(Error::NotFound(_)) => Err(DirectoryError::PortalNotFound(portal.clone())),
            Err(e) => Err(self.customer_error(customer, e).await),
        }
    }

    async fn revoke_portal(
        &self,
        customer: &CustomerId,
        portal: &PortalId,
    ) -> Result<(), DirectoryError> {
        match self
            .client
            .remove_desk_customers(portal.as_str(), &[customer.as_str()])
            .await
        {
            Ok(()) => Ok(()),
            Err(Error::NotFound(_)) => Err(DirectoryError::PortalNotFound(portal.clone())),
            Err(e) => Err(self.customer_error(customer, e).await),
        }
    }

    async fn set_fields(
        &self,
        customer: &CustomerId,
        fields: &BTreeMap<String, String>,
    ) -> Result<(), DirectoryError> {
        if let Some(unknown) = fields.keys().find(|f| !self.fields.contains(*f)) {
            return Err(DirectoryError::FieldUnknown(unknown.clone()));
        }
        let not_found = || Some(DirectoryError::CustomerNotFound(customer.clone()));
        let current = self
            .client
            .user_property(customer.as_str(), FIELDS_PROPERTY)
            .await
            .map_err(|e| map(e, not_found))?;
        let mut object = match current {
            Some(Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        let before = object.clone();
        for (field, value) in fields {
            object.insert(field.clone(), Value::String(value.clone()));
        }
        if object == before && !before.is_empty() {
            return Ok(());
        }
        self.client
            .set_user_property(customer.as_str(), FIELDS_PROPERTY, &Value::Object(object))
            .await
            .map_err(|e| map(e, not_found))
    }

    async fn record_sign_in(
        &self,
        customer: &CustomerId,
        at: SystemTime,
    ) -> Result<(), DirectoryError> {
        let not_found = || Some(DirectoryError::CustomerNotFound(customer.clone()));
        let seen = self
            .last_seen(customer.as_str())
            .await
            .map_err(|e| map(e, not_found))?;
        if seen.is_some_and(|s| s >= at) {
            return Ok(());
        }
        let millis = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.client
            .set_user_property(
                customer.as_str(),
                LAST_SEEN_PROPERTY,
                &json!({ "epochMillis": millis }),
            )
            .await
            .map_err(|e| map(e, not_found))
    }

    async fn list_customers(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<CustomerPage, DirectoryError> {
        let start: u32 = match cursor {
            None => 0,
            Some(c) => c
                .strip_prefix(CURSOR_PREFIX)
                .and_then(|n| n.parse().ok())
                .ok_or(DirectoryError::CursorInvalid)?,
        };
        let Some(portal) = &self.home_portal else {
            return Err(DirectoryError::Backend(
                "list_customers needs a home portal (JsmDirectory::with_home_portal)".into(),
            ));
        };
        let limit = limit.clamp(1, MAX_PAGE);
        let call = Call::new(
            "list service desk customers",
            Method::GET,
            JiraClient::sd(["servicedesk", portal.as_str(), "customer"]),
        )
        .experimental()
        .query("start", start.to_string())
        .query("limit", limit.to_string());
        let not_found = || Some(DirectoryError::PortalNotFound(portal.clone()));
        let response = self
            .client
            .execute(&call)
            .await
            .map_err(|e| map(e, not_found))?;
        let page: SdPage<User> =
            decode(call.operation, response.body()).map_err(|e| map(e, || None))?;
        let got = page.values.len();
        let mut customers = Vec::with_capacity(got);
        for user in &page.values {
            if let Some(mut c) = Self::customer(user, None) {
                c.last_seen = self
                    .last_seen(c.id.as_str())
                    .await
                    .map_err(|e| map(e, || None))?;
                customers.push(c);
            }
        }
        let next = (!page.is_last_page.unwrap_or(true) && got > 0).then(|| {
            let next = u64::from(start).saturating_add(u64::try_from(got).unwrap_or(u64::MAX));
            format!("{CURSOR_PREFIX}{next}")
        });
        Ok(CustomerPage::new(customers, next))
    }

    async fn remove_customer(&self, customer: &CustomerId) -> Result<(), DirectoryError> {
        let id = customer.as_str();
        let organizations = match self.client.organizations_of(id) {
            Ok(pager) => pager.try_collect().await.map_err(|e| map(e, || None))?,
            Err(_) => return Ok(()), // not an id Jira can have: nothing to remove
        };
        for org in organizations {
            match self
                .client
                .remove_organization_members(&org.id, &[id])
                .await
            {
                Ok(()) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(map(e, || None)),
            }
        }
        let desks = self
            .client
            .service_desks()
            .try_collect()
            .await
            .map_err(|e| map(e, || None))?;
        for desk in desks {
            match self.client.remove_desk_customers(&desk.id, &[id]).await {
                Ok(()) | Err(Error::NotFound(_) | Error::BadRequest(_)) => {}
                Err(e) => return Err(map(e, || None)),
            }
        }
        if self.revoke_on_remove {
            match self.client.revoke_portal_only_access(id).await {
                Ok(()) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(map(e, || None)),
            }
        }
        Ok(())
    }
}
