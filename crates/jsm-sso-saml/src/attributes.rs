//! Assertion attributes, and where each IdP puts the email address and the groups.

use std::collections::BTreeMap;

use jsm_sso_xmldsig::Element;

use crate::error::Error;
use crate::ns::{SAML, XSI};

/// `NameID` format of an email address.
pub const NAME_ID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

const EMAIL_CLAIM: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress";
const ADFS_EMAIL_CLAIM: &str = "http://schemas.xmlsoap.org/claims/EmailAddress";
const MAIL_OID: &str = "urn:oid:0.9.2342.19200300.100.1.3";
const ENTRA_GROUPS_CLAIM: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups";
const ROLE_CLAIM: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role";
const ADFS_GROUP_CLAIM: &str = "http://schemas.xmlsoap.org/claims/Group";
const IS_MEMBER_OF_OID: &str = "urn:oid:1.3.6.1.4.1.5923.1.5.1.1";
const EDU_PERSON_AFFILIATION_OID: &str = "urn:oid:1.3.6.1.4.1.5923.1.1.1.1";

/// Where an IdP puts the email address and the groups, and whether its email is trusted.
///
/// Names are matched against both an attribute's `Name` and its `FriendlyName`; short names
/// (without `:` or `/`) case-insensitively, URIs and OIDs exactly. The first name in each list
/// that is present wins.
///
/// ```
/// use jsm_sso_saml::AttributeProfile;
/// let okta = AttributeProfile::okta().with_group_attributes(["departmentGroups"]);
/// assert_eq!(okta.group_attributes(), ["departmentGroups"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeProfile {
    email: Vec<String>,
    groups: Vec<String>,
    email_from_name_id: bool,
    email_from_unspecified_name_id: bool,
    email_verified: bool,
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

impl AttributeProfile {
    /// Every common spelling: email from an emailAddress-format NameID or an `email` / `mail` /
    /// `emailaddress` attribute (short names, claim URIs and OIDs alike); groups from `groups` /
    /// `memberOf` / the Entra and ADFS group claim URIs / `isMemberOf`.
    pub fn generic() -> Self {
        AttributeProfile {
            email: names(&[
                "email",
                "mail",
                "emailaddress",
                "emailAddress",
                EMAIL_CLAIM,
                ADFS_EMAIL_CLAIM,
                MAIL_OID,
                "urn:oid:1.2.840.113549.1.9.1",
            ]),
            groups: names(&[
                "groups",
                "memberOf",
                ENTRA_GROUPS_CLAIM,
                ADFS_GROUP_CLAIM,
                IS_MEMBER_OF_OID,
                "Role",
                ROLE_CLAIM,
            ]),
            email_from_name_id: true,
            email_from_unspecified_name_id: false,
            email_verified: true,
        }
    }

    /// Microsoft Entra ID: the `emailaddress` claim URI, groups from the groups claim (object
    /// IDs unless the app is set to emit names) or app roles.
    pub fn entra() -> Self {
        AttributeProfile {
            email: names(&[
                EMAIL_CLAIM,
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
            ]),
            groups: names(&[ENTRA_GROUPS_CLAIM, ROLE_CLAIM]),
            email_from_name_id: true,
            email_from_unspecified_name_id: false,
            email_verified: true,
        }
    }

    /// AD FS: the emailaddress claim URIs, groups from the Group or role claims.
    pub fn adfs() -> Self {
        AttributeProfile {
            email: names(&[EMAIL_CLAIM, ADFS_EMAIL_CLAIM]),
            groups: names(&[ADFS_GROUP_CLAIM, ROLE_CLAIM, ENTRA_GROUPS_CLAIM]),
            email_from_name_id: true,
            email_from_unspecified_name_id: false,
            email_verified: true,
        }
    }

    /// Okta: `email` and a `groups` attribute statement as usually configured.
    pub fn okta() -> Self {
        AttributeProfile {
            email: names(&["email", "user.email", "mail"]),
            groups: names(&["groups", "memberOf"]),
            email_from_name_id: true,
            email_from_unspecified_name_id: true,
            email_verified: true,
        }
    }

    /// Google Workspace: the primary email is the NameID; groups via a mapped `groups`
    /// attribute.
    pub fn google() -> Self {
        AttributeProfile {
            email: names(&["email", "mail"]),
            groups: names(&["groups", "Groups"]),
            email_from_name_id: true,
            email_from_unspecified_name_id: true,
            email_verified: true,
        }
    }

    /// Keycloak: `email` (user property mapper), groups from the group list mapper, or
    /// realm roles (`Role`).
    pub fn keycloak() -> Self {
        AttributeProfile {
            email: names(&["email", "urn:oid:1.2.840.113549.1.9.1", MAIL_OID]),
            groups: names(&["groups", "member", "Role"]),
            email_from_name_id: true,
            email_from_unspecified_name_id: false,
            email_verified: true,
        }
    }

    /// Shibboleth IdP: eduPerson / inetOrgPerson OIDs.
    pub fn shibboleth() -> Self {
        AttributeProfile {
            email: names(&[MAIL_OID, "mail"]),
            groups: names(&[
                IS_MEMBER_OF_OID,
                EDU_PERSON_AFFILIATION_OID,
                "isMemberOf",
                "eduPersonAffiliation",
            ]),
            email_from_name_id: false,
            email_from_unspecified_name_id: false,
            email_verified: true,
        }
    }

