//! Cookies, CSRF tokens and the security headers every response carries.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use ring::hmac;

/// The login-binding cookie's lifetime, in seconds (ten minutes, as a pending sign-in).
pub const LOGIN_COOKIE_SECS: u64 = 600;

/// The cookie names and attributes: `__Host-` names and `Secure` on `https`, plain names
/// without `Secure` on a loopback `http` base URL (browsers drop `Secure` cookies there).
#[derive(Debug, Clone)]
pub struct Cookies {
    secure: bool,
    path: String,
}

impl Cookies {
    /// Cookies for a base URL that is `https` (`secure`) or loopback `http`, under `path`
    /// (the base URL's path; `/` when empty).
    #[must_use]
    pub fn new(secure: bool, path: &str) -> Self {
        let path = if path.is_empty() { "/" } else { path };
        Self {
            secure,
            path: path.to_owned(),
        }
    }

    /// The session cookie's name.
    #[must_use]
    pub fn session_name(&self) -> &'static str {
        // `__Host-` requires Path=/, so a prefixed base URL uses the `__Secure-` form.
        match (self.secure, self.path.as_str()) {
            (true, "/") => "__Host-jsm-sso",
            (true, _) => "__Secure-jsm-sso",
            (false, _) => "jsm-sso",
        }
    }

    /// The login-binding cookie's name.
    #[must_use]
    pub fn login_name(&self) -> &'static str {
        match (self.secure, self.path.as_str()) {
            (true, "/") => "__Host-jsm-sso-login",
            (true, _) => "__Secure-jsm-sso-login",
            (false, _) => "jsm-sso-login",
        }
    }

    /// `Set-Cookie` for the session (HttpOnly, SameSite=Lax).
    #[must_use]
    pub fn session(&self, value: &str, max_age: u64) -> String {
        self.cookie(self.session_name(), value, max_age, "Lax")
    }

    /// `Set-Cookie` for the login binding. SameSite=None on `https`, because the SAML ACS
    /// and an OIDC `form_post` arrive as cross-site POSTs; on loopback (same site for every
    /// port) Lax, as browsers refuse SameSite=None without Secure.
    #[must_use]
    pub fn login(&self, value: &str) -> String {
        let same_site = if self.secure { "None" } else { "Lax" };
        self.cookie(self.login_name(), value, LOGIN_COOKIE_SECS, same_site)
    }

    /// `Set-Cookie` lines that delete both cookies.
    #[must_use]
    pub fn clear_session(&self) -> String {
        self.cookie(self.session_name(), "", 0, "Lax")
    }

    /// `Set-Cookie` that deletes the login binding.
    #[must_use]
    pub fn clear_login(&self) -> String {
        let same_site = if self.secure { "None" } else { "Lax" };
        self.cookie(self.login_name(), "", 0, same_site)
    }

    fn cookie(&self, name: &str, value: &str, max_age: u64, same_site: &str) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{name}={value}; Path={}; Max-Age={max_age}; HttpOnly; SameSite={same_site}{secure}",
            self.path
        )
    }

    /// The value of cookie `name` in the request's `Cookie` headers.
    #[must_use]
    pub fn read<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
        headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty())
    }
}

/// CSRF tokens: an HMAC of the value the form is bound to (the session id, or before
/// sign-in the login-binding cookie), so a token is useless outside its browser.
#[derive(Clone)]
pub struct Csrf {
    key: hmac::Key,
}

impl std::fmt::Debug for Csrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Csrf")
    }
}

impl Csrf {
    /// Tokens keyed by `key` (derived from the session key, so every instance agrees).
    #[must_use]
    pub fn new(key: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    /// The token for `binding`.
    #[must_use]
    pub fn token(&self, binding: &str) -> String {
        let tag = hmac::sign(&self.key, format!("csrf\0{binding}").as_bytes());
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// Whether `token` is the token for `binding` (constant-time).
    #[must_use]
    pub fn check(&self, binding: &str, token: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(token) else {
            return false;
        };
        hmac::verify(&self.key, format!("csrf\0{binding}").as_bytes(), &tag).is_ok()
    }
}

/// A random URL-safe value of 24 bytes.
#[must_use]
pub fn random_value() -> String {
    let mut bytes = [0u8; 24];
    // The system generator does not fail on supported platforms; a failure leaves zeros,
    // which the HMAC-bound uses below would still tie to this one response.
    let _ignored = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The login-binding value for a pending sign-in: a hash of its `state` / `RelayState`.
#[must_use]
pub fn state_binding(state: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, state.as_bytes());
    format!("s.{}", URL_SAFE_NO_PAD.encode(digest.as_ref()))
}

/// The `Content-Security-Policy` value: nothing inline, forms only to the gateway and the
/// IdPs' origins (browsers apply `form-action` to the redirect after a submit).
#[must_use]
pub fn content_security_policy(form_origins: &[String]) -> String {
    let mut form_action = String::from("'self'");
    for origin in form_origins {
        form_action.push(' ');
        form_action.push_str(origin);
    }
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// The origin (`scheme://host[:port]`) of a URL, for the CSP.
#[must_use]
pub fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    match parsed.origin() {
        url::Origin::Tuple(..) => Some(parsed.origin().ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_bound() {
        let csrf = Csrf::new(&[7; 32]);
        let t = csrf.token("session-1");
        assert!(csrf.check("session-1", &t));
        assert!(!csrf.check("session-2", &t));
        assert!(!csrf.check("session-1", "junk!"));
        assert!(!csrf.check("session-1", ""));
        assert!(!Csrf::new(&[8; 32]).check("session-1", &t));
    }

    #[test]
    fn cookie_attributes_follow_the_scheme() {
        let https = Cookies::new(true, "");
        let c = https.session("v", 60);
        assert!(c.starts_with("__Host-jsm-sso=v; Path=/;"));
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.ends_with("Secure"));
        assert!(https.login("x").contains("SameSite=None; Secure"));
        let local = Cookies::new(false, "/support");
        assert_eq!(local.session_name(), "jsm-sso");
        assert!(!local.session("v", 60).contains("Secure"));
        assert!(local.login("x").contains("Path=/support"));
        let mut h = HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            "a=1; jsm-sso=tok; b=".parse().unwrap(),
        );
        assert_eq!(Cookies::read(&h, "jsm-sso"), Some("tok"));
        assert_eq!(Cookies::read(&h, "b"), None);
    }

    #[test]
    fn csp_has_no_unsafe_inline() {
        let csp = content_security_policy(&["http://127.0.0.1:9".into()]);
        assert!(!csp.contains("unsafe"));
        assert!(csp.contains("form-action 'self' http://127.0.0.1:9;"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(
            origin_of("https://idp.example/a/sso?x=1").as_deref(),
            Some("https://idp.example")
        );
    }
}
