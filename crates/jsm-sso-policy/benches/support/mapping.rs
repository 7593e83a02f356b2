//! The synthetic mapping shared by the bench, the latency example and the Cedar comparison
//! (`peerbench/policy-cedar`): N rules of four kinds, and identities that hit them.
//!
//! Rule `i` by `i % 10`: 0-6 an email-domain rule (`t{i}.example.com` and its sub-domains ->
//! an organization and a portal, a field from `department`), 7 an (idp, group) rule, 8 an
//! attribute rule (`cost_center`), 9 a deny rule for a spam domain.
#![allow(
    dead_code,
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "bench helper"
)]

use std::fmt::Write as _;

/// One synthetic rule, format-neutral.
#[derive(Debug, Clone)]
pub enum SynthRule {
    /// `email_domain = [domain, *.domain]` -> org, portal.
    Domain {
        name: String,
        domain: String,
        org: String,
        portal: String,
    },
    /// `idp = [idp]`, `group = [group]` -> org, portal.
    Group {
        name: String,
        idp: String,
        group: String,
        org: String,
        portal: String,
    },
    /// `attribute = { cost_center = [value] }` -> org.
    Attribute {
        name: String,
        value: String,
        org: String,
    },
    /// `effect = "deny"`, `email_domain = [domain]`.
    Deny { name: String, domain: String },
}

/// Number of portals and of organizations in the mapping.
pub const PORTALS: usize = 50;
/// Organizations (at most this many; fewer for small N).
pub const ORGANIZATIONS: usize = 1000;

/// The rules of a mapping with `n` rules.
pub fn rules(n: usize) -> Vec<SynthRule> {
    let orgs = ORGANIZATIONS.min(n.max(1));
    (0..n)
        .map(|i| {
            let org = format!("o{}", i % orgs);
            let portal = format!("{}", 100 + i % PORTALS);
            match i % 10 {
                7 => SynthRule::Group {
                    name: format!("r{i}"),
                    idp: format!("idp{}", i % 5),
                    group: format!("grp-{i}"),
                    org,
                    portal,
                },
                8 => SynthRule::Attribute {
                    name: format!("r{i}"),
                    value: format!("cc-{i}"),
                    org,
                },
                9 => SynthRule::Deny {
                    name: format!("r{i}"),
                    domain: format!("spam{i}.example.net"),
                },
                _ => SynthRule::Domain {
                    name: format!("r{i}"),
                    domain: format!("t{i}.example.com"),
                    org,
                    portal,
                },
            }
        })
        .collect()
}

/// The mapping as a jsm-sso policy (TOML).
pub fn toml(n: usize) -> String {
    let mut out = String::with_capacity(n * 160);
    out.push_str("version = 1\ndefault = \"deny\"\n[portals]\n");
    for p in 0..PORTALS {
        let _ = writeln!(out, "\"{}\" = \"Portal {p}\"", 100 + p);
    }
    out.push_str("[organizations]\n");
    for o in 0..ORGANIZATIONS.min(n.max(1)) {
        let _ = writeln!(out, "o{o} = \"Organization {o}\"");
    }
    for rule in rules(n) {
        match rule {
            SynthRule::Domain {
                name,
                domain,
                org,
                portal,
            } => {
                let _ = write!(
                    out,
                    "[[rule]]\nname = \"{name}\"\nemail_domain = [\"{domain}\", \"*.{domain}\"]\norganizations = [\"{org}\"]\nportals = [\"{portal}\"]\nfields = {{ customfield_1 = \"{{attr.department}}\" }}\n"
                );
            }
            SynthRule::Group {
                name,
                idp,
                group,
                org,
                portal,
            } => {
                let _ = write!(
                    out,
                    "[[rule]]\nname = \"{name}\"\nidp = [\"{idp}\"]\ngroup = [\"{group}\"]\norganizations = [\"{org}\"]\nportals = [\"{portal}\"]\n"
                );
            }
            SynthRule::Attribute { name, value, org } => {
                let _ = write!(
                    out,
                    "[[rule]]\nname = \"{name}\"\nattribute = {{ cost_center = [\"{value}\"] }}\norganizations = [\"{org}\"]\n"
                );
            }
            SynthRule::Deny { name, domain } => {
                let _ = write!(
                    out,
                    "[[rule]]\nname = \"{name}\"\neffect = \"deny\"\nemail_domain = [\"{domain}\"]\nreason = \"Spam domain.\"\n"
                );
            }
        }
    }
    out
}

/// A sign-in to evaluate: (idp, email, groups, department, cost_center).
#[derive(Debug, Clone)]
pub struct SynthIdentity {
    pub idp: String,
    pub email: String,
    pub groups: Vec<String>,
    pub department: String,
    pub cost_center: String,
}

/// `count` identities spread over the mapping (deterministic): most match one domain rule,
/// some also a group or attribute rule, some hit a deny rule, some match nothing.
pub fn identities(n: usize, count: usize) -> Vec<SynthIdentity> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % (n.max(1) as u64)).unwrap()
    };
    (0..count)
        .map(|k| {
            let d = next();
            let domain = match k % 8 {
                6 => format!("spam{}.example.net", d - d % 10 + 9),
                7 => "nobody.example.org".to_owned(),
                _ => format!("eu.t{}.example.com", d - d % 10 + (k % 7)),
            };
            let g = next();
            let a = next();
            SynthIdentity {
                idp: format!("idp{}", (g - g % 10 + 7) % 5),
                email: format!("user{k}@{domain}"),
                groups: vec![format!("grp-{}", g - g % 10 + 7), "users".to_owned()],
                department: "Sales".to_owned(),
                cost_center: format!("cc-{}", a - a % 10 + 8),
            }
        })
        .collect()
}
