//! Shared vocabulary and seams of jsm-sso (work in progress).
#![forbid(unsafe_code)]

pub mod error;
pub use error::CodedError;
