//! Measures what the closing note of issue 6 asks for: load + validate + index time, and the
//! p50 / p99 of single decisions (explanation included) at 100, 10,000 and 100,000 rules.
//!
//! `cargo run --release -p jsm-sso-policy --example latency [SIZES...]`
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::print_stdout,
    missing_docs,
    reason = "measurement tool"
)]

#[path = "../benches/support/mapping.rs"]
mod mapping;

use std::hint::black_box;
use std::time::{Instant, SystemTime};

use jsm_sso_core::VerifiedIdentity;
use jsm_sso_core::identity::{Protocol, Subject};
use jsm_sso_policy::{Format, load_str};

fn identity(s: &mapping::SynthIdentity) -> VerifiedIdentity {
    let mut id = VerifiedIdentity::new(
        s.idp.as_str(),
        Protocol::Oidc,
        Subject::new("s"),
        SystemTime::UNIX_EPOCH,
    );
    id.email = Some(s.email.parse().unwrap());
    id.email_verified = true;
    id.groups.clone_from(&s.groups);
    id.attributes
        .insert("department".into(), vec![s.department.clone()]);
    id.attributes
        .insert("cost_center".into(), vec![s.cost_center.clone()]);
    id
}

/// Nanoseconds this thread has spent on a CPU (Linux `schedstat`), so a shared, busy
/// machine does not inflate the compile time; `None` elsewhere.
fn cpu_ns() -> Option<u128> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![100, 10_000, 100_000]
    } else {
        sizes
    };
    for n in sizes {
        let t = Instant::now();
        let text = mapping::toml(n);
        let generate = t.elapsed();
        // The best of three: the machine may be shared, and the minimum is the cost.
        let mut compile = std::time::Duration::MAX;
        let mut compile_cpu = u128::MAX;
        let mut policy = None;
        let runs: usize = std::env::var("LATENCY_COMPILE_RUNS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3);
        for _ in 0..runs.max(1) {
            let (t, c) = (Instant::now(), cpu_ns());
            let p = load_str(&text, Format::Toml, "bench.toml").unwrap();
            compile = compile.min(t.elapsed());
            if let (Some(before), Some(after)) = (c, cpu_ns()) {
                compile_cpu = compile_cpu.min(after - before);
            }
            policy = Some(p);
        }
        let policy = policy.unwrap();
        let identities: Vec<_> = mapping::identities(n, 1024).iter().map(identity).collect();
        // Warm up, then time each decision on its own.
        let mut candidates = 0usize;
        for id in &identities {
            candidates += black_box(policy.evaluate(id)).explanation.candidates;
        }
        println!(
            "{n:>7} rules: {:.1} candidate rules per decision",
            candidates as f64 / identities.len() as f64
        );
        let rounds: usize = std::env::var("LATENCY_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100_000);
        let mut samples = Vec::with_capacity(rounds);
        let mut allowed = 0usize;
        let (t_all, c_all) = (Instant::now(), cpu_ns());
        for i in 0..rounds {
            let id = &identities[i % identities.len()];
            let t = Instant::now();
            let e = black_box(policy.evaluate(black_box(id)));
            samples.push(t.elapsed().as_nanos());
            allowed += usize::from(e.allow);
        }
        let wall_mean = t_all.elapsed().as_nanos() / rounds.max(1) as u128;
        let cpu_mean = cpu_ns()
            .zip(c_all)
            .map(|(a, b)| (a - b) / rounds.max(1) as u128);
        samples.sort_unstable();
        let pct = |p: usize| samples[(samples.len() * p / 100).min(samples.len() - 1)];
        println!(
            "{n:>7} rules: text {:>5} KiB (generated in {generate:?}), load+validate+index {compile:?} wall, {:.1} ms on-CPU; decide p50 {} ns, p99 {} ns, max {} ns, mean {wall_mean} ns wall / {} ns on-CPU (timer included) ({}% allowed)",
            text.len() / 1024,
            compile_cpu as f64 / 1e6,
            pct(50),
            pct(99),
            samples.last().copied().unwrap_or(0),
            cpu_mean.map_or_else(|| "?".to_owned(), |c| c.to_string()),
            allowed * 100 / rounds
        );
    }
}
