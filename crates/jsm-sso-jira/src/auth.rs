//! Where the client sends requests ([`Site`]) and how it signs them in ([`Auth`]).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use http::HeaderValue;
use jsm_sso_core::Secret;

use crate::Error;

/// The Atlassian OAuth 2.0 (3LO) API gateway; a site is reached at
/// `{gateway}/ex/jira/{cloudId}`.
pub const OAUTH_GATEWAY: &str = "https://api.atlassian.com";

/// Which Jira the client talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Site {
    /// A Jira Cloud site, `https://<name>.atlassian.net`, with basic auth (email + API token).
    Cloud(url::Url),
    /// A Jira Cloud site reached through the OAuth 2.0 (3LO) gateway:
    /// `https://api.atlassian.com/ex/jira/{cloudId}`, with a bearer access token.
    OAuth {
        /// The site's cloud id (from `accessible-resources`).
        cloud_id: String,
        /// The gateway (default [`OAUTH_GATEWAY`]; tests point it elsewhere).
        gateway: url::Url,
    },
    /// A Jira Data Center server, with a personal access token. Platform calls go to
    /// `/rest/api/2`, users are named by `key`/`name`.
    DataCenter(url::Url),
}

impl Site {
    /// A Cloud site by URL (`https://acme.atlassian.net`).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if it is not an absolute http(s) URL without query or fragment.
    pub fn cloud(url: &str) -> Result<Self, Error> {
        base_url(url).map(Self::Cloud)
    }

    /// A Cloud site through the OAuth 2.0 gateway, by cloud id.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if the cloud id is empty or not a plain identifier.
    pub fn oauth(cloud_id: &str) -> Result<Self, Error> {
        Self::oauth_via(cloud_id, OAUTH_GATEWAY)
    }

    /// Like [`oauth`](Self::oauth) through another gateway URL (tests, proxies).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an empty or odd cloud id or an unusable gateway URL.
    pub fn oauth_via(cloud_id: &str, gateway: &str) -> Result<Self, Error> {
        if cloud_id.is_empty()
            || !cloud_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(Error::Config(format!(
                "cloud id {cloud_id:?} is not a plain identifier"
            )));
        }
        Ok(Self::OAuth {
            cloud_id: cloud_id.to_owned(),
            gateway: base_url(gateway)?,
        })
    }

    /// A Data Center server by URL (with its context path, if any).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if it is not an absolute http(s) URL without query or fragment.
    pub fn data_center(url: &str) -> Result<Self, Error> {
        base_url(url).map(Self::DataCenter)
    }

    /// The URL every API path is appended to (no trailing slash in its path).
    pub(crate) fn base(&self) -> url::Url {
        match self {
            Self::Cloud(url) | Self::DataCenter(url) => url.clone(),
            Self::OAuth { cloud_id, gateway } => {
                let mut url = gateway.clone();
                if let Ok(mut segments) = url.path_segments_mut() {
                    segments.pop_if_empty().extend(["ex", "jira", cloud_id]);
                }
                url
            }
        }
    }

    /// Whether this is Data Center (platform API v2, users by key).
    pub(crate) fn is_data_center(&self) -> bool {
        matches!(self, Self::DataCenter(_))
    }
}

