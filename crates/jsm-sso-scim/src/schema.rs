//! The schemas this service provider speaks (RFC 7643 §4, §8.7): core User, the enterprise
//! extension and Group, as static attribute definitions. They drive input checking (types,
//! mutability, required), case rules in filters and uniqueness, what is returned, and the
//! `/Schemas` endpoint.

use serde_json::{Map, Value, json};

/// Core User schema URN.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Enterprise User extension URN.
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Group schema URN.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// ListResponse message URN.
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// PatchOp message URN.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Error message URN.
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// SearchRequest message URN.
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// ServiceProviderConfig schema URN.
pub const SERVICE_PROVIDER_CONFIG: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// ResourceType schema URN.
pub const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// Schema schema URN.
pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    /// A string.
    String,
    /// `true` / `false`.
    Boolean,
    /// A decimal number.
    Decimal,
    /// An integer.
    Integer,
    /// An RFC 3339 timestamp.
    DateTime,
    /// Base64 binary.
    Binary,
    /// A URI reference.
    Reference,
    /// Sub-attributes.
    Complex,
}

impl AttrType {
    /// The name `/Schemas` uses.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Decimal => "decimal",
            Self::Integer => "integer",
            Self::DateTime => "dateTime",
            Self::Binary => "binary",
            Self::Reference => "reference",
            Self::Complex => "complex",
        }
    }
}

/// Whether and how a client may change an attribute (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    /// Set by the service provider only; client values are ignored.
    ReadOnly,
    /// Client may read and write.
    ReadWrite,
    /// Set once, then only to the same value.
    Immutable,
    /// Client may write, never read back.
    WriteOnly,
}

/// When an attribute appears in responses (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    /// Always, even when `excludedAttributes` names it.
    Always,
    /// Unless excluded, or `attributes` is given without it.
    Default,
    /// Only when `attributes` names it.
    Request,
    /// Never.
    Never,
}

/// One attribute definition.
#[derive(Debug, Clone, Copy)]
pub struct Attribute {
    /// The attribute name, in its canonical case.
    pub name: &'static str,
    /// The data type.
    pub kind: AttrType,
    /// Multi-valued (a JSON array).
    pub multi_valued: bool,
    /// Required on create and replace.
    pub required: bool,
    /// String comparison is case-sensitive.
    pub case_exact: bool,
    /// Who may change it.
    pub mutability: Mutability,
    /// When it is returned.
    pub returned: Returned,
    /// `server` when values must be unique, otherwise `none`.
    pub unique: bool,
    /// Sub-attributes of a complex attribute.
    pub sub_attributes: &'static [Attribute],
    /// Suggested values (`work`, `home`).
    pub canonical_values: &'static [&'static str],
    /// For references: what they point at.
    pub reference_types: &'static [&'static str],
    /// Human description.
    pub description: &'static str,
}

impl Attribute {
    const fn new(name: &'static str, kind: AttrType, description: &'static str) -> Self {
        Self {
            name,
            kind,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            unique: false,
            sub_attributes: &[],
            canonical_values: &[],
            reference_types: &[],
            description,
        }
    }
    const fn string(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::String, description)
    }
    const fn boolean(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::Boolean, description)
    }
    const fn reference(
        name: &'static str,
        types: &'static [&'static str],
        description: &'static str,
    ) -> Self {
        let mut a = Self::new(name, AttrType::Reference, description);
        a.reference_types = types;
        a
    }
    const fn complex(
        name: &'static str,
        subs: &'static [Attribute],
        description: &'static str,
    ) -> Self {
        let mut a = Self::new(name, AttrType::Complex, description);
        a.sub_attributes = subs;
        a
    }
    const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    const fn read_only(mut self) -> Self {
        self.mutability = Mutability::ReadOnly;
        self
    }
    const fn immutable(mut self) -> Self {
        self.mutability = Mutability::Immutable;
        self
    }
    const fn always(mut self) -> Self {
        self.returned = Returned::Always;
        self
    }
    const fn unique(mut self) -> Self {
        self.unique = true;
        self
    }
    const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }

    /// The sub-attribute called `name` (case-insensitive).
    #[must_use]
    pub fn sub(&self, name: &str) -> Option<&'static Attribute> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Whether client input may set it.
    #[must_use]
    pub fn writable(&self) -> bool {
        !matches!(self.mutability, Mutability::ReadOnly)
    }

    /// The `/Schemas` representation.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!(self.kind.as_str()));
        m.insert("multiValued".into(), json!(self.multi_valued));
        m.insert("description".into(), json!(self.description));
        m.insert("required".into(), json!(self.required));
        if self.kind == AttrType::Complex {
            m.insert(
                "subAttributes".into(),
                Value::Array(self.sub_attributes.iter().map(Attribute::to_json).collect()),
            );
        } else {
            m.insert("caseExact".into(), json!(self.case_exact));
        }
        if !self.canonical_values.is_empty() {
            m.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        if !self.reference_types.is_empty() {
            m.insert("referenceTypes".into(), json!(self.reference_types));
        }
        let mutability = match self.mutability {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        };
        m.insert("mutability".into(), json!(mutability));
        let returned = match self.returned {
            Returned::Always => "always",
            Returned::Default => "default",
            Returned::Request => "request",
            Returned::Never => "never",
        };
        m.insert("returned".into(), json!(returned));
        if self.kind != AttrType::Complex && self.kind != AttrType::Boolean {
            m.insert(
                "uniqueness".into(),
                json!(if self.unique { "server" } else { "none" }),
            );
        }
        Value::Object(m)
    }
}

