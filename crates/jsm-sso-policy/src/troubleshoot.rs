//! Troubleshooting: "why not organization X / portal Y?", the membership dry run, and the
//! explanation as text.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use jsm_sso_core::VerifiedIdentity;
use serde::Serialize;

use crate::compiled::{Action, CompiledPolicy};
use crate::eval::Evaluation;

/// What "why not" asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// An organization, by its key in `[organizations]`.
    Organization(&'a str),
    /// A portal, by its service desk id in `[portals]`.
    Portal(&'a str),
}

/// The answer to "why (not) this organization or portal?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WhyNot {
    /// `organization KEY` or `portal ID`.
    pub target: String,
    /// Whether the identity gets it.
    pub granted: bool,
    /// One line per relevant rule (or about the target itself).
    pub reasons: Vec<String>,
}

/// The memberships a customer has in the directory now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memberships {
    /// JSM organization names.
    pub organizations: Vec<String>,
    /// Portal (service desk) ids.
    pub portals: Vec<String>,
}

/// What provisioning would change: the policy's memberships against the directory's.
///
/// Only organizations and portals the policy declares are managed: a membership in
/// anything else is listed as unmanaged and never removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MembershipPlan {
    /// Whether the policy allows the customer at all.
    pub allow: bool,
    /// Organization names to add.
    pub add_organizations: Vec<String>,
    /// Organization names to remove.
    pub remove_organizations: Vec<String>,
    /// Organization names already right.
    pub keep_organizations: Vec<String>,
    /// Organization names the policy does not declare (left alone).
    pub unmanaged_organizations: Vec<String>,
    /// Portal ids to grant.
    pub add_portals: Vec<String>,
    /// Portal ids to revoke.
    pub remove_portals: Vec<String>,
    /// Portal ids already right.
    pub keep_portals: Vec<String>,
    /// Portal ids the policy does not declare (left alone).
    pub unmanaged_portals: Vec<String>,
}

impl MembershipPlan {
    /// Whether nothing needs to change.
    #[must_use]
    pub fn is_noop(&self) -> bool {
        self.add_organizations.is_empty()
            && self.remove_organizations.is_empty()
            && self.add_portals.is_empty()
            && self.remove_portals.is_empty()
    }
}

/// Splits wanted vs. present into (add, remove, keep, unmanaged), each sorted.
fn diff(
    wanted: &BTreeSet<String>,
    present: &[String],
    managed: &BTreeSet<&str>,
) -> (Vec<String>, Vec<String>, Vec<String>, Vec<String>) {
    let present: BTreeSet<&str> = present.iter().map(String::as_str).collect();
    let add = wanted
        .iter()
        .filter(|w| !present.contains(w.as_str()))
        .cloned()
        .collect();
    let keep = wanted
        .iter()
        .filter(|w| present.contains(w.as_str()))
        .cloned()
        .collect();
    let remove = present
        .iter()
        .filter(|p| managed.contains(*p) && !wanted.contains(**p))
        .map(|p| (*p).to_owned())
        .collect();
    let unmanaged = present
        .iter()
        .filter(|p| !managed.contains(*p))
        .map(|p| (*p).to_owned())
        .collect();
    (add, remove, keep, unmanaged)
}

impl CompiledPolicy {
    /// Why the identity does or does not get an organization or portal: every rule that
    /// grants it, and for each the condition that failed, or the deny rule that overrode it.
    #[must_use]
    pub fn why_not(&self, identity: &VerifiedIdentity, target: Target<'_>) -> WhyNot {
        let (label, index) = match target {
            Target::Organization(key) => (
                format!("organization {key}"),
                self.organizations.iter().position(|(k, _)| **k == *key),
            ),
            Target::Portal(id) => (
                format!("portal {id}"),
                self.portals.iter().position(|(p, _)| **p == *id),
            ),
        };
        let evaluation = self.evaluate(identity);
        let granted = match target {
            Target::Organization(key) => evaluation.organizations.iter().any(|k| k == key),
            Target::Portal(id) => evaluation.portals.iter().any(|p| p == id),
        };
        let mut reasons = Vec::new();
        let Some(index) = index.and_then(|i| u32::try_from(i).ok()) else {
            reasons.push(format!("{label} is not declared in the policy"));
            return WhyNot {
                target: label,
                granted,
                reasons,
            };
        };
        let granting: Vec<_> = self
            .rules
            .iter()
            .filter(|r| match (&r.action, target) {
                (Action::Allow { organizations, .. }, Target::Organization(_)) => {
                    organizations.contains(&index)
                }
                (Action::Allow { portals, .. }, Target::Portal(_)) => portals.contains(&index),
                (Action::Deny { .. }, _) => false,
            })
            .collect();
        if granting.is_empty() {
            reasons.push(format!("no rule grants {label}"));
        }
        let deny = evaluation
            .explanation
            .matched
            .iter()
            .find(|m| m.effect == "deny")
            .map(|m| m.rule.clone());
        for rule in granting {
            let reason = match crate::eval::explain_rule(rule, identity) {
                None => match &deny {
                    Some(d) => format!(
                        "rule {:?} matches and grants {label}, but deny rule {d:?} overrides it",
                        rule.name
                    ),
                    None => format!("rule {:?} matches and grants {label}", rule.name),
                },
                Some(miss) => format!(
                    "rule {:?} grants {label} but does not match: {} expected one of [{}], identity has [{}]",
                    rule.name,
                    miss.condition,
                    miss.expected.join(", "),
                    miss.actual.join(", ")
                ),
            };
            reasons.push(reason);
        }
        if !granted && !evaluation.allow && deny.is_none() && reasons.is_empty() {
            reasons.push("the policy's default denies this identity".into());
        }
        WhyNot {
            target: label,
            granted,
            reasons,
        }
    }

