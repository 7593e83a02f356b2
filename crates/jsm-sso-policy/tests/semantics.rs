//! The policy semantics, rule by rule (docs/policy.md describes each).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should stop the run loudly"
)]

mod common;

use common::{codes, id, invalid, policy, with_attr, with_groups};
use jsm_sso_core::AccessPolicy;
use jsm_sso_core::decision::{Effect, OrganizationRef, StepOutcome};
use jsm_sso_policy::{Memberships, Target};

#[test]
fn deny_overrides_every_allow_whatever_its_priority() {
    let p = policy(
        r#"
[[rule]]
name = "acme-staff"
priority = 100
email_domain = ["acme.com", "*.acme.com"]
organizations = ["acme"]
[[rule]]
name = "block-contractors"
effect = "deny"
email_domain = ["contractors.acme.com"]
reason = "Contractors use the partner portal."
"#,
    );
    let e = p.evaluate(&id("okta", "bob@contractors.acme.com"));
    assert!(!e.allow);
    assert!(e.organizations.is_empty() && e.portals.is_empty() && e.fields.is_empty());
    assert_eq!(
        e.reason.as_deref(),
        Some("Contractors use the partner portal.")
    );
    assert_eq!(e.matched, ["acme-staff", "block-contractors"]);
    assert_eq!(e.explanation.basis, "deny_rule");
    let allow = e
        .explanation
        .matched
        .iter()
        .find(|m| m.rule == "acme-staff")
        .unwrap();
    assert_eq!(allow.overridden_by.as_deref(), Some("block-contractors"));
    // Everyone else at Acme is allowed.
    assert!(p.evaluate(&id("okta", "ann@eu.acme.com")).allow);
    // Through the core seam the customer sees only the reason.
    let d = p.decide(&id("okta", "bob@contractors.acme.com"));
    assert_eq!(
        d.effect,
        Effect::Deny {
            reason: Some("Contractors use the partner portal.".into())
        }
    );
}

#[test]
fn default_deny_and_default_allow() {
    let rules = r#"
[[rule]]
name = "acme"
email_domain = ["acme.com"]
portals = ["2"]
"#;
    let deny = policy(rules);
    let e = deny.evaluate(&id("okta", "x@other.com"));
    assert!(!e.allow);
    assert_eq!(e.explanation.basis, "default_deny");
    assert_eq!(e.reason, None);
    let d = deny.decide(&id("okta", "x@other.com"));
    assert!(d.explanation.steps.iter().any(|s| s.rule == "default"));

    // `default` is a top-level key, so it goes before the tables.
    let text = format!("default = \"allow\"\n{}{rules}", common::HEADER);
    let allow = jsm_sso_policy::load_str(&text, jsm_sso_policy::Format::Toml, "t.toml").unwrap();
    assert!(allow.default_allows());
    let e = allow.evaluate(&id("okta", "x@other.com"));
    assert!(e.allow);
    assert_eq!(e.explanation.basis, "default_allow");
    assert!(e.organizations.is_empty() && e.portals.is_empty());
}

#[test]
fn allows_contribute_a_union_with_provenance() {
    let p = policy(
        r#"
[[rule]]
name = "acme-staff"
email_domain = ["acme.com"]
organizations = ["acme"]
portals = ["5", "2"]
[[rule]]
name = "okta-partners"
idp = ["okta-partners"]
organizations = ["partners", "acme"]
portals = ["7"]
require_mfa = true
"#,
    );
    assert_eq!(
        p.rules_requiring_mfa().collect::<Vec<_>>(),
        ["okta-partners"]
    );
    let e = p.evaluate(&id("okta-partners", "ann@acme.com"));
    assert!(e.allow);
    assert_eq!(e.organizations, ["acme", "partners"]);
    assert_eq!(e.portals, ["2", "5", "7"]);
    assert!(e.require_mfa);
    let acme = e
        .explanation
        .grants
        .iter()
        .find(|g| g.output == "organization" && g.key == "acme")
        .unwrap();
    assert_eq!(acme.rules, ["acme-staff", "okta-partners"]);
    let portal7 = e
        .explanation
        .grants
        .iter()
        .find(|g| g.output == "portal" && g.key == "7")
        .unwrap();
    assert_eq!(portal7.rules, ["okta-partners"]);
    let mfa = e
        .explanation
        .grants
        .iter()
        .find(|g| g.output == "require_mfa")
        .unwrap();
    assert_eq!(mfa.rules, ["okta-partners"]);
    // The core decision names organizations by their JSM name.
    let d = p.decide(&id("okta-partners", "ann@acme.com"));
    assert_eq!(
        d.organizations,
        [
            OrganizationRef::Name("Acme Corp".into()),
            OrganizationRef::Name("Gold Partners".into())
        ]
    );
    assert!(d.require_mfa);
    // Without the partner IdP only the first rule applies, and no MFA.
    let e = p.evaluate(&id("okta", "ann@acme.com"));
    assert_eq!(e.portals, ["2", "5"]);
    assert!(!e.require_mfa);
}

