//! The per-input logic of the SCIM fuzz targets (`fuzz/fuzz_targets/scim_*.rs`), shared with
//! the stable `fuzz_replay` test so the seed corpus is replayed through the same code.
//!
//! Included by path from the fuzz crate, so it depends only on `jsm_sso_scim`, `serde_json`
//! and `std`. The only failure a fuzzer reports is a panic (or a hang).

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "each fuzz target uses one of these functions; a broken invariant must panic"
)]

use jsm_sso_scim::filter::Context;
use jsm_sso_scim::{Filter, FilterLimits, ResourceKind, patch};
use serde_json::{Value, json};

fn user() -> Value {
    json!({
        "id": "2819c223", "userName": "bjensen@example.com", "active": true,
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                   {"value": "babs@jensen.org", "type": "home"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops"},
        "meta": {"created": "2011-08-01T18:29:49.793Z", "lastModified": "2011-08-01T18:29:49Z"}
    })
}

/// Filter parser: never panics; a parsed filter validates and matches without panicking,
/// and its canonical text parses back to the same filter.
pub(crate) fn filter(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(f) = Filter::parse(text, &FilterLimits::default()) else {
        return;
    };
    let doc = user();
    for kind in [ResourceKind::User, ResourceKind::Group] {
        if f.validate(Context::Resource(kind)).is_ok() {
            let _ = f.matches(Context::Resource(kind), &doc);
        }
    }
    let printed = f.to_string();
    let loose = FilterLimits {
        max_len: usize::MAX,
        max_depth: 10_000,
        max_terms: 10_000,
    };
    let again = Filter::parse(&printed, &loose)
        .unwrap_or_else(|e| panic!("canonical form {printed:?} of {text:?} does not parse: {e}"));
    assert_eq!(again, f, "round trip of {text:?} via {printed:?}");
}

/// PATCH parser and applier: never panic; an applied PATCH leaves the required attribute
/// in place and no server-owned attribute behind.
pub(crate) fn patch(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(ops) = patch::parse(&body, 1000, &FilterLimits::default()) else {
        return;
    };
    let start_user = json!({"userName": "a@example.com", "active": true,
        "emails": [{"value": "a@example.com", "type": "work", "primary": true}],
        "name": {"givenName": "A"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops"}});
    let start_group = json!({"displayName": "G", "members": [{"value": "u1"}, {"value": "u2"}]});
    for (kind, start, required) in [
        (ResourceKind::User, start_user, "userName"),
        (ResourceKind::Group, start_group, "displayName"),
    ] {
        let mut attrs = start.as_object().unwrap().clone();
        if patch::apply(kind, &mut attrs, &ops).is_ok() {
            assert!(
                attrs.get(required).and_then(Value::as_str).is_some(),
                "{required} lost"
            );
            for owned in ["id", "meta", "groups", "schemas"] {
                assert!(!attrs.contains_key(owned), "{owned} written by a PATCH");
            }
        }
    }
}
