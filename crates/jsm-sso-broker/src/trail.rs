//! [`AuditContext`]: who and what an audited operation is about, and the recording helper.
//!
//! Every step goes to the audit crate's [`AuditLog`]. The log fails closed: when it cannot
//! record, the step fails with the log's code (`audit.log.unavailable`).

use std::sync::Arc;

use jsm_sso_audit::{Actor, AuditEvent, AuditLog, CustomerRef, Details, Source, Timestamp};
use jsm_sso_core::identity::{IdpId, Protocol};
use jsm_sso_core::{Clock, VerifiedIdentity};

use crate::error::Error;

/// What every audit event of one operation shares: the correlation id (one sign-in, one
/// SCIM call, one cleanup run), the actor, the IdP and the request's source.
#[derive(Debug, Clone, Default)]
pub struct AuditContext {
    pub(crate) correlation_id: Option<String>,
    pub(crate) actor: Option<Actor>,
    pub(crate) idp: Option<(IdpId, Protocol)>,
    pub(crate) source: Option<Source>,
    pub(crate) customer: Option<CustomerRef>,
}

impl AuditContext {
    /// A context with a correlation id.
    pub fn new(correlation_id: impl Into<String>) -> Self {
        Self {
            correlation_id: Some(correlation_id.into()),
            ..Self::default()
        }
    }

    /// Sets who acts (default: the system for cleanup, the customer for a sign-in).
    #[must_use]
    pub fn actor(mut self, actor: Actor) -> Self {
        self.actor = Some(actor);
        self
    }

    /// Sets the IdP and protocol involved.
    #[must_use]
    pub fn idp(mut self, idp: IdpId, protocol: Protocol) -> Self {
        self.idp = Some((idp, protocol));
        self
    }

    /// Sets where the request came from.
    #[must_use]
    pub fn source(mut self, source: Source) -> Self {
        self.source = Some(source);
        self
    }

    /// Sets the customer concerned.
    #[must_use]
    pub fn customer(mut self, customer: CustomerRef) -> Self {
        self.customer = Some(customer);
        self
    }

    /// The correlation id.
    #[must_use]
    pub fn correlation_id(&self) -> Option<&str> {
        self.correlation_id.as_deref()
    }

    pub(crate) fn with_identity(mut self, identity: &VerifiedIdentity) -> Self {
        self.idp = Some((identity.idp.clone(), identity.protocol));
        self.customer = Some(CustomerRef::from_identity(identity));
        self.actor = Some(Actor::Customer);
        self
    }

    pub(crate) fn with_customer_id(mut self, id: &str) -> Self {
        let customer = self.customer.take().unwrap_or_default();
        self.customer = Some(customer.with_id(id));
        self
    }
}

/// The log and the clock, shared by every part of the broker.
#[derive(Clone)]
pub(crate) struct Auditor {
    log: AuditLog,
    clock: Arc<dyn Clock>,
}

impl Auditor {
    pub(crate) fn new(log: AuditLog, clock: Arc<dyn Clock>) -> Self {
        Self { log, clock }
    }

    pub(crate) fn event(&self, context: &AuditContext, details: Details) -> AuditEvent {
        let mut event = AuditEvent::new(Timestamp::from_system_time(self.clock.now()), details);
        if let Some(id) = &context.correlation_id {
            event = event.with_correlation_id(id.clone());
        }
        if let Some((idp, protocol)) = &context.idp {
            event = event.with_idp(idp.clone(), *protocol);
        }
        if let Some(customer) = &context.customer {
            event = event.with_customer(customer.clone());
        }
        if let Some(actor) = &context.actor {
            event = event.with_actor(actor.clone());
        }
        if let Some(source) = &context.source {
            event = event.with_source(source.clone());
        }
        event
    }

    /// Records a successful step.
    pub(crate) async fn ok(&self, context: &AuditContext, details: Details) -> Result<(), Error> {
        self.log.record(self.event(context, details)).await?;
        Ok(())
    }

    /// Records a failed step with its code.
    pub(crate) async fn failed(
        &self,
        context: &AuditContext,
        details: Details,
        code: &str,
    ) -> Result<(), Error> {
        self.log
            .record(self.event(context, details).failed(code))
            .await?;
        Ok(())
    }
}