#[test]
fn fields_take_the_highest_priority_value() {
    let p = policy(
        r#"
[[rule]]
name = "everyone-at-acme"
email_domain = ["acme.com"]
organizations = ["acme"]
fields = { customfield_1 = "Customer", customfield_2 = "{attr.department}" }
[[rule]]
name = "vip"
priority = 10
email_domain = ["acme.com"]
group = ["vip"]
organizations = ["acme"]
fields = { customfield_1 = "VIP" }
"#,
    );
    let plain = with_attr(id("okta", "a@acme.com"), "department", &["Sales"]);
    let e = p.evaluate(&plain);
    assert_eq!(e.fields["customfield_1"], "Customer");
    assert_eq!(e.fields["customfield_2"], "Sales");
    let vip = with_groups(plain, &["vip"]);
    let e = p.evaluate(&vip);
    assert_eq!(e.fields["customfield_1"], "VIP");
    assert_eq!(e.fields["customfield_2"], "Sales");
    let g = e
        .explanation
        .grants
        .iter()
        .find(|g| g.key == "customfield_1")
        .unwrap();
    assert_eq!(g.rules, ["vip"]);
    assert_eq!(g.value.as_deref(), Some("VIP"));
}

#[test]
fn field_conflict_at_equal_priority_is_a_load_error() {
    let err = invalid(
        r#"
[[rule]]
name = "a"
email_domain = ["*.acme.com"]
fields = { customfield_1 = "A" }
[[rule]]
name = "b"
email_domain = ["eu.acme.com"]
fields = { customfield_1 = "B" }
"#,
    );
    assert_eq!(codes(&err), ["policy.field.conflict"]);
    let d = &err.diagnostics()[0];
    assert_eq!(d.location.to_string(), "test.toml:17:8");
    assert!(d.message.contains("\"a\" and \"b\""), "{}", d.message);

    // Rules that cannot match the same identity may set different values...
    policy(
        r#"
[[rule]]
name = "acme"
email_domain = ["acme.com", "*.acme.com"]
fields = { customfield_1 = "Acme" }
[[rule]]
name = "beta"
email_domain = ["beta.com"]
fields = { customfield_1 = "Beta" }
[[rule]]
name = "okta-only"
idp = ["okta"]
fields = { customfield_2 = "X" }
[[rule]]
name = "entra-only"
idp = ["entra"]
fields = { customfield_2 = "Y" }
"#,
    );
    // ...and so may overlapping rules ordered by priority, or setting the same value.
    policy(
        r#"
[[rule]]
name = "a"
email_domain = ["acme.com"]
fields = { customfield_1 = "A" }
[[rule]]
name = "b"
priority = 1
group = ["staff"]
fields = { customfield_1 = "B" }
[[rule]]
name = "c"
group = ["staff"]
fields = { customfield_1 = "A" }
"#,
    );
    // Groups never make rules disjoint: one identity can be in both.
    let err = invalid(
        r#"
[[rule]]
name = "a"
group = ["red"]
fields = { f = "A" }
[[rule]]
name = "b"
group = ["blue"]
fields = { f = "B" }
"#,
    );
    assert_eq!(codes(&err), ["policy.field.conflict"]);
}

#[test]
fn wildcards_match_sub_domains_only() {
    let p = policy(
        r#"
[[rule]]
name = "subs"
email_domain = ["*.acme.com"]
portals = ["2"]
"#,
    );
    assert!(p.evaluate(&id("okta", "a@eu.acme.com")).allow);
    assert!(p.evaluate(&id("okta", "a@x.eu.acme.com")).allow);
    assert!(!p.evaluate(&id("okta", "a@acme.com")).allow);
    assert!(!p.evaluate(&id("okta", "a@evilacme.com")).allow);
    assert!(!p.evaluate(&id("okta", "a@acme.com.evil.com")).allow);
}

