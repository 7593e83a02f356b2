//! Typed request and response bodies, as Atlassian's OpenAPI spec defines them
//! (`UserDTO`, `User`, `OrganizationDTO`, `ServiceDeskDTO`, `RequestTypeDTO`,
//! `CustomerRequestCreateMetaDTO`, `RequestCreateDTO`, `CustomerRequestDTO`,
//! `EntityProperty`). Unknown fields are ignored, so newer Jira answers still parse.

use serde::{Deserialize, Serialize};

/// A Jira user: a JSM customer, an agent or an app (`UserDTO` of the servicedeskapi,
/// `User` of the platform API).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct User {
    /// The Atlassian account id (Cloud).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The user key (Data Center).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The user name (Data Center).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `customer`, `atlassian` or `app` (platform API only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_type: Option<String>,
    /// The email, when the account's privacy settings and the caller's permissions show it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    /// The display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Whether the account is active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// The time zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl User {
    /// The id the API takes for this user: the account id (Cloud) or key (Data Center).
    #[must_use]
    pub fn id(&self) -> Option<&str> {
        self.account_id.as_deref().or(self.key.as_deref())
    }

    /// Whether the email matches `email`, ignoring ASCII case (as Jira matches emails).
    #[must_use]
    pub fn has_email(&self, email: &str) -> bool {
        self.email_address
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(email))
    }
}

/// A JSM organization (`OrganizationDTO`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Organization {
    /// The id (a number, as text).
    pub id: String,
    /// The name.
    pub name: String,
    /// Whether SCIM in Atlassian Guard manages it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub scim_managed: Option<bool>,
}

/// A service desk (`ServiceDeskDTO`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ServiceDesk {
    /// The service desk id.
    pub id: String,
    /// The project id.
    #[serde(default)]
    pub project_id: String,
    /// The project key.
    #[serde(default)]
    pub project_key: String,
    /// The project name.
    #[serde(default)]
    pub project_name: String,
}

/// A request type (`RequestTypeDTO`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RequestType {
    /// The id.
    pub id: String,
    /// The name.
    pub name: String,
    /// The description.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub description: Option<String>,
    /// Help text shown on the portal.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub help_text: Option<String>,
    /// The service desk.
    #[serde(default)]
    pub service_desk_id: String,
    /// The Jira issue type behind it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub issue_type_id: Option<String>,
    /// The groups it is shown in.
    #[serde(default)]
    pub group_ids: Vec<String>,
    /// The customer portal of its service desk.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub portal_id: Option<String>,
    /// Whether the caller may raise requests of this type.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub can_create_request: Option<bool>,
    /// The ITSM practice it belongs to (Cloud).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub practice: Option<String>,
    /// Whether only some customers may use it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub restriction_status: Option<RestrictionStatus>,
    /// Its icon.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub icon: Option<RequestTypeIcon>,
}

/// Whether a request type is open to every customer of its portal (`restrictionStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum RestrictionStatus {
    /// Every customer of the portal may use it.
    Open,
    /// Only the customers and groups it names may use it.
    Restricted,
    /// A value newer than the spec this crate was built from (decoded, never sent).
    #[serde(other)]
    Unknown,
}

/// A request type's icon (`RequestTypeIconDTO`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct RequestTypeIcon {
    /// The icon id.
    pub id: String,
    /// Its URLs by size.
    #[serde(rename = "_links")]
    pub links: RequestTypeIconLinks,
}

/// The URLs of a request type's icon (`RequestTypeIconLinkDTO`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct RequestTypeIconLinks {
    /// Size (`16x16`, `24x24`, `32x32`, `48x48`) to URL.
    pub icon_urls: std::collections::BTreeMap<String, String>,
}

/// A request type's fields (`CustomerRequestCreateMetaDTO`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct RequestTypeFields {
    /// Whether the caller may raise requests on behalf of a customer.
    pub can_raise_on_behalf_of: Option<bool>,
    /// Whether the caller may add participants.
    pub can_add_request_participants: Option<bool>,
    /// The fields.
    pub request_type_fields: Vec<RequestTypeField>,
}

