//! One `CustomerDirectory` behaviour suite (tests/common/suite.rs), three directories:
//! core's `MemoryDirectory` (the reference), `JsmDirectory` on the in-process `MemoryJsm`
//! (the in-memory directory), and `JsmDirectory` over core's reqwest transport to the same
//! fake JSM served on 127.0.0.1 (the HTTP client).

mod common;

use std::time::Duration;

use common::suite::{Fixture, run};
use jsm_sso_core::memory::MemoryDirectory;
use jsm_sso_jira::JsmDirectory;
use jsm_sso_jira::memory::MemoryJsm;

fn jsm_site() -> (MemoryJsm, String, String) {
    let jsm = MemoryJsm::new();
    jsm.add_organization("Other Org");
    let org = jsm.add_organization("Acme Corp");
    jsm.add_service_desk("OPS", "Operations");
    let desk = jsm.add_service_desk("HELP", "Help desk");
    (jsm, org, desk)
}

#[tokio::test]
async fn core_memory_directory_passes_the_suite() {
    let directory = MemoryDirectory::new(1_000)
        .with_organization("10", "Acme Corp")
        .with_portal("3")
        .with_field("department");
    run(Fixture {
        directory,
        organization: "10".into(),
        organization_name: "Acme Corp".into(),
        portal: "3".into(),
        field: "department".into(),
    })
    .await;
}

#[tokio::test]
async fn in_memory_jsm_directory_passes_the_suite() {
    let (jsm, org, desk) = jsm_site();
    let directory = jsm
        .directory()
        .with_home_portal(desk.as_str())
        .with_field("department");
    run(Fixture {
        directory,
        organization: org.as_str().into(),
        organization_name: "Acme Corp".into(),
        portal: desk.as_str().into(),
        field: "department".into(),
    })
    .await;
    assert_eq!(
        jsm.organization_property(&org, jsm_sso_jira::directory::MANAGED_PROPERTY)
            .unwrap()["managedBy"],
        "jsm-sso",
        "the broker marks the organizations whose memberships it manages"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_client_directory_passes_the_suite() {
    let (jsm, org, desk) = jsm_site();
    let server = common::start(jsm).await;
    let client = common::reqwest_builder(&server.url, Duration::from_secs(5))
        .build()
        .unwrap();
    let directory = JsmDirectory::new(client)
        .with_home_portal(desk.as_str())
        .with_field("department");
    run(Fixture {
        directory,
        organization: org.as_str().into(),
        organization_name: "Acme Corp".into(),
        portal: desk.as_str().into(),
        field: "department".into(),
    })
    .await;
    let alice = server
        .jsm
        .customers()
        .into_iter()
        .find(|(_, e)| e == "alice@acme.example")
        .unwrap()
        .0;
    assert!(server.jsm.portal_only_access_revoked(&alice));
    assert!(!server.jsm.organization_members(&org).contains(&alice));
}

#[tokio::test]
async fn in_memory_jsm_directory_passes_the_suite_under_injected_faults() {
    use jsm_sso_jira::memory::{Fault, FaultRule};
    let (jsm, org, desk) = jsm_site();
    // Every idempotent step meets a 503 or a hint-less 429 now and then; the suite must
    // still pass because the client retries them.
    jsm.inject(
        FaultRule::new(Fault::unavailable(), 20)
            .method(http::Method::GET)
            .every(3),
    );
    jsm.inject(
        FaultRule::new(Fault::rate_limited_without_hint(), 10)
            .method(http::Method::PUT)
            .every(2),
    );
    jsm.inject(
        FaultRule::new(Fault::unavailable(), 10)
            .method(http::Method::DELETE)
            .every(2),
    );
    let client = jsm
        .client_builder()
        .sleeper(std::sync::Arc::new(
            jsm_sso_jira::retry::RecordingSleeper::default(),
        ))
        .build()
        .unwrap();
    let directory = JsmDirectory::new(client.clone())
        .with_home_portal(desk.as_str())
        .with_field("department");
    run(Fixture {
        directory,
        organization: org.as_str().into(),
        organization_name: "Acme Corp".into(),
        portal: desk.as_str().into(),
        field: "department".into(),
    })
    .await;
    let stats = client.stats();
    assert!(jsm.faults_fired() >= 30, "{}", jsm.faults_fired());
    assert_eq!(
        stats.retries,
        jsm.faults_fired(),
        "each fault costs exactly one retry: {stats:?}"
    );
    assert!(stats.rate_limited >= 5, "{stats:?}");
}