/// A schema: its URN and attributes.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// The URN.
    pub id: &'static str,
    /// Short name.
    pub name: &'static str,
    /// Description.
    pub description: &'static str,
    /// The attributes (without the common `id`, `externalId`, `meta`).
    pub attributes: &'static [Attribute],
}

impl Schema {
    /// The attribute called `name` (case-insensitive).
    #[must_use]
    pub fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The `/Schemas/{id}` representation; `location` is the endpoint's URL.
    #[must_use]
    pub fn to_json(&self, location: &str) -> Value {
        json!({
            "schemas": [SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(Attribute::to_json).collect::<Vec<_>>(),
            "meta": {"resourceType": "Schema", "location": location},
        })
    }
}

const TYPES_WHP: &[&str] = &["work", "home", "other"];

const MULTI_STRING_SUBS: &[Attribute] = &[
    Attribute::string("value", "The value."),
    Attribute::string("display", "A human-readable name."),
    Attribute::string("type", "A label for the value's function."),
    Attribute::boolean("primary", "The primary value."),
];

const EMAIL_SUBS: &[Attribute] = &[
    Attribute::string("value", "The email address."),
    Attribute::string("display", "A human-readable name."),
    Attribute::string("type", "A label: work, home, other.").canonical(TYPES_WHP),
    Attribute::boolean("primary", "The primary address."),
];

const PHONE_SUBS: &[Attribute] = &[
    Attribute::string("value", "The phone number."),
    Attribute::string("display", "A human-readable name."),
    Attribute::string("type", "A label: work, home, mobile, fax, pager, other.")
        .canonical(&["work", "home", "mobile", "fax", "pager", "other"]),
    Attribute::boolean("primary", "The primary number."),
];

const PHOTO_SUBS: &[Attribute] = &[
    Attribute::reference("value", &["external"], "The photo URL."),
    Attribute::string("display", "A human-readable name."),
    Attribute::string("type", "photo or thumbnail.").canonical(&["photo", "thumbnail"]),
    Attribute::boolean("primary", "The primary photo."),
];

const ADDRESS_SUBS: &[Attribute] = &[
    Attribute::string("formatted", "The full mailing address."),
    Attribute::string("streetAddress", "The street."),
    Attribute::string("locality", "City or locality."),
    Attribute::string("region", "State or region."),
    Attribute::string("postalCode", "Zip or postal code."),
    Attribute::string("country", "ISO 3166-1 alpha-2 country code."),
    Attribute::string("type", "A label: work, home, other.").canonical(TYPES_WHP),
    Attribute::boolean("primary", "The primary address."),
];

const USER_GROUP_SUBS: &[Attribute] = &[
    Attribute::string("value", "The group's id.").read_only(),
    Attribute::reference("$ref", &["User", "Group"], "The group's URI.").read_only(),
    Attribute::string("display", "The group's displayName.").read_only(),
    Attribute::string("type", "direct or indirect.")
        .read_only()
        .canonical(&["direct", "indirect"]),
];

const CERT_SUBS: &[Attribute] = &[
    Attribute::new("value", AttrType::Binary, "DER certificate, base64."),
    Attribute::string("display", "A human-readable name."),
    Attribute::string("type", "A label."),
    Attribute::boolean("primary", "The primary certificate."),
];

const NAME_SUBS: &[Attribute] = &[
    Attribute::string("formatted", "The full name."),
    Attribute::string("familyName", "The family name."),
    Attribute::string("givenName", "The given name."),
    Attribute::string("middleName", "The middle name."),
    Attribute::string("honorificPrefix", "Title prefix (Ms.)."),
    Attribute::string("honorificSuffix", "Title suffix (III)."),
];

const USER_ATTRIBUTES: &[Attribute] = &[
    Attribute::string(
        "userName",
        "Unique identifier for the user, typically used to sign in.",
    )
    .required()
    .unique(),
    Attribute::complex("name", NAME_SUBS, "The components of the user's name."),
    Attribute::string("displayName", "The name shown to people."),
    Attribute::string("nickName", "The casual name."),
    Attribute::reference("profileUrl", &["external"], "A profile page URL."),
    Attribute::string("title", "The job title."),
    Attribute::string("userType", "The relationship to the organization."),
    Attribute::string("preferredLanguage", "Preferred written or spoken language."),
    Attribute::string("locale", "Default location for localization."),
    Attribute::string("timezone", "IANA time zone."),
    Attribute::boolean("active", "Whether the user may sign in."),
    Attribute::complex("emails", EMAIL_SUBS, "Email addresses.").multi(),
    Attribute::complex("phoneNumbers", PHONE_SUBS, "Phone numbers.").multi(),
    Attribute::complex("ims", MULTI_STRING_SUBS, "Instant messaging addresses.").multi(),
    Attribute::complex("photos", PHOTO_SUBS, "Photo URLs.").multi(),
    Attribute::complex("addresses", ADDRESS_SUBS, "Physical mailing addresses.").multi(),
    Attribute::complex("groups", USER_GROUP_SUBS, "Groups the user belongs to.")
        .multi()
        .read_only(),
    Attribute::complex("entitlements", MULTI_STRING_SUBS, "Entitlements.").multi(),
    Attribute::complex("roles", MULTI_STRING_SUBS, "Roles.").multi(),
    Attribute::complex("x509Certificates", CERT_SUBS, "X.509 certificates.").multi(),
];

const MANAGER_SUBS: &[Attribute] = &[
    Attribute::string("value", "The manager's id."),
    Attribute::reference("$ref", &["User"], "The manager's URI."),
    Attribute::string("displayName", "The manager's displayName.").read_only(),
];

const ENTERPRISE_ATTRIBUTES: &[Attribute] = &[
    Attribute::string("employeeNumber", "Organization-assigned employee number."),
    Attribute::string("costCenter", "Cost center."),
    Attribute::string("organization", "Organization name."),
    Attribute::string("division", "Division name."),
    Attribute::string("department", "Department name."),
    Attribute::complex("manager", MANAGER_SUBS, "The user's manager."),
];

const MEMBER_SUBS: &[Attribute] = &[
    Attribute::string("value", "The member's id.")
        .exact()
        .immutable(),
    Attribute::reference("$ref", &["User", "Group"], "The member's URI.").immutable(),
    Attribute::string("display", "The member's name.").read_only(),
    Attribute::string("type", "User or Group.")
        .immutable()
        .canonical(&["User", "Group"]),
];

const GROUP_ATTRIBUTES: &[Attribute] = &[
    Attribute::string("displayName", "The group's name.").required(),
    Attribute::complex("members", MEMBER_SUBS, "Members of the group.").multi(),
];

/// The core User schema (RFC 7643 §4.1), without `password` (a sign-in broker never keeps
/// one: a password sent by an IdP is dropped).
pub const USER: Schema = Schema {
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: USER_ATTRIBUTES,
};

/// The enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE_USER: Schema = Schema {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: ENTERPRISE_ATTRIBUTES,
};

