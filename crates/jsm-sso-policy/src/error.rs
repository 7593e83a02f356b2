//! Load-time diagnostics ([`Diagnostic`], [`Diagnostics`]) and the crate's [`Error`].

use std::fmt;

use jsm_sso_core::CodedError;
use serde::Serialize;

/// What a [`Diagnostic`] is about: a stable code, and the hint for fixing it.
///
/// Exhaustive on purpose: docs/errors.md lists every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Problem {
    /// The file is not valid TOML, YAML or JSON, or a value has the wrong type.
    Syntax,
    /// A key the format does not know.
    UnknownKey,
    /// `version` is not 1.
    Version,
    /// The file or a collection in it is larger than the limits.
    TooLarge,
    /// A portal id or name is empty.
    PortalInvalid,
    /// A rule names a portal the `[portals]` table does not declare.
    PortalUnknown,
    /// An organization key or name is empty.
    OrganizationInvalid,
    /// A rule names an organization the `[organizations]` table does not declare.
    OrganizationUnknown,
    /// An email domain that is not a domain (`@`, a scheme, a path, bad IDNA).
    DomainInvalid,
    /// An email domain written with upper-case letters.
    DomainUpperCase,
    /// A `*` anywhere but as the whole first label.
    DomainWildcard,
    /// `*.` in front of a public suffix (`*.com`, `*.co.uk`).
    DomainPublicSuffix,
    /// A glob that is empty or has no literal text.
    GlobInvalid,
    /// A regex that does not compile.
    RegexInvalid,
    /// A pattern over the length or compiled-size limit.
    PatternTooLarge,
    /// A template that does not parse (unbalanced braces, empty placeholder).
    TemplateSyntax,
    /// A template placeholder naming a source that does not exist.
    TemplateSource,
    /// Two rules with the same name.
    RuleDuplicateName,
    /// A rule with an empty name.
    RuleNameInvalid,
    /// A rule that no identity can match.
    RuleUnreachable,
    /// An allow rule that a broader deny rule always overrides.
    RuleShadowed,
    /// An allow rule with no organizations, portals or fields.
    RuleGrantsNothing,
    /// A deny rule with organizations, portals, fields or `require_mfa`.
    RuleDenyGrants,
    /// A `reason` on an allow rule.
    RuleAllowReason,
    /// Two rules that can match the same identity set a field to different values at the
    /// same priority.
    FieldConflict,
    /// Warning: many rules have no indexable condition and are checked on every decision.
    AlwaysChecked,
}

