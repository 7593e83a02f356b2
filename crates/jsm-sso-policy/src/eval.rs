//! Evaluation: candidates from the index, each checked in full, then deny-overrides,
//! union of allows, field priorities and the default — with the explanation.

use std::collections::BTreeMap;

use jsm_sso_core::VerifiedIdentity;
use serde::Serialize;

use crate::compiled::{Action, CompiledPolicy, Rule, RuleId};
use crate::model::DefaultEffect;
use crate::name::Name;
use crate::pattern::ValuePattern;

/// At most this many near misses are described in an explanation; the rest are counted.
pub const MAX_NEAR_MISSES: usize = 20;
/// At most this many identity values are quoted in one near miss.
const MAX_ACTUAL: usize = 20;
/// Attribute names checked for the "missing attribute" warning.
const MAX_ATTRIBUTE_WARNINGS: usize = 64;

/// The outcome for one identity: what to grant, and why.
///
/// Lists are sorted, so the same identity always gives byte-identical output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    /// Whether the customer may sign in.
    pub allow: bool,
    /// Organization keys (from `[organizations]`) the customer must be in.
    pub organizations: Vec<Name>,
    /// Portal (service desk) ids the customer may use.
    pub portals: Vec<Name>,
    /// Customer field values to set.
    pub fields: BTreeMap<String, String>,
    /// Whether a second factor is required.
    pub require_mfa: bool,
    /// For a deny: the message for the customer (`None`: a generic one).
    pub reason: Option<String>,
    /// The names of the rules that matched, sorted.
    pub matched: Vec<Name>,
    /// Why.
    pub explanation: Explanation,
}

/// Why an [`Evaluation`] came out as it did. For administrators and the audit log: it
/// quotes identity values, so never show it to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The policy version that decided ([`CompiledPolicy::hash`]).
    pub policy_hash: Name,
    /// What decided: `"deny_rule"`, `"allow_rules"`, `"default_allow"` or `"default_deny"`.
    pub basis: &'static str,
    /// Rules whose conditions all held, in file order.
    pub matched: Vec<RuleMatch>,
    /// Candidate rules (found through the index) with a condition that failed.
    pub near_misses: Vec<NearMiss>,
    /// Near misses beyond [`MAX_NEAR_MISSES`], not described.
    pub near_misses_omitted: usize,
    /// Which output came from which rule.
    pub grants: Vec<Grant>,
    /// Things that often explain a surprising decision.
    pub warnings: Vec<Warning>,
    /// How many rules were checked in full.
    pub candidates: usize,
}

/// A rule that matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleMatch {
    /// The rule's name.
    pub rule: Name,
    /// `"allow"` or `"deny"`.
    pub effect: &'static str,
    /// Its priority.
    pub priority: i64,
    /// The conditions and the values that satisfied them.
    pub conditions: Vec<ConditionHit>,
    /// For an allow rule when a deny rule matched too: that deny rule.
    pub overridden_by: Option<Name>,
}

/// A condition that held, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConditionHit {
    /// `idp`, `email_verified`, `email_domain`, `group` or `attribute.NAME`.
    pub condition: Name,
    /// The policy's value that matched.
    pub pattern: Name,
    /// The identity's value.
    pub value: String,
}

/// A candidate rule that did not match: the first condition that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NearMiss {
    /// The rule's name.
    pub rule: Name,
    /// The failing condition (`idp`, `email_verified`, `email_domain`, `group`,
    /// `attribute.NAME`).
    pub condition: Name,
    /// What the rule accepts.
    pub expected: Vec<Name>,
    /// What the identity has (empty when it has nothing).
    pub actual: Vec<String>,
}

/// One output of the decision and the rules it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// `"organization"`, `"portal"`, `"field"` or `"require_mfa"`.
    pub output: &'static str,
    /// The organization key, portal id or field id (`"require_mfa"` for MFA).
    pub key: Name,
    /// For a field: the value set.
    pub value: Option<String>,
    /// The rules that granted it (for a field: the one whose value won).
    pub rules: Vec<Name>,
}

/// A hint about the identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// `policy.identity.no_groups`, `policy.identity.missing_attribute`,
    /// `policy.identity.email_unverified`, `policy.identity.no_email` or
    /// `policy.template.missing_value`.
    pub code: &'static str,
    /// What to look at.
    pub message: String,
}

/// The first condition of a rule that failed.
#[derive(Debug, Clone, Copy)]
enum Failed {
    Idp,
    Verified,
    Domain,
    Group,
    Attribute(usize),
}

