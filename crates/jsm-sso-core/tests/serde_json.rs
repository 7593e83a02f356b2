//! The JSON shapes (feature `serde`): what `jsm-sso policy explain --identity` reads.
#![cfg(feature = "serde")]

use std::time::{Duration, SystemTime};

use jsm_sso_core::decision::{Effect, OrganizationRef, StepOutcome};
use jsm_sso_core::identity::{IdpId, Protocol, Subject};
use jsm_sso_core::{Decision, Email, Secret, VerifiedIdentity};
use serde_json::json;

fn at(secs: u64, nanos: u32) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::new(secs, nanos)
}

#[test]
fn identity_round_trips_with_rfc3339_times() {
    let mut id = VerifiedIdentity::new(
        "entra",
        Protocol::Saml2,
        Subject::with_format(
            "alice",
            "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        ),
        at(1_735_787_045, 0),
    );
    id.email = Some("Alice@Example.COM".parse().unwrap());
    id.email_verified = true;
    id.groups = vec!["customers".into()];
    id.attributes
        .insert("department".into(), vec!["Sales".into(), "EMEA".into()]);
    id.session_expiry = Some(at(1_735_815_845, 250_000_000));

    let value = serde_json::to_value(&id).unwrap();
    assert_eq!(
        value,
        json!({
            "idp": "entra",
            "protocol": "saml2",
            "subject": {
                "value": "alice",
                "format": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
            },
            "email": "Alice@example.com",
            "email_verified": true,
            "groups": ["customers"],
            "attributes": { "department": ["Sales", "EMEA"] },
            "authn_instant": "2025-01-02T03:04:05Z",
            "session_expiry": "2025-01-02T11:04:05.25Z"
        })
    );
    let back: VerifiedIdentity = serde_json::from_value(value).unwrap();
    assert_eq!(back, id);
}

#[test]
fn minimal_identity_json_and_offsets() {
    let id: VerifiedIdentity = serde_json::from_value(json!({
        "idp": "okta",
        "protocol": "oidc",
        "subject": { "value": "00u1" },
        "authn_instant": "2025-01-02T04:04:05+01:00"
    }))
    .unwrap();
    assert_eq!(id.idp, IdpId::from("okta"));
    assert_eq!(id.protocol, Protocol::Oidc);
    assert_eq!(id.subject, Subject::new("00u1"));
    assert_eq!(id.authn_instant, at(1_735_787_045, 0));
    assert_eq!(id.email, None);
    assert!(!id.email_verified && id.groups.is_empty() && id.attributes.is_empty());
    assert_eq!(id.session_expiry, None);
}

#[test]
fn identity_json_is_validated() {
    let base = json!({
        "idp": "okta", "protocol": "oidc", "subject": { "value": "s" },
        "authn_instant": "2025-01-02T03:04:05Z"
    });
    let with = |key: &str, v: serde_json::Value| {
        let mut o = base.clone();
        o[key] = v;
        serde_json::from_value::<VerifiedIdentity>(o)
            .unwrap_err()
            .to_string()
    };
    assert!(with("email", json!(" a@example.com")).contains("leading or trailing whitespace"));
    assert!(with("authn_instant", json!("2025-01-02 03:04:05")).contains("RFC 3339"));
    assert!(with("authn_instant", json!(1735787045)).contains("invalid type"));
    assert!(with("protocol", json!("saml")).contains("unknown variant"));
    assert!(with("group", json!(["typo"])).contains("unknown field"));
}

#[test]
fn decision_json_shape() {
    let mut d = Decision::allow();
    d.organizations = vec![
        OrganizationRef::Id("10".into()),
        OrganizationRef::Name("Acme".into()),
    ];
    d.portals = vec!["3".into()];
    d.fields.insert("customfield_100".into(), "Sales".into());
    d.require_mfa = true;
    d.explanation
        .push("acme", StepOutcome::Matched, "domain acme.example");
    d.explanation
        .push("other", StepOutcome::NotMatched, "no group");
    let value = serde_json::to_value(&d).unwrap();
    assert_eq!(
        value,
        json!({
            "effect": { "kind": "allow" },
            "organizations": [{ "id": "10" }, { "name": "Acme" }],
            "portals": ["3"],
            "fields": { "customfield_100": "Sales" },
            "require_mfa": true,
            "explanation": [
                { "rule": "acme", "outcome": "matched", "detail": "domain acme.example" },
                { "rule": "other", "outcome": "not_matched", "detail": "no group" }
            ]
        })
    );
    assert_eq!(serde_json::from_value::<Decision>(value).unwrap(), d);

    let deny = Decision::deny(Some("not for you".into()));
    let value = serde_json::to_value(&deny).unwrap();
    assert_eq!(
        value["effect"],
        json!({ "kind": "deny", "reason": "not for you" })
    );
    let back: Decision = serde_json::from_value(json!({ "effect": { "kind": "deny" } })).unwrap();
    assert_eq!(back.effect, Effect::Deny { reason: None });
}

#[test]
fn email_and_secret_deserialize() {
    let e: Email = serde_json::from_str("\"bob@Bücher.de\"").unwrap();
    assert_eq!(e.as_str(), "bob@xn--bcher-kva.de");
    assert!(serde_json::from_str::<Email>("\"bob@@x.de\"").is_err());
    let s: Secret = serde_json::from_str("\"tok\"").unwrap();
    assert_eq!(s.expose_secret(), "tok");
}
