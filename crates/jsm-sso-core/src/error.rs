//! The error convention shared by every crate of the family, and core's own `Error`.

use crate::directory::DirectoryError;
use crate::email::EmailError;
use crate::store::StoreError;
use crate::transport::HttpError;

/// An error with a stable machine code and a hint for whoever fixes the set-up.
///
/// Every crate's `Error` implements this. The `code` is stable across releases
/// (`"saml.signature.invalid"`), lower-case, dot-separated, starting with the crate's
/// area; scripts, audit events and docs/errors.md key on it. The `hint` is one line
/// for the administrator fixing the IdP or broker configuration. Neither is shown to
/// the end customer, who sees an opaque message.
pub trait CodedError: std::error::Error {
    /// The stable machine code, for example `"xmldsig.digest.mismatch"`.
    fn code(&self) -> &'static str;
    /// One line telling the person fixing the set-up what to look at.
    fn hint(&self) -> &'static str;
}

/// Every error `jsm-sso-core` produces.
///
/// The seams return their own precise error types ([`EmailError`], [`StoreError`],
/// [`HttpError`], [`DirectoryError`]); this enum wraps them for callers that want one
/// type, and every variant keeps the wrapped error's [`CodedError::code`].
///
/// ```
/// use jsm_sso_core::{CodedError, Email, Error};
///
/// let err: Error = "alice@@example.com".parse::<Email>().unwrap_err().into();
/// assert_eq!(err.code(), "core.email.multiple_at");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An email address was refused.
    #[error(transparent)]
    Email(#[from] EmailError),
    /// A replay cache or state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An outgoing HTTP request failed.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// A customer directory (helpdesk) operation failed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

impl CodedError for Error {
    fn code(&self) -> &'static str {
        match self {
            Self::Email(e) => e.code(),
            Self::Store(e) => e.code(),
            Self::Http(e) => e.code(),
            Self::Directory(e) => e.code(),
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Email(e) => e.hint(),
            Self::Store(e) => e.hint(),
            Self::Http(e) => e.hint(),
            Self::Directory(e) => e.hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    #[test]
    fn wrapper_keeps_the_inner_code_and_hint() {
        let inner = StoreError::Full { capacity: 3 };
        let (code, hint) = (inner.code(), inner.hint());
        let err = Error::from(inner);
        assert_eq!(err.code(), "core.store.full");
        assert_eq!(err.code(), code);
        assert_eq!(err.hint(), hint);
        assert_eq!(err.to_string(), "store is full (capacity 3)");
    }
}
