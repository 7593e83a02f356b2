//! The event model: [`AuditEvent`], its closed vocabulary ([`EventKind`], [`Details`]) and the
//! parts every event shares.
//!
//! JSON shape (schema version [`SCHEMA_VERSION`], JSON Schema in
//! `docs/audit-event.schema.json`):
//!
//! ```json
//! {"id":"0194…","time":"2025-01-02T03:04:05.678Z","kind":"signin.succeeded",
//!  "details":{"mfa":false},"outcome":{"status":"success"},"actor":{"type":"customer"},
//!  "customer":{"id":"5b10ac8d82e05b22cc7d4ef5"},"idp":"entra","protocol":"saml2",
//!  "correlation_id":"c-42","source":{"ip":"203.0.113.7","user_agent":"Mozilla/5.0"}}
//! ```
//!
//! Optional parts are left out when absent. Unknown fields inside the parts are refused when
//! reading (serde cannot refuse them next to the flattened `kind`/`details` pair).

use jsm_sso_core::VerifiedIdentity;
use jsm_sso_core::identity::{IdpId, Protocol};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{EventId, Timestamp};

/// The version of the event JSON shape. It changes only when a field changes meaning or a
/// required field is added; new optional fields and new kinds do not change it.
pub const SCHEMA_VERSION: u32 = 1;

/// One audit event: what happened, to whom, on whose behalf, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[non_exhaustive]
pub struct AuditEvent {
    /// Time-ordered unique id (UUIDv7).
    pub id: EventId,
    /// When it happened.
    pub time: Timestamp,
    /// What happened, with the kind-specific details.
    #[serde(flatten)]
    pub details: Details,
    /// How it ended.
    pub outcome: Outcome,
    /// Who did it.
    pub actor: Actor,
    /// The customer concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<CustomerRef>,
    /// The identity provider involved, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub idp: Option<IdpId>,
    /// The sign-in protocol involved, if any (`saml2`, `oidc`, `oauth2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<ProtocolName>")]
    pub protocol: Option<Protocol>,
    /// Ties together the events of one sign-in (or one SCIM call, one cleanup run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Where the request came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

/// The JSON Schema stand-in for [`Protocol`], which lives in `jsm-sso-core` without schemars.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[expect(dead_code, reason = "only its JSON Schema is used")]
enum ProtocolName {
    Saml2,
    Oidc,
    Oauth2,
}

impl AuditEvent {
    /// A successful event of the given kind, by the system, now (per `time`), with a fresh id.
    #[must_use]
    pub fn new(time: Timestamp, details: Details) -> Self {
        Self {
            id: EventId::new_v7(time),
            time,
            details,
            outcome: Outcome::Success,
            actor: Actor::System {
                component: "jsm-sso".to_owned(),
            },
            customer: None,
            idp: None,
            protocol: None,
            correlation_id: None,
            source: None,
        }
    }

    /// The kind of event.
    #[must_use]
    pub fn kind(&self) -> EventKind {
        self.details.kind()
    }

    /// Sets the outcome.
    #[must_use]
    pub fn with_outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// Marks the event failed with an error code (`saml.signature.invalid`).
    #[must_use]
    pub fn failed(self, code: impl Into<String>) -> Self {
        self.with_outcome(Outcome::Failure { code: code.into() })
    }

    /// Sets the actor.
    #[must_use]
    pub fn with_actor(mut self, actor: Actor) -> Self {
        self.actor = actor;
        self
    }

    /// Sets the customer concerned.
    #[must_use]
    pub fn with_customer(mut self, customer: CustomerRef) -> Self {
        self.customer = Some(customer);
        self
    }

    /// Sets the identity provider and protocol.
    #[must_use]
    pub fn with_idp(mut self, idp: impl Into<IdpId>, protocol: Protocol) -> Self {
        self.idp = Some(idp.into());
        self.protocol = Some(protocol);
        self
    }

    /// Sets the correlation id.
    #[must_use]
    pub fn with_correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    /// Sets the request's source.
    #[must_use]
    pub fn with_source(mut self, source: Source) -> Self {
        self.source = Some(source);
        self
    }