/// The Group schema (RFC 7643 §4.2).
pub const GROUP: Schema = Schema {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: GROUP_ATTRIBUTES,
};

/// Every schema, in `/Schemas` order.
pub const ALL: &[&Schema] = &[&USER, &ENTERPRISE_USER, &GROUP];

/// The `id` attribute common to all resources.
pub const ID: Attribute = Attribute::string("id", "Service provider's identifier.")
    .exact()
    .read_only()
    .always()
    .unique();
/// The `externalId` attribute common to all resources.
pub const EXTERNAL_ID: Attribute =
    Attribute::string("externalId", "The provisioning client's identifier.").exact();

const META_SUBS: &[Attribute] = &[
    Attribute::string("resourceType", "User or Group.")
        .exact()
        .read_only(),
    Attribute::new("created", AttrType::DateTime, "When it was created.").read_only(),
    Attribute::new("lastModified", AttrType::DateTime, "When it last changed.").read_only(),
    Attribute::reference("location", &["uri"], "Its URI.").read_only(),
    Attribute::string("version", "Its version (ETag).")
        .exact()
        .read_only(),
];
/// The `meta` attribute common to all resources.
pub const META: Attribute = Attribute::complex("meta", META_SUBS, "Resource metadata.").read_only();

/// A resource type this service provider serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    /// `/Users`.
    User,
    /// `/Groups`.
    Group,
}