#[test]
fn idn_domains_match_on_their_ascii_form() {
    let p = policy(
        r#"
[[rule]]
name = "buecher-subs"
email_domain = ["*.bücher.example"]
portals = ["2"]
[[rule]]
name = "buecher"
email_domain = ["bücher.example"]
portals = ["5"]
"#,
    );
    // Email written in Unicode or in Punycode: the same normalised domain.
    let e = p.evaluate(&id("okta", "ann@shop.Bücher.example"));
    assert_eq!(e.portals, ["2"]);
    assert_eq!(
        e.explanation.matched[0].conditions[0].pattern,
        "*.xn--bcher-kva.example"
    );
    assert_eq!(
        e.explanation.matched[0].conditions[0].value,
        "shop.xn--bcher-kva.example"
    );
    let e = p.evaluate(&id("okta", "ann@xn--bcher-kva.example"));
    assert_eq!(e.portals, ["5"]);
    // The Unicode form of a look-alike is a different domain.
    assert!(!p.evaluate(&id("okta", "ann@bucher.example")).allow);
}

#[test]
fn only_verified_emails_match_domains() {
    let p = policy(
        r#"
[[rule]]
name = "acme"
email_domain = ["acme.com"]
portals = ["2"]
"#,
    );
    let mut unverified = id("okta", "mallory@acme.com");
    unverified.email_verified = false;
    let e = p.evaluate(&unverified);
    assert!(!e.allow);
    let miss = &e.explanation.near_misses[0];
    assert_eq!(miss.rule, "acme");
    assert_eq!(miss.condition, "email_domain");
    assert_eq!(miss.expected, ["acme.com"]);
    assert_eq!(miss.actual, ["acme.com (unverified)"]);
    assert!(
        e.explanation
            .warnings
            .iter()
            .any(|w| w.code == "policy.identity.email_unverified")
    );
    let mut no_email = id("okta", "x@acme.com");
    no_email.email = None;
    let e = p.evaluate(&no_email);
    assert!(!e.allow);
    assert!(
        e.explanation
            .warnings
            .iter()
            .any(|w| w.code == "policy.identity.no_email")
    );
}

#[test]
fn groups_exact_glob_and_regex() {
    let p = policy(
        r#"
[[rule]]
name = "exact"
group = ["staff"]
portals = ["2"]
[[rule]]
name = "glob"
idp = ["okta-partners"]
group = ["partner-gold*"]
portals = ["7"]
[[rule]]
name = "regex"
group = ["/billing-(eu|us)/"]
portals = ["5"]
"#,
    );
    let e = p.evaluate(&with_groups(id("okta", "a@x.com"), &["staff"]));
    assert_eq!(e.portals, ["2"]);
    assert!(
        !p.evaluate(&with_groups(id("okta", "a@x.com"), &["Staff"]))
            .allow
    );
    let e = p.evaluate(&with_groups(
        id("okta-partners", "a@x.com"),
        &["partner-gold-emea"],
    ));
    assert_eq!(e.portals, ["7"]);
    assert_eq!(
        e.explanation.matched[0].conditions[1].pattern,
        "partner-gold*"
    );
    // Right group, wrong IdP: a near miss on idp.
    let e = p.evaluate(&with_groups(id("okta", "a@x.com"), &["partner-gold-emea"]));
    assert!(!e.allow);
    let e = p.evaluate(&with_groups(id("okta", "a@x.com"), &["billing-eu"]));
    assert_eq!(e.portals, ["5"]);
    assert!(
        !p.evaluate(&with_groups(id("okta", "a@x.com"), &["billing-eu-old"]))
            .allow
    );
}

#[test]
fn every_named_attribute_must_hold() {
    let p = policy(
        r#"
[[rule]]
name = "gold-partners"
idp = ["okta-partners"]
group = ["partner-gold*"]
attribute = { region = ["EMEA", "APAC"], tier = ["/gold|platinum/"] }
portals = ["7"]
require_mfa = true
"#,
    );
    let base = with_groups(id("okta-partners", "p@partner.com"), &["partner-gold"]);
    let ok = with_attr(
        with_attr(base.clone(), "region", &["AMER", "APAC"]),
        "tier",
        &["gold"],
    );
    let e = p.evaluate(&ok);
    assert!(e.allow && e.require_mfa);
    let hit = e.explanation.matched[0]
        .conditions
        .iter()
        .find(|c| c.condition == "attribute.region")
        .unwrap();
    assert_eq!((hit.pattern.as_str(), hit.value.as_str()), ("APAC", "APAC"));
    let no_tier = with_attr(base.clone(), "region", &["EMEA"]);
    let e = p.evaluate(&no_tier);
    assert!(!e.allow);
    assert_eq!(e.explanation.near_misses[0].condition, "attribute.tier");
    assert_eq!(e.explanation.near_misses[0].expected, ["/gold|platinum/"]);
    assert!(e.explanation.near_misses[0].actual.is_empty());
    let w = e
        .explanation
        .warnings
        .iter()
        .find(|w| w.code == "policy.identity.missing_attribute")
        .unwrap();
    assert!(w.message.contains("tier"), "{}", w.message);
    assert!(!w.message.contains("region"), "{}", w.message);
}