    /// Fills customer, IdP and protocol from a verified sign-in; the actor becomes the
    /// customer.
    #[must_use]
    pub fn with_identity(self, identity: &VerifiedIdentity) -> Self {
        self.with_customer(CustomerRef::from_identity(identity))
            .with_idp(identity.idp.clone(), identity.protocol)
            .with_actor(Actor::Customer)
    }
}

/// How an event ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case", deny_unknown_fields)]
pub enum Outcome {
    /// It did what it set out to do.
    Success,
    /// It did not; `code` is the stable error code (`oidc.nonce.mismatch`, `policy.denied`).
    Failure {
        /// The stable error code.
        code: String,
    },
}

impl Outcome {
    /// `true` for [`Outcome::Success`].
    #[must_use]
    pub const fn is_success(&self) -> bool {
        matches!(self, Self::Success)
    }

    /// The error code of a failure.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Success => None,
            Self::Failure { code } => Some(code),
        }
    }
}

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Actor {
    /// The customer named in the event's `customer`.
    Customer,
    /// A portal administrator (or the integrator's admin tooling).
    Admin {
        /// The administrator's id in the integrator's system.
        id: String,
    },
    /// An identity provider, for SCIM calls it makes.
    Idp {
        /// The configured IdP id.
        #[schemars(with = "String")]
        idp: IdpId,
    },
    /// jsm-sso itself (cleanup, policy reload, the audit log).
    System {
        /// The component (`cleanup`, `policy`, `audit`).
        component: String,
    },
}

/// The customer an event concerns. Which of these fields are kept, pseudonymised or dropped
/// is the [`Privacy`](crate::Privacy) configuration's decision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CustomerRef {
    /// The directory's id (a Jira account id), an opaque value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The email, or its pseudonym.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The IdP subject (NameID or `sub`), or its pseudonym.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The display name, or its pseudonym.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

impl CustomerRef {
    /// A customer known by directory id.
    #[must_use]
    pub fn by_id(id: impl Into<String>) -> Self {
        Self {
            id: Some(id.into()),
            ..Self::default()
        }
    }

    /// The subject and email of a verified sign-in (before the directory id is known).
    #[must_use]
    pub fn from_identity(identity: &VerifiedIdentity) -> Self {
        Self {
            id: None,
            email: identity.email.as_ref().map(|e| e.as_str().to_owned()),
            subject: Some(identity.subject.value.clone()),
            display_name: None,
        }
    }

    /// Adds the directory id.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Adds an email.
    #[must_use]
    pub fn with_email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Adds the IdP subject.
    #[must_use]
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Adds the display name.
    #[must_use]
    pub fn with_display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }
}

/// Where a request came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Source {
    /// The client's IP address (or its pseudonym).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The client's `User-Agent` (or its pseudonym).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

impl Source {
    /// A source with an address and a user agent.
    #[must_use]
    pub fn new(ip: Option<String>, user_agent: Option<String>) -> Self {
        Self { ip, user_agent }
    }
}

/// The second factor used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MfaMethod {
    /// Time-based one-time password (RFC 6238).
    Totp,
    /// A one-time recovery code.
    RecoveryCode,
}

