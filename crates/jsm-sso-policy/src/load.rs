//! Reading a policy: text -> [`PolicyFile`] -> validated [`CompiledPolicy`], every
//! problem collected with its position.

use std::collections::BTreeMap;

use crate::compiled::HashMap;
use std::ops::Range;

use crate::compiled::{Action, AttributeCondition, CompiledPolicy, Index, Rule};
use crate::domain::DomainPattern;
use crate::error::{Diagnostic, Diagnostics, Error, Location, Problem, Severity};
use crate::located::{Located, SpanMode, line_column};
use crate::model::{DefaultEffect, PolicyFile, RuleEffect, RuleSpec, Strings};
use crate::name::Name;
use crate::pattern::ValuePattern;
use crate::template::{Template, TemplateError};
use crate::{Format, check};

/// The largest policy text accepted, in bytes.
pub const MAX_POLICY_BYTES: usize = 64 * 1024 * 1024;
/// The most rules a policy may have.
pub const MAX_RULES: usize = 1_000_000;
/// The most values in one condition list.
pub const MAX_LIST_LEN: usize = 10_000;
/// More always-checked rules than this earns a warning: each costs time on every decision.
pub const ALWAYS_CHECKED_WARNING: usize = 256;
/// At most this many errors are listed; the rest are counted.
pub const MAX_DIAGNOSTICS: usize = 1000;

/// Collects diagnostics with positions for one policy text.
pub(crate) struct Ctx<'a> {
    origin: &'a str,
    text: &'a str,
    pub(crate) items: Vec<Diagnostic>,
    dropped: usize,
}

impl<'a> Ctx<'a> {
    fn new(origin: &'a str, text: &'a str) -> Self {
        Self {
            origin,
            text,
            items: Vec::new(),
            dropped: 0,
        }
    }

