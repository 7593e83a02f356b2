//! The error convention shared by every crate of the family.

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