macro_rules! kinds {
    ($($(#[$doc:meta])* $variant:ident = $name:literal;)*) => {
        /// The closed vocabulary of event kinds. Exhaustive on purpose: a new kind is a new
        /// case every consumer must handle.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
        pub enum EventKind {
            $($(#[$doc])* #[serde(rename = $name)] $variant,)*
        }

        impl EventKind {
            /// Every kind, in vocabulary order.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant),*];

            /// The kind's name (`signin.succeeded`).
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $(EventKind::$variant => $name,)* }
            }
        }

        impl std::str::FromStr for EventKind {
            type Err = String;
            fn from_str(name: &str) -> Result<Self, String> {
                match name {
                    $($name => Ok(EventKind::$variant),)*
                    other => Err(format!("unknown event kind {other:?}")),
                }
            }
        }
    };
}

kinds! {
    /// A sign-in began (redirect to the IdP).
    SigninStarted = "signin.started";
    /// A sign-in finished with a portal session.
    SigninSucceeded = "signin.succeeded";
    /// A sign-in was refused (bad response, policy, MFA, provisioning).
    SigninFailed = "signin.failed";
    /// The access policy decided, naming the rules that matched.
    PolicyDecided = "policy.decided";
    /// A second factor was enrolled.
    MfaEnrolled = "mfa.enrolled";
    /// A second factor was checked and accepted.
    MfaPassed = "mfa.passed";
    /// A second factor was checked and refused.
    MfaFailed = "mfa.failed";
    /// A helpdesk customer was created.
    CustomerCreated = "customer.created";
    /// A helpdesk customer was updated.
    CustomerUpdated = "customer.updated";
    /// A helpdesk customer was removed (stale-customer cleanup, deprovisioning).
    CustomerRemoved = "customer.removed";
    /// A customer was added to an organization.
    OrganizationMemberAdded = "organization.member_added";
    /// A customer was removed from an organization.
    OrganizationMemberRemoved = "organization.member_removed";
    /// A customer was given access to a portal.
    PortalAccessGranted = "portal.access_granted";
    /// A customer's access to a portal was taken away.
    PortalAccessRevoked = "portal.access_revoked";
    /// Field values were written to the customer.
    FieldsWritten = "fields.written";
    /// A customer raised a request through the gate.
    RequestRaised = "request.raised";
    /// The portal gate refused a request.
    GateDenied = "gate.denied";
    /// SCIM: a user was created.
    ScimUserCreated = "scim.user_created";
    /// SCIM: a user was updated.
    ScimUserUpdated = "scim.user_updated";
    /// SCIM: a user was deactivated (`active: false`).
    ScimUserDeactivated = "scim.user_deactivated";
    /// SCIM: a user was deleted.
    ScimUserDeleted = "scim.user_deleted";
    /// SCIM: a group was created.
    ScimGroupCreated = "scim.group_created";
    /// SCIM: a group was updated (name or members).
    ScimGroupUpdated = "scim.group_updated";
    /// SCIM: a group was deactivated (a provider extension; plain SCIM groups have no state).
    ScimGroupDeactivated = "scim.group_deactivated";
    /// SCIM: a group was deleted.
    ScimGroupDeleted = "scim.group_deleted";
    /// Stale-customer cleanup worked out what it would remove.
    CleanupPlanned = "cleanup.planned";
    /// Stale-customer cleanup removed customers.
    CleanupApplied = "cleanup.applied";
    /// A policy file was loaded and is in force.
    PolicyLoaded = "policy.loaded";
    /// A policy file was refused; the previous one stays in force.
    PolicyRefused = "policy.refused";
    /// The audit log lost events (fail-open mode); names the missing sequence range.
    AuditGap = "audit.gap";
    /// The audit log found a crash-cut last line on start and sealed what came before.
    AuditRecovered = "audit.recovered";
}

/// What happened, with what matters for that kind. Serialized as `"kind": NAME` and
/// `"details": {...}` next to the event's other fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", content = "details", deny_unknown_fields)]
#[non_exhaustive]
pub enum Details {
    /// `signin.started`
    #[serde(rename = "signin.started")]
    SigninStarted {
        /// The email domain used for home-realm discovery, if the customer typed an email.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hint_domain: Option<String>,
    },
    /// `signin.succeeded`
    #[serde(rename = "signin.succeeded")]
    SigninSucceeded {
        /// Whether a second factor was checked.
        mfa: bool,
        /// When the portal session ends.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_expiry: Option<Timestamp>,
    },
    /// `signin.failed`; the reason is the outcome's code.
    #[serde(rename = "signin.failed")]
    SigninFailed {
        /// The step that refused: `response`, `policy`, `mfa`, `provisioning`, `session`.
        stage: String,
    },
    /// `policy.decided`
    #[serde(rename = "policy.decided")]
    PolicyDecided {
        /// Whether access was allowed.
        allow: bool,
        /// The names of the rules that matched, in order.
        matched_rules: Vec<String>,
        /// Organizations the decision puts the customer in.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        organizations: Vec<String>,
        /// Portals the decision grants.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        portals: Vec<String>,
        /// Whether a second factor is required.
        require_mfa: bool,
    },
    /// `mfa.enrolled`
    #[serde(rename = "mfa.enrolled")]
    MfaEnrolled {
        /// The factor.
        method: MfaMethod,
    },
    /// `mfa.passed`
    #[serde(rename = "mfa.passed")]
    MfaPassed {
        /// The factor.
        method: MfaMethod,
    },
    /// `mfa.failed`
    #[serde(rename = "mfa.failed")]
    MfaFailed {
        /// The factor.
        method: MfaMethod,
    },
    /// `customer.created`
    #[serde(rename = "customer.created")]
    CustomerCreated {},
    /// `customer.updated`
    #[serde(rename = "customer.updated")]
    CustomerUpdated {
        /// Names of the changed properties (never their values).
        changed: Vec<String>,
    },
    /// `customer.removed`
    #[serde(rename = "customer.removed")]
    CustomerRemoved {
        /// Why: `stale` (not seen for too long), `deprovisioned` (the IdP account is gone).
        reason: String,
    },
    /// `organization.member_added`
    #[serde(rename = "organization.member_added")]
    OrganizationMemberAdded {
        /// The organization id.
        organization: String,
    },
    /// `organization.member_removed`
    #[serde(rename = "organization.member_removed")]
    OrganizationMemberRemoved {
        /// The organization id.
        organization: String,
    },
    /// `portal.access_granted`
    #[serde(rename = "portal.access_granted")]
    PortalAccessGranted {
        /// The portal (service desk) id.
        portal: String,
    },
    /// `portal.access_revoked`
    #[serde(rename = "portal.access_revoked")]
    PortalAccessRevoked {
        /// The portal (service desk) id.
        portal: String,
    },
    /// `fields.written`
    #[serde(rename = "fields.written")]
    FieldsWritten {
        /// The field ids written (values stay out of the log: they may be personal).
        fields: Vec<String>,
    },
    /// `request.raised`
    #[serde(rename = "request.raised")]
    RequestRaised {
        /// The portal the request went to.
        portal: String,
        /// The issue key (`HELP-42`), once known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_key: Option<String>,
    },
    /// `gate.denied`; the reason is the outcome's code.
    #[serde(rename = "gate.denied")]
    GateDenied {
        /// The portal asked for, if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        portal: Option<String>,
    },
    /// `scim.user_created`
    #[serde(rename = "scim.user_created")]
    ScimUserCreated {
        /// The SCIM resource id.
        scim_id: String,
    },
    /// `scim.user_updated`
    #[serde(rename = "scim.user_updated")]
    ScimUserUpdated {
        /// The SCIM resource id.
        scim_id: String,
    },
    /// `scim.user_deactivated`
    #[serde(rename = "scim.user_deactivated")]
    ScimUserDeactivated {
        /// The SCIM resource id.
        scim_id: String,
    },
    /// `scim.user_deleted`
    #[serde(rename = "scim.user_deleted")]
    ScimUserDeleted {
        /// The SCIM resource id.
        scim_id: String,
    },
    /// `scim.group_created`
    #[serde(rename = "scim.group_created")]
    ScimGroupCreated {
        /// The SCIM resource id.
        scim_id: String,
        /// The group's display name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        display_name: Option<String>,
    },
    /// `scim.group_updated`
    #[serde(rename = "scim.group_updated")]
    ScimGroupUpdated {
        /// The SCIM resource id.
        scim_id: String,
        /// Members added (SCIM ids).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        added: Vec<String>,
        /// Members removed (SCIM ids).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        removed: Vec<String>,
    },
    /// `scim.group_deactivated`
    #[serde(rename = "scim.group_deactivated")]
    ScimGroupDeactivated {
        /// The SCIM resource id.
        scim_id: String,
    },
    /// `scim.group_deleted`
    #[serde(rename = "scim.group_deleted")]
    ScimGroupDeleted {
        /// The SCIM resource id.
        scim_id: String,
    },
    /// `cleanup.planned`
    #[serde(rename = "cleanup.planned")]
    CleanupPlanned {
        /// Customers that would be removed.
        candidates: u64,
        /// Customers not seen since this time count as stale.
        stale_before: Timestamp,
    },
    /// `cleanup.applied`
    #[serde(rename = "cleanup.applied")]
    CleanupApplied {
        /// Customers removed.
        removed: u64,
        /// Customers whose removal failed.
        failed: u64,
    },
    /// `policy.loaded`
    #[serde(rename = "policy.loaded")]
    PolicyLoaded {
        /// SHA-256 of the policy file (hex).
        digest: String,
        /// Number of rules.
        rules: u64,
    },
    /// `policy.refused`; the reason is the outcome's code.
    #[serde(rename = "policy.refused")]
    PolicyRefused {
        /// SHA-256 of the refused file (hex).
        digest: String,
    },
    /// `audit.gap`: events with sequence numbers `from..=to` were not recorded (fail-open).
    /// Written signed, so a verifier accepts the jump only with the key.
    #[serde(rename = "audit.gap")]
    AuditGap {
        /// First missing sequence number.
        from: u64,
        /// Last missing sequence number.
        to: u64,
    },
    /// `audit.recovered`: on start the log ended in a crash-cut line, which was removed.
    #[serde(rename = "audit.recovered")]
    AuditRecovered {
        /// Bytes of the partial line removed.
        truncated_bytes: u64,
        /// Sequence number of the last whole record before the crash.
        last_seq: u64,
    },
}

impl Details {
    /// The kind these details belong to.
    #[must_use]
    pub const fn kind(&self) -> EventKind {
        match self {
            Self::SigninStarted { .. } => EventKind::SigninStarted,
            Self::SigninSucceeded { .. } => EventKind::SigninSucceeded,
            Self::SigninFailed { .. } => EventKind::SigninFailed,
            Self::PolicyDecided { .. } => EventKind::PolicyDecided,
            Self::MfaEnrolled { .. } => EventKind::MfaEnrolled,
            Self::MfaPassed { .. } => EventKind::MfaPassed,
            Self::MfaFailed { .. } => EventKind::MfaFailed,
            Self::CustomerCreated {} => EventKind::CustomerCreated,
            Self::CustomerUpdated { .. } => EventKind::CustomerUpdated,
            Self::CustomerRemoved { .. } => EventKind::CustomerRemoved,
            Self::OrganizationMemberAdded { .. } => EventKind::OrganizationMemberAdded,
            Self::OrganizationMemberRemoved { .. } => EventKind::OrganizationMemberRemoved,
            Self::PortalAccessGranted { .. } => EventKind::PortalAccessGranted,
            Self::PortalAccessRevoked { .. } => EventKind::PortalAccessRevoked,
            Self::FieldsWritten { .. } => EventKind::FieldsWritten,
            Self::RequestRaised { .. } => EventKind::RequestRaised,
            Self::GateDenied { .. } => EventKind::GateDenied,
            Self::ScimUserCreated { .. } => EventKind::ScimUserCreated,
            Self::ScimUserUpdated { .. } => EventKind::ScimUserUpdated,
            Self::ScimUserDeactivated { .. } => EventKind::ScimUserDeactivated,
            Self::ScimUserDeleted { .. } => EventKind::ScimUserDeleted,
            Self::ScimGroupCreated { .. } => EventKind::ScimGroupCreated,
            Self::ScimGroupUpdated { .. } => EventKind::ScimGroupUpdated,
            Self::ScimGroupDeactivated { .. } => EventKind::ScimGroupDeactivated,
            Self::ScimGroupDeleted { .. } => EventKind::ScimGroupDeleted,
            Self::CleanupPlanned { .. } => EventKind::CleanupPlanned,
            Self::CleanupApplied { .. } => EventKind::CleanupApplied,
            Self::PolicyLoaded { .. } => EventKind::PolicyLoaded,
            Self::PolicyRefused { .. } => EventKind::PolicyRefused,
            Self::AuditGap { .. } => EventKind::AuditGap,
            Self::AuditRecovered { .. } => EventKind::AuditRecovered,
        }
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
