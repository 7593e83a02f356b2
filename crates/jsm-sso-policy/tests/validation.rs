//! Load-time validation: every problem is found at once, each with its code and
//! `file:line:column`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should stop the run loudly"
)]

mod common;

use common::{codes, invalid, policy};
use jsm_sso_core::CodedError;
use jsm_sso_policy::{Format, Severity, load_str};

/// The one error of `rules`, as `(code, "file:line:column: message")`.
fn only(rules: &str) -> (&'static str, String) {
    let err = invalid(rules);
    let errors: Vec<_> = err
        .diagnostics()
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{err}");
    (errors[0].code(), errors[0].to_string())
}

#[test]
fn every_error_is_reported_at_once_in_file_order() {
    let text = r#"version = 1
[portals]
"2" = "IT Support"
[organizations]
acme = "Acme Corp"

[[rule]]
name = "one"
email_domain = ["*.com", "Acme.com"]
portals = ["9"]

[[rule]]
name = "one"
group = ["/(unclosed/"]
organizations = ["nope"]
"#;
    let err = load_str(text, Format::Toml, "policy.toml").unwrap_err();
    assert_eq!(err.code(), "policy.invalid");
    let lines: Vec<String> = err.diagnostics().iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "policy.toml:9:17: \"*.com\" covers a whole top-level domain",
            "policy.toml:9:26: email domain \"Acme.com\" has upper-case letters",
            "policy.toml:10:12: \"9\" is not declared in [portals]",
            "policy.toml:13:8: rule name \"one\" is already used by rule 1",
            "policy.toml:14:10: regex /(unclosed/ does not compile: unclosed group",
            "policy.toml:15:18: \"nope\" is not declared in [organizations]",
        ]
    );
    assert_eq!(
        codes(&err),
        [
            "policy.domain.public_suffix",
            "policy.domain.upper_case",
            "policy.portal.unknown",
            "policy.rule.duplicate_name",
            "policy.pattern.regex",
            "policy.organization.unknown",
        ]
    );
    assert!(
        err.to_string()
            .starts_with("policy has 6 errors\npolicy.toml:9:17: ")
    );
}

#[test]
fn syntax_errors_have_positions() {
    let err = load_str("version = 1\n[[rule]\n", Format::Toml, "p.toml").unwrap_err();
    assert_eq!(codes(&err), ["policy.syntax"]);
    assert!(
        err.diagnostics()[0].to_string().starts_with("p.toml:2:"),
        "{err}"
    );

    let err = load_str("version = \"1\"\n", Format::Toml, "p.toml").unwrap_err();
    assert_eq!(codes(&err), ["policy.syntax"]);
    assert!(
        err.diagnostics()[0].to_string().starts_with("p.toml:1:11:"),
        "{err}"
    );

    let err = load_str("{\"version\": 1,\n \"rule\": [}\n", Format::Json, "p.json").unwrap_err();
    assert_eq!(codes(&err), ["policy.syntax"]);
    assert!(
        err.diagnostics()[0].to_string().starts_with("p.json:2:"),
        "{err}"
    );

    let err = load_str(
        "version: 1\nrule:\n  - name: [unclosed\n",
        Format::Yaml,
        "p.yaml",
    )
    .unwrap_err();
    assert_eq!(codes(&err), ["policy.syntax"]);
    assert!(err.diagnostics()[0].location.line.is_some(), "{err}");
}

