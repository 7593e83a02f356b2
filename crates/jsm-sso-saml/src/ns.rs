//! Namespace URIs. Every name is matched by namespace URI, never by prefix.

/// SAML 2.0 assertion namespace.
pub const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// SAML 2.0 protocol namespace.
pub const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// SAML 2.0 metadata namespace.
pub const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// XML-DSig namespace.
pub const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// XML Schema instance namespace.
pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// The bearer subject-confirmation method.
pub const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
/// Top-level status `Success`.
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
