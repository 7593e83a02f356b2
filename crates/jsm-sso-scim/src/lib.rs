#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! | module | what |
//! | --- | --- |
//! | [`service`] | [`ScimService`] and its builder: routing, auth, limits, ETags, audit |
//! | [`store`] | [`ResourceStore`] and [`MemoryStore`] |
//! | [`hook`] | [`ProvisioningHook`]: what the broker implements to provision |
//! | [`filter`] | the filter language: parse with limits, validate, match |
//! | [`patch`] | PATCH operations: parse and apply |
//! | [`schema`] | User, EnterpriseUser and Group schemas |
//! | [`error`] | [`Error`], [`ScimType`] and the codes |
#![forbid(unsafe_code)]

mod auth;
mod discovery;
pub mod error;
pub mod filter;
mod handlers;
pub mod hook;
mod id;
pub mod patch;
mod resource;
pub mod schema;
pub mod service;
pub mod store;

pub use bytes;
pub use error::{Error, ScimType};
pub use filter::{Filter, FilterError, FilterLimits};
pub use hook::{GroupChange, GroupEvent, HookError, NoHook, ProvisionedUser, ProvisioningHook};
pub use http;
pub use jsm_sso_core::CodedError;
pub use schema::ResourceKind;
pub use service::{ConfigError, ScimService, ScimServiceBuilder};
pub use store::{MemoryStore, Resource, ResourceStore, StoreError};

/// The SCIM media type (RFC 7644 §8.1).
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";
