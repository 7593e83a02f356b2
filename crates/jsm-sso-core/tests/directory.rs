//! The `CustomerDirectory` contract, exercised through `MemoryDirectory`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jsm_sso_core::decision::OrganizationRef;
use jsm_sso_core::directory::{CustomerId, DirectoryError, OrganizationId, PortalId};
use jsm_sso_core::memory::MemoryDirectory;
use jsm_sso_core::{CodedError, CustomerDirectory, Email};

#[expect(clippy::unwrap_used, reason = "test helper: a panic fails the test")]
fn email(s: &str) -> Email {
    s.parse().unwrap()
}

fn directory() -> Arc<MemoryDirectory> {
    Arc::new(
        MemoryDirectory::new(100)
            .with_organization("10", "Acme Corp")
            .with_organization("11", "Globex")
            .with_portal("3")
            .with_portal("4")
            .with_field("customfield_100")
            .with_field("customfield_101"),
    )
}

#[tokio::test]
async fn create_customer_is_idempotent_and_find_ignores_case() {
    let dir = directory();
    let as_dyn: Arc<dyn CustomerDirectory> = dir.clone();
    assert_eq!(
        as_dyn
            .find_customer_by_email(&email("alice@acme.example"))
            .await
            .unwrap(),
        None
    );

    let first = as_dyn
        .create_customer(&email("alice@acme.example"), "Alice")
        .await
        .unwrap();
    let again = as_dyn
        .create_customer(&email("Alice@ACME.example"), "Alice Renamed")
        .await
        .unwrap();
    assert_eq!(first, again, "existing customer returned unchanged");
    assert_eq!(again.display_name, "Alice");
    assert_eq!(dir.len(), 1);

    let found = as_dyn
        .find_customer_by_email(&email("ALICE@acme.example"))
        .await
        .unwrap();
    assert_eq!(found.map(|c| c.id), Some(first.id.clone()));

    let bob = as_dyn
        .create_customer(&email("bob@acme.example"), "Bob")
        .await
        .unwrap();
    assert_ne!(bob.id, first.id);
    assert_eq!(dir.len(), 2);
}

#[tokio::test]
async fn memberships_and_portals_are_idempotent() {
    let dir = directory();
    let c = dir
        .create_customer(&email("c@x.example"), "C")
        .await
        .unwrap();
    let org = OrganizationId::from("10");
    let portal = PortalId::from("3");

    for _ in 0..2 {
        dir.add_to_organization(&c.id, &org).await.unwrap();
        dir.grant_portal(&c.id, &portal).await.unwrap();
    }
    let snap = dir.customer(&c.id).unwrap();
    assert_eq!(snap.organizations.iter().collect::<Vec<_>>(), [&org]);
    assert_eq!(snap.portals.iter().collect::<Vec<_>>(), [&portal]);

    for _ in 0..2 {
        dir.remove_from_organization(&c.id, &org).await.unwrap();
        dir.revoke_portal(&c.id, &portal).await.unwrap();
    }
    let snap = dir.customer(&c.id).unwrap();
    assert!(snap.organizations.is_empty() && snap.portals.is_empty());
}