    fn location(&self, span: Option<&Range<usize>>, path: String) -> Location {
        let (line, column) = match span {
            Some(span) => {
                let (l, c) = line_column(self.text, span.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        Location {
            origin: self.origin.to_owned(),
            line,
            column,
            path,
        }
    }

    /// Records an error at `span` (TOML) or `path` (other formats).
    pub(crate) fn error(
        &mut self,
        problem: Problem,
        span: Option<&Range<usize>>,
        path: impl FnOnce() -> String,
        message: String,
    ) {
        self.push(problem, Severity::Error, span, path, message);
    }

    fn push(
        &mut self,
        problem: Problem,
        severity: Severity,
        span: Option<&Range<usize>>,
        path: impl FnOnce() -> String,
        message: String,
    ) {
        if self.items.len() >= MAX_DIAGNOSTICS {
            self.dropped += 1;
            return;
        }
        let location = self.location(span, path());
        self.items.push(Diagnostic {
            problem,
            severity,
            location,
            message,
        });
    }

    fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    fn finish_errors(mut self) -> Error {
        if self.dropped > 0 {
            let message = format!("{} more problems not listed", self.dropped);
            self.items.push(Diagnostic {
                problem: Problem::TooLarge,
                severity: Severity::Error,
                location: self.location(None, String::new()),
                message,
            });
        }
        // Errors in file order (positions where known), then warnings.
        self.items.sort_by_key(|d| {
            (
                d.severity == Severity::Warning,
                d.location.line.unwrap_or(usize::MAX),
                d.location.column.unwrap_or(0),
            )
        });
        Error::Invalid(Diagnostics { items: self.items })
    }
}

/// Parses, validates and compiles a policy text.
pub(crate) fn compile(text: &str, format: Format, origin: &str) -> Result<CompiledPolicy, Error> {
    let mut ctx = Ctx::new(origin, text);
    if text.len() > MAX_POLICY_BYTES {
        ctx.error(
            Problem::TooLarge,
            None,
            String::new,
            format!(
                "policy is {} bytes; at most {MAX_POLICY_BYTES} are accepted",
                text.len()
            ),
        );
        return Err(ctx.finish_errors());
    }
    let Some(file) = parse(text, format, &mut ctx) else {
        return Err(ctx.finish_errors());
    };
    let policy = build(&file, text, origin, &mut ctx);
    if ctx.has_errors() {
        return Err(ctx.finish_errors());
    }
    let mut policy = policy.ok_or_else(|| Error::Invalid(Diagnostics { items: Vec::new() }))?;
    policy.warnings = ctx.items;
    Ok(policy)
}

/// Deserializes; a syntax or type error becomes one diagnostic with the format's position.
fn parse(text: &str, format: Format, ctx: &mut Ctx<'_>) -> Option<PolicyFile> {
    match format {
        Format::Toml => {
            let _spans = SpanMode::enter(true);
            match toml::from_str::<PolicyFile>(text) {
                Ok(file) => Some(file),
                Err(e) => {
                    let message = first_line(e.message());
                    ctx.error(
                        syntax_problem(&message),
                        e.span().as_ref(),
                        String::new,
                        message,
                    );
                    None
                }
            }
        }
        Format::Json => {
            let _spans = SpanMode::enter(false);
            match serde_json::from_str::<PolicyFile>(text) {
                Ok(file) => Some(file),
                Err(e) => {
                    let message = strip_position(&e.to_string());
                    let offset = offset_of(text, e.line(), e.column());
                    ctx.error(
                        syntax_problem(&message),
                        offset.map(|o| o..o).as_ref(),
                        String::new,
                        message,
                    );
                    None
                }
            }
        }
        Format::Yaml => {
            let _spans = SpanMode::enter(false);
            match serde_yaml_ng::from_str::<PolicyFile>(text) {
                Ok(file) => Some(file),
                Err(e) => {
                    let message = strip_position(&e.to_string());
                    let offset = e.location().map(|l| l.index());
                    ctx.error(
                        syntax_problem(&message),
                        offset.map(|o| o..o).as_ref(),
                        String::new,
                        message,
                    );
                    None
                }
            }
        }
    }
}

fn syntax_problem(message: &str) -> Problem {
    if message.contains("unknown field") {
        Problem::UnknownKey
    } else {
        Problem::Syntax
    }
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).trim().to_owned()
}

/// serde_json and YAML append " at line L column C"; the location says it already.
fn strip_position(message: &str) -> String {
    let first = first_line(message);
    match first.rfind(" at line ") {
        Some(i) => first.get(..i).unwrap_or(&first).to_owned(),
        None => first,
    }
}

/// The byte offset of a 1-based line and column (serde_json counts columns in bytes).
fn offset_of(text: &str, line: usize, column: usize) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let mut start = 0usize;
    for _ in 1..line {
        start += text.get(start..)?.find('\n')? + 1;
    }
    Some((start + column.saturating_sub(1)).min(text.len()))
}

fn rule_path(i: usize, field: &str) -> String {
    format!("rule[{i}].{field}")
}

/// Validates every part and, when nothing is wrong, returns the compiled policy.
fn build(file: &PolicyFile, text: &str, origin: &str, ctx: &mut Ctx<'_>) -> Option<CompiledPolicy> {
    if file.version.value != 1 {
        ctx.error(
            Problem::Version,
            file.version.span.as_ref(),
            || "version".into(),
            format!(
                "version is {}; this library reads version 1",
                file.version.value
            ),
        );
    }
    if file.rules.len() > MAX_RULES {
        ctx.error(
            Problem::TooLarge,
            None,
            || "rule".into(),
            format!(
                "{} rules; at most {MAX_RULES} are accepted",
                file.rules.len()
            ),
        );
        return None;
    }
    let portals = table(&file.portals, "portals", Problem::PortalInvalid, ctx);
    let organizations = table(
        &file.organizations,
        "organizations",
        Problem::OrganizationInvalid,
        ctx,
    );
    let portal_ids: HashMap<&str, u32> = (0..).zip(&portals).map(|(i, (k, _))| (&**k, i)).collect();
    let org_ids: HashMap<&str, u32> = (0..)
        .zip(&organizations)
        .map(|(i, (k, _))| (&**k, i))
        .collect();

    let mut names: HashMap<&str, usize> =
        HashMap::with_capacity_and_hasher(file.rules.len(), Default::default());
    let mut rules = Vec::with_capacity(file.rules.len());
    for (i, spec) in file.rules.iter().enumerate() {
        let spec_value = &spec.value;
        let name = &spec_value.name;
        if name.value.trim().is_empty() {
            ctx.error(
                Problem::RuleNameInvalid,
                name.span.as_ref(),
                || rule_path(i, "name"),
                "rule name is empty".into(),
            );
        } else if let Some(first) = names.insert(&name.value, i) {
            names.insert(&name.value, first);
            ctx.error(
                Problem::RuleDuplicateName,
                name.span.as_ref(),
                || rule_path(i, "name"),
                format!(
                    "rule name {:?} is already used by rule {}",
                    name.value,
                    first + 1
                ),
            );
        }
        if let Some(rule) = compile_rule(i, spec_value, &portal_ids, &org_ids, ctx) {
            rules.push(rule);
        }
    }
    if ctx.has_errors() {
        return None;
    }
    let spans: Vec<Option<Range<usize>>> = file
        .rules
        .iter()
        .map(|r| r.value.name.span.clone())
        .collect();
    check::cross_rule(&rules, &spans, ctx);

    let index = Index::build(&rules);
    if index.always.len() > ALWAYS_CHECKED_WARNING {
        let n = index.always.len();
        ctx.push(
            Problem::AlwaysChecked,
            Severity::Warning,
            None,
            || "rule".into(),
            format!("{n} rules have no idp, email_domain, exact group or exact attribute condition and are checked on every decision"),
        );
    }
    // Borrowed while collecting: one allocation per distinct name, not per use.
    let mut used: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for r in &rules {
        used.extend(r.attributes.iter().map(|a| &*a.name));
        if let Action::Allow { fields, .. } = &r.action {
            used.extend(fields.iter().flat_map(|(_, t)| t.attributes()));
        }
    }
    let attributes_used: Vec<Box<str>> = used.into_iter().map(Into::into).collect();
    let uses_groups = rules.iter().any(|r| r.groups.is_some());
    let uses_domains = rules.iter().any(|r| r.domains.is_some());
    Some(CompiledPolicy {
        origin: origin.to_owned(),
        hash: Name::from(sha256_hex(text)),
        default: file
            .default
            .as_ref()
            .map_or(DefaultEffect::Deny, |d| d.value),
        portals,
        organizations,
        rules,
        index,
        attributes_used,
        uses_groups,
        uses_domains,
        warnings: Vec::new(),
    })
}

fn sha256_hex(text: &str) -> String {
    use std::fmt::Write as _;
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in digest.as_ref() {
        let _infallible = write!(out, "{b:02x}");
    }
    out
}

/// A `[portals]` or `[organizations]` table: keys and names must be non-empty.
fn table(
    map: &BTreeMap<String, Located<String>>,
    what: &str,
    problem: Problem,
    ctx: &mut Ctx<'_>,
) -> Vec<(Name, Box<str>)> {
    let mut out = Vec::with_capacity(map.len());
    for (key, name) in map {
        if key.trim().is_empty() || name.value.trim().is_empty() {
            ctx.error(
                problem,
                name.span.as_ref(),
                || format!("{what}.{key:?}"),
                format!(
                    "{what} entry {key:?} = {:?} needs a non-empty key and name",
                    name.value
                ),
            );
        }
        out.push((Name::from(key.as_str()), name.value.as_str().into()));
    }
    out
}

/// Checks a list condition: present-but-empty can never match, and lists are bounded.
fn list<'f>(
    i: usize,
    field: &str,
    values: Option<&'f Strings>,
    ctx: &mut Ctx<'_>,
) -> Option<&'f [Located<String>]> {
    let values = values?;
    if values.value.is_empty() {
        ctx.error(
            Problem::RuleUnreachable,
            values.span.as_ref(),
            || rule_path(i, field),
            format!("`{field}` is an empty list, so the rule can never match; leave it out to not check it"),
        );
    } else if values.value.len() > MAX_LIST_LEN {
        ctx.error(
            Problem::TooLarge,
            values.span.as_ref(),
            || rule_path(i, field),
            format!(
                "`{field}` has {} values; at most {MAX_LIST_LEN} are accepted",
                values.value.len()
            ),
        );
    }
    Some(&values.value)
}