    /// Looks a profile up by name (`generic`, `entra`, `adfs`, `okta`, `google`, `keycloak`,
    /// `shibboleth`).
    pub fn named(name: &str) -> Option<Self> {
        Some(match name {
            "generic" => Self::generic(),
            "entra" | "azure" | "azuread" => Self::entra(),
            "adfs" => Self::adfs(),
            "okta" => Self::okta(),
            "google" => Self::google(),
            "keycloak" => Self::keycloak(),
            "shibboleth" => Self::shibboleth(),
            _ => return None,
        })
    }

    /// Replaces the attribute names searched for the email.
    #[must_use]
    pub fn with_email_attributes<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        names: I,
    ) -> Self {
        self.email = names.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the attribute names searched for groups.
    #[must_use]
    pub fn with_group_attributes<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        names: I,
    ) -> Self {
        self.groups = names.into_iter().map(Into::into).collect();
        self
    }

    /// Whether an emailAddress-format NameID counts as the email.
    #[must_use]
    pub fn with_email_from_name_id(mut self, yes: bool) -> Self {
        self.email_from_name_id = yes;
        self
    }

    /// Whether a NameID without a format (or the `unspecified` format) counts as the email
    /// when it is an email address: Google Workspace names users by primary email that way,
    /// and Okta does with its default `Unspecified` format and email usernames.
    #[must_use]
    pub fn with_email_from_unspecified_name_id(mut self, yes: bool) -> Self {
        self.email_from_unspecified_name_id = yes;
        self
    }

    /// Whether this IdP's email is vouched for (default yes: the IdP is the organisation's
    /// directory). Set to `false` for IdPs where users can type in any address; policy rules
    /// on email domains then never match their users.
    #[must_use]
    pub fn with_email_verified(mut self, yes: bool) -> Self {
        self.email_verified = yes;
        self
    }

    /// The attribute names searched for the email.
    pub fn email_attributes(&self) -> &[String] {
        &self.email
    }

    /// The attribute names searched for groups.
    pub fn group_attributes(&self) -> &[String] {
        &self.groups
    }

    /// Whether the IdP's email is trusted as verified.
    pub fn email_verified(&self) -> bool {
        self.email_verified
    }

    /// Whether an emailAddress-format NameID counts as the email.
    pub fn email_from_name_id(&self) -> bool {
        self.email_from_name_id
    }

    /// Whether a NameID with no or the `unspecified` format counts as the email when it is
    /// an email address.
    pub fn email_from_unspecified_name_id(&self) -> bool {
        self.email_from_unspecified_name_id
    }
}

/// One `saml:Attribute`: its names and values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// The `Name`.
    pub name: String,
    /// The `FriendlyName`, if given.
    pub friendly_name: Option<String>,
    /// The values, in order (`xsi:nil` values left out).
    pub values: Vec<String>,
}

/// The attributes of an assertion, by `Name`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    list: Vec<Attribute>,
}

fn name_matches(wanted: &str, candidate: &str) -> bool {
    if wanted.contains(':') || wanted.contains('/') {
        wanted == candidate
    } else {
        wanted.eq_ignore_ascii_case(candidate)
    }
}

impl Attributes {
    /// Reads every `AttributeStatement/Attribute` of a (verified) assertion, refusing an
    /// attribute `Name` that appears twice (attribute pollution: two values sources for one
    /// claim, of which a lax reader might take the attacker's).
    pub(crate) fn read(assertion: Element<'_>) -> Result<Self, Error> {
        let mut list: Vec<Attribute> = Vec::new();
        for statement in assertion.children_named(SAML, "AttributeStatement") {
            for attribute in statement.children_named(SAML, "Attribute") {
                let name = attribute
                    .attribute("Name")
                    .ok_or_else(|| Error::malformed("Attribute", "Attribute without Name"))?;
                if list.iter().any(|a| a.name == name) {
                    return Err(Error::DuplicateAttribute {
                        name: name.to_owned(),
                    });
                }
                let values = attribute
                    .children_named(SAML, "AttributeValue")
                    .filter(|v| !matches!(v.attribute_ns(XSI, "nil"), Some("true" | "1")))
                    .map(|v| match v.child_elements().next() {
                        // A structured value (eduPersonTargetedID's NameID): its text.
                        Some(inner) => inner.text().into_owned(),
                        None => v.text().into_owned(),
                    })
                    .collect();
                list.push(Attribute {
                    name: name.to_owned(),
                    friendly_name: attribute.attribute("FriendlyName").map(str::to_owned),
                    values,
                });
            }
        }
        Ok(Attributes { list })
    }

    /// All attributes in document order.
    pub fn iter(&self) -> impl Iterator<Item = &Attribute> {
        self.list.iter()
    }

    /// The values of the first attribute whose `Name` or `FriendlyName` matches one of
    /// `wanted` (in the order of `wanted`).
    pub fn first_of(&self, wanted: &[String]) -> Option<&Attribute> {
        wanted.iter().find_map(|w| {
            self.list.iter().find(|a| {
                name_matches(w, &a.name)
                    || a.friendly_name
                        .as_deref()
                        .is_some_and(|f| name_matches(w, f))
            })
        })
    }

    /// By `Name`: name -> values.
    pub fn to_map(&self) -> BTreeMap<String, Vec<String>> {
        self.list
            .iter()
            .map(|a| (a.name.clone(), a.values.clone()))
            .collect()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}
