//! The OCSF 1.8.0 mapping, hand-written for the five IAM classes the vocabulary needs, and
//! the CloudEvents 1.0 envelope around it.
//!
//! | kinds | class | activity |
//! |---|---|---|
//! | `signin.*`, `mfa.passed`, `mfa.failed` | Authentication 3002 | 1 Logon |
//! | `policy.decided`, `gate.denied` | Authorize Session 3003 | 2 Assign Groups / 1 Assign Privileges |
//! | `customer.*`, `fields.written`, `portal.*`, `mfa.enrolled`, `scim.user_*` | Account Change 3001 | 1 Create, 99 Other (update), 7/8 Attach/Detach Policy (portal), 10 MFA Factor Enable, 5 Disable, 6 Delete |
//! | `organization.member_*` | Group Management 3006 | 3 Add User / 4 Remove User |
//! | `request.raised`, `scim.group_*`, `cleanup.*`, `policy.loaded/refused`, `audit.*` | Entity Management 3004 | 1 Create, 3 Update, 4 Delete, 99 Other |
//!
//! Every event carries the base attributes OCSF requires (`activity_id`, `category_uid` 3,
//! `class_uid`, `severity_id`, `time` in epoch milliseconds, `type_uid = class_uid * 100 +
//! activity_id`, `metadata.version` and `metadata.product`) and each class's required object
//! (`user`, `group` or `entity`). Our own details go under `unmapped`.

use serde_json::{Map, Value, json};

use crate::event::{Actor, AuditEvent, Details, EventKind};
use jsm_sso_core::identity::Protocol;

/// The OCSF schema version the mapping follows.
pub const OCSF_VERSION: &str = "1.8.0";

/// An OCSF event class used by the mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcsfClass {
    /// Account Change (3001).
    AccountChange,
    /// Authentication (3002).
    Authentication,
    /// Authorize Session (3003).
    AuthorizeSession,
    /// Entity Management (3004).
    EntityManagement,
    /// Group Management (3006).
    GroupManagement,
}

impl OcsfClass {
    /// `class_uid`.
    #[must_use]
    pub const fn uid(self) -> u32 {
        match self {
            Self::AccountChange => 3001,
            Self::Authentication => 3002,
            Self::AuthorizeSession => 3003,
            Self::EntityManagement => 3004,
            Self::GroupManagement => 3006,
        }
    }

    /// `class_name`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::AccountChange => "Account Change",
            Self::Authentication => "Authentication",
            Self::AuthorizeSession => "Authorize Session",
            Self::EntityManagement => "Entity Management",
            Self::GroupManagement => "Group Management",
        }
    }

    /// The schema browser path for the CloudEvents `dataschema`.
    #[must_use]
    pub const fn slug(self) -> &'static str {
        match self {
            Self::AccountChange => "account_change",
            Self::Authentication => "authentication",
            Self::AuthorizeSession => "authorize_session",
            Self::EntityManagement => "entity_management",
            Self::GroupManagement => "group_management",
        }
    }
}

