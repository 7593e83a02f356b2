#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! | module | what |
//! | --- | --- |
//! | [`auth`] | [`Site`] (Cloud, OAuth 2.0 gateway, Data Center) and [`Auth`] (API token, bearer, PAT) |
//! | [`client`] | [`JiraClient`]: concurrency limit, pacing, timeouts, retries, error mapping |
//! | [`ops`] | the typed operations (customers, organizations, service desks, requests, properties) |
//! | [`paging`] | [`Pager`]: listings as streams |
//! | [`model`] | request and response bodies, typed from Atlassian's spec |
//! | [`retry`] | [`RetryPolicy`](retry::RetryPolicy), the [`Sleeper`](retry::Sleeper) seam, rate-limit headers |
//! | [`directory`] | [`JsmDirectory`]: `CustomerDirectory` on JSM |
//! | [`memory`] | [`MemoryJsm`](memory::MemoryJsm): a JSM site in memory, with injectable faults |
//! | [`error`] | [`Error`] and its codes |
//! | [`manual`] | design notes: what is retried and why, pacing, the in-memory site |
//!
//! # Features
//!
//! - `reqwest`: [`JiraClientBuilder::build_with_reqwest`], the client on core's reqwest +
//!   rustls (ring) transport.
#![forbid(unsafe_code)]

pub mod auth;
pub mod client;
pub mod directory;
pub mod error;
pub mod manual;
pub mod memory;
pub mod model;
pub mod ops;
pub mod paging;
pub mod retry;

pub use auth::{Auth, Site};
pub use client::{ClientStats, JiraClient, JiraClientBuilder};
pub use directory::JsmDirectory;
pub use error::{ApiError, Error};
pub use jsm_sso_core::{CodedError, Secret};
pub use paging::Pager;
