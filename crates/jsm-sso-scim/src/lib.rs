#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

/// The SCIM media type (RFC 7644 §8.1).
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";