/// The class and activity (`activity_id`, `activity_name`) an event kind maps to.
#[must_use]
pub const fn classify(kind: EventKind) -> (OcsfClass, u32, &'static str) {
    use EventKind as K;
    use OcsfClass as C;
    match kind {
        K::SigninStarted | K::SigninSucceeded | K::SigninFailed | K::MfaPassed | K::MfaFailed => {
            (C::Authentication, 1, "Logon")
        }
        K::PolicyDecided => (C::AuthorizeSession, 2, "Assign Groups"),
        K::GateDenied => (C::AuthorizeSession, 1, "Assign Privileges"),
        K::CustomerCreated | K::ScimUserCreated => (C::AccountChange, 1, "Create"),
        K::CustomerUpdated | K::FieldsWritten | K::ScimUserUpdated => {
            (C::AccountChange, 99, "Other")
        }
        K::PortalAccessGranted => (C::AccountChange, 7, "Attach Policy"),
        K::PortalAccessRevoked => (C::AccountChange, 8, "Detach Policy"),
        K::MfaEnrolled => (C::AccountChange, 10, "MFA Factor Enable"),
        K::ScimUserDeactivated => (C::AccountChange, 5, "Disable"),
        K::ScimUserDeleted | K::CustomerRemoved => (C::AccountChange, 6, "Delete"),
        K::OrganizationMemberAdded => (C::GroupManagement, 3, "Add User"),
        K::OrganizationMemberRemoved => (C::GroupManagement, 4, "Remove User"),
        K::RequestRaised | K::ScimGroupCreated => (C::EntityManagement, 1, "Create"),
        K::ScimGroupUpdated | K::ScimGroupDeactivated | K::PolicyLoaded | K::PolicyRefused => {
            (C::EntityManagement, 3, "Update")
        }
        K::ScimGroupDeleted | K::CleanupApplied => (C::EntityManagement, 4, "Delete"),
        K::CleanupPlanned | K::AuditGap | K::AuditRecovered => (C::EntityManagement, 99, "Other"),
    }
}

/// `auth_protocol_id`: 5 SAML, 4 OpenID, 6 OAuth 2.0.
#[must_use]
pub const fn auth_protocol(protocol: Protocol) -> (u32, &'static str) {
    match protocol {
        Protocol::Saml2 => (5, "SAML"),
        Protocol::Oidc => (4, "OpenID"),
        Protocol::OAuth2 => (6, "OAUTH 2.0"),
    }
}

/// The event as an OCSF 1.8.0 object.
#[must_use]
pub fn to_ocsf(event: &AuditEvent) -> Value {
    let kind = event.kind();
    let (class, activity_id, activity_name) = classify(kind);
    let success = event.outcome.is_success();
    let started = kind == EventKind::SigninStarted;
    let (status_id, status) = match (started, success) {
        (true, _) => (0, "Unknown"),
        (false, true) => (1, "Success"),
        (false, false) => (2, "Failure"),
    };
    let severity_id = match kind {
        EventKind::AuditGap | EventKind::AuditRecovered | EventKind::PolicyRefused => 4,
        _ if !success => 3,
        _ => 1,
    };
    let mut o = Map::new();
    o.insert("activity_id".into(), json!(activity_id));
    o.insert("activity_name".into(), json!(activity_name));
    o.insert("category_uid".into(), json!(3));
    o.insert(
        "category_name".into(),
        json!("Identity & Access Management"),
    );
    o.insert("class_uid".into(), json!(class.uid()));
    o.insert("class_name".into(), json!(class.name()));
    o.insert(
        "type_uid".into(),
        json!(u64::from(class.uid()) * 100 + u64::from(activity_id)),
    );
    o.insert(
        "type_name".into(),
        json!(format!("{}: {}", class.name(), activity_name)),
    );
    o.insert("severity_id".into(), json!(severity_id));
    o.insert("severity".into(), json!(severity_name(severity_id)));
    o.insert("time".into(), json!(event.time.unix_millis()));
    o.insert("status_id".into(), json!(status_id));
    o.insert("status".into(), json!(status));
    if let Some(code) = event.outcome.code() {
        o.insert("status_code".into(), json!(code));
    }
    o.insert("message".into(), json!(message(event)));
    o.insert("metadata".into(), metadata(event));
    if let Some(actor) = actor(event) {
        o.insert("actor".into(), actor);
    }
    if let Some(source) = &event.source {
        if let Some(ip) = &source.ip {
            o.insert("src_endpoint".into(), json!({ "ip": ip }));
        }
        if let Some(ua) = &source.user_agent {
            o.insert("http_request".into(), json!({ "user_agent": ua }));
        }
    }
    match class {
        OcsfClass::Authentication => {
            o.insert("user".into(), user(event));
            o.insert(
                "service".into(),
                json!({ "name": "jsm-sso portal sign-in" }),
            );
            o.insert("is_remote".into(), json!(true));
            if let Some(p) = event.protocol {
                let (id, name) = auth_protocol(p);
                o.insert("auth_protocol_id".into(), json!(id));
                o.insert("auth_protocol".into(), json!(name));
            }
            let mfa = matches!(kind, EventKind::MfaPassed | EventKind::MfaFailed)
                || matches!(event.details, Details::SigninSucceeded { mfa: true, .. });
            o.insert("is_mfa".into(), json!(mfa));
        }
        OcsfClass::AuthorizeSession => {
            o.insert("user".into(), user(event));
            let (groups, privileges) = match &event.details {
                Details::PolicyDecided {
                    organizations,
                    portals,
                    ..
                } => (
                    organizations
                        .iter()
                        .map(|g| json!({ "uid": g }))
                        .collect::<Vec<_>>(),
                    portals
                        .iter()
                        .map(|p| format!("portal:{p}"))
                        .collect::<Vec<_>>(),
                ),
                Details::GateDenied { portal } => (
                    Vec::new(),
                    portal.iter().map(|p| format!("portal:{p}")).collect(),
                ),
                _ => (Vec::new(), Vec::new()),
            };
            o.insert("groups".into(), json!(groups));
            o.insert("privileges".into(), json!(privileges));
        }
        OcsfClass::AccountChange => {
            o.insert("user".into(), user(event));
            if let Details::PortalAccessGranted { portal }
            | Details::PortalAccessRevoked { portal } = &event.details
            {
                o.insert(
                    "policy".into(),
                    json!({ "name": format!("portal:{portal}"), "uid": portal }),
                );
            }
        }
        OcsfClass::GroupManagement => {
            let org = match &event.details {
                Details::OrganizationMemberAdded { organization }
                | Details::OrganizationMemberRemoved { organization } => organization.clone(),
                _ => String::new(),
            };
            o.insert(
                "group".into(),
                json!({ "uid": org, "type": "JSM organization" }),
            );
            o.insert("user".into(), user(event));
        }
        OcsfClass::EntityManagement => {
            o.insert("entity".into(), entity(event));
        }
    }
    o.insert(
        "unmapped".into(),
        json!({ "jsm_sso": { "kind": kind.as_str(), "details": details_json(event), "idp": event.idp.as_ref().map(|i| i.as_str()) } }),
    );
    Value::Object(o)
}