impl Problem {
    /// The stable code, for example `policy.domain.public_suffix`.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Syntax => "policy.syntax",
            Self::UnknownKey => "policy.key.unknown",
            Self::Version => "policy.version.unsupported",
            Self::TooLarge => "policy.too_large",
            Self::PortalInvalid => "policy.portal.invalid",
            Self::PortalUnknown => "policy.portal.unknown",
            Self::OrganizationInvalid => "policy.organization.invalid",
            Self::OrganizationUnknown => "policy.organization.unknown",
            Self::DomainInvalid => "policy.domain.invalid",
            Self::DomainUpperCase => "policy.domain.upper_case",
            Self::DomainWildcard => "policy.domain.wildcard",
            Self::DomainPublicSuffix => "policy.domain.public_suffix",
            Self::GlobInvalid => "policy.pattern.glob",
            Self::RegexInvalid => "policy.pattern.regex",
            Self::PatternTooLarge => "policy.pattern.too_large",
            Self::TemplateSyntax => "policy.template.syntax",
            Self::TemplateSource => "policy.template.source",
            Self::RuleDuplicateName => "policy.rule.duplicate_name",
            Self::RuleNameInvalid => "policy.rule.name_invalid",
            Self::RuleUnreachable => "policy.rule.unreachable",
            Self::RuleShadowed => "policy.rule.shadowed",
            Self::RuleGrantsNothing => "policy.rule.grants_nothing",
            Self::RuleDenyGrants => "policy.rule.deny_grants",
            Self::RuleAllowReason => "policy.rule.allow_reason",
            Self::FieldConflict => "policy.field.conflict",
            Self::AlwaysChecked => "policy.index.always_checked",
        }
    }

    /// One line telling the policy author what to change.
    #[must_use]
    pub const fn hint(self) -> &'static str {
        match self {
            Self::Syntax => "fix the syntax at the position shown; the format is in docs/policy.md",
            Self::UnknownKey => {
                "remove or correct the key; docs/policy.schema.json lists every key"
            }
            Self::Version => "set `version = 1`",
            Self::TooLarge => "split the policy or remove unused rules",
            Self::PortalInvalid => "give every portal a non-empty service desk id and name",
            Self::PortalUnknown => "declare the portal id under [portals] or correct the id",
            Self::OrganizationInvalid => "give every organization a non-empty key and name",
            Self::OrganizationUnknown => {
                "declare the organization key under [organizations] or correct the key"
            }
            Self::DomainInvalid => {
                "write a bare domain such as example.com or *.example.com, no @, scheme or path"
            }
            Self::DomainUpperCase => "write domains in lower case",
            Self::DomainWildcard => {
                "a wildcard must be the whole first label: *.example.com (sub-domains only)"
            }
            Self::DomainPublicSuffix => {
                "a wildcard over a public suffix matches strangers; name the organization's domain"
            }
            Self::GlobInvalid => "give the glob some literal text; * and ? are the only wildcards",
            Self::RegexInvalid => "fix the regular expression between the slashes",
            Self::PatternTooLarge => "simplify the pattern or list the values exactly",
            Self::TemplateSyntax => {
                "write placeholders as {attr.NAME}, {email}, {email.domain}, {email.local}, {idp} or {subject}; double {{ and }} for literal braces"
            }
            Self::TemplateSource => {
                "use one of attr.NAME, email, email.domain, email.local, idp, subject"
            }
            Self::RuleDuplicateName => "give every rule a unique name",
            Self::RuleNameInvalid => "give the rule a non-empty name",
            Self::RuleUnreachable => "remove the rule or fix its contradictory conditions",
            Self::RuleShadowed => "remove the allow rule or narrow the deny rule",
            Self::RuleGrantsNothing => "add organizations, portals or fields, or remove the rule",
            Self::RuleDenyGrants => "a deny rule only takes a reason; move grants to an allow rule",
            Self::RuleAllowReason => "reason is shown for deny rules only; remove it",
            Self::FieldConflict => "give one of the rules a higher priority, or set the same value",
            Self::AlwaysChecked => {
                "add an idp, email_domain, exact group or exact attribute condition to the rules"
            }
        }
    }
}

/// Where a diagnostic points: the file, the position when the format gives one, and the
/// path of the value in the policy (`rule[2].email_domain[0]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The file name, or another label for the source (`<string>`).
    pub origin: String,
    /// 1-based line, when known (TOML values, and any format's syntax errors).
    pub line: Option<usize>,
    /// 1-based column in characters, when known.
    pub column: Option<usize>,
    /// Where in the policy, for formats without positions.
    pub path: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "{}:{line}:{column}", self.origin),
            (Some(line), None) => write!(f, "{}:{line}", self.origin),
            _ if self.path.is_empty() => f.write_str(&self.origin),
            _ => write!(f, "{}: {}", self.origin, self.path),
        }
    }
}

/// Whether a diagnostic stops the policy from loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The policy does not load.
    Error,
    /// The policy loads; something deserves a look.
    Warning,
}

/// One problem found while loading a policy, with its position.
///
/// Displays as `file:line:column: message` (or `file: path: message` where the format has
/// no positions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What kind of problem (the code and hint).
    pub problem: Problem,
    /// Error or warning.
    pub severity: Severity,
    /// Where.
    pub location: Location,
    /// What is wrong, lower-case, no trailing period.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl std::error::Error for Diagnostic {}