#[test]
fn email_verified_condition() {
    let p = policy(
        r#"
[[rule]]
name = "verified-okta"
idp = ["okta"]
email_verified = true
portals = ["2"]
"#,
    );
    assert!(p.evaluate(&id("okta", "a@x.com")).allow);
    let mut u = id("okta", "a@x.com");
    u.email_verified = false;
    let e = p.evaluate(&u);
    assert!(!e.allow);
    assert_eq!(e.explanation.near_misses[0].condition, "email_verified");
    assert_eq!(e.explanation.near_misses[0].expected, ["true"]);
    assert_eq!(e.explanation.near_misses[0].actual, ["false"]);
}

#[test]
fn templates_fill_fields_and_missing_values_are_explained() {
    let p = policy(
        r#"
[[rule]]
name = "dept"
priority = 5
email_domain = ["acme.com"]
organizations = ["acme"]
fields = { customfield_10050 = "{attr.department} ({email.domain})", customfield_9 = "{idp}:{subject}" }
[[rule]]
name = "fallback"
email_domain = ["acme.com"]
fields = { customfield_10050 = "unknown department" }
"#,
    );
    let e = p.evaluate(&with_attr(
        id("okta", "a@acme.com"),
        "department",
        &["Sales", "EMEA"],
    ));
    assert_eq!(e.fields["customfield_10050"], "Sales, EMEA (acme.com)");
    assert_eq!(e.fields["customfield_9"], "okta:s-1");
    // No department: the higher-priority template cannot be filled, so the next rule's
    // value is used, and the explanation says why.
    let e = p.evaluate(&id("okta", "a@acme.com"));
    assert_eq!(e.fields["customfield_10050"], "unknown department");
    let w = e
        .explanation
        .warnings
        .iter()
        .find(|w| w.code == "policy.template.missing_value")
        .unwrap();
    assert!(w.message.contains("department"), "{}", w.message);
}

#[test]
fn template_errors_are_load_errors() {
    let err = invalid(
        r#"
[[rule]]
name = "a"
email_domain = ["acme.com"]
fields = { f1 = "{attr.department", f2 = "{department}", f3 = "{attr.}", f4 = "}" }
"#,
    );
    assert_eq!(
        codes(&err),
        [
            "policy.template.syntax",
            "policy.template.source",
            "policy.template.source",
            "policy.template.syntax"
        ]
    );
}

#[test]
fn near_misses_say_what_was_expected_and_what_was_there() {
    let p = policy(
        r#"
[[rule]]
name = "acme-admins"
email_domain = ["acme.com"]
group = ["admins"]
portals = ["2"]
"#,
    );
    let e = p.evaluate(&with_groups(id("okta", "a@acme.com"), &["users", "sales"]));
    assert!(!e.allow);
    assert_eq!(e.explanation.candidates, 1);
    let m = &e.explanation.near_misses[0];
    assert_eq!(
        (m.rule.as_str(), m.condition.as_str()),
        ("acme-admins", "group")
    );
    assert_eq!(m.expected, ["admins"]);
    assert_eq!(m.actual, ["users", "sales"]);
    // No groups at all: the classic missing-claim mistake gets a warning.
    let e = p.evaluate(&id("okta", "a@acme.com"));
    assert!(
        e.explanation
            .warnings
            .iter()
            .any(|w| w.code == "policy.identity.no_groups")
    );
    // The core decision carries them as NotMatched steps, after the policy step.
    let d = p.decide(&id("okta", "a@acme.com"));
    assert_eq!(d.explanation.steps[0].rule, "policy");
    assert!(d.explanation.steps[0].detail.contains(p.hash()));
    assert!(
        d.explanation
            .steps
            .iter()
            .any(|s| s.rule == "acme-admins" && s.outcome == StepOutcome::NotMatched)
    );
    let text = e.to_text();
    assert!(
        text.starts_with("DENY (default deny; policy sha256:"),
        "{text}"
    );
    assert!(
        text.contains("near miss \"acme-admins\": group expected one of [admins], identity has []"),
        "{text}"
    );
}