const fn severity_name(id: u32) -> &'static str {
    match id {
        1 => "Informational",
        2 => "Low",
        3 => "Medium",
        4 => "High",
        _ => "Unknown",
    }
}

fn metadata(event: &AuditEvent) -> Value {
    let mut m = json!({
        "version": OCSF_VERSION,
        "product": {
            "name": "jsm-sso",
            "vendor_name": "jsm-sso",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "uid": event.id.to_string(),
        "event_code": event.kind().as_str(),
        "log_name": "jsm-sso-audit",
        "original_time": event.time.to_rfc3339(),
    });
    if let (Some(c), Some(map)) = (&event.correlation_id, m.as_object_mut()) {
        map.insert("correlation_uid".into(), json!(c));
    }
    m
}

/// The OCSF `user`: the customer's opaque id and pseudonymous subject, never an email unless
/// the privacy configuration keeps emails.
fn user(event: &AuditEvent) -> Value {
    let mut u = Map::new();
    match &event.customer {
        Some(c) => {
            let uid = c.id.as_ref().or(c.subject.as_ref()).or(c.email.as_ref());
            u.insert("uid".into(), json!(uid.map_or("unknown", String::as_str)));
            if let Some(name) = &c.display_name {
                u.insert("name".into(), json!(name));
            }
            if let Some(email) = &c.email {
                u.insert("email_addr".into(), json!(email));
            }
        }
        None => {
            u.insert("uid".into(), json!("unknown"));
        }
    }
    u.insert("type_id".into(), json!(1));
    u.insert("type".into(), json!("User"));
    Value::Object(u)
}

fn actor(event: &AuditEvent) -> Option<Value> {
    match &event.actor {
        Actor::Customer => None,
        Actor::Admin { id } => {
            Some(json!({ "user": { "uid": id, "type_id": 2, "type": "Admin" } }))
        }
        Actor::Idp { idp } => Some(json!({ "app_name": format!("idp:{idp}") })),
        Actor::System { component } => Some(json!({ "app_name": format!("jsm-sso:{component}") })),
    }
}

fn entity(event: &AuditEvent) -> Value {
    let (kind, uid) = match &event.details {
        Details::RequestRaised {
            portal,
            request_key,
        } => (
            "JSM request",
            request_key.clone().unwrap_or_else(|| portal.clone()),
        ),
        Details::ScimGroupCreated { scim_id, .. }
        | Details::ScimGroupUpdated { scim_id, .. }
        | Details::ScimGroupDeactivated { scim_id }
        | Details::ScimGroupDeleted { scim_id } => ("SCIM group", scim_id.clone()),
        Details::CleanupPlanned { .. } | Details::CleanupApplied { .. } => {
            ("stale-customer cleanup", event.id.to_string())
        }
        Details::PolicyLoaded { digest, .. } | Details::PolicyRefused { digest } => {
            ("access policy", digest.clone())
        }
        _ => ("audit log", event.id.to_string()),
    };
    json!({ "name": kind, "type": kind, "uid": uid })
}

fn details_json(event: &AuditEvent) -> Value {
    serde_json::to_value(&event.details)
        .ok()
        .and_then(|v| v.get("details").cloned())
        .unwrap_or(Value::Null)
}

fn message(event: &AuditEvent) -> String {
    match event.outcome.code() {
        Some(code) => format!("{} failed: {code}", event.kind()),
        None => event.kind().to_string(),
    }
}

/// Options of the CloudEvents envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CloudEventsOptions {
    /// `source`: a URI-reference naming this deployment (default `urn:jsm-sso:audit`).
    pub source: String,
    /// Prefix of `type`, reverse DNS (default `io.github.jsm-sso.audit`); the kind follows.
    pub type_prefix: String,
}