fn patterns(
    i: usize,
    field: &str,
    values: &[Located<String>],
    ctx: &mut Ctx<'_>,
) -> Box<[ValuePattern]> {
    let mut out = Vec::with_capacity(values.len());
    for (j, v) in values.iter().enumerate() {
        match ValuePattern::parse(&v.value) {
            Ok(p) => out.push(p),
            Err((problem, message)) => {
                ctx.error(
                    problem,
                    v.span.as_ref(),
                    || format!("rule[{i}].{field}[{j}]"),
                    message,
                );
            }
        }
    }
    out.into()
}

fn compile_rule(
    i: usize,
    spec: &RuleSpec,
    portal_ids: &HashMap<&str, u32>,
    org_ids: &HashMap<&str, u32>,
    ctx: &mut Ctx<'_>,
) -> Option<Rule> {
    let errors_before = ctx.items.len();
    let name = spec.name.value.as_str();

    let idp = list(i, "idp", spec.idp.as_ref(), ctx).map(|values| {
        values
            .iter()
            .map(|v| Name::from(v.value.as_str()))
            .collect::<Box<[Name]>>()
    });
    let domains = list(i, "email_domain", spec.email_domain.as_ref(), ctx).map(|values| {
        let mut out = Vec::with_capacity(values.len());
        for (j, v) in values.iter().enumerate() {
            match DomainPattern::parse(&v.value) {
                Ok(p) => out.push(p),
                Err((problem, message)) => {
                    ctx.error(
                        problem,
                        v.span.as_ref(),
                        || format!("rule[{i}].email_domain[{j}]"),
                        message,
                    );
                }
            }
        }
        out.into_boxed_slice()
    });
    let groups =
        list(i, "group", spec.group.as_ref(), ctx).map(|values| patterns(i, "group", values, ctx));
    let mut attributes = Vec::new();
    if let Some(map) = &spec.attribute {
        for (attr, values) in &map.value {
            let field = format!("attribute.{attr}");
            if attr.is_empty() {
                ctx.error(
                    Problem::Syntax,
                    values.span.as_ref(),
                    || rule_path(i, "attribute"),
                    "attribute name is empty".into(),
                );
            }
            if let Some(values) = list(i, &field, Some(values), ctx) {
                attributes.push(AttributeCondition {
                    name: attr.as_str().into(),
                    patterns: patterns(i, &field, values, ctx),
                    label: Name::from(field),
                });
            }
        }
    }
    let email_verified = spec.email_verified.as_ref().map(|v| v.value);
    if let (Some(_), Some(Located { value: false, span })) =
        (&spec.email_domain, &spec.email_verified)
    {
        ctx.error(
            Problem::RuleUnreachable,
            span.as_ref(),
            || rule_path(i, "email_verified"),
            format!("rule {name:?} requires an unverified email and an email domain, but only verified emails match domains"),
        );
    }

    let effect = spec.effect.as_ref().map_or(RuleEffect::Allow, |e| e.value);
    let action = match effect {
        RuleEffect::Deny => {
            let grants = [
                (
                    "organizations",
                    spec.organizations.as_ref().map(|v| v.span.clone()),
                ),
                ("portals", spec.portals.as_ref().map(|v| v.span.clone())),
                ("fields", spec.fields.as_ref().map(|v| v.span.clone())),
                (
                    "require_mfa",
                    spec.require_mfa.as_ref().map(|v| v.span.clone()),
                ),
            ];
            for (field, span) in grants {
                if let Some(span) = span {
                    ctx.error(
                        Problem::RuleDenyGrants,
                        span.as_ref(),
                        || rule_path(i, field),
                        format!("deny rule {name:?} has `{field}`, which only allow rules take"),
                    );
                }
            }
            Action::Deny {
                reason: spec.reason.as_ref().map(|r| r.value.as_str().into()),
            }
        }
        RuleEffect::Allow => {
            if let Some(reason) = &spec.reason {
                ctx.error(
                    Problem::RuleAllowReason,
                    reason.span.as_ref(),
                    || rule_path(i, "reason"),
                    format!(
                        "allow rule {name:?} has a `reason`, which is shown only for deny rules"
                    ),
                );
            }
            let organizations = references(
                i,
                "organizations",
                spec.organizations.as_ref(),
                org_ids,
                Problem::OrganizationUnknown,
                ctx,
            );
            let portals = references(
                i,
                "portals",
                spec.portals.as_ref(),
                portal_ids,
                Problem::PortalUnknown,
                ctx,
            );
            let mut fields = Vec::new();
            if let Some(map) = &spec.fields {
                for (field, value) in &map.value {
                    if field.trim().is_empty() {
                        ctx.error(
                            Problem::Syntax,
                            value.span.as_ref(),
                            || rule_path(i, "fields"),
                            "field id is empty".into(),
                        );
                    }
                    match Template::parse(&value.value) {
                        Ok(t) => fields.push((field.as_str().into(), t)),
                        Err(TemplateError { problem, message }) => {
                            ctx.error(
                                problem,
                                value.span.as_ref(),
                                || format!("rule[{i}].fields.{field}"),
                                message,
                            );
                        }
                    }
                }
            }
            // Judged on what is written, so an unknown portal is not also "grants nothing".
            let grants_nothing = spec
                .organizations
                .as_ref()
                .is_none_or(|o| o.value.is_empty())
                && spec.portals.as_ref().is_none_or(|p| p.value.is_empty())
                && spec.fields.as_ref().is_none_or(|f| f.value.is_empty());
            if grants_nothing {
                ctx.error(
                    Problem::RuleGrantsNothing,
                    spec.name.span.as_ref(),
                    || rule_path(i, "name"),
                    format!("allow rule {name:?} grants no organizations, portals or fields"),
                );
            }
            Action::Allow {
                organizations,
                portals,
                fields: fields.into(),
                require_mfa: spec.require_mfa.as_ref().is_some_and(|m| m.value),
            }
        }
    };
    if ctx.items.len() > errors_before {
        return None;
    }
    let domain_labels = domains
        .iter()
        .flat_map(|d| d.iter().map(|p| Name::from(p.display())))
        .collect();
    Some(Rule {
        name: name.into(),
        domain_labels,
        priority: spec.priority.as_ref().map_or(0, |p| p.value),
        idp,
        domains,
        groups,
        attributes: attributes.into(),
        email_verified,
        action,
    })
}

/// Resolves organization keys or portal ids to table indices, sorted and deduplicated.
fn references(
    i: usize,
    field: &str,
    values: Option<&Strings>,
    ids: &HashMap<&str, u32>,
    problem: Problem,
    ctx: &mut Ctx<'_>,
) -> Box<[u32]> {
    let mut out = Vec::new();
    for (j, v) in values.map_or(&[][..], |v| &v.value).iter().enumerate() {
        match ids.get(v.value.as_str()) {
            Some(&id) => out.push(id),
            None => {
                let table = if field == "portals" {
                    "[portals]"
                } else {
                    "[organizations]"
                };
                ctx.error(
                    problem,
                    v.span.as_ref(),
                    || format!("rule[{i}].{field}[{j}]"),
                    format!("{:?} is not declared in {table}", v.value),
                );
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out.into()
}
