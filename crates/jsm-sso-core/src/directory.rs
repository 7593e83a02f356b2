//! The helpdesk seam: [`CustomerDirectory`] and its typed ids.
//!
//! `jsm-sso-jira` implements it over the JSM REST API; [`crate::memory::MemoryDirectory`]
//! is a small in-memory one for tests.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::decision::OrganizationRef;
use crate::{CodedError, Email};

string_id! {
    /// A customer's id in the directory (a Jira account id for JSM).
    CustomerId
}

string_id! {
    /// An organization's id in the directory (a JSM organization id).
    OrganizationId
}

string_id! {
    /// A customer portal's id (a JSM service desk id).
    PortalId
}

/// A customer as the directory knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Customer {
    /// The directory's id.
    pub id: CustomerId,
    /// The customer's email.
    pub email: Email,
    /// The name shown to agents.
    pub display_name: String,
    /// The last sign-in recorded with [`CustomerDirectory::record_sign_in`]; `None` if
    /// never recorded. Stale-customer cleanup keys on it.
    pub last_seen: Option<SystemTime>,
}

impl Customer {
    /// A customer value (for directory implementations).
    pub fn new(id: CustomerId, email: Email, display_name: impl Into<String>) -> Self {
        Self {
            id,
            email,
            display_name: display_name.into(),
            last_seen: None,
        }
    }
}

/// One page of [`CustomerDirectory::list_customers`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CustomerPage {
    /// The customers on this page.
    pub customers: Vec<Customer>,
    /// Pass this to the next call to get the next page; `None` on the last page.
    pub next: Option<String>,
}

impl CustomerPage {
    /// A page (for directory implementations).
    #[must_use]
    pub fn new(customers: Vec<Customer>, next: Option<String>) -> Self {
        Self { customers, next }
    }
}

/// The helpdesk operations the broker needs to provision a customer.
///
/// Contract, for every method:
///
/// - **Idempotent**: repeating a call with the same arguments leaves the directory as
///   the first call did and succeeds again. Adding a membership that exists, granting
///   access already granted, removing a membership that does not exist: all `Ok(())`.
///   The broker retries on [`DirectoryError::is_retryable`] errors and relies on this.
/// - Operations on a customer, organization or portal the directory does not know fail
///   with the matching `*NotFound` error; nothing is created implicitly except by
///   [`create_customer`](Self::create_customer).
/// - No method talks to an identity provider; no method makes policy decisions.
///
/// Object-safe: hold it as `Arc<dyn CustomerDirectory>`.
#[async_trait]
pub trait CustomerDirectory: Send + Sync {
    /// The customer with this email, if any. Whether the local part is matched
    /// case-insensitively is the helpdesk's rule; implementations document it.
    ///
    /// # Errors
    ///
    /// [`DirectoryError`] when the directory could not be asked.
    async fn find_customer_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<Customer>, DirectoryError>;

    /// Creates a customer, or returns the existing one with this email (unchanged: the
    /// display name is not updated).
    ///
    /// # Errors
    ///
    /// [`DirectoryError`] when the customer neither exists nor could be created.
    async fn create_customer(
        &self,
        email: &Email,
        display_name: &str,
    ) -> Result<Customer, DirectoryError>;

    /// The id of an organization named by a policy; `None` if no such organization exists.
    /// An [`OrganizationRef::Id`] is checked for existence, not just echoed.
    ///
    /// # Errors
    ///
    /// [`DirectoryError`] when the directory could not be asked.
    async fn resolve_organization(
        &self,
        organization: &OrganizationRef,
    ) -> Result<Option<OrganizationId>, DirectoryError>;

    /// Makes the customer a member of the organization.
    ///
    /// # Errors
    ///
    /// [`DirectoryError`]; membership that already exists is not an error.
    async fn add_to_organization(
        &self,
        customer: &CustomerId,
        organization: &OrganizationId,
    ) -> Result<(), DirectoryError>;

    /// Ends the customer's membership of the organization.
    ///
    /// # Errors
    ///
    /// [`DirectoryError`]; a membership that does not exist is not an error.
    async fn remove_from_organization(
        &self,
        customer: &CustomerId,
        organization: &OrganizationId,
    ) -> Result<(), DirectoryError>;

    /// Lets the customer use the portal (adds them to the service desk).
    ///
    /// # Errors
    ///
    /// [`DirectoryError`]; access already granted is not an error.
    async fn grant_portal(
        &self,
        customer: &CustomerId,
        portal: &PortalId,
    ) -> Result<(), DirectoryError>;