/// Labels for the fixed conditions, made once per process.
struct Labels {
    idp: Name,
    email_verified: Name,
    email_domain: Name,
    group: Name,
    yes: Name,
    no: Name,
}

fn labels() -> &'static Labels {
    static LABELS: std::sync::OnceLock<Labels> = std::sync::OnceLock::new();
    LABELS.get_or_init(|| Labels {
        idp: Name::from("idp"),
        email_verified: Name::from("email_verified"),
        email_domain: Name::from("email_domain"),
        group: Name::from("group"),
        yes: Name::from("true"),
        no: Name::from("false"),
    })
}

fn bool_name(b: bool) -> Name {
    if b {
        labels().yes.clone()
    } else {
        labels().no.clone()
    }
}

fn any_match(patterns: &[ValuePattern], values: &[String]) -> bool {
    values.iter().any(|v| patterns.iter().any(|p| p.matches(v)))
}

/// Checks every condition of `rule`.
fn check(rule: &Rule, identity: &VerifiedIdentity) -> Result<(), Failed> {
    if let Some(idps) = &rule.idp
        && !idps.iter().any(|i| *i == *identity.idp.as_str())
    {
        return Err(Failed::Idp);
    }
    if let Some(required) = rule.email_verified
        && identity.email_verified != required
    {
        return Err(Failed::Verified);
    }
    if let Some(domains) = &rule.domains {
        // Only a verified email counts for a domain condition.
        let domain = identity.verified_email().map(jsm_sso_core::Email::domain);
        if !domain.is_some_and(|d| domains.iter().any(|p| p.matches(d))) {
            return Err(Failed::Domain);
        }
    }
    if let Some(groups) = &rule.groups
        && !any_match(groups, &identity.groups)
    {
        return Err(Failed::Group);
    }
    for (i, a) in rule.attributes.iter().enumerate() {
        if !any_match(&a.patterns, identity.attribute(&a.name)) {
            return Err(Failed::Attribute(i));
        }
    }
    Ok(())
}

fn first_hit(condition: &Name, patterns: &[ValuePattern], values: &[String]) -> ConditionHit {
    let (pattern, value) = values
        .iter()
        .find_map(|v| {
            patterns
                .iter()
                .find(|p| p.matches(v))
                .map(|p| (p.display(), v.clone()))
        })
        .unwrap_or_else(|| (Name::from(""), String::new()));
    ConditionHit {
        condition: condition.clone(),
        pattern,
        value,
    }
}

/// The conditions of a matched rule and the values that met them.
fn hits(rule: &Rule, identity: &VerifiedIdentity) -> Vec<ConditionHit> {
    let l = labels();
    let mut out = Vec::with_capacity(2 + rule.attributes.len());
    if let Some(idps) = &rule.idp
        && let Some(idp) = idps.iter().find(|i| **i == *identity.idp.as_str())
    {
        out.push(ConditionHit {
            condition: l.idp.clone(),
            pattern: idp.clone(),
            value: identity.idp.as_str().to_owned(),
        });
    }
    if let Some(v) = rule.email_verified {
        out.push(ConditionHit {
            condition: l.email_verified.clone(),
            pattern: bool_name(v),
            value: identity.email_verified.to_string(),
        });
    }
    if let (Some(domains), Some(email)) = (&rule.domains, identity.verified_email()) {
        let d = email.domain();
        if let Some(label) = domains
            .iter()
            .position(|p| p.matches(d))
            .and_then(|i| rule.domain_labels.get(i))
        {
            out.push(ConditionHit {
                condition: l.email_domain.clone(),
                pattern: label.clone(),
                value: d.to_owned(),
            });
        }
    }
    if let Some(groups) = &rule.groups {
        out.push(first_hit(&l.group, groups, &identity.groups));
    }
    for a in rule.attributes.iter() {
        out.push(first_hit(
            &a.label,
            &a.patterns,
            identity.attribute(&a.name),
        ));
    }
    out
}

fn capped(values: &[String]) -> Vec<String> {
    values.iter().take(MAX_ACTUAL).cloned().collect()
}