#[test]
fn unknown_keys_are_refused_everywhere() {
    let (code, line) =
        only("[[rule]]\nname = \"a\"\nemail_domains = [\"acme.com\"]\nportals = [\"2\"]\n");
    assert_eq!(code, "policy.key.unknown");
    assert!(
        line.starts_with("test.toml:13:1: unknown field `email_domains`"),
        "{line}"
    );
    let err = load_str("version = 1\nlanguage = \"en\"\n", Format::Toml, "p.toml").unwrap_err();
    assert_eq!(codes(&err), ["policy.key.unknown"]);
    let err = load_str(r#"{"version": 1, "rules": []}"#, Format::Json, "p.json").unwrap_err();
    assert_eq!(codes(&err), ["policy.key.unknown"]);
}

#[test]
fn version_must_be_one() {
    let err = load_str("version = 2\n", Format::Toml, "p.toml").unwrap_err();
    assert_eq!(codes(&err), ["policy.version.unsupported"]);
    assert_eq!(
        err.diagnostics()[0].to_string(),
        "p.toml:1:11: version is 2; this library reads version 1"
    );
    let err = load_str("default = \"deny\"\n", Format::Toml, "p.toml").unwrap_err();
    assert_eq!(codes(&err), ["policy.syntax"]);
}

#[test]
fn malformed_domains() {
    for (domain, code) in [
        ("Acme.com", "policy.domain.upper_case"),
        ("alice@acme.com", "policy.domain.invalid"),
        ("https://acme.com", "policy.domain.invalid"),
        ("acme.*.com", "policy.domain.wildcard"),
        ("*acme.com", "policy.domain.wildcard"),
        ("*.com", "policy.domain.public_suffix"),
        ("*.co.uk", "policy.domain.public_suffix"),
    ] {
        let (got, line) = only(&format!(
            "[[rule]]\nname = \"a\"\nemail_domain = [\"{domain}\"]\nportals = [\"2\"]\n"
        ));
        assert_eq!(got, code, "{domain}");
        assert!(line.starts_with("test.toml:13:17: "), "{line}");
    }
}

#[test]
fn bad_patterns() {
    for (pattern, code) in [
        ("/(a/", "policy.pattern.regex"),
        ("/(a{1000}){1000}/", "policy.pattern.too_large"),
        ("*", "policy.pattern.glob"),
    ] {
        let (got, _) = only(&format!(
            "[[rule]]\nname = \"a\"\ngroup = [\"{pattern}\"]\nportals = [\"2\"]\n"
        ));
        assert_eq!(got, code, "{pattern}");
        let (got, _) = only(&format!(
            "[[rule]]\nname = \"a\"\nattribute = {{ dept = [\"{pattern}\"] }}\nportals = [\"2\"]\n"
        ));
        assert_eq!(got, code, "{pattern}");
    }
    let long = "x".repeat(2000);
    let (got, _) = only(&format!(
        "[[rule]]\nname = \"a\"\ngroup = [\"{long}\"]\nportals = [\"2\"]\n"
    ));
    assert_eq!(got, "policy.pattern.too_large");
}

#[test]
fn rule_shape_errors() {
    let (code, line) = only("[[rule]]\nname = \"\"\nportals = [\"2\"]\n");
    assert_eq!(code, "policy.rule.name_invalid");
    assert!(line.starts_with("test.toml:12:8: "), "{line}");

    let (code, line) = only("[[rule]]\nname = \"nothing\"\nemail_domain = [\"acme.com\"]\n");
    assert_eq!(code, "policy.rule.grants_nothing");
    assert!(
        line.starts_with("test.toml:12:8: allow rule \"nothing\" grants no"),
        "{line}"
    );

    let (code, line) = only(
        "[[rule]]\nname = \"d\"\neffect = \"deny\"\nemail_domain = [\"acme.com\"]\nportals = [\"2\"]\n",
    );
    assert_eq!(code, "policy.rule.deny_grants");
    assert!(
        line.starts_with("test.toml:15:11: deny rule \"d\" has `portals`"),
        "{line}"
    );

    let (code, _) = only("[[rule]]\nname = \"a\"\nreason = \"no\"\nportals = [\"2\"]\n");
    assert_eq!(code, "policy.rule.allow_reason");

    let (code, _) = only("[[rule]]\nname = \"a\"\neffect = \"maybe\"\nportals = [\"2\"]\n");
    assert_eq!(code, "policy.syntax");
}

#[test]
fn rules_that_can_never_match() {
    let (code, line) = only("[[rule]]\nname = \"a\"\ngroup = []\nportals = [\"2\"]\n");
    assert_eq!(code, "policy.rule.unreachable");
    assert!(
        line.starts_with("test.toml:13:9: `group` is an empty list"),
        "{line}"
    );

    let (code, _) = only("[[rule]]\nname = \"a\"\nattribute = { dept = [] }\nportals = [\"2\"]\n");
    assert_eq!(code, "policy.rule.unreachable");

    // Domains only match verified emails: asking for an unverified one contradicts that.
    let (code, _) = only(
        "[[rule]]\nname = \"a\"\nemail_domain = [\"acme.com\"]\nemail_verified = false\nportals = [\"2\"]\n",
    );
    assert_eq!(code, "policy.rule.unreachable");
}

#[test]
fn allow_rules_covered_by_a_broader_deny() {
    let (code, line) = only(
        r#"[[rule]]
name = "no-acme"
effect = "deny"
email_domain = ["acme.com", "*.acme.com"]
[[rule]]
name = "acme-eu"
email_domain = ["eu.acme.com"]
group = ["staff"]
portals = ["2"]
"#,
    );
    assert_eq!(code, "policy.rule.shadowed");
    assert!(line.starts_with("test.toml:16:8: allow rule \"acme-eu\" can never take effect: every identity it matches is denied by rule \"no-acme\""), "{line}");

    let (code, _) = only(
        r#"[[rule]]
name = "no-interns"
effect = "deny"
group = ["intern*"]
[[rule]]
name = "interns-emea"
group = ["interns-emea"]
idp = ["okta"]
portals = ["2"]
"#,
    );
    assert_eq!(code, "policy.rule.shadowed");

    // A narrower deny leaves the allow reachable.
    policy(
        r#"[[rule]]
name = "no-contractors"
effect = "deny"
email_domain = ["contractors.acme.com"]
[[rule]]
name = "acme"
email_domain = ["acme.com", "*.acme.com"]
portals = ["2"]
[[rule]]
name = "no-okta-interns"
effect = "deny"
idp = ["okta"]
group = ["interns"]
[[rule]]
name = "interns"
group = ["interns"]
portals = ["5"]
"#,
    );
}

#[test]
fn portal_and_organization_tables() {
    let err = load_str(
        "version = 1\n[portals]\n\"2\" = \"\"\n[organizations]\nacme = \" \"\n",
        Format::Toml,
        "p.toml",
    )
    .unwrap_err();
    assert_eq!(
        codes(&err),
        ["policy.portal.invalid", "policy.organization.invalid"]
    );
}

#[test]
fn yaml_and_json_read_the_same_policy() {
    let toml = policy(
        r#"
[[rule]]
name = "acme-staff"
email_domain = ["acme.com"]
organizations = ["acme"]
portals = ["2"]
fields = { customfield_1 = "{attr.department}" }
"#,
    );
    let yaml = r#"
version: 1
portals: { "2": IT Support, "5": Billing, "7": Partners }
organizations: { acme: Acme Corp, beta: Beta Ltd, partners: Gold Partners }
rule:
  - name: acme-staff
    email_domain: [acme.com]
    organizations: [acme]
    portals: ["2"]
    fields: { customfield_1: "{attr.department}" }
"#;
    let json = r#"{"version": 1,
 "portals": {"2": "IT Support", "5": "Billing", "7": "Partners"},
 "organizations": {"acme": "Acme Corp", "beta": "Beta Ltd", "partners": "Gold Partners"},
 "rule": [{"name": "acme-staff", "email_domain": ["acme.com"], "organizations": ["acme"],
           "portals": ["2"], "fields": {"customfield_1": "{attr.department}"}}]}"#;
    let yaml = load_str(yaml, Format::Yaml, "p.yaml").unwrap();
    let json = load_str(json, Format::Json, "p.json").unwrap();
    let who = common::with_attr(common::id("okta", "a@acme.com"), "department", &["Sales"]);
    let (a, b, c) = (
        toml.evaluate(&who),
        yaml.evaluate(&who),
        json.evaluate(&who),
    );
    assert_eq!(
        (a.allow, &a.portals, &a.fields),
        (b.allow, &b.portals, &b.fields)
    );
    assert_eq!(
        (a.allow, &a.portals, &a.fields),
        (c.allow, &c.portals, &c.fields)
    );
    assert_eq!(a.fields["customfield_1"], "Sales");

    // Semantic errors in JSON and YAML name the path (these formats give no positions).
    let err = load_str(
        r#"{"version": 1, "rule": [{"name": "a", "email_domain": ["*.com"], "portals": ["2"]}]}"#,
        Format::Json,
        "p.json",
    )
    .unwrap_err();
    let lines: Vec<String> = err.diagnostics().iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "p.json: rule[0].email_domain[0]: \"*.com\" covers a whole top-level domain",
            "p.json: rule[0].portals[0]: \"2\" is not declared in [portals]",
        ]
    );
}