    /// Takes away the customer's access to the portal.
    ///
    /// # Errors
    ///
    /// [`DirectoryError`]; access not granted is not an error.
    async fn revoke_portal(
        &self,
        customer: &CustomerId,
        portal: &PortalId,
    ) -> Result<(), DirectoryError>;

    /// Sets customer field values (field id to value); fields not named are left alone.
    ///
    /// # Errors
    ///
    /// [`DirectoryError::FieldUnknown`] (and nothing set) if any field does not exist.
    async fn set_fields(
        &self,
        customer: &CustomerId,
        fields: &BTreeMap<String, String>,
    ) -> Result<(), DirectoryError>;

    /// Records a successful sign-in at `at`, for stale-customer cleanup. An earlier time
    /// than the one recorded does not move `last_seen` back.
    ///
    /// # Errors
    ///
    /// [`DirectoryError`] when it could not be recorded.
    async fn record_sign_in(
        &self,
        customer: &CustomerId,
        at: SystemTime,
    ) -> Result<(), DirectoryError>;

    /// One page of customers, at most `limit` of them, in a stable order. Start with
    /// `cursor = None` and pass [`CustomerPage::next`] until it is `None`.
    ///
    /// # Errors
    ///
    /// [`DirectoryError::CursorInvalid`] for a cursor this directory did not hand out.
    async fn list_customers(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<CustomerPage, DirectoryError>;

    /// Removes the customer: deletes them where the helpdesk allows it, otherwise revokes
    /// every portal and membership. Removing a customer that does not exist succeeds.
    ///
    /// # Errors
    ///
    /// [`DirectoryError`] when the customer could not be removed.
    async fn remove_customer(&self, customer: &CustomerId) -> Result<(), DirectoryError>;
}

#[async_trait]
impl<D: CustomerDirectory + ?Sized> CustomerDirectory for std::sync::Arc<D> {
    async fn find_customer_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<Customer>, DirectoryError> {
        (**self).find_customer_by_email(email).await
    }

    async fn create_customer(
        &self,
        email: &Email,
        display_name: &str,
    ) -> Result<Customer, DirectoryError> {
        (**self).create_customer(email, display_name).await
    }

    async fn resolve_organization(
        &self,
        organization: &OrganizationRef,
    ) -> Result<Option<OrganizationId>, DirectoryError> {
        (**self).resolve_organization(organization).await
    }

    async fn add_to_organization(
        &self,
        customer: &CustomerId,
        organization: &OrganizationId,
    ) -> Result<(), DirectoryError> {
        (**self).add_to_organization(customer, organization).await
    }

    async fn remove_from_organization(
        &self,
        customer: &CustomerId,
        organization: &OrganizationId,
    ) -> Result<(), DirectoryError> {
        (**self)
            .remove_from_organization(customer, organization)
            .await
    }

    async fn grant_portal(
        &self,
        customer: &CustomerId,
        portal: &PortalId,
    ) -> Result<(), DirectoryError> {
        (**self).grant_portal(customer, portal).await
    }

    async fn revoke_portal(
        &self,
        customer: &CustomerId,
        portal: &PortalId,
    ) -> Result<(), DirectoryError> {
        (**self).revoke_portal(customer, portal).await
    }

    async fn set_fields(
        &self,
        customer: &CustomerId,
        fields: &BTreeMap<String, String>,
    ) -> Result<(), DirectoryError> {
        (**self).set_fields(customer, fields).await
    }

    async fn record_sign_in(
        &self,
        customer: &CustomerId,
        at: SystemTime,
    ) -> Result<(), DirectoryError> {
        (**self).record_sign_in(customer, at).await
    }

