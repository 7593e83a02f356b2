//! Checks across rules: allow rules a deny rule always overrides, and fields two rules set
//! to different values at the same priority. Both use small indexes so a policy with
//! 100,000 rules is checked in near-linear time.

use std::collections::{BTreeMap, HashSet};

use crate::compiled::HashMap;
use std::ops::Range;

use crate::compiled::{Action, Rule};
use crate::domain::{DomainPattern, parents};
use crate::error::Problem;
use crate::load::Ctx;
use crate::pattern::ValuePattern;

/// At most this many field conflicts are reported per field.
const MAX_CONFLICTS_PER_FIELD: usize = 20;

pub(crate) fn cross_rule(rules: &[Rule], spans: &[Option<Range<usize>>], ctx: &mut Ctx<'_>) {
    shadowed(rules, spans, ctx);
    field_conflicts(rules, spans, ctx);
}

fn path(i: usize) -> impl FnOnce() -> String {
    move || format!("rule[{i}]")
}

/// Every domain pattern of `a` is covered by one of `b`'s.
fn patterns_covered<T>(a: &[T], b: &[T], covered: impl Fn(&T, &T) -> bool) -> bool {
    a.iter().all(|x| b.iter().any(|y| covered(x, y)))
}

/// Every identity `allow` matches, `deny` matches too.
fn covers(deny: &Rule, allow: &Rule) -> bool {
    let idp = match (&deny.idp, &allow.idp) {
        (None, _) => true,
        (Some(d), Some(a)) => a.iter().all(|x| d.contains(x)),
        (Some(_), None) => false,
    };
    let verified = match (deny.effective_verified(), allow.effective_verified()) {
        (None, _) => true,
        (Some(d), Some(a)) => d == a,
        (Some(_), None) => false,
    };
    let domains = match (&deny.domains, &allow.domains) {
        (None, _) => true,
        (Some(d), Some(a)) => patterns_covered(a, d, DomainPattern::covered_by),
        (Some(_), None) => false,
    };
    let groups = match (&deny.groups, &allow.groups) {
        (None, _) => true,
        (Some(d), Some(a)) => patterns_covered(a, d, ValuePattern::covered_by),
        (Some(_), None) => false,
    };
    let attributes = deny.attributes.iter().all(|d| {
        allow
            .attributes
            .iter()
            .find(|a| a.name == d.name)
            .is_some_and(|a| patterns_covered(&a.patterns, &d.patterns, ValuePattern::covered_by))
    });
    idp && verified && domains && groups && attributes
}

/// The key under which deny rules are filed for the coverage check: (wildcard, domain).
fn key(p: &DomainPattern) -> (bool, &str) {
    match p {
        DomainPattern::Exact(d) => (false, d),
        DomainPattern::SubdomainsOf(d) => (true, d),
    }
}

fn shadowed(rules: &[Rule], spans: &[Option<Range<usize>>], ctx: &mut Ctx<'_>) {
    let mut broad = Vec::new();
    let mut by_domain: HashMap<(bool, &str), Vec<usize>> = HashMap::default();
    for (i, rule) in rules.iter().enumerate() {
        if !rule.action.is_deny() {
            continue;
        }
        match &rule.domains {
            None => broad.push(i),
            Some(domains) => {
                for d in domains.iter() {
                    by_domain.entry(key(d)).or_default().push(i);
                }
            }
        }
    }
    if broad.is_empty() && by_domain.is_empty() {
        return;
    }
    let mut candidates: Vec<usize> = Vec::new();
    for (i, allow) in rules.iter().enumerate() {
        if allow.action.is_deny() {
            continue;
        }
        candidates.clear();
        candidates.extend_from_slice(&broad);
        if let Some(first) = allow.domains.as_ref().and_then(|d| d.first()) {
            // A deny covering this allow must cover its first domain pattern: the pattern
            // itself, or a wildcard over one of its parents.
            let root = match first {
                DomainPattern::Exact(d) | DomainPattern::SubdomainsOf(d) => &**d,
            };
            if let Some(list) = by_domain.get(&key(first)) {
                candidates.extend(list);
            }
            for parent in parents(root) {
                if let Some(list) = by_domain.get(&(true, parent)) {
                    candidates.extend(list);
                }
            }
        }
        if let Some(&d) = candidates
            .iter()
            .find(|&&d| rules.get(d).is_some_and(|deny| covers(deny, allow)))
        {
            let deny_name = rules.get(d).map_or("", |r| r.name.as_str());
            ctx.error(
                Problem::RuleShadowed,
                spans.get(i).and_then(Option::as_ref),
                path(i),
                format!(
                    "allow rule {:?} can never take effect: every identity it matches is denied by rule {deny_name:?}",
                    allow.name
                ),
            );
        }
    }
}

