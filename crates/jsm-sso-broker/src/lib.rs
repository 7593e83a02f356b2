//! The jsm-sso sign-in flow: IdP discovery, SAML/OIDC login, policy, second factor,
//! just-in-time provisioning, portal session and gate, stale-customer cleanup, audit.
//!
//! ```
//! assert!(!jsm_sso_broker::CRATE.is_empty());
//! ```
#![forbid(unsafe_code)]

/// The crate name (placeholder while the flow is built).
pub const CRATE: &str = "jsm-sso-broker";
