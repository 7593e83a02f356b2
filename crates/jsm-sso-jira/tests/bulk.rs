//! Bulk provisioning against the fake JSM over real HTTP (core's reqwest transport) with a
//! server-side rate limit and injected faults: no customer lost or duplicated, every one in
//! its organization. The 10,000-customer measurement is examples/bulk_provision.rs.

mod common;

use std::time::Duration;

use common::bulk::{Plan, check, prepare, provision};
use http::Method;
use jsm_sso_jira::memory::{Fault, FaultRule, MemoryJsm};
use jsm_sso_jira::retry::RetryPolicy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_bulk_under_faults_loses_and_duplicates_nothing() {
    let jsm = MemoryJsm::new();
    let plan = Plan {
        count: 400,
        organizations: 8,
        existing_every: 20,
        workers: 16,
    };
    let orgs = prepare(&jsm, &plan);
    jsm.set_rate_limit(500.0, 20.0);
    // Dropped connections and 503s on creates, slow answers past the client's timeout
    // (applied, answer lost), 503s on look-ups and membership batches.
    let create = "/rest/servicedeskapi/customer";
    jsm.inject(
        FaultRule::new(Fault::Drop, 8)
            .method(Method::POST)
            .path(create)
            .every(37),
    );
    jsm.inject(
        FaultRule::new(Fault::unavailable(), 8)
            .method(Method::POST)
            .path(create)
            .every(41),
    );
    jsm.inject(
        FaultRule::new(Fault::Delay(Duration::from_millis(600)), 3)
            .method(Method::POST)
            .path(create)
            .every(97),
    );
    jsm.inject(
        FaultRule::new(Fault::unavailable(), 3)
            .method(Method::GET)
            .every(7),
    );
    jsm.inject(
        FaultRule::new(Fault::unavailable(), 2)
            .path("/user")
            .method(Method::POST)
            .every(3),
    );
    let server = common::start(jsm.clone()).await;
    let client = common::reqwest_builder(&server.url, Duration::from_millis(300))
        .max_concurrency(16)
        .max_requests_per_second(450.0)
        .build()
        .unwrap();
    let report = provision(&client, &plan, &orgs, &jsm).await;
    check(&jsm, &plan, &orgs, &report);
    assert_eq!(
        jsm.faults_fired(),
        8 + 8 + 3 + 3 + 2,
        "every injected fault was met"
    );
    assert!(report.stats.retries >= 24, "{:?}", report.stats);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpaced_bulk_honours_the_servers_retry_after() {
    let jsm = MemoryJsm::new();
    let plan = Plan {
        count: 80,
        organizations: 4,
        existing_every: 10,
        workers: 16,
    };
    let orgs = prepare(&jsm, &plan);
    jsm.set_rate_limit(100.0, 10.0);
    let server = common::start(jsm.clone()).await;
    // Workers told the same Retry-After come back together; the jitter (up to 500 ms here)
    // spreads them, and enough retries let every one through.
    let client = common::reqwest_builder(&server.url, Duration::from_secs(2))
        .max_concurrency(16)
        .retry(
            RetryPolicy::default()
                .with_max_retries(10)
                .with_hints(Duration::from_millis(500), Duration::from_secs(60)),
        )
        .build()
        .unwrap();
    let report = provision(&client, &plan, &orgs, &jsm).await;
    check(&jsm, &plan, &orgs, &report);
    assert!(
        jsm.rate_limited_count() > 0,
        "the burst went past the limit"
    );
    assert_eq!(report.stats.rate_limited, jsm.rate_limited_count());
    assert_eq!(
        report.stats.retries,
        jsm.rate_limited_count(),
        "each 429 retried once"
    );
    // Retry-After was whole seconds (>= 1 s) plus jitter of up to 500 ms each time.
    let waits = report.stats.backoff;
    let n = u32::try_from(jsm.rate_limited_count()).unwrap();
    assert!(
        waits >= Duration::from_secs(1) * n,
        "{waits:?} for {n} 429s"
    );
    assert!(
        waits <= Duration::from_millis(1500) * n,
        "{waits:?} for {n} 429s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adaptive_pacing_finds_a_limit_it_was_not_told() {
    let jsm = MemoryJsm::new();
    let plan = Plan {
        count: 300,
        organizations: 5,
        existing_every: 15,
        workers: 16,
    };
    let orgs = prepare(&jsm, &plan);
    jsm.set_rate_limit(150.0, 10.0);
    let server = common::start(jsm.clone()).await;
    let client = common::reqwest_builder(&server.url, Duration::from_secs(2))
        .max_concurrency(16)
        .max_requests_per_second(1_000.0)
        .adaptive_pacing(true)
        .retry(
            RetryPolicy::default()
                .with_max_retries(10)
                .with_hints(Duration::from_millis(300), Duration::from_secs(60)),
        )
        .build()
        .unwrap();
    let report = provision(&client, &plan, &orgs, &jsm).await;
    check(&jsm, &plan, &orgs, &report);
    assert!(jsm.rate_limited_count() > 0);
    let pace = client.pace().await.unwrap();
    assert!(
        pace < 1_000.0,
        "the pace came down from its ceiling: {pace}"
    );
}
