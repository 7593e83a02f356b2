//! The jsm-sso portal gateway: an axum front end on [`jsm_sso_broker`], serving every URL of
//! `docs/gateway.md` — the email-first sign-in page, the SAML ACS and metadata, the OIDC
//! callbacks, the TOTP enrolment and challenge, the customer's portals and request forms,
//! sign-out, SCIM at `BASE/scim/v2`, and the admin pages (customers, audit log with its
//! hash-chain status, troubleshooting) — with HttpOnly SameSite cookies (`Secure` unless the
//! base URL is loopback `http`), a CSRF token on every form, a strict Content Security
//! Policy and no inline script. [`demo`] runs it with embedded IdPs (`jsm-sso demo`).
//!
//! ```
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! use jsm_sso_gateway::demo::{Demo, DemoOptions};
//! use tower::ServiceExt as _;
//!
//! let demo = Demo::start(DemoOptions::default()).await?;   // 127.0.0.1, a free port
//! assert!(demo.url().starts_with("http://127.0.0.1:"));
//! let login = http::Request::get("/login").body(axum::body::Body::empty())?;
//! let response = demo.gateway().router().oneshot(login).await?;
//! assert_eq!(response.status(), 200);
//! let csp = response.headers()["content-security-policy"].to_str()?;
//! assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"));
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```
#![forbid(unsafe_code)]

mod admin;
mod client;
pub mod config;
pub mod demo;
mod error;
pub mod factors;
pub mod gateway;
pub mod html;
mod pages;
pub mod reload;
mod respond;
pub mod security;
pub mod serve;
mod signin;
mod slo;
pub mod template;

pub use error::Error;
pub use gateway::{Gateway, Parts, Settings};
