//! The policy seam: [`AccessPolicy`] turns a [`VerifiedIdentity`] into a [`Decision`].

use std::collections::BTreeMap;

use crate::VerifiedIdentity;
use crate::directory::{OrganizationId, PortalId};

/// Allow or deny. Exhaustive on purpose: a new outcome must break callers' builds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)
)]
pub enum Effect {
    /// The customer may proceed (to MFA if required, then provisioning).
    Allow,
    /// The customer may not sign in.
    Deny {
        /// A message safe to show the customer (no rule names, no attribute values);
        /// `None` shows a generic one.
        #[cfg_attr(feature = "serde", serde(default))]
        reason: Option<String>,
    },
}

/// An organization a policy puts the customer in: by directory id, or by name for the
/// directory to resolve ([`CustomerDirectory::resolve_organization`]).
///
/// In JSON: `{"id": "12"}` or `{"name": "Acme Corp"}`.
///
/// [`CustomerDirectory::resolve_organization`]: crate::CustomerDirectory::resolve_organization
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum OrganizationRef {
    /// The directory's own id.
    Id(OrganizationId),
    /// The organization's display name, matched exactly.
    Name(String),
}

/// How a policy step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum StepOutcome {
    /// The rule's conditions held; its effect applies.
    Matched,
    /// The rule's conditions did not hold.
    NotMatched,
    /// The rule was not evaluated (an earlier rule decided, or it does not apply to this
    /// IdP or protocol).
    Skipped,
}

/// One step of an [`Explanation`]: a rule, how it went, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Step {
    /// The rule's name in the policy.
    pub rule: String,
    /// How it went.
    pub outcome: StepOutcome,
    /// Why, for an administrator: `"email domain example.com is in [example.com]"`.
    pub detail: String,
}

/// Why a [`Decision`] came out as it did: the steps in evaluation order.
///
/// For administrators and the audit log; it may name attribute values, so it is never
/// shown to the customer (the customer sees [`Effect::Deny::reason`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Explanation {
    /// The steps, in evaluation order.
    pub steps: Vec<Step>,
}

impl Explanation {
    /// Appends a step.
    pub fn push(
        &mut self,
        rule: impl Into<String>,
        outcome: StepOutcome,
        detail: impl Into<String>,
    ) {
        self.steps.push(Step {
            rule: rule.into(),
            outcome,
            detail: detail.into(),
        });
    }

    /// The steps whose rule matched, in order.
    pub fn matched(&self) -> impl Iterator<Item = &Step> {
        self.steps
            .iter()
            .filter(|s| s.outcome == StepOutcome::Matched)
    }
}

/// What the policy decided for one identity.
///
/// When the effect is [`Effect::Deny`] the other fields carry nothing the caller may act
/// on; [`Decision::deny`] leaves them empty. The struct is `#[non_exhaustive]` so fields
/// can be added; start from [`Decision::allow`] or [`Decision::deny`].
///
/// ```
/// use jsm_sso_core::Decision;
/// use jsm_sso_core::decision::{OrganizationRef, StepOutcome};
/// use jsm_sso_core::directory::PortalId;
///
/// let mut decision = Decision::allow();
/// decision.organizations.push(OrganizationRef::Name("Acme Corp".into()));
/// decision.portals.push(PortalId::from("3"));
/// decision.require_mfa = true;
/// decision.explanation.push("acme-staff", StepOutcome::Matched, "domain acme.example");
/// assert!(decision.is_allowed());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct Decision {
    /// Allow or deny.
    pub effect: Effect,
    /// Organizations the customer must belong to.
    #[cfg_attr(feature = "serde", serde(default))]
    pub organizations: Vec<OrganizationRef>,
    /// Portals (service desks) the customer may use.
    #[cfg_attr(feature = "serde", serde(default))]
    pub portals: Vec<PortalId>,
    /// Customer field values to set: field id to value.
    #[cfg_attr(feature = "serde", serde(default))]
    pub fields: BTreeMap<String, String>,
    /// Whether a second factor is required before provisioning.
    #[cfg_attr(feature = "serde", serde(default))]
    pub require_mfa: bool,
    /// Why.
    #[cfg_attr(feature = "serde", serde(default))]
    pub explanation: Explanation,
}

impl Decision {
    /// An allow with no organizations, portals or fields, no MFA and no explanation yet.
    #[must_use]
    pub fn allow() -> Self {
        Self::with_effect(Effect::Allow)
    }

