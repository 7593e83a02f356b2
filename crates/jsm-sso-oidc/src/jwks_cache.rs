//! [`JwksCache`]: a provider's key set fetched through the `HttpClient` seam, kept as long
//! as `Cache-Control` allows, refetched on an unknown `kid` at most once a minute.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use jsm_sso_core::{Clock, HttpClient};

use crate::{Error, KeySet};

/// The least time between two fetches of one provider's JWKS caused by unknown `kid`s
/// (openid-client's rule): an attacker sending tokens with made-up `kid`s gets one fetch
/// a minute, not one per token.
pub const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// How long keys are kept when the response says nothing about caching.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10 * 60);
/// The longest keys are kept, whatever `max-age` says (so a rotation is seen within a day).
pub const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// With no keys held, how long after a failed fetch the next one is tried: tokens arriving
/// meanwhile fail at once with `oidc.jwks.unavailable` instead of each fetching.
pub const FAILED_FETCH_BACKOFF: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
struct State {
    keys: Option<Arc<KeySet>>,
    expires_at: Option<SystemTime>,
    last_fetch: Option<SystemTime>,
}

/// A provider's JWKS, cached.
///
/// - Keys are fetched on first use and kept for the response's `Cache-Control: max-age`
///   (less `Age`), [`DEFAULT_TTL`] without one, at most [`MAX_TTL`]; `no-cache` /
///   `no-store` keep them until the next [`MIN_REFETCH_INTERVAL`] at least.
/// - A token whose `kid` is not in the cached set triggers one refetch, unless the last
///   fetch was less than [`MIN_REFETCH_INTERVAL`] ago (time from the [`Clock`] seam).
/// - Concurrent callers share a fetch: fetching is serialised per provider.
/// - When a refresh fails and keys are still held, the old keys stay in use until a
///   refresh succeeds (an unreachable provider does not lock every user out at once);
///   with no keys at all, the fetch error is returned, and for [`FAILED_FETCH_BACKOFF`]
///   after it `oidc.jwks.unavailable` without another fetch.
pub struct JwksCache {
    uri: String,
    http: Arc<dyn HttpClient>,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    fetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

impl JwksCache {
    /// A cache of the JWKS at `uri`, empty until first used.
    pub fn new(uri: impl Into<String>, http: Arc<dyn HttpClient>, clock: Arc<dyn Clock>) -> Self {
        Self {
            uri: uri.into(),
            http,
            clock,
            state: Mutex::new(State::default()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// The JWKS URI.
    #[must_use]
    pub fn uri(&self) -> &str {
        &self.uri
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current keys, fetched first if there are none or they have expired.
    ///
    /// # Errors
    ///
    /// The fetch error when no keys are held and they cannot be fetched.
    pub async fn keys(&self) -> Result<Arc<KeySet>, Error> {
        let now = self.clock.now();
        {
            let state = self.state();
            if let (Some(keys), Some(expires)) = (&state.keys, state.expires_at)
                && now < expires
            {
                return Ok(keys.clone());
            }
        }
        let _guard = self.fetching.lock().await;
        // Another caller may have refreshed while this one waited.
        {
            let state = self.state();
            if let (Some(keys), Some(expires)) = (&state.keys, state.expires_at)
                && self.clock.now() < expires
            {
                return Ok(keys.clone());
            }
            // Expired, but a refresh failed less than a minute ago: keep the old keys
            // rather than asking a failing endpoint again for every token.
            if let (Some(keys), Some(last)) = (&state.keys, state.last_fetch)
                && self
                    .clock
                    .now()
                    .duration_since(last)
                    .is_ok_and(|age| age < MIN_REFETCH_INTERVAL)
            {
                return Ok(keys.clone());
            }
        }
        if let Some(retry_in) = self.backing_off() {
            return Err(Error::JwksUnavailable {
                retry_in: retry_in.as_secs().max(1),
            });
        }
        match self.fetch().await {
            Ok(keys) => Ok(keys),
            Err(e) => self.state().keys.clone().ok_or(e),
        }
    }

    /// With no keys held and a fetch less than [`FAILED_FETCH_BACKOFF`] ago (which failed,
    /// or keys would be held), the time until the next try.
    fn backing_off(&self) -> Option<Duration> {
        let state = self.state();
        if state.keys.is_some() {
            return None;
        }
        let since = self.clock.now().duration_since(state.last_fetch?).ok()?;
        FAILED_FETCH_BACKOFF
            .checked_sub(since)
            .filter(|d| !d.is_zero())
    }

    /// The keys after a token named `kid` that the held set lacks: refetched once if the
    /// last fetch is at least [`MIN_REFETCH_INTERVAL`] old, otherwise the held set.
    ///
    /// # Errors
    ///
    /// The fetch error when no keys are held and they cannot be fetched.
    pub async fn keys_with_kid(&self, kid: &str) -> Result<Arc<KeySet>, Error> {
        let keys = self.keys().await?;
        if keys.knows_kid(kid) {
            return Ok(keys);
        }
        let _guard = self.fetching.lock().await;
        let (held, last_fetch) = {
            let state = self.state();
            (state.keys.clone(), state.last_fetch)
        };
        if let Some(held) = &held
            && held.knows_kid(kid)
        {
            return Ok(held.clone());
        }
        let now = self.clock.now();
        let recent = last_fetch.is_some_and(|last| {
            now.duration_since(last)
                .map_or(true, |age| age < MIN_REFETCH_INTERVAL)
        });
        if recent {
            return Ok(held.unwrap_or(keys));
        }
        match self.fetch().await {
            Ok(keys) => Ok(keys),
            Err(e) => held.ok_or(e),
        }
    }

    /// Fetches and stores the key set. Called with `fetching` held.
    async fn fetch(&self) -> Result<Arc<KeySet>, Error> {
        let now = self.clock.now();
        self.state().last_fetch = Some(now);
        let request = http::Request::get(&self.uri)
            .header(
                http::header::ACCEPT,
                "application/jwk-set+json, application/json",
            )
            .body(Vec::new())
            .map_err(|e| Error::Config(format!("jwks uri {:?}: {e}", self.uri)))?;
        let response = self.http.send(request).await?;
        if response.status() != http::StatusCode::OK {
            return Err(Error::HttpStatus {
                endpoint: "jwks",
                status: response.status().as_u16(),
            });
        }
        let ttl = cache_ttl(response.headers());
        let keys = Arc::new(KeySet::from_json(response.body())?);
        let mut state = self.state();
        state.keys = Some(keys.clone());
        state.expires_at = now.checked_add(ttl);
        Ok(keys)
    }
}

/// How long a response may be kept, from `Cache-Control` and `Age`.
pub(crate) fn cache_ttl(headers: &http::HeaderMap) -> Duration {
    let mut max_age = None;
    let mut no_cache = false;
    for value in headers.get_all(http::header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',').map(str::trim) {
            let (name, arg) = directive
                .split_once('=')
                .map_or((directive, None), |(n, a)| {
                    (n.trim(), Some(a.trim().trim_matches('"')))
                });
            if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
                no_cache = true;
            } else if (name.eq_ignore_ascii_case("max-age")
                || name.eq_ignore_ascii_case("s-maxage"))
                && let Some(secs) = arg.and_then(|a| a.parse::<u64>().ok())
            {
                max_age = Some(max_age.map_or(secs, |m: u64| m.min(secs)));
            }
        }
    }
    if no_cache {
        return MIN_REFETCH_INTERVAL;
    }
    let Some(max_age) = max_age else {
        return DEFAULT_TTL;
    };
    let age = headers
        .get(http::header::AGE)
        .and_then(|a| a.to_str().ok())
        .and_then(|a| a.trim().parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_secs(max_age.saturating_sub(age))
        .max(MIN_REFETCH_INTERVAL)
        .min(MAX_TTL)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ttl(values: &[(&str, &str)]) -> u64 {
        let mut headers = http::HeaderMap::new();
        for (name, value) in values {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        cache_ttl(&headers).as_secs()
    }

    #[test]
    fn cache_control() {
        assert_eq!(ttl(&[]), DEFAULT_TTL.as_secs());
        assert_eq!(ttl(&[("cache-control", "public, max-age=3600")]), 3600);
        assert_eq!(
            ttl(&[("cache-control", "max-age=3600"), ("age", "600")]),
            3000
        );
        assert_eq!(ttl(&[("cache-control", "max-age=5")]), 60);
        assert_eq!(
            ttl(&[("cache-control", "max-age=999999999")]),
            MAX_TTL.as_secs()
        );
        assert_eq!(ttl(&[("cache-control", "no-cache, max-age=3600")]), 60);
        assert_eq!(ttl(&[("cache-control", "no-store")]), 60);
        assert_eq!(ttl(&[("cache-control", "max-age=\"120\"")]), 120);
        assert_eq!(
            ttl(&[("cache-control", "max-age=abc")]),
            DEFAULT_TTL.as_secs()
        );
    }
}