    /// The memberships the customer should have (by this policy) against the ones the
    /// directory has. Pure: pass what the directory reports.
    #[must_use]
    pub fn dry_run(&self, identity: &VerifiedIdentity, current: &Memberships) -> MembershipPlan {
        let evaluation = self.evaluate(identity);
        let wanted_orgs: BTreeSet<String> = if evaluation.allow {
            evaluation
                .organizations
                .iter()
                .filter_map(|key| self.organizations.iter().find(|(k, _)| **k == **key))
                .map(|(_, name)| name.to_string())
                .collect()
        } else {
            BTreeSet::new()
        };
        let wanted_portals: BTreeSet<String> = if evaluation.allow {
            evaluation.portals.iter().map(ToString::to_string).collect()
        } else {
            BTreeSet::new()
        };
        let managed_orgs: BTreeSet<&str> = self.organizations.iter().map(|(_, n)| &**n).collect();
        let managed_portals: BTreeSet<&str> = self.portals.iter().map(|(p, _)| &**p).collect();
        let (add_organizations, remove_organizations, keep_organizations, unmanaged_organizations) =
            diff(&wanted_orgs, &current.organizations, &managed_orgs);
        let (add_portals, remove_portals, keep_portals, unmanaged_portals) =
            diff(&wanted_portals, &current.portals, &managed_portals);
        MembershipPlan {
            allow: evaluation.allow,
            add_organizations,
            remove_organizations,
            keep_organizations,
            unmanaged_organizations,
            add_portals,
            remove_portals,
            keep_portals,
            unmanaged_portals,
        }
    }
}

impl Evaluation {
    /// The decision and its explanation as text for a person (the troubleshooting page).
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let e = &self.explanation;
        let verdict = if self.allow { "ALLOW" } else { "DENY" };
        let _ = writeln!(
            out,
            "{verdict} ({}; policy {})",
            e.basis.replace('_', " "),
            e.policy_hash
        );
        if let Some(reason) = &self.reason {
            let _ = writeln!(out, "  reason shown to the customer: {reason}");
        }
        for g in &e.grants {
            match &g.value {
                Some(v) => {
                    let _ = writeln!(
                        out,
                        "  {} {} = {v:?}  <- {}",
                        g.output,
                        g.key,
                        g.rules.join(", ")
                    );
                }
                None => {
                    let _ = writeln!(out, "  {} {}  <- {}", g.output, g.key, g.rules.join(", "));
                }
            }
        }
        for m in &e.matched {
            let _ = writeln!(
                out,
                "matched {} rule {:?} (priority {})",
                m.effect, m.rule, m.priority
            );
            for c in &m.conditions {
                let _ = writeln!(
                    out,
                    "    {}: {} matches {}",
                    c.condition, c.value, c.pattern
                );
            }
            if let Some(by) = &m.overridden_by {
                let _ = writeln!(out, "    overridden by deny rule {by:?}");
            }
        }
        for n in &e.near_misses {
            let _ = writeln!(
                out,
                "near miss {:?}: {} expected one of [{}], identity has [{}]",
                n.rule,
                n.condition,
                n.expected.join(", "),
                n.actual.join(", ")
            );
        }
        if e.near_misses_omitted > 0 {
            let _ = writeln!(out, "... and {} more near misses", e.near_misses_omitted);
        }
        for w in &e.warnings {
            let _ = writeln!(out, "warning [{}]: {}", w.code, w.message);
        }
        out
    }
}
