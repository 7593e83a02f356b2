//! Stale-customer cleanup end to end: plan, dry run, apply; customers who came back are
//! kept, hand-made customers are left alone, deprovisioned accounts go; every removal is
//! audited.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions: a failed unwrap is a failed test"
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Harness, signed_in};
use jsm_sso_broker::cleanup::{CleanupMode, CleanupOptions, CleanupReason};
use jsm_sso_broker::provision::Person;
use jsm_sso_broker::{AuditContext, Broker, SessionKeys};
use jsm_sso_core::Decision;
use jsm_sso_core::decision::{OrganizationRef, StaticPolicy};
use jsm_sso_core::memory::MemoryDirectory;

const DAY: u64 = 24 * 3600;

fn emails(plan: &jsm_sso_broker::cleanup::CleanupPlan) -> Vec<String> {
    let mut v: Vec<String> = plan
        .candidates
        .iter()
        .map(|c| c.customer.email.as_str().to_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn plan_dry_run_and_apply() {
    let h = Harness::new().await;
    let jane = signed_in(h.saml_login("jane@acme.example", &[]).await);
    signed_in(h.saml_login("john@acme.example", &[]).await);
    // A customer an agent created by hand, in the same portal.
    let manual = h.jsm.add_customer("walk-in@acme.example", "Walk In");
    h.jsm
        .client()
        .add_desk_customers(&h.help, &[&manual])
        .await
        .unwrap();

    h.clock.advance(Duration::from_secs(100 * DAY));
    signed_in(h.saml_login("john@acme.example", &[]).await);
    let options = CleanupOptions::default().stale_after(Duration::from_secs(90 * DAY));
    let plan = h.broker.plan_cleanup(&options).await.unwrap();
    assert_eq!(emails(&plan), ["jane@acme.example"]);
    assert!(matches!(
        plan.candidates[0].reason,
        CleanupReason::Stale { last_seen: Some(_) }
    ));
    // With hand-made customers included, the walk-in (never signed in) shows up too.
    let wide = h
        .broker
        .plan_cleanup(&options.only_created_by_broker(false))
        .await
        .unwrap();
    assert_eq!(emails(&wide), ["jane@acme.example", "walk-in@acme.example"]);

    // The default is a dry run: reported, nothing removed, no removal audited.
    let report = h
        .broker
        .apply_cleanup(&plan, CleanupMode::default())
        .await
        .unwrap();
    assert!(report.dry_run);
    assert_eq!(
        report.removed,
        std::slice::from_ref(&jane.provisioned.customer.id)
    );
    assert!(
        h.jsm
            .desk_customers(&h.help)
            .contains(&jane.provisioned.customer.id.as_str().to_owned())
    );

    // Jane comes back before the plan is applied: she is kept.
    signed_in(h.saml_login("jane@acme.example", &[]).await);
    let report = h
        .broker
        .apply_cleanup(&plan, CleanupMode::Remove)
        .await
        .unwrap();
    assert!(report.removed.is_empty());
    assert_eq!(
        report.kept,
        std::slice::from_ref(&jane.provisioned.customer.id)
    );

    // 200 days later both are stale and are removed.
    h.clock.advance(Duration::from_secs(200 * DAY));
    let plan = h.broker.plan_cleanup(&options).await.unwrap();
    assert_eq!(emails(&plan), ["jane@acme.example", "john@acme.example"]);
    let report = h
        .broker
        .apply_cleanup(&plan, CleanupMode::Remove)
        .await
        .unwrap();
    assert_eq!(report.removed.len(), 2);
    assert!(report.failed.is_empty());
    assert_eq!(h.jsm.desk_customers(&h.help), std::slice::from_ref(&manual));
    assert!(h.jsm.organization_members(&h.acme_org).is_empty());
    let jane_id = jane.provisioned.customer.id.as_str();
    assert!(h.jsm.user_property(jane_id, "jsm-sso.managed").is_none());
    // Nothing left to clean.
    let plan = h.broker.plan_cleanup(&options).await.unwrap();
    assert!(plan.candidates.is_empty());

    let trail = h.trail().await;
    let of = |kind: &str| {
        trail
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, c)| c.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(of("customer.removed"), ["ok", "ok"]);
    assert_eq!(of("cleanup.planned").len(), 4);
    assert_eq!(
        of("cleanup.applied"),
        ["ok", "ok"],
        "dry runs are not applied"
    );
    let events = h.events().await;
    let removed: Vec<_> = events
        .iter()
        .filter(|e| e.kind().as_str() == "customer.removed")
        .collect();
    let json = serde_json::to_value(removed[0]).unwrap();
    assert_eq!(json["details"]["reason"], "stale");
    assert!(
        json["actor"].to_string().contains("cleanup"),
        "{}",
        json["actor"]
    );
}

/// A directory that lists every customer (not only a home portal's): a deprovisioned
/// account is a candidate at once, however recently it signed in.
#[tokio::test]
async fn deprovisioned_accounts_are_candidates_at_once() {
    let parts = common::Parts::new().await;
    let seams = parts.seams.clone();
    let directory = Arc::new(
        MemoryDirectory::new(100)
            .with_organization("o-acme", "Acme Corp")
            .with_portal("p-help"),
    );
    let mut decision = Decision::allow();
    decision
        .organizations
        .push(OrganizationRef::Name("Acme Corp".into()));
    decision.portals.push("p-help".into());
    let broker = Broker::builder(
        seams.clone(),
        Arc::new(StaticPolicy::new(decision.clone())),
        directory.clone(),
        parts.audit.clone(),
        SessionKeys::generate().unwrap(),
    )
    .idp(Arc::new(parts.saml_idp(&seams)))
    .build()
    .unwrap();
    let h = parts.into_harness(broker);
    let p = h.broker.provisioner();
    let ctx = AuditContext::new("t");
    for email in ["jane@acme.example", "john@acme.example"] {
        p.apply(&Person::new(email.parse().unwrap(), "X"), &decision, &ctx)
            .await
            .unwrap();
    }
    let jane = p
        .deprovision(
            &"jane@acme.example".parse().unwrap(),
            &AuditContext::new("scim"),
        )
        .await
        .unwrap()
        .unwrap();
    let c = directory.customer(&jane).unwrap();
    assert!(c.organizations.is_empty() && c.portals.is_empty());
    let plan = h
        .broker
        .plan_cleanup(&CleanupOptions::default())
        .await
        .unwrap();
    assert_eq!(emails(&plan), ["jane@acme.example"]);
    assert_eq!(plan.candidates[0].reason, CleanupReason::Deprovisioned);
    let report = h
        .broker
        .apply_cleanup(&plan, CleanupMode::Remove)
        .await
        .unwrap();
    assert_eq!(report.removed, std::slice::from_ref(&jane));
    assert!(directory.customer(&jane).is_none());
    assert_eq!(directory.len(), 1);
    let events = h.events().await;
    let removed = events
        .iter()
        .find(|e| e.kind().as_str() == "customer.removed")
        .unwrap();
    let json = serde_json::to_value(removed).unwrap();
    assert_eq!(json["details"]["reason"], "deprovisioned");
}
