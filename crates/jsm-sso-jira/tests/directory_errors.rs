//! How `JsmDirectory` maps JSM failures onto the broker's `core.directory.*` codes, and
//! that retryable ones say so.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

use std::collections::BTreeMap;
use std::pin::Pin;

use futures_core::Stream;
use jsm_sso_core::directory::{CustomerId, OrganizationId, PortalId};
use jsm_sso_core::{CodedError, CustomerDirectory};
use jsm_sso_jira::JsmDirectory;
use jsm_sso_jira::memory::{Fault, FaultRule, MemoryJsm};
use jsm_sso_jira::retry::RetryPolicy;

fn status(status: u16, body: &str) -> Fault {
    Fault::Status {
        status,
        headers: Vec::new(),
        body: body.to_owned(),
    }
}

fn directory(jsm: &MemoryJsm) -> JsmDirectory {
    JsmDirectory::new(
        jsm.client_builder()
            .retry(RetryPolicy::none())
            .build()
            .unwrap(),
    )
}

#[tokio::test]
async fn jsm_failures_map_to_directory_codes() {
    let jsm = MemoryJsm::new();
    let org = jsm.add_organization("Acme");
    let desk = jsm.add_service_desk("HELP", "Help");
    let d = directory(&jsm).with_home_portal(desk.as_str());
    let email = "frank@acme.example".parse().unwrap();
    let frank = d.create_customer(&email, "Frank").await.unwrap();

    let cases = [
        (Fault::rate_limited(2), "core.directory.rate_limited", true),
        (Fault::unavailable(), "core.directory.unavailable", true),
        (Fault::Drop, "core.directory.unavailable", true),
        (
            status(401, r#"{"errorMessage":"bad token"}"#),
            "core.directory.unauthorized",
            false,
        ),
        (
            status(403, r#"{"errorMessage":"not an agent"}"#),
            "core.directory.unauthorized",
            false,
        ),
        (
            status(400, r#"{"errorMessage":"bad value"}"#),
            "core.directory.invalid",
            false,
        ),
        (status(200, "not json"), "core.directory.backend", false),
        (status(418, "{}"), "core.directory.backend", false),
    ];
    for (fault, code, retryable) in cases {
        jsm.inject(FaultRule::new(fault.clone(), 1));
        let e = d.find_customer_by_email(&email).await.unwrap_err();
        assert_eq!(e.code(), code, "{fault:?}: {e}");
        assert_eq!(e.is_retryable(), retryable, "{fault:?}");
    }
    // A rate limit keeps the wait Jira asked for.
    jsm.inject(FaultRule::new(Fault::rate_limited(9), 1));
    let e = d
        .grant_portal(&frank.id, &PortalId::from(desk.as_str()))
        .await
        .unwrap_err();
    assert!(
        matches!(e, jsm_sso_core::directory::DirectoryError::RateLimited { retry_after: Some(w) } if w.as_secs() == 9),
        "{e:?}"
    );
    // A 400 about an existing customer is "invalid", not "customer not found".
    jsm.inject(FaultRule::new(status(400, r#"{"errorMessage":"nope"}"#), 1).path("/user"));
    let e = d
        .add_to_organization(&frank.id, &OrganizationId::from(org.as_str()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "core.directory.invalid", "{e}");
    // Ids JSM cannot have.
    let e = d
        .add_to_organization(&frank.id, &OrganizationId::from("acme"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "core.directory.organization_not_found");
    let e = d
        .remove_from_organization(&frank.id, &OrganizationId::from("acme"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "core.directory.organization_not_found");
}

#[tokio::test]
async fn listing_needs_an_existing_home_portal() {
    let jsm = MemoryJsm::new();
    let e = directory(&jsm).list_customers(None, 10).await.unwrap_err();
    assert_eq!(e.code(), "core.directory.backend");
    let e = directory(&jsm)
        .with_home_portal("77")
        .list_customers(None, 10)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "core.directory.portal_not_found");
    for bad in ["start:", "start:-1", "after:3", ""] {
        let e = directory(&jsm)
            .with_home_portal("77")
            .list_customers(Some(bad), 10)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "core.directory.cursor_invalid", "{bad:?}");
    }
}

#[tokio::test]
async fn fields_go_to_one_merged_user_property_and_removal_revokes() {
    let jsm = MemoryJsm::new();
    let desk = jsm.add_service_desk("HELP", "Help");
    let org = jsm.add_organization("Acme");
    let d = directory(&jsm)
        .with_home_portal(desk.as_str())
        .with_field("department")
        .with_field("tier");
    let gina = d
        .create_customer(&"gina@acme.example".parse().unwrap(), "Gina")
        .await
        .unwrap();
    let set = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
    d.set_fields(&gina.id, &set("department", "Ops"))
        .await
        .unwrap();
    d.set_fields(&gina.id, &set("tier", "Gold")).await.unwrap();
    assert_eq!(
        jsm.user_property(gina.id.as_str(), jsm_sso_jira::directory::FIELDS_PROPERTY)
            .unwrap(),
        serde_json::json!({"department": "Ops", "tier": "Gold"})
    );
    let writes = jsm
        .request_log()
        .iter()
        .filter(|l| l.starts_with("PUT"))
        .count();
    d.set_fields(&gina.id, &set("tier", "Gold")).await.unwrap();
    let after = jsm
        .request_log()
        .iter()
        .filter(|l| l.starts_with("PUT"))
        .count();
    assert_eq!(writes, after, "an unchanged value is not written again");

    d.add_to_organization(&gina.id, &OrganizationId::from(org.as_str()))
        .await
        .unwrap();
    d.grant_portal(&gina.id, &PortalId::from(desk.as_str()))
        .await
        .unwrap();
    d.remove_customer(&gina.id).await.unwrap();
    assert!(jsm.organization_members(&org).is_empty());
    assert!(jsm.desk_customers(&desk).is_empty());
    assert!(jsm.portal_only_access_revoked(gina.id.as_str()));

    // Without revocation (no site-admin rights) the memberships still go.
    let d = directory(&jsm).revoke_portal_only_access_on_remove(false);
    let hank = jsm.add_customer("hank@acme.example", "Hank");
    d.add_to_organization(
        &CustomerId::from(hank.as_str()),
        &OrganizationId::from(org.as_str()),
    )
    .await
    .unwrap();
    d.remove_customer(&CustomerId::from(hank.as_str()))
        .await
        .unwrap();
    assert!(!jsm.portal_only_access_revoked(&hank));
    assert!(jsm.organization_members(&org).is_empty());
}

#[tokio::test]
async fn a_pager_is_a_futures_stream() {
    let jsm = MemoryJsm::new();
    for n in 0..75 {
        jsm.add_organization(&format!("Org {n}"));
    }
    let mut pager = jsm.client().organizations();
    let mut names = Vec::new();
    while let Some(item) = std::future::poll_fn(|cx| Pin::new(&mut pager).poll_next(cx)).await {
        names.push(item.unwrap().name);
    }
    assert_eq!(names.len(), 75);
    assert_eq!(names.first().map(String::as_str), Some("Org 0"));
}
