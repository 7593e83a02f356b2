//! The policy file as written: TOML, YAML or JSON, read through serde.
//!
//! Every field that validation may complain about is [`Located`], so a TOML error names
//! the line and column. Unknown keys are refused everywhere (`deny_unknown_fields`). The
//! doc comments here are also the descriptions in the JSON Schema (`docs/policy.schema.json`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::located::Located;

/// A list of strings, each with its position.
pub(crate) type Strings = Located<Vec<Located<String>>>;

/// A jsm-sso access policy (format version 1).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "jsm-sso access policy")]
pub(crate) struct PolicyFile {
    /// Format version; must be 1.
    pub(crate) version: Located<i64>,
    /// What happens when no allow rule matches: "deny" (the default) or "allow".
    #[serde(default)]
    pub(crate) default: Option<Located<DefaultEffect>>,
    /// Known customer portals: JSM service desk id -> display name.
    #[serde(default)]
    pub(crate) portals: BTreeMap<String, Located<String>>,
    /// Known organizations: key used in rules -> JSM organization name.
    #[serde(default)]
    pub(crate) organizations: BTreeMap<String, Located<String>>,
    /// The rules. Every matching allow rule contributes; any matching deny rule wins.
    #[serde(default, rename = "rule")]
    pub(crate) rules: Vec<Located<RuleSpec>>,
}

/// The decision when no allow rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DefaultEffect {
    /// Sign-in is allowed, with no organizations, portals or fields.
    Allow,
    /// Sign-in is refused.
    Deny,
}

/// What a rule does when all its conditions hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RuleEffect {
    /// Grant organizations, portals and fields (the default).
    Allow,
    /// Refuse sign-in, whatever any allow rule says.
    Deny,
}

/// One rule: conditions (all must hold; each list is "any of") and an effect.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleSpec {
    /// Unique name, shown in explanations and the audit log.
    pub(crate) name: Located<String>,
    /// Orders allow rules that set the same field: the higher priority wins (default 0).
    #[serde(default)]
    pub(crate) priority: Option<Located<i64>>,
    /// "allow" (the default) or "deny".
    #[serde(default)]
    pub(crate) effect: Option<Located<RuleEffect>>,
    /// Identity provider ids; the sign-in must come from one of them.
    #[serde(default)]
    pub(crate) idp: Option<Strings>,
    /// Email domains: "example.com" exactly, or "*.example.com" for its sub-domains only.
    /// Only verified emails match.
    #[serde(default)]
    pub(crate) email_domain: Option<Strings>,
    /// IdP groups: exact, glob ("partner-*", "?"), or anchored regex ("/.../"); any of.
    #[serde(default)]
    pub(crate) group: Option<Strings>,
    /// Attribute name -> accepted values (exact, glob or /regex/); every named attribute
    /// must have one of its values.
    #[serde(default)]
    pub(crate) attribute: Option<Located<BTreeMap<String, Strings>>>,
    /// Whether the IdP must (true) or must not (false) vouch for the email.
    #[serde(default)]
    pub(crate) email_verified: Option<Located<bool>>,
    /// Organization keys (from [organizations]) to put the customer in.
    #[serde(default)]
    pub(crate) organizations: Option<Strings>,
    /// Portal ids (from [portals]) the customer may use.
    #[serde(default)]
    pub(crate) portals: Option<Strings>,
    /// Jira customer fields to set: field id -> literal or template ("{attr.department}").
    #[serde(default)]
    pub(crate) fields: Option<Located<BTreeMap<String, Located<String>>>>,
    /// Require a second factor before provisioning.
    #[serde(default)]
    pub(crate) require_mfa: Option<Located<bool>>,
    /// For a deny rule: the message shown to the customer.
    #[serde(default)]
    pub(crate) reason: Option<Located<String>>,
}
