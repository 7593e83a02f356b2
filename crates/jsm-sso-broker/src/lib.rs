#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! | module | what |
//! | --- | --- |
//! | [`idp`] | [`IdentityProvider`], [`SamlIdp`], [`OidcIdp`], [`Callback`], [`Challenge`], [`Seams`] |
//! | [`registry`] | [`LoginHint`], [`Discovery`] |
//! | [`broker`] | [`Broker`], [`BrokerBuilder`], [`LoginRequest`], [`Begin`], [`LoginOutcome`] |
//! | [`mfa`] | [`SecondFactor`](mfa::SecondFactor), [`MfaAccount`](mfa::MfaAccount), [`Enrolment`](mfa::Enrolment) |
//! | [`provision`] | [`Provisioner`], [`Ledger`](provision::Ledger), [`MemoryLedger`](provision::MemoryLedger), [`Person`](provision::Person) |
//! | [`session`] | [`SessionKeys`], [`Session`] |
//! | [`gate`] | [`Action`], [`RequestDesk`](gate::RequestDesk), [`RequestDraft`](gate::RequestDraft), [`RateLimit`](gate::RateLimit) |
//! | [`cleanup`] | [`CleanupOptions`](cleanup::CleanupOptions), [`CleanupPlan`](cleanup::CleanupPlan), [`CleanupMode`](cleanup::CleanupMode) |
//! | [`scim`] | [`ScimProvisioning`](scim::ScimProvisioning): the `jsm-sso-scim` provisioning hook |
//! | `totp` | `TotpFactor`, `FactorStore` (feature `totp`): the second factor on `jsm-sso-mfa` |
//! | `jira` | `PropertyLedger` and the `RequestDesk` for `JiraClient` (feature `jira`) |
//! | [`trail`] | [`AuditContext`] |
//! | [`error`] | [`Error`] and its codes |
//!
//! # Features
//!
//! - `jira` (default): `RequestDesk` for `jsm_sso_jira::JiraClient` and `jira::PropertyLedger`.
//! - `totp` (default): `totp::TotpFactor`, TOTP through `jsm-sso-mfa`.
//! - `redis`: `totp::FactorStore` for `jsm_sso_redis::RedisFactorStore`, so a fleet shares
//!   enrolled factors through Redis (implies `totp`).
#![forbid(unsafe_code)]

pub mod broker;
pub mod cleanup;
pub mod error;
pub mod gate;
pub mod idp;
#[cfg(feature = "jira")]
pub mod jira;
mod logout;
pub mod mfa;
pub mod provision;
pub mod registry;
pub mod scim;
pub mod session;
#[cfg(feature = "totp")]
pub mod totp;
pub mod trail;

pub use broker::{Begin, Broker, BrokerBuilder, IdpChoice, LoginOutcome, LoginRequest, SignedIn};
pub use error::Error;
pub use gate::Action;
pub use idp::{
    Callback, Challenge, IdentityProvider, LogoutOutcome, LogoutStart, OidcIdp, Redirect, SamlIdp,
    Seams,
};
pub use jsm_sso_core::CodedError;
pub use provision::Provisioner;
pub use registry::{Discovery, LoginHint};
pub use session::{Session, SessionClaims, SessionKeys};
pub use trail::AuditContext;