impl CodedError for Diagnostic {
    fn code(&self) -> &'static str {
        self.problem.code()
    }

    fn hint(&self) -> &'static str {
        self.problem.hint()
    }
}

impl Serialize for Diagnostic {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Diagnostic", 6)?;
        s.serialize_field("code", self.problem.code())?;
        s.serialize_field("severity", &self.severity)?;
        s.serialize_field("location", &self.location.to_string())?;
        s.serialize_field("path", &self.location.path)?;
        s.serialize_field("message", &self.message)?;
        s.serialize_field("hint", self.problem.hint())?;
        s.end()
    }
}

/// Every error found in a policy that does not load (at least one), plus any warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    /// Errors first, in file order, then warnings.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Error)
    }

    /// Whether any error has this code.
    #[must_use]
    pub fn has(&self, code: &str) -> bool {
        self.errors().any(|d| d.problem.code() == code)
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors().count();
        write!(f, "policy has {n} error{}", if n == 1 { "" } else { "s" })?;
        for d in self.errors() {
            write!(f, "\n{d}")?;
        }
        Ok(())
    }
}

/// Every error `jsm-sso-policy` returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The policy was read and refused; every problem is listed.
    #[error("{0}")]
    Invalid(Diagnostics),
    /// The policy file could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// The file name does not say which format it is in.
    #[error("cannot tell the format of {path}: expected .toml, .yaml, .yml or .json")]
    UnknownFormat {
        /// The file.
        path: String,
    },
}

impl Error {
    /// The diagnostics of a refused policy; empty for other errors.
    #[must_use]
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Self::Invalid(d) => &d.items,
            Self::Io { .. } | Self::UnknownFormat { .. } => &[],
        }
    }
}

impl CodedError for Error {
    fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "policy.invalid",
            Self::Io { .. } => "policy.io",
            Self::UnknownFormat { .. } => "policy.format.unknown",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "fix every listed problem; `jsm-sso policy check` lists them",
            Self::Io { .. } => "check the path and its permissions",
            Self::UnknownFormat { .. } => "name the file .toml, .yaml, .yml or .json",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_display_like_compilers() {
        let mut loc = Location {
            origin: "p.toml".into(),
            line: Some(3),
            column: Some(7),
            path: "rule[0].name".into(),
        };
        assert_eq!(loc.to_string(), "p.toml:3:7");
        loc.line = None;
        loc.column = None;
        assert_eq!(loc.to_string(), "p.toml: rule[0].name");
    }

    #[test]
    fn codes_are_distinct_and_namespaced() {
        let all = [
            Problem::Syntax,
            Problem::UnknownKey,
            Problem::Version,
            Problem::TooLarge,
            Problem::PortalInvalid,
            Problem::PortalUnknown,
            Problem::OrganizationInvalid,
            Problem::OrganizationUnknown,
            Problem::DomainInvalid,
            Problem::DomainUpperCase,
            Problem::DomainWildcard,
            Problem::DomainPublicSuffix,
            Problem::GlobInvalid,
            Problem::RegexInvalid,
            Problem::PatternTooLarge,
            Problem::TemplateSyntax,
            Problem::TemplateSource,
            Problem::RuleDuplicateName,
            Problem::RuleNameInvalid,
            Problem::RuleUnreachable,
            Problem::RuleShadowed,
            Problem::RuleGrantsNothing,
            Problem::RuleDenyGrants,
            Problem::RuleAllowReason,
            Problem::FieldConflict,
            Problem::AlwaysChecked,
        ];
        let mut codes: Vec<_> = all.iter().map(|p| p.code()).collect();
        assert!(codes.iter().all(|c| c.starts_with("policy.")));
        assert!(all.iter().all(|p| !p.hint().is_empty()));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }
}