/// One field of a request type (`RequestTypeFieldDTO`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RequestTypeField {
    /// The field id (`summary`, `customfield_10010`).
    pub field_id: String,
    /// The field's name on the portal.
    #[serde(default)]
    pub name: String,
    /// Whether a value is required.
    #[serde(default)]
    pub required: bool,
    /// Whether it is shown.
    #[serde(default)]
    pub visible: Option<bool>,
    /// The Jira schema (`{"type": "string", "custom": ...}`).
    #[serde(default)]
    pub jira_schema: Option<serde_json::Value>,
    /// Allowed values, for select fields.
    #[serde(default)]
    pub valid_values: Vec<FieldValue>,
}

/// An allowed value of a select field (`RequestTypeFieldValueDTO`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct FieldValue {
    /// The value sent in `requestFieldValues`.
    pub value: String,
    /// The label shown.
    pub label: String,
}

/// A customer request to raise (`RequestCreateDTO`).
///
/// ```
/// use jsm_sso_jira::model::NewRequest;
///
/// let request = NewRequest::new("10", "25")
///     .on_behalf_of("qm:1234")
///     .field("summary", "Cannot sign in")
///     .field("customfield_10010", serde_json::json!({"value": "Gold"}));
/// assert_eq!(request.request_field_values.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct NewRequest {
    /// The service desk.
    pub service_desk_id: String,
    /// The request type.
    pub request_type_id: String,
    /// The customer the request is raised for (account id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raise_on_behalf_of: Option<String>,
    /// Field id to value (custom fields included, in the shape Jira expects for the type).
    pub request_field_values: serde_json::Map<String, serde_json::Value>,
    /// Participants (account ids).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub request_participants: Vec<String>,
}

impl NewRequest {
    /// A request of `request_type_id` in `service_desk_id`, with no fields yet.
    pub fn new(service_desk_id: impl Into<String>, request_type_id: impl Into<String>) -> Self {
        Self {
            service_desk_id: service_desk_id.into(),
            request_type_id: request_type_id.into(),
            ..Self::default()
        }
    }

    /// Raises it on behalf of this customer.
    #[must_use]
    pub fn on_behalf_of(mut self, account_id: impl Into<String>) -> Self {
        self.raise_on_behalf_of = Some(account_id.into());
        self
    }

    /// Sets a field value.
    #[must_use]
    pub fn field(mut self, id: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.request_field_values.insert(id.into(), value.into());
        self
    }

    /// Adds a participant.
    #[must_use]
    pub fn participant(mut self, account_id: impl Into<String>) -> Self {
        self.request_participants.push(account_id.into());
        self
    }
}

/// A created customer request (the parts of `CustomerRequestDTO` callers use).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CustomerRequest {
    /// The issue id.
    pub issue_id: String,
    /// The issue key (`HELP-12`).
    pub issue_key: String,
    /// The request type.
    #[serde(default)]
    pub request_type_id: String,
    /// The service desk.
    #[serde(default)]
    pub service_desk_id: String,
    /// The reporter (the customer it was raised for).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default)]
    pub reporter: Option<User>,
}

/// An entity property (`EntityProperty`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(default)]
#[non_exhaustive]
pub struct EntityProperty {
    /// The key.
    pub key: String,
    /// The value (any JSON).
    pub value: serde_json::Value,
}

/// Property keys of an entity (`PropertyKeys`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default)]
pub(crate) struct PropertyKeys {
    pub(crate) keys: Vec<PropertyKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(default)]
pub(crate) struct PropertyKey {
    pub(crate) key: String,
}

/// One page of the servicedeskapi (`PagedDTO*`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SdPage<T> {
    #[serde(default)]
    pub(crate) is_last_page: Option<bool>,
    #[serde(default = "Vec::new")]
    pub(crate) values: Vec<T>,
}