fn near_miss(rule: &Rule, failed: Failed, identity: &VerifiedIdentity) -> NearMiss {
    let l = labels();
    let shown = |ps: &[ValuePattern]| ps.iter().map(ValuePattern::display).collect::<Vec<_>>();
    let (condition, expected, actual) = match failed {
        Failed::Idp => (
            l.idp.clone(),
            rule.idp
                .as_deref()
                .map(<[Name]>::to_vec)
                .unwrap_or_default(),
            vec![identity.idp.as_str().to_owned()],
        ),
        Failed::Verified => (
            l.email_verified.clone(),
            rule.email_verified.iter().map(|&b| bool_name(b)).collect(),
            vec![identity.email_verified.to_string()],
        ),
        Failed::Domain => (
            l.email_domain.clone(),
            rule.domain_labels.to_vec(),
            match (&identity.email, identity.email_verified) {
                (None, _) => Vec::new(),
                (Some(e), true) => vec![e.domain().to_owned()],
                (Some(e), false) => vec![format!("{} (unverified)", e.domain())],
            },
        ),
        Failed::Group => (
            l.group.clone(),
            rule.groups.as_deref().map(shown).unwrap_or_default(),
            capped(&identity.groups),
        ),
        Failed::Attribute(i) => match rule.attributes.get(i) {
            Some(a) => (
                a.label.clone(),
                shown(&a.patterns),
                capped(identity.attribute(&a.name)),
            ),
            None => (Name::from("attribute"), Vec::new(), Vec::new()),
        },
    };
    NearMiss {
        rule: rule.name.clone(),
        condition,
        expected,
        actual,
    }
}

/// The first failing condition of `rule` for `identity`, as a near miss; `None` if
/// every condition holds.
pub(crate) fn explain_rule(rule: &Rule, identity: &VerifiedIdentity) -> Option<NearMiss> {
    check(rule, identity)
        .err()
        .map(|failed| near_miss(rule, failed, identity))
}

impl CompiledPolicy {
    /// The rules worth checking for this identity, in file order, without duplicates.
    pub(crate) fn candidates(&self, identity: &VerifiedIdentity) -> Vec<RuleId> {
        self.index.candidates(identity)
    }

    /// Evaluates the policy for one identity, with the full explanation.
    ///
    /// Deterministic and total: the same identity always gives the same evaluation.
    #[must_use]
    pub fn evaluate(&self, identity: &VerifiedIdentity) -> Evaluation {
        let candidates = self.candidates(identity);
        let mut matched: Vec<&Rule> = Vec::new();
        let mut near_misses = Vec::new();
        let mut omitted = 0usize;
        for &id in &candidates {
            let Some(rule) = self.rules.get(id as usize) else {
                continue;
            };
            match check(rule, identity) {
                Ok(()) => matched.push(rule),
                Err(_) if near_misses.len() >= MAX_NEAR_MISSES => omitted += 1,
                Err(failed) => near_misses.push(near_miss(rule, failed, identity)),
            }
        }
        let mut warnings = self.identity_warnings(identity);
        // The deciding deny: highest priority, then the first in the file.
        let deny = matched
            .iter()
            .filter(|r| r.action.is_deny())
            .min_by_key(|r| std::cmp::Reverse(r.priority));
        let allows: Vec<&Rule> = matched
            .iter()
            .copied()
            .filter(|r| !r.action.is_deny())
            .collect();

        let mut evaluation = Evaluation {
            allow: false,
            organizations: Vec::new(),
            portals: Vec::new(),
            fields: BTreeMap::new(),
            require_mfa: false,
            reason: None,
            matched: matched.iter().map(|r| r.name.clone()).collect(),
            explanation: Explanation {
                policy_hash: self.hash.clone(),
                basis: "default_deny",
                matched: Vec::new(),
                near_misses,
                near_misses_omitted: omitted,
                grants: Vec::new(),
                warnings: Vec::new(),
                candidates: candidates.len(),
            },
        };
        evaluation.matched.sort_unstable();
        evaluation.explanation.matched = matched
            .iter()
            .map(|r| RuleMatch {
                rule: r.name.clone(),
                effect: if r.action.is_deny() { "deny" } else { "allow" },
                priority: r.priority,
                conditions: hits(r, identity),
                overridden_by: match deny {
                    Some(d) if !r.action.is_deny() => Some(d.name.clone()),
                    _ => None,
                },
            })
            .collect();

        if let Some(deny) = deny {
            evaluation.explanation.basis = "deny_rule";
            if let Action::Deny { reason } = &deny.action {
                evaluation.reason = reason.as_deref().map(str::to_owned);
            }
        } else if allows.is_empty() {
            if self.default == DefaultEffect::Allow {
                evaluation.allow = true;
                evaluation.explanation.basis = "default_allow";
            }
        } else {
            evaluation.allow = true;
            evaluation.explanation.basis = "allow_rules";
            self.grant(&allows, identity, &mut evaluation, &mut warnings);
        }
        evaluation.explanation.warnings = warnings;
        evaluation
    }

