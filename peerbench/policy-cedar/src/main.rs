//! The jsm-sso-policy bench mapping (`crates/jsm-sso-policy/benches/support/mapping.rs`)
//! expressed as Cedar policies, and both engines timed on the same identities:
//! compile (parse + validate + index) and one decision including the grants (organizations
//! and portals from the matched rules).
//!
//! `cargo run --release [SIZES...]` (default 100 1000 10000 100000).
#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::indexing_slicing,
    missing_docs
)]

#[path = "../../../crates/jsm-sso-policy/benches/support/mapping.rs"]
mod mapping;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::hint::black_box;
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime};

use cedar_policy::{Authorizer, Context, Decision, Entities, EntityUid, PolicySet, Request};
use jsm_sso_core::VerifiedIdentity;
use jsm_sso_core::identity::{Protocol, Subject};
use jsm_sso_policy::{Format, load_str};
use mapping::SynthRule;

/// The mapping as Cedar: one policy per rule, in order, so Cedar's default ids
/// (`policy0`, `policy1`, ...) are the rule indices. Identity data travels in the context.
fn cedar_text(rules: &[SynthRule]) -> String {
    let mut out = String::with_capacity(rules.len() * 160);
    for rule in rules {
        match rule {
            SynthRule::Domain { domain, .. } => {
                let _ = writeln!(
                    out,
                    "permit(principal, action, resource) when {{ context.email_verified && (context.domain == \"{domain}\" || context.domain like \"*.{domain}\") }};"
                );
            }
            SynthRule::Group { idp, group, .. } => {
                let _ = writeln!(
                    out,
                    "permit(principal, action, resource) when {{ context.idp == \"{idp}\" && context.groups.contains(\"{group}\") }};"
                );
            }
            SynthRule::Attribute { value, .. } => {
                let _ = writeln!(
                    out,
                    "permit(principal, action, resource) when {{ context.cost_center.contains(\"{value}\") }};"
                );
            }
            SynthRule::Deny { domain, .. } => {
                let _ = writeln!(
                    out,
                    "forbid(principal, action, resource) when {{ context.email_verified && context.domain == \"{domain}\" }};"
                );
            }
        }
    }
    out
}

fn grants(rule: &SynthRule) -> (Option<&str>, Option<&str>) {
    match rule {
        SynthRule::Domain { org, portal, .. } | SynthRule::Group { org, portal, .. } => {
            (Some(org), Some(portal))
        }
        SynthRule::Attribute { org, .. } => (Some(org), None),
        SynthRule::Deny { .. } => (None, None),
    }
}

/// One Cedar decision with the same outputs as jsm-sso-policy's: allow, organizations and
/// portals (from the permits that determined an allow).
fn cedar_decide(
    authorizer: &Authorizer,
    policies: &PolicySet,
    rules: &[SynthRule],
    id: &mapping::SynthIdentity,
) -> (bool, BTreeSet<String>, BTreeSet<String>) {
    let domain = id.email.split_once('@').unwrap().1;
    let context = Context::from_json_value(
        serde_json::json!({
            "idp": id.idp, "domain": domain, "email_verified": true,
            "groups": id.groups, "cost_center": [id.cost_center],
        }),
        None,
    )
    .unwrap();
    let request = Request::new(
        EntityUid::from_str("User::\"u\"").unwrap(),
        EntityUid::from_str("Action::\"signin\"").unwrap(),
        EntityUid::from_str("Portal::\"any\"").unwrap(),
        context,
        None,
    )
    .unwrap();
    let response = authorizer.is_authorized(&request, policies, &Entities::empty());
    let allow = response.decision() == Decision::Allow;
    let (mut orgs, mut portals) = (BTreeSet::new(), BTreeSet::new());
    if allow {
        for pid in response.diagnostics().reason() {
            let i: usize = pid
                .to_string()
                .trim_start_matches("policy")
                .parse()
                .unwrap();
            let (o, p) = grants(&rules[i]);
            orgs.extend(o.map(str::to_owned));
            portals.extend(p.map(str::to_owned));
        }
    }
    (allow, orgs, portals)
}

fn identity(s: &mapping::SynthIdentity) -> VerifiedIdentity {
    let mut id = VerifiedIdentity::new(
        s.idp.as_str(),
        Protocol::Oidc,
        Subject::new("s"),
        SystemTime::UNIX_EPOCH,
    );
    id.email = Some(s.email.parse().unwrap());
    id.email_verified = true;
    id.groups.clone_from(&s.groups);
    id.attributes
        .insert("department".into(), vec![s.department.clone()]);
    id.attributes
        .insert("cost_center".into(), vec![s.cost_center.clone()]);
    id
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort_unstable();
    let at = |p: usize| samples[(samples.len() * p / 100).min(samples.len() - 1)];
    (at(50), at(99))
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![100, 1000, 10_000, 100_000]
    } else {
        sizes
    };
    println!(
        "| rules | jsm-sso compile | cedar compile | jsm-sso decide p50 / p99 | cedar decide p50 / p99 | p50 ratio |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        let rules = mapping::rules(n);
        let toml = mapping::toml(n);
        let cedar = cedar_text(&rules);

        let t = Instant::now();
        let ours = load_str(&toml, Format::Toml, "bench.toml").unwrap();
        let ours_compile = t.elapsed();
        let t = Instant::now();
        let policies = PolicySet::from_str(&cedar).unwrap();
        let cedar_compile = t.elapsed();
        let authorizer = Authorizer::new();

        let synth = mapping::identities(n, 256);
        let ids: Vec<_> = synth.iter().map(identity).collect();
        // Same answers from both engines on every identity.
        for (s, id) in synth.iter().zip(&ids) {
            let e = ours.evaluate(id);
            let (allow, orgs, portals) = cedar_decide(&authorizer, &policies, &rules, s);
            assert_eq!(e.allow, allow, "{s:?}");
            if allow {
                let o: BTreeSet<String> = e.organizations.iter().map(ToString::to_string).collect();
                let p: BTreeSet<String> = e.portals.iter().map(ToString::to_string).collect();
                assert_eq!((o, p), (orgs, portals), "{s:?}");
            }
        }
        let rounds_ours = 20_000;
        let mut ours_t = Vec::with_capacity(rounds_ours);
        for i in 0..rounds_ours {
            let t = Instant::now();
            black_box(ours.evaluate(black_box(&ids[i % ids.len()])));
            ours_t.push(t.elapsed());
        }
        // Cedar evaluates every policy on every request: fewer rounds at large sizes.
        let rounds_cedar = (2_000_000 / n.max(1)).clamp(10, 2000);
        let mut cedar_t = Vec::with_capacity(rounds_cedar);
        for i in 0..rounds_cedar {
            let t = Instant::now();
            black_box(cedar_decide(
                &authorizer,
                &policies,
                &rules,
                &synth[i % synth.len()],
            ));
            cedar_t.push(t.elapsed());
        }
        let (o50, o99) = percentiles(ours_t);
        let (c50, c99) = percentiles(cedar_t);
        println!(
            "| {n} | {ours_compile:.1?} | {cedar_compile:.1?} | {o50:.1?} / {o99:.1?} | {c50:.1?} / {c99:.1?} | {:.0}x |",
            c50.as_secs_f64() / o50.as_secs_f64()
        );
    }
}