#[tokio::test]
async fn unknown_things_fail_with_their_own_codes() {
    let dir = directory();
    let c = dir
        .create_customer(&email("c@x.example"), "C")
        .await
        .unwrap();
    let ghost = CustomerId::from("cust-ghost");

    let err = dir
        .add_to_organization(&c.id, &"99".into())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "core.directory.organization_not_found");
    let err = dir
        .remove_from_organization(&c.id, &"99".into())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "core.directory.organization_not_found");
    let err = dir.grant_portal(&c.id, &"99".into()).await.unwrap_err();
    assert_eq!(err.code(), "core.directory.portal_not_found");
    let err = dir.revoke_portal(&c.id, &"99".into()).await.unwrap_err();
    assert_eq!(err.code(), "core.directory.portal_not_found");
    let err = dir
        .add_to_organization(&ghost, &"10".into())
        .await
        .unwrap_err();
    assert!(matches!(&err, DirectoryError::CustomerNotFound(id) if *id == ghost));
    assert_eq!(err.code(), "core.directory.customer_not_found");
    let err = dir.grant_portal(&ghost, &"3".into()).await.unwrap_err();
    assert_eq!(err.code(), "core.directory.customer_not_found");
    let err = dir
        .record_sign_in(&ghost, SystemTime::UNIX_EPOCH)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "core.directory.customer_not_found");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn resolve_organization_by_id_or_name() {
    let dir = directory();
    let by_name = dir
        .resolve_organization(&OrganizationRef::Name("Globex".into()))
        .await
        .unwrap();
    assert_eq!(by_name, Some(OrganizationId::from("11")));
    let by_id = dir
        .resolve_organization(&OrganizationRef::Id("10".into()))
        .await
        .unwrap();
    assert_eq!(by_id, Some(OrganizationId::from("10")));
    // Ids are checked, names matched exactly.
    assert_eq!(
        dir.resolve_organization(&OrganizationRef::Id("12".into()))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        dir.resolve_organization(&OrganizationRef::Name("globex".into()))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn set_fields_is_all_or_nothing() {
    let dir = directory();
    let c = dir
        .create_customer(&email("c@x.example"), "C")
        .await
        .unwrap();
    let mut fields = BTreeMap::from([("customfield_100".to_owned(), "Sales".to_owned())]);
    dir.set_fields(&c.id, &fields).await.unwrap();

    fields.insert("customfield_100".into(), "Support".into());
    fields.insert("customfield_999".into(), "x".into());
    let err = dir.set_fields(&c.id, &fields).await.unwrap_err();
    assert!(matches!(&err, DirectoryError::FieldUnknown(f) if f == "customfield_999"));
    assert_eq!(err.code(), "core.directory.field_unknown");
    let snap = dir.customer(&c.id).unwrap();
    assert_eq!(
        snap.fields.get("customfield_100").map(String::as_str),
        Some("Sales")
    );

    let more = BTreeMap::from([("customfield_101".to_owned(), "EMEA".to_owned())]);
    dir.set_fields(&c.id, &more).await.unwrap();
    let snap = dir.customer(&c.id).unwrap();
    assert_eq!(snap.fields.len(), 2, "fields not named are left alone");
}

#[tokio::test]
async fn record_sign_in_never_moves_back() {
    let dir = directory();
    let c = dir
        .create_customer(&email("c@x.example"), "C")
        .await
        .unwrap();
    assert_eq!(c.last_seen, None);
    let t1 = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000);
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    dir.record_sign_in(&c.id, t1).await.unwrap();
    dir.record_sign_in(&c.id, t0).await.unwrap();
    let found = dir.find_customer_by_email(&c.email).await.unwrap().unwrap();
    assert_eq!(found.last_seen, Some(t1));
}

#[tokio::test]
async fn list_customers_pages_through_everyone_once() {
    let dir = directory();
    for i in 0..25 {
        dir.create_customer(&email(&format!("user{i}@x.example")), "U")
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = dir.list_customers(cursor.as_deref(), 10).await.unwrap();
        pages += 1;
        assert!(page.customers.len() <= 10);
        seen.extend(page.customers.into_iter().map(|c| c.id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 25);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen, "stable order, no duplicates");

    // Exactly one full page: no next cursor.
    let all = dir.list_customers(None, 25).await.unwrap();
    assert_eq!((all.customers.len(), all.next), (25, None));

    let err = dir.list_customers(Some("bogus"), 10).await.unwrap_err();
    assert_eq!(err.code(), "core.directory.cursor_invalid");
}

#[tokio::test]
async fn remove_customer_is_idempotent_and_frees_the_email() {
    let dir = directory();
    let c = dir
        .create_customer(&email("c@x.example"), "C")
        .await
        .unwrap();
    dir.remove_customer(&c.id).await.unwrap();
    dir.remove_customer(&c.id).await.unwrap();
    assert!(dir.is_empty());
    assert_eq!(dir.find_customer_by_email(&c.email).await.unwrap(), None);
    let again = dir.create_customer(&c.email, "C").await.unwrap();
    assert_ne!(again.id, c.id, "a new customer, not a resurrected one");
}

#[tokio::test]
async fn directory_is_bounded() {
    let dir = MemoryDirectory::new(2);
    dir.create_customer(&email("a@x.example"), "A")
        .await
        .unwrap();
    dir.create_customer(&email("b@x.example"), "B")
        .await
        .unwrap();
    let err = dir
        .create_customer(&email("c@x.example"), "C")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "core.directory.full");
    // An existing customer is still returned when full.
    assert!(
        dir.create_customer(&email("a@x.example"), "A")
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_create_makes_one_customer() {
    let dir = directory();
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let dir = dir.clone();
        tasks.push(tokio::spawn(async move {
            dir.create_customer(&email("race@x.example"), "Race")
                .await
                .unwrap()
                .id
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1);
    assert_eq!(dir.len(), 1);
}
