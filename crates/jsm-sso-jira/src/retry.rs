//! When and how long the client waits before trying again: [`RetryPolicy`], the
//! [`Sleeper`] seam (so tests never wait), and the rate-limit header rules.
//!
//! Rules, after Atlassian's rate-limiting guide:
//!
//! - 429, and 503 that carries `Retry-After` or `X-RateLimit-Reset`: wait what the server
//!   asked, plus a random jitter of up to [`RetryPolicy::hint_jitter`] so that many clients
//!   told the same instant do not return together.
//! - Other 5xx, timeouts, broken connections, and 429/503 without a hint: exponential
//!   backoff with full jitter, `uniform(0, min(cap, base * 2^attempt))`, cap 60 s.
//! - Only idempotent operations are retried; a request that never left (connect failed)
//!   is retried whatever it was.
//! - A server asking for more than [`RetryPolicy::max_hint`] is not waited for: the error
//!   goes back to the caller with the wait it asked for.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use http::HeaderMap;

/// Sleeps. The client waits between retries (and paces requests) only through this, so
/// tests can record the waits instead of sitting through them.
#[async_trait]
pub trait Sleeper: Send + Sync + fmt::Debug {
    /// Returns after `duration`.
    async fn sleep(&self, duration: Duration);
}

/// The real [`Sleeper`]: `tokio::time::sleep`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// **For tests**: a [`Sleeper`] that returns at once and remembers every wait.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::time::Duration;
/// use jsm_sso_jira::retry::{RecordingSleeper, Sleeper};
///
/// let sleeper = RecordingSleeper::default();
/// sleeper.sleep(Duration::from_secs(3600)).await; // returns at once
/// assert_eq!(sleeper.waits(), [Duration::from_secs(3600)]);
/// # });
/// ```
#[derive(Debug, Default)]
pub struct RecordingSleeper {
    waits: Mutex<Vec<Duration>>,
}

impl RecordingSleeper {
    /// Every wait asked for so far, in order.
    #[must_use]
    pub fn waits(&self) -> Vec<Duration> {
        self.waits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl Sleeper for RecordingSleeper {
    async fn sleep(&self, duration: Duration) {
        self.waits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(duration);
        tokio::task::yield_now().await;
    }
}

/// How many times and how long to retry.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 5).
    pub max_retries: u32,
    /// First backoff step (default 1 s); doubles each retry.
    pub base: Duration,
    /// Longest backoff step (default 60 s).
    pub cap: Duration,
    /// Largest random extra added to a server's `Retry-After` / `X-RateLimit-Reset`
    /// (default 1 s).
    pub hint_jitter: Duration,
    /// Longest server-requested wait the client sits through (default 60 s); longer
    /// asks are returned to the caller as [`Error::RateLimited`](crate::Error::RateLimited).
    pub max_hint: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 5,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            hint_jitter: Duration::from_secs(1),
            max_hint: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    #[must_use]
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Sets [`max_retries`](Self::max_retries).
    #[must_use]
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Sets [`base`](Self::base) and [`cap`](Self::cap).
    #[must_use]
    pub fn with_backoff(mut self, base: Duration, cap: Duration) -> Self {
        self.base = base;
        self.cap = cap;
        self
    }

    /// Sets [`hint_jitter`](Self::hint_jitter) and [`max_hint`](Self::max_hint).
    #[must_use]
    pub fn with_hints(mut self, hint_jitter: Duration, max_hint: Duration) -> Self {
        self.hint_jitter = hint_jitter;
        self.max_hint = max_hint;
        self
    }

    /// The backoff ceiling before jitter for retry number `retry` (0 for the first retry):
    /// `min(cap, base * 2^retry)`.
    #[must_use]
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }
}

/// A small, fast random source for jitter (SplitMix64). Not for secrets.
#[derive(Debug)]
pub(crate) struct Jitter {
    state: Mutex<u64>,
}