    /// The union of the matched allow rules' grants, and fields by priority.
    fn grant(
        &self,
        allows: &[&Rule],
        identity: &VerifiedIdentity,
        evaluation: &mut Evaluation,
        warnings: &mut Vec<Warning>,
    ) {
        // (output index, rule position in `allows`), sorted: grouped by output, rules in
        // file order within each.
        let mut organizations: Vec<(u32, usize)> = Vec::new();
        let mut portals: Vec<(u32, usize)> = Vec::new();
        let mut mfa = Vec::new();
        for (k, rule) in allows.iter().enumerate() {
            if let Action::Allow {
                organizations: o,
                portals: p,
                require_mfa,
                ..
            } = &rule.action
            {
                organizations.extend(o.iter().map(|&i| (i, k)));
                portals.extend(p.iter().map(|&i| (i, k)));
                if *require_mfa {
                    mfa.push(rule.name.clone());
                }
            }
        }
        organizations.sort_unstable();
        portals.sort_unstable();
        let grants = &mut evaluation.explanation.grants;
        grants.reserve(organizations.len() + portals.len() + 2);
        for (list, output, out) in [
            (
                &organizations,
                "organization",
                &mut evaluation.organizations,
            ),
            (&portals, "portal", &mut evaluation.portals),
        ] {
            let mut start = 0;
            while let Some(&(first, _)) = list.get(start) {
                let end = list
                    .iter()
                    .skip(start)
                    .position(|&(i, _)| i != first)
                    .map_or(list.len(), |n| start + n);
                let key = if output == "organization" {
                    self.organization_key(first)
                } else {
                    self.portal_id(first)
                };
                if let Some(key) = key {
                    let rules = list
                        .get(start..end)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|&(_, k)| allows.get(k).map(|r| r.name.clone()))
                        .collect();
                    out.push(key.clone());
                    grants.push(Grant {
                        output,
                        key: key.clone(),
                        value: None,
                        rules,
                    });
                }
                start = end;
            }
        }
        // Keys sort like the policy's tables (by key), so the lists come out sorted.
        // Fields: the highest priority first, then file order; the first rule that can
        // fill a field in sets it.
        let mut by_priority = allows.to_vec();
        if by_priority.len() > 1 {
            by_priority.sort_by_key(|r| std::cmp::Reverse(r.priority));
        }
        for rule in by_priority {
            let Action::Allow { fields, .. } = &rule.action else {
                continue;
            };
            for (field, template) in fields.iter() {
                if evaluation.fields.contains_key(&**field) {
                    continue;
                }
                match template.render(identity) {
                    Ok(value) => {
                        grants.push(Grant {
                            output: "field",
                            key: Name::from(&**field),
                            value: Some(value.clone()),
                            rules: vec![rule.name.clone()],
                        });
                        evaluation.fields.insert(field.to_string(), value);
                    }
                    Err(missing) => warnings.push(Warning {
                        code: "policy.template.missing_value",
                        message: format!(
                            "rule {:?} sets field {field:?} from {:?}, but the identity has no {}",
                            rule.name,
                            template.source(),
                            missing.0
                        ),
                    }),
                }
            }
        }
        if !mfa.is_empty() {
            evaluation.require_mfa = true;
            grants.push(Grant {
                output: "require_mfa",
                key: Name::from("require_mfa"),
                value: None,
                rules: mfa,
            });
        }
    }

    /// Warnings about the identity that commonly explain a surprising decision.
    fn identity_warnings(&self, identity: &VerifiedIdentity) -> Vec<Warning> {
        let mut warnings = Vec::new();
        if self.uses_groups && identity.groups.is_empty() {
            warnings.push(Warning {
                code: "policy.identity.no_groups",
                message: "the identity carries no groups, but rules look at groups: check that the IdP sends the groups claim or attribute".into(),
            });
        }
        let missing: Vec<&str> = self
            .attributes_used
            .iter()
            .take(MAX_ATTRIBUTE_WARNINGS)
            .filter(|name| identity.attribute(name).is_empty())
            .map(|n| &**n)
            .collect();
        if !missing.is_empty() {
            warnings.push(Warning {
                code: "policy.identity.missing_attribute",
                message: format!(
                    "the identity lacks attributes the rules look at: {}; check the IdP's attribute release",
                    missing.join(", ")
                ),
            });
        }
        if self.uses_domains {
            match &identity.email {
                None => warnings.push(Warning {
                    code: "policy.identity.no_email",
                    message: "the identity has no email, so no email_domain rule can match".into(),
                }),
                Some(email) if !identity.email_verified => warnings.push(Warning {
                    code: "policy.identity.email_unverified",
                    message: format!(
                        "the email domain {} is not verified by the IdP, so no email_domain rule can match",
                        email.domain()
                    ),
                }),
                Some(_) => {}
            }
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Format, load_str};
    use jsm_sso_core::identity::{Protocol, Subject};
    use std::fmt::Write as _;

    /// A tiny deterministic generator (xorshift), so the test needs no extra crate.
    struct Gen(u64);

    impl Gen {
        fn pick(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    const DOMAINS: [&str; 5] = ["a.com", "b.a.com", "c.b.a.com", "x.org", "y.x.org"];
    const IDPS: [&str; 3] = ["okta", "entra", "google"];
    const GROUPS: [&str; 5] = ["g1", "g2", "g3", "staff", "admins"];
    const VALUES: [&str; 4] = ["v1", "v2", "v3", "v4"];

    /// Index lookups must find every rule whose conditions hold: the candidates are a
    /// superset of the rules a brute-force scan matches, on many random policies.
    #[test]
    fn candidates_include_every_matching_rule() {
        let mut g = Gen(0x1234_5678_9abc_def1);
        let mut loaded = 0;
        for round in 0..20 {
            let mut text = String::from("version = 1\n[portals]\n\"1\" = \"P\"\n");
            for i in 0..60 {
                let _ = write!(text, "[[rule]]\nname = \"r{i}\"\nportals = [\"1\"]\n");
                let kind = g.pick(6);
                if kind == 0 || g.pick(4) == 0 {
                    let d = DOMAINS[g.pick(DOMAINS.len())];
                    let star = if g.pick(2) == 0 { "*." } else { "" };
                    let _ = writeln!(text, "email_domain = [\"{star}{d}\"]");
                }
                if kind == 1 || g.pick(3) == 0 {
                    let _ = writeln!(text, "idp = [\"{}\"]", IDPS[g.pick(IDPS.len())]);
                }
                if kind == 2 || g.pick(3) == 0 {
                    let group = if g.pick(3) == 0 {
                        "g*".to_owned()
                    } else {
                        GROUPS[g.pick(GROUPS.len())].to_owned()
                    };
                    let _ = writeln!(text, "group = [\"{group}\"]");
                }
                if kind == 3 || g.pick(3) == 0 {
                    let v = if g.pick(3) == 0 {
                        "/v[12]/"
                    } else {
                        VALUES[g.pick(VALUES.len())]
                    };
                    let _ = writeln!(text, "attribute = {{ dept = [\"{v}\"] }}");
                }
                if g.pick(5) == 0 {
                    let _ = writeln!(text, "email_verified = true");
                }
            }
            let policy = match load_str(&text, Format::Toml, "random.toml") {
                Ok(p) => p,
                // Random rules can conflict or be unreachable; those policies are skipped.
                Err(_) => continue,
            };
            loaded += 1;
            for _ in 0..50 {
                let mut id = VerifiedIdentity::new(
                    IDPS[g.pick(IDPS.len())],
                    Protocol::Oidc,
                    Subject::new("s"),
                    std::time::SystemTime::UNIX_EPOCH,
                );
                let local = if g.pick(2) == 0 { "u" } else { "v" };
                id.email = Some(
                    format!("{local}@{}", DOMAINS[g.pick(DOMAINS.len())])
                        .parse()
                        .unwrap(),
                );
                id.email_verified = g.pick(4) != 0;
                for _ in 0..g.pick(3) {
                    id.groups.push(GROUPS[g.pick(GROUPS.len())].to_owned());
                }
                if g.pick(2) == 0 {
                    id.attributes
                        .insert("dept".into(), vec![VALUES[g.pick(VALUES.len())].to_owned()]);
                }
                let candidates = policy.candidates(&id);
                for (i, rule) in policy.rules.iter().enumerate() {
                    if check(rule, &id).is_ok() {
                        assert!(
                            candidates.contains(&(i as RuleId)),
                            "round {round}: rule {} matches but is no candidate",
                            rule.name
                        );
                    }
                }
            }
        }
        assert!(loaded >= 10, "only {loaded} random policies loaded");
    }
}