/// Some identity could match both rules. Conservative: only idp lists, the email's
/// verification and email domains (one value per identity) can make two rules disjoint;
/// groups and attributes are multi-valued, so they never do.
fn may_overlap(a: &Rule, b: &Rule) -> bool {
    if let (Some(x), Some(y)) = (&a.idp, &b.idp)
        && !x.iter().any(|i| y.contains(i))
    {
        return false;
    }
    if let (Some(x), Some(y)) = (a.effective_verified(), b.effective_verified())
        && x != y
    {
        return false;
    }
    if let (Some(x), Some(y)) = (&a.domains, &b.domains)
        && !x.iter().any(|p| y.iter().any(|q| p.overlaps(q)))
    {
        return false;
    }
    true
}

fn field_conflicts(rules: &[Rule], spans: &[Option<Range<usize>>], ctx: &mut Ctx<'_>) {
    // (field, priority) -> rules setting it, with the template text.
    let mut setters: BTreeMap<(&str, i64), Vec<(usize, &str)>> = BTreeMap::new();
    for (i, rule) in rules.iter().enumerate() {
        if let Action::Allow { fields, .. } = &rule.action {
            for (field, template) in fields.iter() {
                setters
                    .entry((field, rule.priority))
                    .or_default()
                    .push((i, template.source()));
            }
        }
    }
    for ((field, _priority), list) in setters {
        let first_value = list.first().map(|(_, v)| *v);
        if list.iter().all(|(_, v)| Some(*v) == first_value) {
            continue;
        }
        let mut reported = 0usize;
        let mut seen: HashSet<(usize, usize)> = HashSet::new();
        for (a, b) in overlapping_pairs(rules, &list) {
            if reported >= MAX_CONFLICTS_PER_FIELD {
                break;
            }
            let (lo, hi) = (a.min(b), a.max(b));
            if !seen.insert((lo, hi)) {
                continue;
            }
            let value = |i: usize| list.iter().find(|(j, _)| *j == i).map_or("", |(_, v)| *v);
            let (va, vb) = (value(lo), value(hi));
            let (Some(ra), Some(rb)) = (rules.get(lo), rules.get(hi)) else {
                continue;
            };
            if va == vb || !may_overlap(ra, rb) {
                continue;
            }
            reported += 1;
            ctx.error(
                Problem::FieldConflict,
                spans.get(hi).and_then(Option::as_ref),
                path(hi),
                format!(
                    "rules {:?} and {:?} can match the same identity and set field {field:?} to {va:?} and {vb:?} at the same priority {}",
                    ra.name, rb.name, ra.priority
                ),
            );
        }
    }
}

/// Pairs of rules in `list` that share a domain key, plus every pair involving a rule
/// without a domain condition. Rules on unrelated domains are never paired.
fn overlapping_pairs(rules: &[Rule], list: &[(usize, &str)]) -> Vec<(usize, usize)> {
    let mut open = Vec::new();
    let mut exact: HashMap<&str, Vec<usize>> = HashMap::default();
    let mut subtree: HashMap<&str, Vec<usize>> = HashMap::default();
    for &(i, _) in list {
        match rules.get(i).and_then(|r| r.domains.as_ref()) {
            None => open.push(i),
            Some(domains) => {
                for d in domains.iter() {
                    match d {
                        DomainPattern::Exact(x) => exact.entry(x).or_default().push(i),
                        DomainPattern::SubdomainsOf(x) => subtree.entry(x).or_default().push(i),
                    }
                }
            }
        }
    }
    let mut pairs = Vec::new();
    for &o in &open {
        pairs.extend(list.iter().filter(|(i, _)| *i != o).map(|&(i, _)| (o, i)));
    }
    for (i, rule) in list
        .iter()
        .filter_map(|&(i, _)| rules.get(i).map(|r| (i, r)))
    {
        for d in rule.domains.iter().flat_map(|d| d.iter()) {
            let (root, same) = match d {
                DomainPattern::Exact(x) => (&**x, exact.get(&**x)),
                DomainPattern::SubdomainsOf(x) => (&**x, subtree.get(&**x)),
            };
            pairs.extend(
                same.into_iter()
                    .flatten()
                    .filter(|&&j| j != i)
                    .map(|&j| (i, j)),
            );
            // `*.x` does not match `x` itself, so only proper parents pair up.
            for parent in parents(root) {
                if let Some(js) = subtree.get(parent) {
                    pairs.extend(js.iter().filter(|&&j| j != i).map(|&j| (i, j)));
                }
            }
        }
    }
    pairs
}