impl Jitter {
    pub(crate) fn new(seed: Option<u64>) -> Self {
        let seed = seed.unwrap_or_else(|| {
            let nanos = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            #[expect(
                clippy::cast_possible_truncation,
                reason = "only the low bits seed the generator"
            )]
            let low = nanos as u64;
            low ^ 0x9E37_79B9_7F4A_7C15
        });
        Self {
            state: Mutex::new(seed),
        }
    }

    fn next_u64(&self) -> u64 {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, max]`, at microsecond resolution.
    pub(crate) fn up_to(&self, max: Duration) -> Duration {
        let micros = u64::try_from(max.as_micros()).unwrap_or(u64::MAX);
        if micros == 0 {
            return Duration::ZERO;
        }
        Duration::from_micros(self.next_u64() % micros.saturating_add(1))
    }
}

/// What the server said about when to come back, from `Retry-After` (seconds or an HTTP
/// date) or, failing that, `X-RateLimit-Reset` (an ISO 8601 instant). Times in the past
/// mean "now".
#[must_use]
pub fn server_hint(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(value) = text("retry-after") {
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        if let Ok(seconds) = value.parse::<f64>()
            && seconds.is_finite()
            && seconds >= 0.0
        {
            return Duration::try_from_secs_f64(seconds).ok();
        }
        if let Some(at) = parse_instant(value, true) {
            return Some(at.duration_since(now).unwrap_or(Duration::ZERO));
        }
    }
    let reset = text("x-ratelimit-reset")?;
    let at = parse_instant(reset, false)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

fn parse_instant(text: &str, http_date: bool) -> Option<SystemTime> {
    use time::format_description::well_known::{Rfc2822, Rfc3339};
    let parsed = if http_date {
        time::OffsetDateTime::parse(text, &Rfc2822).ok()
    } else {
        time::OffsetDateTime::parse(text, &Rfc3339).ok()
    }?;
    let secs = parsed.unix_timestamp();
    let nanos = parsed.nanosecond();
    let base = if secs >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()))?
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))?
    };
    base.checked_add(Duration::from_nanos(u64::from(nanos)))
}

/// The `RateLimit-Reason` header (`jira-burst-based`, `jira-quota-tenant-based`, ...).
pub(crate) fn rate_limit_reason(headers: &HeaderMap) -> Option<String> {
    headers
        .get("ratelimit-reason")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn retry_after_seconds_date_and_reset() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            server_hint(&headers(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            server_hint(&headers(&[("retry-after", "1.5")]), now),
            Some(Duration::from_millis(1500))
        );
        // 2023-11-14T22:13:20Z is 1_700_000_000; 30 s later:
        assert_eq!(
            server_hint(
                &headers(&[("retry-after", "Tue, 14 Nov 2023 22:13:50 GMT")]),
                now
            ),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            server_hint(
                &headers(&[("x-ratelimit-reset", "2023-11-14T22:14:20Z")]),
                now
            ),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            server_hint(
                &headers(&[("x-ratelimit-reset", "2023-11-14T22:00:00Z")]),
                now
            ),
            Some(Duration::ZERO),
            "a reset in the past means now"
        );
        assert_eq!(
            server_hint(
                &headers(&[
                    ("retry-after", "2"),
                    ("x-ratelimit-reset", "2023-11-14T22:14:20Z")
                ]),
                now
            ),
            Some(Duration::from_secs(2)),
            "Retry-After wins"
        );
        for junk in ["-1", "soon", "NaN", "inf", ""] {
            assert_eq!(
                server_hint(&headers(&[("retry-after", junk)]), now),
                None,
                "{junk}"
            );
        }
        assert_eq!(server_hint(&HeaderMap::new(), now), None);
    }

    #[test]
    fn backoff_ceiling_doubles_to_the_cap() {
        let p = RetryPolicy::default();
        let steps: Vec<_> = (0..9).map(|r| p.ceiling(r).as_secs()).collect();
        assert_eq!(steps, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(p.ceiling(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn jitter_stays_in_range_and_varies() {
        let j = Jitter::new(Some(42));
        let max = Duration::from_millis(800);
        let draws: Vec<_> = (0..1000).map(|_| j.up_to(max)).collect();
        assert!(draws.iter().all(|d| *d <= max));
        let distinct: std::collections::BTreeSet<_> = draws.iter().collect();
        assert!(distinct.len() > 900);
        let mean = draws.iter().map(Duration::as_secs_f64).sum::<f64>() / 1000.0;
        assert!((0.3..0.5).contains(&mean), "{mean}");
        assert_eq!(j.up_to(Duration::ZERO), Duration::ZERO);
    }
}
