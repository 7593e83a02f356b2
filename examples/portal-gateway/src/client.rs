//! Who is calling, for the audit log: the client address and `User-Agent`.
//!
//! The address is the TCP peer's, or, with `[server] forwarded_for`, the last entry of
//! `X-Forwarded-For`: the one the proxy in front appended, which the client cannot choose
//! (entries before it can be forged). Without a trusted proxy the header is ignored.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use http::request::Parts;
use http::{HeaderMap, header};
use jsm_sso_audit::Source;

use crate::Gateway;

/// The longest `User-Agent` kept, in bytes.
const MAX_USER_AGENT: usize = 256;

/// The caller of a request, as an audit [`Source`]; an extractor that never fails.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Client(pub(crate) Source);

impl FromRequestParts<Gateway> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, gw: &Gateway) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let forwarded_for = gw.inner.parts.settings.forwarded_for;
        Ok(Self(source(&parts.headers, peer, forwarded_for)))
    }
}

impl Client {
    /// The source for the broker's audit events.
    pub(crate) fn source(self) -> Option<Source> {
        (self.0.ip.is_some() || self.0.user_agent.is_some()).then_some(self.0)
    }
}

fn source(headers: &HeaderMap, peer: Option<IpAddr>, forwarded_for: bool) -> Source {
    let forwarded = forwarded_for.then(|| last_forwarded(headers)).flatten();
    let ip = forwarded.or(peer).map(|ip| ip.to_string());
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| clip(ua, MAX_USER_AGENT));
    Source::new(ip, user_agent)
}

/// The last `X-Forwarded-For` entry across all the header's lines, if it is an address.
fn last_forwarded(headers: &HeaderMap) -> Option<IpAddr> {
    let last_line = headers.get_all("x-forwarded-for").iter().next_back()?;
    let entry = last_line.to_str().ok()?.rsplit(',').next()?.trim();
    entry.parse().ok()
}

fn clip(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(*n, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_peer_unless_a_trusted_proxy_appended_an_address() {
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6, 203.0.113.7"),
            ("user-agent", "Mozilla/5.0"),
        ]);
        // Not trusted: the header is ignored, whatever it says.
        let s = source(&h, Some(peer), false);
        assert_eq!(s.ip.as_deref(), Some("10.0.0.5"));
        assert_eq!(s.user_agent.as_deref(), Some("Mozilla/5.0"));
        // Trusted: the last entry (the proxy's), never the client-chosen first one.
        let s = source(&h, Some(peer), true);
        assert_eq!(s.ip.as_deref(), Some("203.0.113.7"));
        // Several header lines: the last line's last entry.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.1, 2001:db8::1"),
        ]);
        assert_eq!(
            source(&h, Some(peer), true).ip.as_deref(),
            Some("2001:db8::1")
        );
        // Garbage in the last entry: the peer.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, not-an-ip")]);
        assert_eq!(source(&h, Some(peer), true).ip.as_deref(), Some("10.0.0.5"));
        // Nothing known.
        assert_eq!(source(&HeaderMap::new(), None, true), Source::default());
    }

    #[test]
    fn long_user_agents_are_cut() {
        let mut h = HeaderMap::new();
        h.insert(
            header::USER_AGENT,
            HeaderValue::from_str(&"a".repeat(1000)).unwrap(),
        );
        let kept = source(&h, None, false).user_agent.unwrap();
        assert_eq!(kept.len(), MAX_USER_AGENT);
        assert_eq!(clip("ééé", 3), "é");
    }
}