#[test]
fn warnings_do_not_stop_loading() {
    let mut rules = String::new();
    for i in 0..=jsm_sso_policy::ALWAYS_CHECKED_WARNING {
        rules.push_str(&format!(
            "[[rule]]\nname = \"r{i}\"\ngroup = [\"g{i}-*\"]\nportals = [\"2\"]\n"
        ));
    }
    let p = policy(&rules);
    assert_eq!(p.warnings().len(), 1);
    assert_eq!(p.warnings()[0].code(), "policy.index.always_checked");
    assert_eq!(
        p.always_checked(),
        jsm_sso_policy::ALWAYS_CHECKED_WARNING + 1
    );
}

#[test]
fn the_committed_json_schema_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/policy.schema.json");
    let generated = jsm_sso_policy::json_schema();
    if std::env::var_os("JSM_SSO_UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/policy.schema.json is out of date: run `JSM_SSO_UPDATE_SCHEMA=1 cargo test -p jsm-sso-policy --test validation`"
    );
    let schema: serde_json::Value = serde_json::from_str(&generated).unwrap();
    let rule = &schema["$defs"]["RuleSpec"]["properties"];
    for key in [
        "name",
        "priority",
        "effect",
        "idp",
        "email_domain",
        "group",
        "attribute",
        "email_verified",
        "organizations",
        "portals",
        "fields",
        "require_mfa",
        "reason",
    ] {
        assert!(rule.get(key).is_some(), "schema lacks rule.{key}");
    }
    assert_eq!(schema["$defs"]["RuleSpec"]["additionalProperties"], false);
}

