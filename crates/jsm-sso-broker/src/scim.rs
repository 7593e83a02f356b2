//! SCIM provisioning through the broker's own [`Provisioner`]: [`ScimProvisioning`] is the
//! `jsm-sso-scim` [`ProvisioningHook`] of a [`Broker`].
//!
//! A SCIM user is turned into a [`VerifiedIdentity`] (its IdP, `externalId` or `userName` as
//! subject, its email, its group names, its enterprise attributes) and run through the same
//! access policy and the same [`Provisioner::apply`] as a sign-in, so SCIM and sign-in can
//! never disagree about a customer's organizations and portals:
//!
//! | SCIM change | what happens |
//! | --- | --- |
//! | user created or updated, active | policy decides; allow: `apply` (customer ensured, organizations and portals made to match); deny: `deprovision` |
//! | user deactivated (`active: false`) | `deprovision`: managed memberships and grants removed, customer marked for cleanup (with [`remove_on_deactivate`](ScimProvisioning::remove_on_deactivate): removed) |
//! | user deleted | `deprovision` and `remove` (with [`keep_on_delete`](ScimProvisioning::keep_on_delete): `deprovision` only) |
//! | group created, renamed, members changed, deleted | every active user whose group names changed is decided and applied again |
//!
//! Emails pushed by an IdP count as verified (usable by domain rules, and as the customer's
//! match key) only for IdPs configured with `trust_emails`; for any other IdP the call fails
//! with `broker.identity.email_unverified`, as an unverified sign-in does.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use jsm_sso_audit::Actor;
use jsm_sso_core::identity::{IdpId, Protocol, Subject};
use jsm_sso_core::{AccessPolicy, VerifiedIdentity};
use jsm_sso_scim::hook::{GroupChange, HookError, ProvisionedUser, ProvisioningHook};

use crate::Broker;
use crate::error::Error;
use crate::provision::{Person, Provisioner};
use crate::trail::AuditContext;

/// How one IdP's SCIM pushes are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ScimIdp {
    protocol: Protocol,
    trust_emails: bool,
}

/// The broker's [`ProvisioningHook`]; give it to `ScimServiceBuilder::hook`.
#[derive(Clone)]
pub struct ScimProvisioning {
    broker: Broker,
    provisioner: Provisioner,
    policy: Arc<dyn AccessPolicy>,
    idps: HashMap<IdpId, ScimIdp>,
    remove_on_deactivate: bool,
    remove_on_delete: bool,
}

impl std::fmt::Debug for ScimProvisioning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScimProvisioning")
            .field("idps", &self.idps)
            .field("remove_on_deactivate", &self.remove_on_deactivate)
            .field("remove_on_delete", &self.remove_on_delete)
            .finish_non_exhaustive()
    }
}

fn hook_error(e: &Error) -> HookError {
    // Configuration and policy outcomes do not get better by retrying.
    let permanent = matches!(
        e,
        Error::Denied { .. }
            | Error::EmailUnverified { .. }
            | Error::OrganizationUnknown { .. }
            | Error::UnknownIdp(_)
    );
    HookError::from_coded(e, !permanent)
}

impl ScimProvisioning {
    /// SCIM provisioning for `broker`, deciding with `policy` (the one the broker was built
    /// with). No IdP is accepted until configured with [`idp`](Self::idp).
    #[must_use]
    pub fn new(broker: &Broker, policy: Arc<dyn AccessPolicy>) -> Self {
        Self {
            broker: broker.clone(),
            provisioner: broker.provisioner().clone(),
            policy,
            idps: HashMap::new(),
            remove_on_deactivate: false,
            remove_on_delete: true,
        }
    }

    /// Accepts SCIM pushes from `idp` (the id its SCIM token is registered under, the same
    /// id its sign-ins carry). `protocol` is what identities built from its SCIM users say
    /// (policies see the same IdP either way); `trust_emails` vouches for the emails it
    /// pushes, as `email_verified` does for a sign-in.
    #[must_use]
    pub fn idp(mut self, idp: impl Into<IdpId>, protocol: Protocol, trust_emails: bool) -> Self {
        self.idps.insert(
            idp.into(),
            ScimIdp {
                protocol,
                trust_emails,
            },
        );
        self
    }

    /// Also remove the customer (not only their access) when the IdP deactivates the user
    /// (default: keep the customer, marked for cleanup).
    #[must_use]
    pub fn remove_on_deactivate(mut self, remove: bool) -> Self {
        self.remove_on_deactivate = remove;
        self
    }

    /// Keep the customer (access removed, marked for cleanup) when the IdP deletes the user
    /// (default: remove the customer).
    #[must_use]
    pub fn keep_on_delete(mut self, keep: bool) -> Self {
        self.remove_on_delete = !keep;
        self
    }

