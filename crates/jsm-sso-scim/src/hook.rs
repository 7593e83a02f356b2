//! The provisioning seam: [`ProvisioningHook`], called by the service for every change that
//! matters to the helpdesk, before the change is stored. The broker implements it with its
//! provisioning code (ensure customer, re-evaluate organizations and portals, deprovision).
//!
//! A hook error fails the SCIM call (the IdP retries), and the store keeps the old state, so
//! the two never drift apart on a failed step.

use std::collections::BTreeMap;

use async_trait::async_trait;
use http::StatusCode;
use jsm_sso_core::identity::IdpId;
use jsm_sso_core::{CodedError, Email};
use serde_json::Value;

use crate::schema::ENTERPRISE_USER_SCHEMA;
use crate::store::Resource;

/// A SCIM user as the provisioning code sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProvisionedUser {
    /// The IdP whose token made the call.
    pub idp: IdpId,
    /// The SCIM call's correlation id (shared with its audit events).
    pub correlation_id: String,
    /// The SCIM id.
    pub scim_id: String,
    /// The IdP's id for the user (`externalId`).
    pub external_id: Option<String>,
    /// The `userName`.
    pub user_name: String,
    /// The email to provision with: the primary email, else the first `work` one, else the
    /// first one, else `userName` when it is an address. `None` when none parses.
    pub email: Option<Email>,
    /// `displayName`, else `name.formatted`, else given and family name.
    pub display_name: Option<String>,
    /// `active` (absent counts as active).
    pub active: bool,
    /// The display names of the groups the user is a direct member of, sorted.
    pub groups: Vec<String>,
    /// Other single-valued string attributes for attribute rules: `title`, `userType`,
    /// `locale`, and the enterprise extension's `department`, `division`, `organization`,
    /// `costCenter`, `employeeNumber`.
    pub attributes: BTreeMap<String, Vec<String>>,
}

impl ProvisionedUser {
    /// Builds the view of a stored user with its group names.
    #[must_use]
    pub fn from_resource(
        idp: &IdpId,
        correlation_id: &str,
        user: &Resource,
        groups: Vec<String>,
    ) -> Self {
        let attrs = &user.attributes;
        let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        let emails: Vec<&Value> = attrs
            .get("emails")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let pick = |f: &dyn Fn(&&Value) -> bool| {
            emails
                .iter()
                .find(|e| f(e))
                .and_then(|e| e.get("value"))
                .and_then(Value::as_str)
        };
        let email = pick(&|e| e.get("primary") == Some(&Value::Bool(true)))
            .or_else(|| pick(&|e| e.get("type").and_then(Value::as_str) == Some("work")))
            .or_else(|| pick(&|_| true))
            .and_then(|e| e.parse::<Email>().ok())
            .or_else(|| {
                attrs
                    .get("userName")
                    .and_then(Value::as_str)
                    .and_then(|u| u.parse::<Email>().ok())
            });
        let name = attrs.get("name");
        let display_name = s(attrs.get("displayName"))
            .or_else(|| s(name.and_then(|n| n.get("formatted"))))
            .or_else(|| {
                let parts: Vec<String> = ["givenName", "familyName"]
                    .iter()
                    .filter_map(|k| s(name.and_then(|n| n.get(*k))))
                    .collect();
                (!parts.is_empty()).then(|| parts.join(" "))
            });
        let mut attributes = BTreeMap::new();
        for key in ["title", "userType", "locale", "preferredLanguage"] {
            if let Some(v) = s(attrs.get(key)) {
                attributes.insert(key.to_owned(), vec![v]);
            }
        }
        if let Some(ext) = attrs.get(ENTERPRISE_USER_SCHEMA) {
            for key in [
                "department",
                "division",
                "organization",
                "costCenter",
                "employeeNumber",
            ] {
                if let Some(v) = s(ext.get(key)) {
                    attributes.insert(key.to_owned(), vec![v]);
                }
            }
        }
        let mut groups = groups;
        groups.sort();
        groups.dedup();
        Self {
            idp: idp.clone(),
            correlation_id: correlation_id.to_owned(),
            scim_id: user.id.clone(),
            external_id: s(attrs.get("externalId")),
            user_name: s(attrs.get("userName")).unwrap_or_default(),
            email,
            display_name,
            active: attrs.get("active").and_then(Value::as_bool).unwrap_or(true),
            groups,
            attributes,
        }
    }
}