    async fn list_customers(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<CustomerPage, DirectoryError> {
        (**self).list_customers(cursor, limit).await
    }

    async fn remove_customer(&self, customer: &CustomerId) -> Result<(), DirectoryError> {
        (**self).remove_customer(customer).await
    }
}

/// Why a [`CustomerDirectory`] operation failed. Each variant has its own code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// No customer with this id.
    #[error("customer {0} not found")]
    CustomerNotFound(CustomerId),
    /// No organization with this id.
    #[error("organization {0} not found")]
    OrganizationNotFound(OrganizationId),
    /// No portal (service desk) with this id.
    #[error("portal {0} not found")]
    PortalNotFound(PortalId),
    /// No customer field with this id.
    #[error("customer field {0:?} not found")]
    FieldUnknown(String),
    /// The directory refused a value (for example a field value of the wrong type).
    #[error("directory refused the value: {0}")]
    Invalid(String),
    /// A pagination cursor this directory did not hand out.
    #[error("customer list cursor is invalid")]
    CursorInvalid,
    /// The directory holds as many customers as it may (in-memory directories).
    #[error("directory is full (capacity {capacity})")]
    Full {
        /// The capacity in customers.
        capacity: usize,
    },
    /// The directory refused the broker's credentials or permissions.
    #[error("directory refused the broker's credentials")]
    Unauthorized,
    /// Too many requests; try again later.
    #[error("directory rate limit reached")]
    RateLimited {
        /// How long the directory asked to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// The directory could not be reached or failed for a passing reason (a 5xx, a
    /// timeout); retrying may help.
    #[error("directory unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Any other failure: an unexpected answer; retrying will not help.
    #[error("directory failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl DirectoryError {
    /// Whether the same call may succeed if retried later (rate limits and passing
    /// failures).
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Unavailable(_))
    }
}

impl CodedError for DirectoryError {
    fn code(&self) -> &'static str {
        match self {
            Self::CustomerNotFound(_) => "core.directory.customer_not_found",
            Self::OrganizationNotFound(_) => "core.directory.organization_not_found",
            Self::PortalNotFound(_) => "core.directory.portal_not_found",
            Self::FieldUnknown(_) => "core.directory.field_unknown",
            Self::Invalid(_) => "core.directory.invalid",
            Self::CursorInvalid => "core.directory.cursor_invalid",
            Self::Full { .. } => "core.directory.full",
            Self::Unauthorized => "core.directory.unauthorized",
            Self::RateLimited { .. } => "core.directory.rate_limited",
            Self::Unavailable(_) => "core.directory.unavailable",
            Self::Backend(_) => "core.directory.backend",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::CustomerNotFound(_) => {
                "the customer was removed in the helpdesk meanwhile; sign in again"
            }
            Self::OrganizationNotFound(_) => {
                "the policy names an organization the helpdesk does not have; create it or fix the policy"
            }
            Self::PortalNotFound(_) => {
                "the policy names a portal (service desk) id the helpdesk does not have; fix the policy"
            }
            Self::FieldUnknown(_) => {
                "the policy maps to a customer field that does not exist; fix the field id"
            }
            Self::Invalid(_) => {
                "the helpdesk refused a value; check the field types the policy fills in"
            }
            Self::CursorInvalid => "start the customer listing again without a cursor",
            Self::Full { .. } => {
                "the in-memory directory is full; raise its capacity (it is meant for tests)"
            }
            Self::Unauthorized => {
                "check the helpdesk API credentials and the account's permissions"
            }
            Self::RateLimited { .. } => {
                "the helpdesk API is rate limiting; lower provisioning concurrency"
            }
            Self::Unavailable(_) => {
                "check that the helpdesk is reachable; the operation can be retried"
            }
            Self::Backend(_) => "the helpdesk answered unexpectedly; see the error detail",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_retryability() {
        let all = [
            DirectoryError::CustomerNotFound("c".into()),
            DirectoryError::OrganizationNotFound("o".into()),
            DirectoryError::PortalNotFound("p".into()),
            DirectoryError::FieldUnknown("f".into()),
            DirectoryError::Invalid("x".into()),
            DirectoryError::CursorInvalid,
            DirectoryError::Full { capacity: 1 },
            DirectoryError::Unauthorized,
            DirectoryError::RateLimited { retry_after: None },
            DirectoryError::Unavailable("503".into()),
            DirectoryError::Backend("???".into()),
        ];
        let codes: std::collections::BTreeSet<_> = all.iter().map(CodedError::code).collect();
        assert_eq!(codes.len(), all.len());
        let retryable: Vec<_> = all
            .iter()
            .filter(|e| e.is_retryable())
            .map(CodedError::code)
            .collect();
        assert_eq!(
            retryable,
            ["core.directory.rate_limited", "core.directory.unavailable"]
        );
        for e in &all {
            assert!(e.code().starts_with("core.directory."));
            assert!(!e.hint().is_empty());
            let msg = e.to_string();
            assert!(!msg.ends_with('.'), "{msg}");
            assert_eq!(
                msg.chars().next().map(char::is_lowercase),
                Some(true),
                "{msg}"
            );
        }
        assert_eq!(
            DirectoryError::CustomerNotFound("c-9".into()).to_string(),
            "customer c-9 not found"
        );
    }
}
