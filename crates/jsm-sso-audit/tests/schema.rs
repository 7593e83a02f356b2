//! The committed JSON Schemas (`docs/audit-event.schema.json`, `docs/audit-record.schema.json`)
//! are what the types generate. After changing the event types, regenerate them with
//! `JSM_SSO_BLESS=1 cargo test -p jsm-sso-audit --test schema` and commit the result.
#![allow(clippy::unwrap_used, clippy::panic, reason = "test code")]

use std::path::PathBuf;

use jsm_sso_audit::{EventKind, schema};

fn check(name: &str, generated: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(name);
    if std::env::var("JSM_SSO_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is out of date with the types: run `JSM_SSO_BLESS=1 cargo test -p jsm-sso-audit --test schema` and commit it",
        path.display()
    );
}

#[test]
fn event_schema_is_current() {
    let generated = schema::event_schema();
    for kind in EventKind::ALL {
        assert!(
            generated.contains(&format!("\"{}\"", kind.as_str())),
            "{kind} missing from the schema"
        );
    }
    check("audit-event.schema.json", &generated);
}

#[test]
fn record_schema_is_current() {
    check("audit-record.schema.json", &schema::record_schema());
}