    /// A deny with an optional customer-facing reason.
    #[must_use]
    pub fn deny(reason: Option<String>) -> Self {
        Self::with_effect(Effect::Deny { reason })
    }

    fn with_effect(effect: Effect) -> Self {
        Self {
            effect,
            organizations: Vec::new(),
            portals: Vec::new(),
            fields: BTreeMap::new(),
            require_mfa: false,
            explanation: Explanation::default(),
        }
    }

    /// Whether the effect is [`Effect::Allow`].
    #[must_use]
    pub fn is_allowed(&self) -> bool {
        matches!(self.effect, Effect::Allow)
    }
}

/// Decides what a verified identity may do.
///
/// Contract:
///
/// - **Pure and synchronous**: no I/O, no clock reads, no randomness. The same identity
///   (and the same policy) always gives the same decision, so `jsm-sso policy explain` can
///   replay it from JSON.
/// - **Total**: it always returns a decision. A policy that cannot decide (no rule
///   matches) denies; it never panics.
/// - **Trusts only the identity**: use [`VerifiedIdentity::verified_email`] for anything
///   keyed on the email domain.
/// - The [`Decision::explanation`] names every rule considered, in order.
///
/// Object-safe and `Send + Sync`, so a broker holds an `Arc<dyn AccessPolicy>`.
pub trait AccessPolicy: Send + Sync {
    /// The decision for this identity.
    fn decide(&self, identity: &VerifiedIdentity) -> Decision;
}

impl<P: AccessPolicy + ?Sized> AccessPolicy for std::sync::Arc<P> {
    fn decide(&self, identity: &VerifiedIdentity) -> Decision {
        (**self).decide(identity)
    }
}

/// **For tests and examples**: a policy that gives the same decision to everyone,
/// with one explanation step saying so. Not a real policy; see `jsm-sso-policy`.
#[derive(Debug, Clone)]
pub struct StaticPolicy {
    decision: Decision,
}

impl StaticPolicy {
    /// A policy that always answers with `decision`.
    #[must_use]
    pub fn new(decision: Decision) -> Self {
        Self { decision }
    }
}

impl AccessPolicy for StaticPolicy {
    fn decide(&self, identity: &VerifiedIdentity) -> Decision {
        let mut decision = self.decision.clone();
        decision.explanation.push(
            "static",
            StepOutcome::Matched,
            format!(
                "static policy answers every identity the same (idp {}, subject {})",
                identity.idp, identity.subject.value
            ),
        );
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{Protocol, Subject};
    use std::sync::Arc;
    use std::time::SystemTime;

    #[test]
    fn constructors() {
        assert!(Decision::allow().is_allowed());
        let deny = Decision::deny(Some("ask your administrator".into()));
        assert!(!deny.is_allowed());
        assert_eq!(
            deny.effect,
            Effect::Deny {
                reason: Some("ask your administrator".into())
            }
        );
        assert!(deny.portals.is_empty() && deny.organizations.is_empty());
    }

    #[test]
    fn static_policy_works_as_dyn_and_explains() {
        let mut allow = Decision::allow();
        allow.portals.push(PortalId::from("1"));
        let policy: Arc<dyn AccessPolicy> = Arc::new(StaticPolicy::new(allow));
        let id = VerifiedIdentity::new(
            "okta",
            Protocol::Oidc,
            Subject::new("s1"),
            SystemTime::UNIX_EPOCH,
        );
        let d = policy.decide(&id);
        assert!(d.is_allowed());
        assert_eq!(d.portals, [PortalId::from("1")]);
        let matched: Vec<_> = d.explanation.matched().collect();
        assert_eq!(matched.len(), 1);
        assert_eq!(matched[0].rule, "static");
        assert!(matched[0].detail.contains("okta"));
        // Same input, same output.
        assert_eq!(policy.decide(&id), d);
    }

    #[test]
    fn explanation_filters_matched_steps() {
        let mut e = Explanation::default();
        e.push("a", StepOutcome::NotMatched, "no");
        e.push("b", StepOutcome::Matched, "yes");
        e.push("c", StepOutcome::Skipped, "decided");
        let names: Vec<_> = e.matched().map(|s| s.rule.as_str()).collect();
        assert_eq!(names, ["b"]);
    }
}