#[test]
fn limits() {
    // More problems than are listed: the rest are counted in a last diagnostic.
    let mut rules = String::new();
    for i in 0..1100 {
        rules.push_str(&format!(
            "[[rule]]\nname = \"r{i}\"\nportals = [\"nope\"]\n"
        ));
    }
    let err = invalid(&rules);
    let diagnostics = err.diagnostics();
    assert_eq!(diagnostics.len(), jsm_sso_policy::MAX_DIAGNOSTICS + 1);
    let last = diagnostics.last().unwrap();
    assert_eq!(last.code(), "policy.too_large");
    assert_eq!(last.message, "100 more problems not listed");

    // A condition list over the limit.
    let idps: Vec<String> = (0..=jsm_sso_policy::MAX_LIST_LEN)
        .map(|i| format!("\"i{i}\""))
        .collect();
    let (code, _) = only(&format!(
        "[[rule]]\nname = \"a\"\nidp = [{}]\nportals = [\"2\"]\n",
        idps.join(",")
    ));
    assert_eq!(code, "policy.too_large");

    // An empty attribute name or field id is refused.
    let (code, _) =
        only("[[rule]]\nname = \"a\"\nattribute = { \"\" = [\"x\"] }\nportals = [\"2\"]\n");
    assert_eq!(code, "policy.syntax");
    let (code, _) = only("[[rule]]\nname = \"a\"\nportals = [\"2\"]\nfields = { \"\" = \"x\" }\n");
    assert_eq!(code, "policy.syntax");
}
