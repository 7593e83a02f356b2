//! The `CustomerDirectory` behaviour suite: what the broker relies on, checked the same way
//! on every directory (core's `MemoryDirectory`, `JsmDirectory` on the in-process JSM, and
//! `JsmDirectory` over reqwest to the fake JSM server).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use jsm_sso_core::decision::OrganizationRef;
use jsm_sso_core::directory::{CustomerId, OrganizationId, PortalId};
use jsm_sso_core::{CodedError, CustomerDirectory, Email};

/// A directory with one organization, one portal and one customer field set up.
pub struct Fixture<D> {
    pub directory: D,
    pub organization: OrganizationId,
    pub organization_name: String,
    pub portal: PortalId,
    pub field: String,
}

fn email(text: &str) -> Email {
    text.parse().unwrap()
}

/// Runs every check; panics (fails the test) on the first broken one.
pub async fn run<D: CustomerDirectory>(f: Fixture<D>) {
    let d = &f.directory;
    let missing_org = OrganizationId::from("99999");
    let missing_portal = PortalId::from("99999");
    let missing_customer = CustomerId::from("qm:no-such-account");

    // Create, then create again (a duplicate: JSM answers 409) and look up in any case.
    let alice_email = email("alice@acme.example");
    let alice = d.create_customer(&alice_email, "Alice").await.unwrap();
    assert_eq!(alice.email, alice_email);
    assert_eq!(alice.display_name, "Alice");
    let again = d
        .create_customer(&email("ALICE@acme.example"), "Alice Again")
        .await
        .unwrap();
    assert_eq!(
        again.id, alice.id,
        "a duplicate create returns the existing customer"
    );
    assert_eq!(
        again.display_name, "Alice",
        "a duplicate create does not rename"
    );
    let found = d
        .find_customer_by_email(&email("Alice@ACME.example"))
        .await
        .unwrap()
        .expect("found ignoring case");
    assert_eq!(found.id, alice.id);
    assert!(
        d.find_customer_by_email(&email("nobody@acme.example"))
            .await
            .unwrap()
            .is_none()
    );

    // Organizations resolve by name and id; unknown ones do not.
    let by_name = d
        .resolve_organization(&OrganizationRef::Name(f.organization_name.clone()))
        .await
        .unwrap();
    assert_eq!(by_name.as_ref(), Some(&f.organization));
    let by_id = d
        .resolve_organization(&OrganizationRef::Id(f.organization.clone()))
        .await
        .unwrap();
    assert_eq!(by_id.as_ref(), Some(&f.organization));
    for unknown in [
        OrganizationRef::Name("No Such Org".into()),
        OrganizationRef::Id(missing_org.clone()),
        OrganizationRef::Id("not-a-number".into()),
    ] {
        assert_eq!(
            d.resolve_organization(&unknown).await.unwrap(),
            None,
            "{unknown:?}"
        );
    }

    // Memberships: idempotent both ways; unknown organization or customer named.
    for _ in 0..2 {
        d.add_to_organization(&alice.id, &f.organization)
            .await
            .unwrap();
    }
    for _ in 0..2 {
        d.remove_from_organization(&alice.id, &f.organization)
            .await
            .unwrap();
    }
    d.add_to_organization(&alice.id, &f.organization)
        .await
        .unwrap();
    let e = d
        .add_to_organization(&alice.id, &missing_org)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "core.directory.organization_not_found", "{e}");
    let e = d
        .remove_from_organization(&alice.id, &missing_org)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "core.directory.organization_not_found", "{e}");
    let e = d
        .add_to_organization(&missing_customer, &f.organization)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "core.directory.customer_not_found", "{e}");

    // Portals: idempotent both ways; unknown portal or customer named.
    for _ in 0..2 {
        d.grant_portal(&alice.id, &f.portal).await.unwrap();
    }
    let e = d
        .grant_portal(&alice.id, &missing_portal)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "core.directory.portal_not_found", "{e}");
    let e = d
        .revoke_portal(&alice.id, &missing_portal)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "core.directory.portal_not_found", "{e}");
    let e = d
        .grant_portal(&missing_customer, &f.portal)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "core.directory.customer_not_found", "{e}");

    // Fields: unknown field refused with nothing set; known ones idempotent.
    let mut fields = BTreeMap::from([(f.field.clone(), "Finance".to_owned())]);
    d.set_fields(&alice.id, &fields).await.unwrap();
    d.set_fields(&alice.id, &fields).await.unwrap();
    fields.insert("no_such_field".into(), "x".into());
    let e = d.set_fields(&alice.id, &fields).await.unwrap_err();
    assert_eq!(e.code(), "core.directory.field_unknown", "{e}");
    let e = d
        .set_fields(
            &missing_customer,
            &BTreeMap::from([(f.field.clone(), "x".to_owned())]),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "core.directory.customer_not_found", "{e}");

    // Sign-ins: last_seen never moves back.
    let t1 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let t0 = t1 - Duration::from_secs(3600);
    d.record_sign_in(&alice.id, t1).await.unwrap();
    d.record_sign_in(&alice.id, t0).await.unwrap();
    let seen = d
        .find_customer_by_email(&alice_email)
        .await
        .unwrap()
        .unwrap()
        .last_seen;
    assert_eq!(seen, Some(t1));
    let e = d.record_sign_in(&missing_customer, t1).await.unwrap_err();
    assert_eq!(e.code(), "core.directory.customer_not_found", "{e}");

    // Listing: every customer exactly once across pages; foreign cursors refused.
    let mut created = BTreeSet::from([alice.id.clone()]);
    for n in 0..7 {
        let c = d
            .create_customer(
                &email(&format!("user{n}@acme.example")),
                &format!("User {n}"),
            )
            .await
            .unwrap();
        d.grant_portal(&c.id, &f.portal).await.unwrap();
        created.insert(c.id);
    }
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = d.list_customers(cursor.as_deref(), 3).await.unwrap();
        assert!(page.customers.len() <= 3);
        listed.extend(page.customers.into_iter().map(|c| c.id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let unique: BTreeSet<_> = listed.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        listed.len(),
        "a customer listed twice: {listed:?}"
    );
    assert_eq!(unique, created);
    let e = d.list_customers(Some("bogus"), 3).await.unwrap_err();
    assert_eq!(e.code(), "core.directory.cursor_invalid", "{e}");

    // Revoking a portal: idempotent.
    for _ in 0..2 {
        d.revoke_portal(&alice.id, &f.portal).await.unwrap();
    }

    // Removal: gone from listings and memberships; repeatable; unknown ids fine.
    d.grant_portal(&alice.id, &f.portal).await.unwrap();
    d.remove_customer(&alice.id).await.unwrap();
    d.remove_customer(&alice.id).await.unwrap();
    d.remove_customer(&missing_customer).await.unwrap();
    let mut remaining = BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = d.list_customers(cursor.as_deref(), 50).await.unwrap();
        remaining.extend(page.customers.into_iter().map(|c| c.id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert!(!remaining.contains(&alice.id));
    assert_eq!(remaining.len(), created.len() - 1);
}
