//! Provisions 10,000 customers into 20 organizations (by email domain) against the fake JSM
//! served over real HTTP on 127.0.0.1, with a server-side rate limit, and reports the
//! throughput against the allowed rate and that no customer was lost or duplicated.
//!
//! ```sh
//! cargo run -p jsm-sso-jira --features reqwest --example bulk_provision -- [COUNT] [RATE] [PACE] [adaptive]
//! ```
//!
//! COUNT customers (default 10000), RATE requests/s allowed by the server (default 500, burst
//! 20), PACE the client's own requests/s (default 0.97 x RATE; 0 = unpaced, only reacting to
//! 429s). With `adaptive`, PACE is only the ceiling the client's adaptive pacing starts from
//! and returns to. One customer in 20 exists already, so its create meets a 409 and a look-up.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    unreachable_pub,
    dead_code,
    reason = "a measuring example: a failed unwrap ends the run, the report goes to stdout"
)]

#[path = "../tests/common/bulk.rs"]
mod bulk;
#[path = "../tests/common/server.rs"]
mod server;

use std::time::Duration;

use jsm_sso_jira::memory::MemoryJsm;
use jsm_sso_jira::retry::RetryPolicy;

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count: usize = args.first().map_or(10_000, |a| a.parse().unwrap());
    let rate: f64 = args.get(1).map_or(500.0, |a| a.parse().unwrap());
    let pace: f64 = args.get(2).map_or(rate * 0.97, |a| a.parse().unwrap());
    let adaptive = args.get(3).is_some_and(|a| a == "adaptive");
    let plan = bulk::Plan {
        count,
        organizations: 20,
        existing_every: 20,
        workers: 32,
    };
    let jsm = MemoryJsm::new();
    let orgs = bulk::prepare(&jsm, &plan);
    jsm.set_rate_limit(rate, 20.0);
    let url = server::start_dedicated(jsm.clone());
    // The default retry policy (Retry-After plus up to 1 s of jitter) with room for more
    // retries: unpaced, 32 workers meet many 429s.
    let mut builder = server::reqwest_builder(&url, Duration::from_secs(5))
        .max_concurrency(32)
        .retry(RetryPolicy::default().with_max_retries(20));
    if pace > 0.0 {
        builder = builder
            .max_requests_per_second(pace)
            .adaptive_pacing(adaptive);
    }
    let client = builder.build().unwrap();

    let report = bulk::provision(&client, &plan, &orgs, &jsm).await;
    bulk::check(&jsm, &plan, &orgs, &report);

    let secs = report.elapsed.as_secs_f64();
    let achieved = report.requests as f64 / secs;
    println!(
        "customers            {count} ({} created, {} existed)",
        report.created, report.existed
    );
    println!("organizations        {}", plan.organizations);
    println!(
        "requests served      {} (429s: {})",
        report.requests,
        jsm.rate_limited_count()
    );
    println!("client               {:?}", report.stats);
    println!("elapsed              {secs:.2} s");
    println!(
        "throughput           {achieved:.1} requests/s, {:.1} customers/s",
        count as f64 / secs
    );
    let mode = if adaptive {
        "adaptive, ceiling"
    } else {
        "fixed"
    };
    let now = client.pace().await.unwrap_or(0.0);
    println!(
        "allowed rate         {rate:.1} requests/s (client pace {mode} {pace:.1}, now {now:.1})"
    );
    println!("share of the limit   {:.1} %", 100.0 * achieved / rate);
    println!("lost or duplicated   none (checked)");
}