fn base_url(text: &str) -> Result<url::Url, Error> {
    let url = url::Url::parse(text)
        .map_err(|e| Error::Config(format!("site url {text:?} does not parse: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(Error::Config(format!(
            "site url {text:?} is not an http(s) url with a host"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(Error::Config(format!(
            "site url {text:?} must not carry a query, fragment or user name"
        )));
    }
    let mut url = url;
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty();
    }
    Ok(url)
}

/// How the client signs in. `Debug` never shows a token.
#[derive(Clone)]
#[non_exhaustive]
pub enum Auth {
    /// Jira Cloud: an Atlassian account's email and an API token (HTTP basic).
    Basic {
        /// The account's email.
        email: String,
        /// The API token.
        api_token: Secret,
    },
    /// An OAuth 2.0 (3LO) access token, for [`Site::OAuth`]. It expires (an hour for
    /// Atlassian); long-running services use [`Auth::OAuth`] instead.
    Bearer(Secret),
    /// OAuth 2.0 (3LO) access tokens from a [`TokenSource`] that refreshes them, for
    /// [`Site::OAuth`]. After a 401 the client invalidates the token and tries once more
    /// with a fresh one.
    OAuth(Arc<dyn TokenSource>),
    /// A Data Center personal access token.
    PersonalAccessToken(Secret),
}

impl Auth {
    /// Email + API token (Jira Cloud).
    pub fn basic(email: impl Into<String>, api_token: Secret) -> Self {
        Self::Basic {
            email: email.into(),
            api_token,
        }
    }

    /// The `Authorization` header value, marked sensitive so HTTP stacks do not log it.
    /// `None` for a [`TokenSource`], whose tokens are fetched per request.
    pub(crate) fn header(&self) -> Result<Option<HeaderValue>, Error> {
        let text = match self {
            Self::OAuth(_) => return Ok(None),
            Self::Basic { email, api_token } => {
                let raw = format!("{email}:{}", api_token.expose_secret());
                format!("Basic {}", base64_encode(raw.as_bytes()))
            }
            Self::Bearer(token) | Self::PersonalAccessToken(token) => {
                format!("Bearer {}", token.expose_secret())
            }
        };
        bearer_or_basic(&text).map(Some)
    }

    /// Checks that the credentials suit the site.
    pub(crate) fn check(&self, site: &Site) -> Result<(), Error> {
        match (self, site) {
            (Self::Basic { email, .. }, _) if email.is_empty() => {
                Err(Error::Config("basic auth needs the account's email".into()))
            }
            (Self::Basic { .. }, Site::Cloud(_) | Site::DataCenter(_))
            | (Self::Bearer(_) | Self::OAuth(_), Site::OAuth { .. })
            | (Self::PersonalAccessToken(_), Site::DataCenter(_)) => Ok(()),
            (Self::Bearer(_) | Self::OAuth(_), _) => Err(Error::Config(
                "an OAuth access token is used with Site::oauth (the api.atlassian.com gateway)"
                    .into(),
            )),
            (Self::PersonalAccessToken(_), _) => Err(Error::Config(
                "personal access tokens are for Data Center sites".into(),
            )),
            (Self::Basic { .. }, Site::OAuth { .. }) => Err(Error::Config(
                "the OAuth gateway takes a bearer access token, not basic auth".into(),
            )),
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Basic { email, api_token } => f
                .debug_struct("Basic")
                .field("email", email)
                .field("api_token", api_token)
                .finish(),
            Self::Bearer(t) => f.debug_tuple("Bearer").field(t).finish(),
            Self::OAuth(source) => f.debug_tuple("OAuth").field(source).finish(),
            Self::PersonalAccessToken(t) => f.debug_tuple("PersonalAccessToken").field(t).finish(),
        }
    }
}

/// A sensitive header value from `text`.
pub(crate) fn bearer_or_basic(text: &str) -> Result<HeaderValue, Error> {
    let mut value = HeaderValue::from_str(text).map_err(|_| {
        Error::Config("credentials contain characters not allowed in a header".into())
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Supplies OAuth 2.0 access tokens, refreshing them as they expire (the refresh-token
/// grant against `auth.atlassian.com` is the implementor's: this crate only asks).
///
/// ```
/// use jsm_sso_jira::{Error, Secret};
/// use jsm_sso_jira::auth::TokenSource;
///
/// #[derive(Debug)]
/// struct FromVault;
///
/// #[async_trait::async_trait]
/// impl TokenSource for FromVault {
///     async fn access_token(&self) -> Result<Secret, Error> {
///         Ok(Secret::new("token-from-the-vault"))
///     }
/// }
/// ```
#[async_trait]
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// A currently valid access token.
    ///
    /// # Errors
    ///
    /// Any [`Error`] (use [`Error::Config`] when no token can be had); it ends the call.
    async fn access_token(&self) -> Result<Secret, Error>;

    /// Jira refused the last token (401): the next [`access_token`](Self::access_token)
    /// should be a fresh one.
    fn invalidate(&self) {}
}

/// Standard base64 with padding (RFC 4648), enough for one basic-auth header.
fn base64_encode(input: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sym = |i: u32| char::from(TABLE.get((i & 63) as usize).copied().unwrap_or(b'A'));
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(sym(n >> 18));
        out.push(sym(n >> 12));
        out.push(if chunk.len() > 1 { sym(n >> 6) } else { '=' });
        out.push(if chunk.len() > 2 { sym(n) } else { '=' });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(input.as_bytes()), expected);
        }
    }

    #[test]
    fn headers_and_redaction() {
        let basic = Auth::basic("bot@acme.example", Secret::new("tok-123"));
        let h = basic.header().unwrap().unwrap();
        assert!(h.is_sensitive());
        assert_eq!(
            h.to_str().unwrap(),
            "Basic Ym90QGFjbWUuZXhhbXBsZTp0b2stMTIz"
        );
        let pat = Auth::PersonalAccessToken(Secret::new("pat-xyz"));
        assert_eq!(
            pat.header().unwrap().unwrap().to_str().unwrap(),
            "Bearer pat-xyz"
        );
        let shown = format!(
            "{basic:?} {pat:?} {:?}",
            Auth::Bearer(Secret::new("oauth-abc"))
        );
        for secret in ["tok-123", "pat-xyz", "oauth-abc"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("bot@acme.example"));
    }

    #[test]
    fn sites_and_their_bases() {
        let cloud = Site::cloud("https://acme.atlassian.net/").unwrap();
        assert_eq!(cloud.base().as_str(), "https://acme.atlassian.net/");
        let oauth = Site::oauth("11223344-a1b2-3b33-c444-def123456789").unwrap();
        assert_eq!(
            oauth.base().as_str(),
            "https://api.atlassian.com/ex/jira/11223344-a1b2-3b33-c444-def123456789"
        );
        let dc = Site::data_center("https://jira.acme.example/jira/").unwrap();
        assert_eq!(dc.base().as_str(), "https://jira.acme.example/jira");
        assert!(dc.is_data_center());
    }

    #[test]
    fn bad_sites_and_mismatched_credentials_are_config_errors() {
        use jsm_sso_core::CodedError;
        for bad in [
            "acme.atlassian.net",
            "ftp://acme.example",
            "https://acme.example/?x=1",
            "https://user@acme.example",
        ] {
            assert_eq!(
                Site::cloud(bad).unwrap_err().code(),
                "jira.config.invalid",
                "{bad}"
            );
        }
        assert!(Site::oauth("../admin").is_err());
        assert!(Site::oauth("").is_err());
        let cloud = Site::cloud("https://acme.atlassian.net").unwrap();
        let oauth = Site::oauth("abc").unwrap();
        let bearer = Auth::Bearer(Secret::new("t"));
        let pat = Auth::PersonalAccessToken(Secret::new("t"));
        let basic = Auth::basic("a@b.example", Secret::new("t"));
        assert!(bearer.check(&cloud).is_err());
        assert!(pat.check(&cloud).is_err());
        assert!(basic.check(&oauth).is_err());
        assert!(Auth::basic("", Secret::new("t")).check(&cloud).is_err());
        assert!(bearer.check(&oauth).is_ok());
        assert!(basic.check(&cloud).is_ok());
    }
}