impl Default for CloudEventsOptions {
    fn default() -> Self {
        Self {
            source: "urn:jsm-sso:audit".to_owned(),
            type_prefix: "io.github.jsm-sso.audit".to_owned(),
        }
    }
}

/// The event as a CloudEvents 1.0 JSON event (structured mode) whose `data` is the OCSF
/// object. `id` is the event's UUIDv7; `subject` is the customer's opaque id or pseudonym
/// and is left out rather than ever being an email address.
#[must_use]
pub fn to_cloudevent(event: &AuditEvent, options: &CloudEventsOptions) -> Value {
    let (class, ..) = classify(event.kind());
    let mut ce = Map::new();
    ce.insert("specversion".into(), json!("1.0"));
    ce.insert("id".into(), json!(event.id.to_string()));
    ce.insert("source".into(), json!(options.source));
    ce.insert(
        "type".into(),
        json!(format!("{}.{}", options.type_prefix, event.kind())),
    );
    if let Some(subject) = pseudonymous_subject(event) {
        ce.insert("subject".into(), json!(subject));
    }
    ce.insert("time".into(), json!(event.time.to_rfc3339()));
    ce.insert("datacontenttype".into(), json!("application/json"));
    ce.insert(
        "dataschema".into(),
        json!(format!(
            "https://schema.ocsf.io/{OCSF_VERSION}/classes/{}",
            class.slug()
        )),
    );
    ce.insert("data".into(), to_ocsf(event));
    Value::Object(ce)
}

/// The customer's directory id, else the (pseudonymised) subject; never anything with an `@`.
fn pseudonymous_subject(event: &AuditEvent) -> Option<String> {
    let customer = event.customer.as_ref()?;
    [&customer.id, &customer.subject]
        .into_iter()
        .flatten()
        .find(|v| !v.contains('@'))
        .cloned()
}