/// What happened to a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupEvent {
    /// It was created (with these members).
    Created,
    /// Its name or members changed.
    Updated,
    /// It was deleted (its members are `removed`).
    Deleted,
}

/// A group change, with every user whose group names changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupChange {
    /// The IdP whose token made the call.
    pub idp: IdpId,
    /// The SCIM call's correlation id (shared with its audit events).
    pub correlation_id: String,
    /// What happened.
    pub event: GroupEvent,
    /// The group's SCIM id.
    pub scim_id: String,
    /// The group's name after the change (before it, for a delete).
    pub display_name: String,
    /// The previous name, when it was renamed.
    pub previous_name: Option<String>,
    /// Users who joined, with their group names after the change.
    pub added: Vec<ProvisionedUser>,
    /// Users who left, with their group names after the change.
    pub removed: Vec<ProvisionedUser>,
    /// On a rename: the members who stayed, with their new group names.
    pub renamed: Vec<ProvisionedUser>,
}

/// The provisioning hook failed; the SCIM call fails and nothing is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("provisioning failed ({code}): {message}")]
pub struct HookError {
    /// The failing step's stable code (`jira.http.status`, `broker.provision.failed`).
    pub code: &'static str,
    /// What failed.
    pub message: String,
    /// Whether a retry may succeed (the response is 503 rather than 500).
    pub retryable: bool,
}

impl HookError {
    /// A hook error from any coded error.
    #[must_use]
    pub fn from_coded(error: &dyn CodedError, retryable: bool) -> Self {
        Self {
            code: error.code(),
            message: error.to_string(),
            retryable,
        }
    }

    /// The HTTP status the IdP sees.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        if self.retryable {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

impl CodedError for HookError {
    fn code(&self) -> &'static str {
        self.code
    }

    fn hint(&self) -> &'static str {
        "the provisioning step failed; see the error code and the audit event"
    }
}

/// Receives every provisioning-relevant SCIM change before it is stored.
///
/// Deactivation (`active: false`, by PUT or PATCH) arrives as [`user_deactivated`]; a
/// reactivation as [`user_updated`] with `active: true`. Group renames and membership changes
/// arrive as one [`group_changed`] call naming every user affected.
///
/// [`user_deactivated`]: ProvisioningHook::user_deactivated
/// [`user_updated`]: ProvisioningHook::user_updated
/// [`group_changed`]: ProvisioningHook::group_changed
#[async_trait]
pub trait ProvisioningHook: Send + Sync + std::fmt::Debug {
    /// A user was created.
    ///
    /// # Errors
    /// Any failure of the provisioning step.
    async fn user_created(&self, user: &ProvisionedUser) -> Result<(), HookError>;
    /// A user's attributes changed (including reactivation).
    ///
    /// # Errors
    /// Any failure of the provisioning step.
    async fn user_updated(&self, user: &ProvisionedUser) -> Result<(), HookError>;
    /// A user was deactivated: take their access away.
    ///
    /// # Errors
    /// Any failure of the provisioning step.
    async fn user_deactivated(&self, user: &ProvisionedUser) -> Result<(), HookError>;
    /// A user was deleted (the view shows the groups they were in).
    ///
    /// # Errors
    /// Any failure of the provisioning step.
    async fn user_deleted(&self, user: &ProvisionedUser) -> Result<(), HookError>;
    /// A group was created, renamed, changed members or was deleted.
    ///
    /// # Errors
    /// Any failure of the provisioning step.
    async fn group_changed(&self, change: &GroupChange) -> Result<(), HookError>;
}

/// A hook that does nothing: SCIM data is stored and audited only.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHook;

#[async_trait]
impl ProvisioningHook for NoHook {
    async fn user_created(&self, _: &ProvisionedUser) -> Result<(), HookError> {
        Ok(())
    }
    async fn user_updated(&self, _: &ProvisionedUser) -> Result<(), HookError> {
        Ok(())
    }
    async fn user_deactivated(&self, _: &ProvisionedUser) -> Result<(), HookError> {
        Ok(())
    }
    async fn user_deleted(&self, _: &ProvisionedUser) -> Result<(), HookError> {
        Ok(())
    }
    async fn group_changed(&self, _: &GroupChange) -> Result<(), HookError> {
        Ok(())
    }
}
