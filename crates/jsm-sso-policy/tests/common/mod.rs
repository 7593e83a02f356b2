//! Helpers shared by the integration tests: identities and policies from text.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    unreachable_pub,
    reason = "test helpers: a failure should stop the run loudly"
)]

use std::time::SystemTime;

use jsm_sso_core::VerifiedIdentity;
use jsm_sso_core::identity::{Protocol, Subject};
use jsm_sso_policy::{CompiledPolicy, Error, Format, load_str};

/// A verified identity from `idp` with `email`.
pub fn id(idp: &str, email: &str) -> VerifiedIdentity {
    let mut id = VerifiedIdentity::new(
        idp,
        Protocol::Oidc,
        Subject::new("s-1"),
        SystemTime::UNIX_EPOCH,
    );
    id.email = Some(email.parse().unwrap());
    id.email_verified = true;
    id
}

/// Adds groups.
pub fn with_groups(mut id: VerifiedIdentity, groups: &[&str]) -> VerifiedIdentity {
    id.groups = groups.iter().map(|g| (*g).to_owned()).collect();
    id
}

/// Adds one attribute.
pub fn with_attr(mut id: VerifiedIdentity, name: &str, values: &[&str]) -> VerifiedIdentity {
    id.attributes.insert(
        name.into(),
        values.iter().map(|v| (*v).to_owned()).collect(),
    );
    id
}

/// The standard header: portals 2, 5, 7 and organizations acme, beta, partners.
pub const HEADER: &str = r#"
version = 1
[portals]
"2" = "IT Support"
"5" = "Billing"
"7" = "Partners"
[organizations]
acme = "Acme Corp"
beta = "Beta Ltd"
partners = "Gold Partners"
"#;

/// Compiles `HEADER` + `rules`, panicking with the diagnostics if it does not load.
pub fn policy(rules: &str) -> CompiledPolicy {
    let text = format!("{HEADER}{rules}");
    match load_str(&text, Format::Toml, "test.toml") {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

/// Compiles `HEADER` + `rules` and returns the error (panics if it loads).
pub fn invalid(rules: &str) -> Error {
    let text = format!("{HEADER}{rules}");
    match load_str(&text, Format::Toml, "test.toml") {
        Ok(_) => panic!("policy loaded, but it should not have:\n{text}"),
        Err(e) => e,
    }
}

/// The codes of the errors, in order.
pub fn codes(e: &Error) -> Vec<&'static str> {
    use jsm_sso_core::CodedError;
    e.diagnostics()
        .iter()
        .filter(|d| d.severity == jsm_sso_policy::Severity::Error)
        .map(CodedError::code)
        .collect()
}