#[test]
fn decisions_are_deterministic() {
    let p = policy(
        r#"
[[rule]]
name = "a"
group = ["g1"]
organizations = ["acme"]
fields = { f = "{attr.x}" }
[[rule]]
name = "b"
group = ["g2"]
organizations = ["beta"]
"#,
    );
    let one = with_attr(
        with_groups(id("okta", "a@x.com"), &["g1", "g2"]),
        "x",
        &["1"],
    );
    let two = with_attr(
        with_groups(id("okta", "a@x.com"), &["g2", "g1"]),
        "x",
        &["1"],
    );
    let e1 = p.evaluate(&one);
    assert_eq!(e1, p.evaluate(&one));
    assert_eq!(e1, p.evaluate(&two));
    assert_eq!(e1.organizations, ["acme", "beta"]);
    assert_eq!(p.decide(&one), p.decide(&two));
}

#[test]
fn rules_without_indexable_conditions_are_always_checked() {
    let p = policy(
        r#"
[[rule]]
name = "glob-only"
group = ["eu-*"]
portals = ["2"]
[[rule]]
name = "regex-attribute"
attribute = { dept = ["/sales.*/"] }
portals = ["5"]
[[rule]]
name = "exact-attribute"
attribute = { dept = ["legal"] }
portals = ["7"]
"#,
    );
    assert_eq!(p.always_checked(), 2);
    assert_eq!(
        p.evaluate(&with_groups(id("okta", "a@x.com"), &["eu-west"]))
            .portals,
        ["2"]
    );
    assert_eq!(
        p.evaluate(&with_attr(id("okta", "a@x.com"), "dept", &["sales-emea"]))
            .portals,
        ["5"]
    );
    assert_eq!(
        p.evaluate(&with_attr(id("okta", "a@x.com"), "dept", &["legal"]))
            .portals,
        ["7"]
    );
}

#[test]
fn why_not_an_organization_or_a_portal() {
    let p = policy(
        r#"
[[rule]]
name = "acme-staff"
email_domain = ["acme.com"]
organizations = ["acme"]
portals = ["2"]
[[rule]]
name = "partners"
group = ["partner"]
organizations = ["partners"]
[[rule]]
name = "no-interns"
effect = "deny"
group = ["interns"]
"#,
    );
    let ann = id("okta", "ann@acme.com");
    let w = p.why_not(&ann, Target::Organization("partners"));
    assert!(!w.granted);
    assert_eq!(
        w.reasons,
        [
            "rule \"partners\" grants organization partners but does not match: group expected one of [partner], identity has []"
        ]
    );
    let w = p.why_not(&ann, Target::Portal("2"));
    assert!(w.granted);
    let w = p.why_not(&ann, Target::Portal("5"));
    assert_eq!(w.reasons, ["no rule grants portal 5"]);
    let w = p.why_not(&ann, Target::Organization("nope"));
    assert_eq!(
        w.reasons,
        ["organization nope is not declared in the policy"]
    );
    let intern = with_groups(ann, &["interns"]);
    let w = p.why_not(&intern, Target::Organization("acme"));
    assert!(!w.granted);
    assert!(
        w.reasons[0].contains("deny rule \"no-interns\" overrides it"),
        "{:?}",
        w.reasons
    );
}

#[test]
fn dry_run_lists_memberships_to_add_and_remove() {
    let p = policy(
        r#"
[[rule]]
name = "acme-staff"
email_domain = ["acme.com"]
organizations = ["acme"]
portals = ["2", "5"]
"#,
    );
    let current = Memberships {
        organizations: vec!["Beta Ltd".into(), "Someone Else's Org".into()],
        portals: vec!["5".into(), "7".into(), "99".into()],
    };
    let plan = p.dry_run(&id("okta", "ann@acme.com"), &current);
    assert!(plan.allow);
    assert_eq!(plan.add_organizations, ["Acme Corp"]);
    assert_eq!(plan.remove_organizations, ["Beta Ltd"]);
    assert_eq!(plan.unmanaged_organizations, ["Someone Else's Org"]);
    assert_eq!(plan.add_portals, ["2"]);
    assert_eq!(plan.keep_portals, ["5"]);
    assert_eq!(plan.remove_portals, ["7"]);
    assert_eq!(plan.unmanaged_portals, ["99"]);
    assert!(!plan.is_noop());
    let settled = Memberships {
        organizations: vec!["Acme Corp".into()],
        portals: vec!["2".into(), "5".into()],
    };
    assert!(p.dry_run(&id("okta", "ann@acme.com"), &settled).is_noop());
    // Denied: every managed membership goes.
    let plan = p.dry_run(&id("okta", "x@other.com"), &settled);
    assert!(!plan.allow);
    assert_eq!(plan.remove_organizations, ["Acme Corp"]);
    assert_eq!(plan.remove_portals, ["2", "5"]);
}
