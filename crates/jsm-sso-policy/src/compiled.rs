//! The compiled policy: interned outputs, compiled conditions, and the index.

use crate::domain::DomainPattern;
use crate::error::Diagnostic;
pub(crate) use crate::index::{HashMap, Index};
use crate::model::DefaultEffect;
use crate::name::Name;
use crate::pattern::ValuePattern;
use crate::template::Template;

/// A rule's index in [`CompiledPolicy::rules`] (declaration order).
pub(crate) type RuleId = u32;

/// What a compiled rule does.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// Grants; organizations and portals are indices into the policy's tables.
    Allow {
        organizations: Box<[u32]>,
        portals: Box<[u32]>,
        fields: Box<[(Box<str>, Template)]>,
        require_mfa: bool,
    },
    /// Refuses, with an optional customer-facing reason.
    Deny { reason: Option<Box<str>> },
}

impl Action {
    pub(crate) fn is_deny(&self) -> bool {
        matches!(self, Self::Deny { .. })
    }
}

/// An attribute condition: the attribute's name and the values accepted.
#[derive(Debug, Clone)]
pub(crate) struct AttributeCondition {
    pub(crate) name: Box<str>,
    /// `attribute.NAME`, as explanations show it.
    pub(crate) label: Name,
    pub(crate) patterns: Box<[ValuePattern]>,
}

/// One compiled rule: conditions (each `None` when absent) and its action.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) name: Name,
    pub(crate) priority: i64,
    pub(crate) idp: Option<Box<[Name]>>,
    pub(crate) domains: Option<Box<[DomainPattern]>>,
    /// The domain patterns as explanations show them (`*.example.com`), in step.
    pub(crate) domain_labels: Box<[Name]>,
    pub(crate) groups: Option<Box<[ValuePattern]>>,
    pub(crate) attributes: Box<[AttributeCondition]>,
    pub(crate) email_verified: Option<bool>,
    pub(crate) action: Action,
}

impl Rule {
    /// `email_verified` as it effectively applies: a domain condition implies `true`.
    pub(crate) fn effective_verified(&self) -> Option<bool> {
        if self.domains.is_some() {
            Some(true)
        } else {
            self.email_verified
        }
    }
}

/// A validated, indexed, immutable policy. Build it with [`crate::load_str`] or [`crate::load_file`];
/// share it as `Arc<CompiledPolicy>` (or through [`crate::PolicyHandle`] for hot reload).
#[derive(Debug)]
pub struct CompiledPolicy {
    pub(crate) origin: String,
    pub(crate) hash: Name,
    pub(crate) default: DefaultEffect,
    /// (service desk id, display name), sorted by id.
    pub(crate) portals: Vec<(Name, Box<str>)>,
    /// (key, JSM organization name), sorted by key.
    pub(crate) organizations: Vec<(Name, Box<str>)>,
    pub(crate) rules: Vec<Rule>,
    pub(crate) index: Index,
    /// Attribute names any rule looks at (conditions and templates), sorted.
    pub(crate) attributes_used: Vec<Box<str>>,
    pub(crate) uses_groups: bool,
    pub(crate) uses_domains: bool,
    pub(crate) warnings: Vec<Diagnostic>,
}

impl CompiledPolicy {
    /// The SHA-256 of the policy text (`sha256:` and 64 hex digits): which version of the
    /// policy made a decision, for the audit log.
    #[must_use]
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// Where the policy was loaded from (a file name, or `<string>`).
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The number of rules.
    #[must_use]
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// The rule names, in file order.
    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| &*r.name)
    }

    /// The declared portals: (service desk id, display name), sorted by id.
    pub fn portals(&self) -> impl Iterator<Item = (&str, &str)> {
        self.portals.iter().map(|(id, name)| (&**id, &**name))
    }

    /// The declared organizations: (key, JSM organization name), sorted by key.
    pub fn organizations(&self) -> impl Iterator<Item = (&str, &str)> {
        self.organizations.iter().map(|(k, name)| (&**k, &**name))
    }

    /// The rules whose grant requires a second factor, in file order: a front end without a
    /// second factor configured should refuse to start with any, rather than refuse those
    /// customers at sign-in.
    pub fn rules_requiring_mfa(&self) -> impl Iterator<Item = &str> {
        self.rules
            .iter()
            .filter(|r| {
                matches!(
                    r.action,
                    Action::Allow {
                        require_mfa: true,
                        ..
                    }
                )
            })
            .map(|r| &*r.name)
    }

    /// Whether an identity no allow rule matches is allowed (`default = "allow"`).
    #[must_use]
    pub fn default_allows(&self) -> bool {
        self.default == DefaultEffect::Allow
    }

    /// Warnings found while loading (the policy loaded anyway).
    #[must_use]
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// How many rules have no indexable condition and are checked on every decision.
    #[must_use]
    pub fn always_checked(&self) -> usize {
        self.index.always.len()
    }

    pub(crate) fn organization_key(&self, i: u32) -> Option<&Name> {
        self.organizations.get(i as usize).map(|(k, _)| k)
    }

    pub(crate) fn portal_id(&self, i: u32) -> Option<&Name> {
        self.portals.get(i as usize).map(|(id, _)| id)
    }
}