    fn context(user: &ProvisionedUser) -> AuditContext {
        AuditContext::new(user.correlation_id.clone()).actor(Actor::Idp {
            idp: user.idp.clone(),
        })
    }

    /// The identity a SCIM user stands for, or why there is none.
    fn identity(&self, user: &ProvisionedUser) -> Result<VerifiedIdentity, Error> {
        let config = self
            .idps
            .get(&user.idp)
            .ok_or_else(|| Error::UnknownIdp(user.idp.clone()))?;
        let subject = user
            .external_id
            .clone()
            .unwrap_or_else(|| user.user_name.clone());
        let mut identity = VerifiedIdentity::new(
            user.idp.clone(),
            config.protocol,
            Subject::new(subject),
            self.broker.now(),
        );
        identity.email.clone_from(&user.email);
        identity.email_verified = config.trust_emails && user.email.is_some();
        identity.groups.clone_from(&user.groups);
        identity.attributes.clone_from(&user.attributes);
        if let Some(name) = &user.display_name {
            identity
                .attributes
                .insert("displayName".to_owned(), vec![name.clone()]);
        }
        Ok(identity)
    }

    /// Decides and applies: the same path as a sign-in's provisioning step.
    async fn reconcile(&self, user: &ProvisionedUser) -> Result<(), Error> {
        if !user.active {
            return self.deprovision(user, self.on_deactivate()).await;
        }
        let identity = self.identity(user)?;
        let person = Person::from_identity(&identity)?;
        let decision = self.policy.decide(&identity);
        let context = Self::context(user);
        match self.provisioner.apply(&person, &decision, &context).await {
            Ok(_) => Ok(()),
            // The policy no longer allows this person: take away what the broker granted.
            Err(Error::Denied { .. }) => self
                .provisioner
                .deprovision(&person.email, &context)
                .await
                .map(|_| ()),
            Err(e) => Err(e),
        }
    }

    fn on_deactivate(&self) -> Option<&'static str> {
        self.remove_on_deactivate.then_some("scim.deactivated")
    }

    /// Takes the broker-managed access away; with a reason, removes the customer too.
    async fn deprovision(
        &self,
        user: &ProvisionedUser,
        remove: Option<&'static str>,
    ) -> Result<(), Error> {
        let identity = self.identity(user)?;
        let Some(email) = identity.verified_email().cloned() else {
            return Err(Error::EmailUnverified {
                idp: user.idp.clone(),
            });
        };
        let context = Self::context(user);
        self.provisioner.deprovision(&email, &context).await?;
        if let Some(reason) = remove {
            let directory = self.provisioner.directory();
            let found = directory
                .find_customer_by_email(&email)
                .await
                .map_err(|source| Error::Directory {
                    step: "find_customer",
                    source,
                })?;
            if let Some(customer) = found {
                self.provisioner.remove(&customer, reason, &context).await?;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl ProvisioningHook for ScimProvisioning {
    async fn user_created(&self, user: &ProvisionedUser) -> Result<(), HookError> {
        self.reconcile(user).await.map_err(|e| hook_error(&e))
    }

    async fn user_updated(&self, user: &ProvisionedUser) -> Result<(), HookError> {
        self.reconcile(user).await.map_err(|e| hook_error(&e))
    }

    async fn user_deactivated(&self, user: &ProvisionedUser) -> Result<(), HookError> {
        self.deprovision(user, self.on_deactivate())
            .await
            .map_err(|e| hook_error(&e))
    }

    async fn user_deleted(&self, user: &ProvisionedUser) -> Result<(), HookError> {
        self.deprovision(user, self.remove_on_delete.then_some("scim.deleted"))
            .await
            .map_err(|e| hook_error(&e))
    }

    async fn group_changed(&self, change: &GroupChange) -> Result<(), HookError> {
        for user in change
            .added
            .iter()
            .chain(&change.removed)
            .chain(&change.renamed)
            .filter(|u| u.active)
        {
            self.reconcile(user).await.map_err(|e| hook_error(&e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_and_configuration_errors_are_not_retryable() {
        let denied = Error::Denied { reason: None };
        assert!(!hook_error(&denied).retryable);
        assert_eq!(hook_error(&denied).code, "broker.policy.denied");
        let unverified = Error::EmailUnverified {
            idp: IdpId::from("okta"),
        };
        assert!(!hook_error(&unverified).retryable);
        assert!(!hook_error(&Error::UnknownIdp(IdpId::from("x"))).retryable);
        assert!(hook_error(&Error::StateUnknown).retryable);
    }
}
