//! [`Secret`]: a string that does not show itself in logs.

use std::fmt;

/// A secret string (client secret, API token, access or refresh token) whose `Debug`
/// prints `[redacted]`.
///
/// It deliberately has no `Display`, no `PartialEq` (comparing secrets with `==` leaks
/// timing) and no `Serialize`; read it with [`expose_secret`](Self::expose_secret), at
/// the single place it is used. With the `serde` feature it can be deserialized from a
/// string, for configuration files. Memory is not zeroed on drop.
///
/// ```
/// use jsm_sso_core::Secret;
///
/// let secret = Secret::new("hunter2");
/// assert_eq!(format!("{secret:?}"), "Secret([redacted])");
/// assert_eq!(secret.expose_secret(), "hunter2");
/// ```
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself. Name the call site in code review: it is where the secret leaves
    /// its wrapper.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(secret: String) -> Self {
        Self(secret)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_even_when_nested() {
        #[derive(Debug)]
        struct Config {
            client_secret: Secret,
        }
        let config = Config {
            client_secret: Secret::from("s3cr3t-value".to_owned()),
        };
        let shown = format!("{config:?} {config:#?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("[redacted]"));
        assert_eq!(config.client_secret.expose_secret(), "s3cr3t-value");
    }
}
