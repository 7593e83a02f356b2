//! The per-input logic of the policy fuzz targets (`fuzz/fuzz_targets/policy_*.rs`), shared
//! with the stable `fuzz_replay` test so the seed corpus is replayed through the same code.
//!
//! Included by path from the fuzz crate, so it depends only on `jsm_sso_policy`,
//! `jsm_sso_core` and `std`. The only failure a fuzzer reports is a panic (or a hang).

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "each fuzz target uses one of these functions; a broken invariant must panic"
)]

use std::sync::OnceLock;
use std::time::SystemTime;

use jsm_sso_core::identity::{Protocol, Subject};
use jsm_sso_core::{AccessPolicy, VerifiedIdentity};
use jsm_sso_policy::{CompiledPolicy, Format, Memberships, Target, load_str};

/// The policy the `evaluate` target decides with: every kind of condition and pattern.
pub(crate) const POLICY: &str = r#"version = 1
[portals]
"2" = "IT Support"
"5" = "Billing"
"7" = "Partners"
[organizations]
acme = "Acme Corp"
partners = "Gold Partners"
buecher = "Bücher"

[[rule]]
name = "block-disposable"
effect = "deny"
email_domain = ["mailinator.com", "*.mailinator.com"]
reason = "Disposable addresses cannot raise requests."

[[rule]]
name = "acme-staff"
email_domain = ["acme.com", "*.acme.com"]
organizations = ["acme"]
portals = ["2", "5"]
fields = { customfield_10050 = "{attr.department}", customfield_2 = "{email.local}@{idp}" }

[[rule]]
name = "buecher"
email_domain = ["*.bücher.example"]
organizations = ["buecher"]
portals = ["2"]

[[rule]]
name = "gold-partners"
idp = ["okta-partners"]
group = ["partner-gold*"]
attribute = { region = ["EMEA", "/AP(AC|J)/"] }
organizations = ["partners"]
portals = ["7"]
require_mfa = true

[[rule]]
name = "staff-group"
group = ["staff", "/adm.n-[0-9]+/"]
portals = ["5"]
priority = 3
fields = { customfield_10050 = "staff" }

[[rule]]
name = "verified-okta"
idp = ["okta"]
email_verified = true
portals = ["2"]

[[rule]]
name = "no-interns"
effect = "deny"
group = ["intern?"]
"#;

fn policy() -> &'static CompiledPolicy {
    static POLICY_ONCE: OnceLock<CompiledPolicy> = OnceLock::new();
    POLICY_ONCE.get_or_init(|| load_str(POLICY, Format::Toml, "fuzz.toml").unwrap())
}

/// Everything a caller might do with a compiled policy, for one identity; decisions must
/// be deterministic.
fn exercise(policy: &CompiledPolicy, id: &VerifiedIdentity) {
    let first = policy.evaluate(id);
    assert_eq!(
        first,
        policy.evaluate(id),
        "evaluation is not deterministic"
    );
    let _ = first.to_text();
    let decision = policy.decide(id);
    assert_eq!(decision.is_allowed(), first.allow);
    for (key, _) in policy.organizations().take(4) {
        let _ = policy.why_not(id, Target::Organization(key));
    }
    for (p, _) in policy.portals().take(4) {
        let _ = policy.why_not(id, Target::Portal(p));
    }
    let current = Memberships {
        organizations: vec!["Acme Corp".into(), "Other".into()],
        portals: vec!["5".into(), "99".into()],
    };
    let _ = policy.dry_run(id, &current);
}

fn sample_identities() -> Vec<VerifiedIdentity> {
    let mut a = VerifiedIdentity::new(
        "okta",
        Protocol::Oidc,
        Subject::new("s"),
        SystemTime::UNIX_EPOCH,
    );
    a.email = Some("ann@eu.acme.com".parse().unwrap());
    a.email_verified = true;
    a.groups = vec!["staff".into(), "partner-gold".into()];
    a.attributes
        .insert("department".into(), vec!["Sales".into()]);
    let mut b = a.clone();
    b.email_verified = false;
    b.groups.clear();
    vec![a, b]
}

/// `policy_parse`: the bytes as a policy in each format; must never panic, and a policy
/// that loads must decide.
pub(crate) fn parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for format in [Format::Toml, Format::Yaml, Format::Json] {
        match load_str(text, format, "fuzz") {
            Ok(policy) => {
                for id in sample_identities() {
                    exercise(&policy, &id);
                }
            }
            Err(error) => {
                assert!(
                    !error.diagnostics().is_empty(),
                    "a refused policy names a problem"
                );
                for d in error.diagnostics() {
                    let _ = d.to_string();
                }
            }
        }
    }
}

/// `policy_evaluate`: the bytes as an identity (lines: idp, email, `1` if verified, then
/// `group:NAME` and `NAME=VALUE` lines) decided by [`POLICY`].
pub(crate) fn evaluate(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.lines();
    let idp = lines.next().unwrap_or_default();
    let mut id = VerifiedIdentity::new(
        idp,
        Protocol::Saml2,
        Subject::new("fuzz"),
        SystemTime::UNIX_EPOCH,
    );
    id.email = lines.next().and_then(|e| e.parse().ok());
    id.email_verified = lines.next() == Some("1");
    for line in lines.take(256) {
        if let Some(group) = line.strip_prefix("group:") {
            id.groups.push(group.to_owned());
        } else if let Some((name, value)) = line.split_once('=') {
            id.attributes
                .entry(name.to_owned())
                .or_default()
                .push(value.to_owned());
        }
    }
    exercise(policy(), &id);
}