impl ResourceKind {
    /// `User` or `Group`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Group => "Group",
        }
    }

    /// `/Users` or `/Groups`.
    #[must_use]
    pub const fn endpoint(self) -> &'static str {
        match self {
            Self::User => "/Users",
            Self::Group => "/Groups",
        }
    }

    /// The core schema.
    #[must_use]
    pub const fn schema(self) -> &'static Schema {
        match self {
            Self::User => &USER,
            Self::Group => &GROUP,
        }
    }

    /// The extension schemas.
    #[must_use]
    pub const fn extensions(self) -> &'static [&'static Schema] {
        match self {
            Self::User => &[&ENTERPRISE_USER],
            Self::Group => &[],
        }
    }

    /// The extension with URN `urn` (case-insensitive).
    #[must_use]
    pub fn extension(self, urn: &str) -> Option<&'static Schema> {
        self.extensions()
            .iter()
            .copied()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// A top-level attribute of the core schema, or a common one (`id`, `externalId`,
    /// `meta`).
    #[must_use]
    pub fn attribute(self, name: &str) -> Option<&'static Attribute> {
        self.schema().attribute(name).or_else(|| {
            [&ID, &EXTERNAL_ID, &META]
                .into_iter()
                .find(|a| a.name.eq_ignore_ascii_case(name))
        })
    }

    /// The `/ResourceTypes/{name}` representation.
    #[must_use]
    pub fn resource_type_json(self, base_url: &str) -> Value {
        let extensions: Vec<Value> = self
            .extensions()
            .iter()
            .map(|s| json!({"schema": s.id, "required": false}))
            .collect();
        json!({
            "schemas": [RESOURCE_TYPE],
            "id": self.name(),
            "name": self.name(),
            "endpoint": self.endpoint(),
            "description": self.schema().description,
            "schema": self.schema().id,
            "schemaExtensions": extensions,
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("{base_url}/ResourceTypes/{}", self.name()),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_are_case_insensitive() {
        assert_eq!(
            ResourceKind::User.attribute("USERNAME").map(|a| a.name),
            Some("userName")
        );
        assert_eq!(
            ResourceKind::User.attribute("externalid").map(|a| a.name),
            Some("externalId")
        );
        let emails = ResourceKind::User.attribute("emails").unwrap();
        assert_eq!(emails.sub("VALUE").map(|a| a.name), Some("value"));
        assert!(
            ResourceKind::User
                .extension(&ENTERPRISE_USER_SCHEMA.to_uppercase())
                .is_some()
        );
        assert!(ResourceKind::Group.attribute("userName").is_none());
    }

    #[test]
    fn schema_json_names_types_and_case_rules() {
        let json = USER.to_json("http://x/Schemas/u");
        let user_name = &json["attributes"][0];
        assert_eq!(user_name["name"], "userName");
        assert_eq!(user_name["caseExact"], false);
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["required"], true);
        let emails = json["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "emails")
            .unwrap();
        assert_eq!(emails["multiValued"], true);
        assert_eq!(emails["subAttributes"][0]["name"], "value");
    }
}
