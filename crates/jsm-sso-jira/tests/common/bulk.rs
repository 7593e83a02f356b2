//! Bulk provisioning: many customers into organizations by email domain, through one
//! [`JiraClient`] (its concurrency limit, pacing and retries), and the check that no
//! customer was lost or duplicated. Used by tests/bulk.rs (small counts) and
//! examples/bulk_provision.rs (10,000, measured).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use jsm_sso_jira::memory::MemoryJsm;
use jsm_sso_jira::{ClientStats, JiraClient};
use tokio::task::JoinSet;

/// Organization members added per request.
pub const BATCH: usize = 50;

/// The plan: `count` customers over `organizations` domains, one organization per domain;
/// every `existing_every`-th customer exists in JSM already (so its create meets a 409).
pub struct Plan {
    pub count: usize,
    pub organizations: usize,
    pub existing_every: usize,
    pub workers: usize,
}

/// What a run did.
#[derive(Debug)]
pub struct Report {
    pub elapsed: Duration,
    pub requests: u64,
    pub stats: ClientStats,
    pub created: usize,
    pub existed: usize,
}

pub fn email(n: usize, organizations: usize) -> String {
    format!("customer{n:05}@domain{:02}.example", n % organizations)
}

/// Sets up the site: the organizations, and the customers that exist already. Returns the
/// organization ids by domain index.
pub fn prepare(jsm: &MemoryJsm, plan: &Plan) -> Vec<String> {
    let orgs = (0..plan.organizations)
        .map(|d| jsm.add_organization(&format!("Domain {d:02}")))
        .collect();
    for n in (0..plan.count).filter(|n| n % plan.existing_every == 0) {
        jsm.add_customer(&email(n, plan.organizations), &format!("Customer {n}"));
    }
    orgs
}

/// Provisions the plan: `workers` tasks ensure customers (create, 409 -> look up), then the
/// memberships go in batches of [`BATCH`].
pub async fn provision(
    client: &JiraClient,
    plan: &Plan,
    orgs: &[String],
    jsm: &MemoryJsm,
) -> Report {
    let before = jsm.request_log().len();
    let started = Instant::now();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..plan.workers {
        let client = client.clone();
        let next = next.clone();
        let (count, organizations) = (plan.count, plan.organizations);
        tasks.spawn(async move {
            let mut done = Vec::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= count {
                    break done;
                }
                let email = email(n, organizations);
                let (user, created) = client
                    .ensure_customer(&email, &format!("Customer {n}"))
                    .await
                    .unwrap_or_else(|e| panic!("customer {n}: {e}"));
                done.push((n, user.account_id.unwrap(), created));
            }
        });
    }
    let mut by_org: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let (mut created, mut existed) = (0, 0);
    while let Some(done) = tasks.join_next().await {
        for (n, id, was_created) in done.unwrap() {
            if was_created {
                created += 1;
            } else {
                existed += 1;
            }
            by_org.entry(n % plan.organizations).or_default().push(id);
        }
    }
    let mut batches = JoinSet::new();
    for (org, ids) in by_org {
        for chunk in ids.chunks(BATCH) {
            let client = client.clone();
            let org = orgs[org].clone();
            let chunk = chunk.to_vec();
            batches.spawn(async move {
                let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
                client
                    .add_organization_members(&org, &refs)
                    .await
                    .unwrap_or_else(|e| panic!("members of {org}: {e}"));
            });
        }
    }
    while let Some(done) = batches.join_next().await {
        done.unwrap();
    }
    Report {
        elapsed: started.elapsed(),
        requests: u64::try_from(jsm.request_log().len() - before).unwrap(),
        stats: client.stats(),
        created,
        existed,
    }
}

/// Every planned customer exists exactly once and is in its domain's organization.
pub fn check(jsm: &MemoryJsm, plan: &Plan, orgs: &[String], report: &Report) {
    let customers = jsm.customers();
    assert_eq!(customers.len(), plan.count, "customers lost or duplicated");
    let emails: BTreeSet<String> = customers
        .iter()
        .map(|(_, e)| e.to_ascii_lowercase())
        .collect();
    assert_eq!(emails.len(), plan.count, "an email is held by two accounts");
    let expected: BTreeSet<String> = (0..plan.count)
        .map(|n| email(n, plan.organizations))
        .collect();
    assert_eq!(emails, expected);
    let by_email: BTreeMap<&str, &str> = customers
        .iter()
        .map(|(id, e)| (e.as_str(), id.as_str()))
        .collect();
    let mut members = 0;
    for (d, org) in orgs.iter().enumerate() {
        let in_org: BTreeSet<String> = jsm.organization_members(org).into_iter().collect();
        members += in_org.len();
        for n in (0..plan.count).filter(|n| n % plan.organizations == d) {
            let id = by_email[email(n, plan.organizations).as_str()];
            assert!(
                in_org.contains(id),
                "customer {n} missing from organization {org}"
            );
        }
    }
    assert_eq!(
        members, plan.count,
        "a customer is in a foreign organization"
    );
    assert_eq!(report.created + report.existed, plan.count);
    // More "existed" than planned when a create was applied but its answer was lost.
    assert!(report.existed >= plan.count.div_ceil(plan.existing_every));
}
